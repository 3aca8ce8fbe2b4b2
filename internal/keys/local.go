package keys

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	wrapVersion = 1
	localPrefix = "local-"
	maxIDLen    = 255
)

// Local is a KEK keyring kept in a file: the embedded development default.
// The file is JSON, mode 0600:
//
//	{"versions":[{"id":"local-1","key":"<base64 of 32 bytes>","created":"…"}],"primary":"local-1"}
//
// Each version is an AES-256-GCM key. Local is safe for concurrent use within
// one process; only one process should call Rotate or Retire on a file at a
// time. Other processes sharing the file follow its changes: see reload.go.
type Local struct {
	path string
	now  func() time.Time

	reloadMu   sync.Mutex   // serializes reading the file after start
	lastReload time.Time    // guarded by reloadMu: last reload for an unknown version
	seen       os.FileInfo  // guarded by reloadMu: the file as last loaded
	lastCheck  atomic.Int64 // unix nanos of Wrap's last look at the file

	mu       sync.RWMutex
	randMu   sync.Mutex // serializes reads of rand, which may be a test reader
	rand     io.Reader
	versions []localVersion
	aeads    map[string]cipher.AEAD
	primary  string
}

var _ KEK = (*Local)(nil)

type localVersion struct {
	ID      string    `json:"id"`
	Key     []byte    `json:"key"`
	Created time.Time `json:"created"`
}

type localFile struct {
	Versions []localVersion `json:"versions"`
	Primary  string         `json:"primary"`
}

// OpenLocal opens the keyring file at path, creating it with one fresh
// version (and reporting created) if it does not exist. Keys and nonces are
// read from r (crypto/rand.Reader when nil). A file readable by group or
// others, or one that does not parse, is refused with an error naming the
// file; it is never overwritten.
func OpenLocal(path string, r io.Reader) (k *Local, created bool, err error) {
	if r == nil {
		r = rand.Reader
	}
	k = &Local{path: path, rand: r, now: time.Now}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		created, err = k.create()
		if err != nil {
			return nil, false, err
		}
		if created {
			k.seen, _ = os.Stat(path)
			return k, true, nil
		}
		// Another process created it first; use theirs.
	}
	if err := k.reloadLocked(); err != nil {
		return nil, false, err
	}
	return k, false, nil
}

// readFile reads and parses the keyring file, refusing a loose mode.
func readFile(path string) (localFile, error) {
	var f localFile
	data, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("keys: open key file: %w", err)
	}
	defer Wipe(data)
	if err := checkMode(path); err != nil {
		return f, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("keys: key file %s is corrupt (not a likeness keyring): %w", path, err)
	}
	return f, nil
}

func checkMode(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("keys: open key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("keys: key file %s has mode %04o; it must be readable only by its owner (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	return nil
}

// create writes a new keyring with one version. It never replaces an
// existing file: if another process won the race, created is false.
func (k *Local) create() (created bool, err error) {
	v, err := k.newVersion(localPrefix + "1")
	if err != nil {
		return false, err
	}
	f := localFile{Versions: []localVersion{v}, Primary: v.ID}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return false, fmt.Errorf("keys: create key file: %w", err)
	}
	tmp, err := writeTemp(k.path, f)
	if err != nil {
		return false, fmt.Errorf("keys: create key file: %w", err)
	}
	defer os.Remove(tmp)
	// Link, unlike rename, fails if the target exists.
	if err := os.Link(tmp, k.path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("keys: create key file: %w", err)
	}
	syncDir(filepath.Dir(k.path))
	if err := k.load(f); err != nil {
		return false, fmt.Errorf("keys: create key file: %w", err)
	}
	return true, nil
}

func (k *Local) newVersion(id string) (localVersion, error) {
	key := make([]byte, DEKSize)
	k.randMu.Lock()
	_, err := io.ReadFull(k.rand, key)
	k.randMu.Unlock()
	if err != nil {
		return localVersion{}, fmt.Errorf("keys: new KEK version: read random: %w", err)
	}
	return localVersion{ID: id, Key: key, Created: time.Now().UTC().Truncate(time.Second)}, nil
}

// load checks f and installs it. Callers hold mu or own k exclusively.
func (k *Local) load(f localFile) error {
	if len(f.Versions) == 0 {
		return errors.New("no key versions")
	}
	aeads := make(map[string]cipher.AEAD, len(f.Versions))
	for i, v := range f.Versions {
		if v.ID == "" || len(v.ID) > maxIDLen {
			return fmt.Errorf("version %d: id must be 1 to %d bytes", i, maxIDLen)
		}
		if _, dup := aeads[v.ID]; dup {
			return fmt.Errorf("version %q appears twice", v.ID)
		}
		aead, err := newGCM(v.Key)
		if err != nil {
			return fmt.Errorf("version %q: %w", v.ID, err)
		}
		aeads[v.ID] = aead
	}
	if _, ok := aeads[f.Primary]; !ok {
		return fmt.Errorf("primary %q is not among the versions", f.Primary)
	}
	k.versions, k.aeads, k.primary = f.Versions, aeads, f.Primary
	return nil
}

// Rotate adds a fresh version read from r (the reader given to OpenLocal
// when nil), makes it primary and saves the file atomically. Data wrapped
// under older versions still unwraps; [Local.Rewrap] moves it forward.
func (k *Local) Rotate(r io.Reader) (newID string, err error) {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	// Build on the file as it is now, not as this process first read it.
	if err := k.reloadLocked(); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	next := len(k.versions) + 1
	for _, v := range k.versions {
		if n, err := strconv.Atoi(strings.TrimPrefix(v.ID, localPrefix)); err == nil && n >= next {
			next = n + 1
		}
	}
	id := localPrefix + strconv.Itoa(next)
	var v localVersion
	if r != nil {
		key := make([]byte, DEKSize)
		if _, err := io.ReadFull(r, key); err != nil {
			return "", fmt.Errorf("keys: rotate: read random: %w", err)
		}
		v = localVersion{ID: id, Key: key, Created: time.Now().UTC().Truncate(time.Second)}
	} else if v, err = k.newVersion(id); err != nil {
		return "", err
	}
	f := localFile{Versions: append(k.versions[:len(k.versions):len(k.versions)], v), Primary: id}
	if err := k.replace(f); err != nil {
		return "", fmt.Errorf("keys: rotate: %w", err)
	}
	return id, nil
}

// replace saves f atomically over the file and installs it. Callers hold
// reloadMu and mu.
func (k *Local) replace(f localFile) error {
	tmp, err := writeTemp(k.path, f)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, k.path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(k.path))
	if err := k.load(f); err != nil {
		return err
	}
	k.seen, _ = os.Stat(k.path)
	return nil
}

