package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"time"

	"likeness"
)

// NewToken returns a fresh API key secret: "lk_" and 256 random bits.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return "lk_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// CreateAPIKey stores a new key with role and returns it with its secret,
// which is shown once and never stored.
func CreateAPIKey(ctx context.Context, store likeness.APIKeyStore, name string, role likeness.Role, now time.Time) (*likeness.APIKey, string, error) {
	if !likeness.ValidRole(role) {
		return nil, "", likeness.Errorf(likeness.EINVALID, "role %q is not one of admin, collector, pipeline, auditor", role)
	}
	if len(name) > 100 {
		return nil, "", likeness.Errorf(likeness.EINVALID, "name is longer than 100 characters")
	}
	token := NewToken()
	return storeKey(ctx, store, name, role, token, now)
}

// EnsureAdminToken makes token a valid admin key (idempotent), for the
// LIKENESS_ADMIN_TOKEN start-up variable.
func EnsureAdminToken(ctx context.Context, store likeness.APIKeyStore, token string, now time.Time) error {
	if len(token) < 16 {
		return likeness.Errorf(likeness.EINVALID, "LIKENESS_ADMIN_TOKEN must be at least 16 characters")
	}
	if _, err := store.APIKeyByHash(ctx, likeness.HashAPIKey(token)); err == nil {
		return nil
	}
	_, _, err := storeKey(ctx, store, "admin (LIKENESS_ADMIN_TOKEN)", likeness.RoleAdmin, token, now)
	return err
}

func storeKey(ctx context.Context, store likeness.APIKeyStore, name string, role likeness.Role, token string, now time.Time) (*likeness.APIKey, string, error) {
	k := &likeness.APIKey{ID: likeness.NewID("key"), Name: name, Role: role, Hash: likeness.HashAPIKey(token), CreatedAt: now.UTC()}
	if err := store.InsertAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, token, nil
}
