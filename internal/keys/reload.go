package keys

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Replicas of one deployment share the key file, and `likeness keys rotate`
// or `keys retire` runs as another process. A Local follows the file in two
// ways: Unwrap meeting a version it does not know re-reads the file (at most
// once per reloadEvery, so a forged id cannot make every request read the
// disk), and Wrap and Primary look at the file's identity, size and
// modification time every checkEvery, reloading when it changed, so new keys
// are wrapped with the new primary within a few seconds of a rotation.
const (
	reloadEvery = time.Second
	checkEvery  = 2 * time.Second
)

// FollowInterval is how long a Local in another process may keep wrapping
// with the previous primary after a rotation.
const FollowInterval = checkEvery

// ErrVersionInUse is returned by Retire for the primary version.
var ErrVersionInUse = errors.New("keys: the primary version cannot be retired")

func (k *Local) lookup(id string) (cipher.AEAD, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	aead, ok := k.aeads[id]
	return aead, ok
}

// reloadFor re-reads the file for an unknown version id, unless another
// reload happened less than reloadEvery ago.
func (k *Local) reloadFor(id string) (cipher.AEAD, error) {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if aead, ok := k.lookup(id); ok {
		return aead, nil // another caller reloaded while we waited
	}
	now := k.now()
	if !k.lastReload.IsZero() && now.Sub(k.lastReload) < reloadEvery {
		return nil, errors.New("reloaded less than a second ago")
	}
	k.lastReload = now
	if err := k.reloadLocked(); err != nil {
		return nil, err
	}
	if aead, ok := k.lookup(id); ok {
		return aead, nil
	}
	return nil, errors.New("not in the file either")
}

// refresh reloads the file if checkEvery has passed since the last look and
// the file changed. Errors keep the keyring in memory: a half-edited or
// missing file must not stop a serving replica.
func (k *Local) refresh() {
	now := k.now().UnixNano()
	last := k.lastCheck.Load()
	if now-last < int64(checkEvery) || !k.lastCheck.CompareAndSwap(last, now) {
		return
	}
	fi, err := os.Stat(k.path)
	if err != nil {
		return
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if s := k.seen; s != nil && os.SameFile(s, fi) && s.Size() == fi.Size() && s.ModTime().Equal(fi.ModTime()) {
		return
	}
	k.reloadLocked()
}

// reloadLocked reads the file and installs it. Callers hold reloadMu (or
// own k exclusively).
func (k *Local) reloadLocked() error {
	fi, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("keys: open key file: %w", err)
	}
	f, err := readFile(k.path)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(f); err != nil {
		return fmt.Errorf("keys: key file %s is corrupt: %w", k.path, err)
	}
	k.seen = fi
	return nil
}

// Versions returns the ids of the versions in the keyring, oldest first.
func (k *Local) Versions() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, len(k.versions))
	for i, v := range k.versions {
		ids[i] = v.ID
	}
	return ids
}

// Retire removes version id from the file, so nothing wrapped by it can be
// unwrapped any more. The caller first makes sure no stored key still uses
// it (`likeness keys retire` scans the database). The primary cannot be
// retired (ErrVersionInUse); an unknown id is an error.
func (k *Local) Retire(id string) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if err := k.reloadLocked(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if id == k.primary {
		return fmt.Errorf("%w (%s)", ErrVersionInUse, id)
	}
	i := slices.IndexFunc(k.versions, func(v localVersion) bool { return v.ID == id })
	if i < 0 {
		return fmt.Errorf("keys: retire: version %q is not in the keyring %s", id, k.path)
	}
	f := localFile{Versions: slices.Delete(slices.Clone(k.versions), i, i+1), Primary: k.primary}
	if err := k.replace(f); err != nil {
		return fmt.Errorf("keys: retire: %w", err)
	}
	return nil
}
