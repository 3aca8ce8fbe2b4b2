package subjects

import (
	"context"
	"fmt"

	"likeness"
	"likeness/internal/keys"
)

// deploymentSettings are the settings that hold keys wrapped by the KEK.
var deploymentSettings = []string{"lookup_key", "ledger_signing_seed"}

func settingAD(name string) []byte { return []byte("setting:" + name) }

// DeploymentKey returns a 32-byte secret shared by every replica: created
// once, stored wrapped by the KEK under the setting name. The caller wipes
// it when it no longer needs it.
func (r *Registry) DeploymentKey(ctx context.Context, name string) ([]byte, error) {
	fresh, err := keys.NewDEK(r.rand)
	if err != nil {
		return nil, err
	}
	defer keys.Wipe(fresh)
	wrapped, err := r.kek.Wrap(ctx, fresh, settingAD(name))
	if err != nil {
		return nil, fmt.Errorf("subjects: wrap %s: %w", name, err)
	}
	stored, err := r.store.InitSetting(ctx, name, wrapped)
	if err != nil {
		return nil, fmt.Errorf("subjects: store %s: %w", name, err)
	}
	return unwrapSetting(ctx, r.kek, name, stored)
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
// the deployment keys) with its current primary version. Safe to rerun.
func RewrapAll(ctx context.Context, store Store, kek keys.KEK) (int, error) {
	n := 0
	for _, name := range deploymentSettings {
		stored, err := store.Setting(ctx, name)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			continue
		}
		if err != nil {
			return n, err
		}
		w, err := kek.Rewrap(ctx, stored, settingAD(name))
		if err != nil {
			return n, fmt.Errorf("subjects: rewrap %s: %w", name, err)
		}
		if err := store.PutSetting(ctx, name, w); err != nil {
			return n, err
		}
		n++
	}
	m, err := store.RewrapSubjectKeys(ctx, func(id string, w []byte) ([]byte, error) {
		return kek.Rewrap(ctx, w, subjectAD(id))
	})
	return n + m, err
}