// writeTemp writes f to a fresh 0600 file next to path, synced, and returns
// its name.
func writeTemp(path string, f localFile) (string, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	Wipe(data)
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes a rename durable. Best effort: not every platform can sync a
// directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Primary returns the id of the version new wraps use.
func (k *Local) Primary(context.Context) string {
	k.refresh()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// Wrap encrypts dek under the primary version. The output is a version
// byte, the length-prefixed version id, a 12-byte nonce and the GCM
// ciphertext; the tag covers the header and associatedData.
func (k *Local) Wrap(_ context.Context, dek, associatedData []byte) ([]byte, error) {
	k.refresh()
	k.mu.RLock()
	id, aead := k.primary, k.aeads[k.primary]
	k.mu.RUnlock()
	return k.wrap(id, aead, dek, associatedData)
}

func (k *Local) wrap(id string, aead cipher.AEAD, dek, associatedData []byte) ([]byte, error) {
	hlen := 2 + len(id)
	out := make([]byte, hlen+nonceSize, hlen+nonceSize+len(dek)+aead.Overhead())
	out[0] = wrapVersion
	out[1] = byte(len(id))
	copy(out[2:], id)
	k.randMu.Lock()
	_, err := io.ReadFull(k.rand, out[hlen:])
	k.randMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("keys: wrap: read random: %w", err)
	}
	return aead.Seal(out, out[hlen:], dek, wrapAD(out[:hlen], associatedData)), nil
}

// Unwrap decrypts a DEK wrapped by any version still in the keyring.
func (k *Local) Unwrap(_ context.Context, wrapped, associatedData []byte) ([]byte, error) {
	id, hlen, err := parseWrapped(wrapped)
	if err != nil {
		return nil, err
	}
	aead, ok := k.lookup(id)
	if !ok {
		// Another process may have rotated the shared file.
		var err error
		if aead, err = k.reloadFor(id); err != nil {
			return nil, fmt.Errorf("keys: unwrap: KEK version %q is not in the keyring %s (%v): %w", id, k.path, err, ErrDecrypt)
		}
	}
	dek, err := aead.Open(nil, wrapped[hlen:hlen+nonceSize], wrapped[hlen+nonceSize:], wrapAD(wrapped[:hlen], associatedData))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap with %q: %w", id, ErrDecrypt)
	}
	return dek, nil
}

// Rewrap unwraps with the version that wrapped it and wraps with the primary.
func (k *Local) Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	dek, err := k.Unwrap(ctx, wrapped, associatedData)
	if err != nil {
		return nil, err
	}
	defer Wipe(dek)
	return k.Wrap(ctx, dek, associatedData)
}

// WrappedBy returns the id of the KEK version named in a wrapped DEK, so
// that callers can find what still needs rewrapping after a rotation. The id
// is not authenticated until the DEK is unwrapped.
func WrappedBy(wrapped []byte) (string, error) {
	id, _, err := parseWrapped(wrapped)
	return id, err
}

func parseWrapped(w []byte) (id string, hlen int, err error) {
	if len(w) < 2 || w[0] != wrapVersion {
		return "", 0, fmt.Errorf("keys: unwrap: not a wrapped key of a known format: %w", ErrDecrypt)
	}
	hlen = 2 + int(w[1])
	if len(w) < hlen+nonceSize+16 {
		return "", 0, fmt.Errorf("keys: unwrap: wrapped key is %d bytes, too short: %w", len(w), ErrDecrypt)
	}
	return string(w[2:hlen]), hlen, nil
}

func wrapAD(header, associatedData []byte) []byte {
	out := make([]byte, 0, len(header)+len(associatedData))
	out = append(out, header...)
	return append(out, associatedData...)
}
