package subjects

import (
	"bytes"
	"context"
	"fmt"

	"likeness"
	"likeness/internal/keys"
)

// The deployment's secrets that every replica must share, each a 32-byte key
// kept in settings wrapped by the KEK. Every such secret is named here, so
// that RewrapAll and KeyVersions cover them all.
const (
	LookupKey     = "lookup_key"          // HMAC key of the organization's user ids
	LedgerSeed    = "ledger_signing_seed" // the ledger's Ed25519 seed
	WebCookieKey  = "web_cookie_key"      // signs portal and console cookies and CSRF tokens
	WebhookSecret = "webhook_secret"      // signs webhooks when no secret is configured
	// MailKey seals an erasure confirmation between the moment it is
	// composed (before the person's key is destroyed) and its sending.
	MailKey = "mail_key"
)

var deploymentSettings = []string{LookupKey, LedgerSeed, WebCookieKey, WebhookSecret, MailKey}

func settingAD(name string) []byte { return []byte("setting:" + name) }

// DeploymentKey returns a 32-byte secret shared by every replica: created
// once, stored wrapped by the KEK under the setting name (one of the names
// above). The caller wipes it when it no longer needs it.
func (r *Registry) DeploymentKey(ctx context.Context, name string) ([]byte, error) {
	key, _, err := r.InitDeploymentKey(ctx, name)
	return key, err
}

// InitDeploymentKey is DeploymentKey also reporting whether this call
// created the key, so that exactly one replica of those starting together
// shows a generated secret to the operator.
func (r *Registry) InitDeploymentKey(ctx context.Context, name string) (key []byte, created bool, err error) {
	if !isDeploymentSetting(name) {
		return nil, false, fmt.Errorf("subjects: %q is not a deployment key", name)
	}
	fresh, err := keys.NewDEK(r.rand)
	if err != nil {
		return nil, false, err
	}
	defer keys.Wipe(fresh)
	wrapped, err := r.kek.Wrap(ctx, fresh, settingAD(name))
	if err != nil {
		return nil, false, fmt.Errorf("subjects: wrap %s: %w", name, err)
	}
	stored, err := r.store.InitSetting(ctx, name, wrapped)
	if err != nil {
		return nil, false, fmt.Errorf("subjects: store %s: %w", name, err)
	}
	key, err = unwrapSetting(ctx, r.kek, name, stored)
	return key, err == nil && bytes.Equal(stored, wrapped), err
}

func isDeploymentSetting(name string) bool {
	for _, n := range deploymentSettings {
		if n == name {
			return true
		}
	}
	return false
}

// ReadDeploymentKey returns a deployment key that already exists, for tools
// that work without a running registry (`likeness ledger verify`).
func ReadDeploymentKey(ctx context.Context, store likeness.SettingStore, kek keys.KEK, name string) ([]byte, error) {
	stored, err := store.Setting(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("subjects: read %s: %w", name, err)
	}
	return unwrapSetting(ctx, kek, name, stored)
}

func unwrapSetting(ctx context.Context, kek keys.KEK, name string, stored []byte) ([]byte, error) {
	key, err := kek.Unwrap(ctx, stored, settingAD(name))
	if err != nil {
		return nil, fmt.Errorf("subjects: unwrap %s (is this the key file that created the database?): %w", name, err)
	}
	return key, nil
}

// RewrapAll rewraps every key wrapped by the KEK (subjects' data keys and
// the deployment keys) that its current primary version did not wrap, and
// returns how many it rewrapped. Safe to rerun: a second pass only touches
// keys wrapped since by a replica that had not yet seen the new primary.
func RewrapAll(ctx context.Context, store Store, kek keys.KEK) (int, error) {
	primary, n := kek.Primary(ctx), 0
	_, err := forEachSetting(ctx, store, func(name string, stored []byte) error {
		if id, _ := keys.WrappedBy(stored); id == primary {
			return nil
		}
		w, err := kek.Rewrap(ctx, stored, settingAD(name))
		if err != nil {
			return fmt.Errorf("subjects: rewrap %s: %w", name, err)
		}
		n++
		return store.PutSetting(ctx, name, w)
	})
	if err != nil {
		return n, err
	}
	_, err = store.RewrapSubjectKeys(ctx, func(id string, w []byte) ([]byte, error) {
		if by, _ := keys.WrappedBy(w); by == primary {
			return w, nil
		}
		n++
		return kek.Rewrap(ctx, w, subjectAD(id))
	})
	return n, err
}

// KeyVersions counts the subjects' data keys and deployment keys by the KEK
// version that wrapped them: a full scan, for `likeness keys retire`.
func KeyVersions(ctx context.Context, store Store) (map[string]int, error) {
	counts := map[string]int{}
	count := func(w []byte) error {
		id, err := keys.WrappedBy(w)
		if err != nil {
			return err
		}
		counts[id]++
		return nil
	}
	if _, err := forEachSetting(ctx, store, func(_ string, stored []byte) error { return count(stored) }); err != nil {
		return nil, err
	}
	// The store's one full pass over subject keys is the rewrap pass;
	// giving each key back unchanged makes it a read.
	_, err := store.RewrapSubjectKeys(ctx, func(_ string, w []byte) ([]byte, error) { return w, count(w) })
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// forEachSetting calls fn for each deployment key that exists.
func forEachSetting(ctx context.Context, store likeness.SettingStore, fn func(name string, stored []byte) error) (int, error) {
	n := 0
	for _, name := range deploymentSettings {
		stored, err := store.Setting(ctx, name)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			continue
		}
		if err != nil {
			return n, err
		}
		if err := fn(name, stored); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
