package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
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
	hash := likeness.HashAPIKey(token)
	if _, err := store.APIKeyByHash(ctx, hash); err == nil {
		return nil
	}
	_, _, err := storeKey(ctx, store, "admin (LIKENESS_ADMIN_TOKEN)", likeness.RoleAdmin, token, now)
	if err != nil {
		// Replicas started together race to insert the same key; the
		// loser finds the winner's row and is done.
		if _, again := store.APIKeyByHash(ctx, hash); again == nil {
			return nil
		}
	}
	return err
}

// FirstAdminStore is what EnsureFirstAdmin needs: keys, and a setting that
// replicas agree on.
type FirstAdminStore interface {
	likeness.APIKeyStore
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)
}

// EnsureFirstAdmin creates the deployment's first admin key exactly once,
// however many replicas start together on a fresh database: the replica that
// claims the "first_admin" setting creates the key and gets its secret to
// print; every other replica gets "" and creates nothing. (Should the
// claiming replica die before inserting, `likeness apikey create` makes one.)
func EnsureFirstAdmin(ctx context.Context, store FirstAdminStore, now time.Time) (string, error) {
	keys, err := store.APIKeys(ctx)
	if err != nil || len(keys) > 0 {
		return "", err
	}
	claim := []byte(likeness.NewID("key"))
	won, err := store.InitSetting(ctx, "first_admin", claim)
	if err != nil {
		return "", fmt.Errorf("claim first admin key: %w", err)
	}
	if string(won) != string(claim) {
		return "", nil
	}
	token := NewToken()
	k := &likeness.APIKey{ID: string(claim), Name: "first admin", Role: likeness.RoleAdmin, Hash: likeness.HashAPIKey(token), CreatedAt: now.UTC()}
	if err := store.InsertAPIKey(ctx, k); err != nil {
		return "", err
	}
	return token, nil
}

func storeKey(ctx context.Context, store likeness.APIKeyStore, name string, role likeness.Role, token string, now time.Time) (*likeness.APIKey, string, error) {
	k := &likeness.APIKey{ID: likeness.NewID("key"), Name: name, Role: role, Hash: likeness.HashAPIKey(token), CreatedAt: now.UTC()}
	if err := store.InsertAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, token, nil
}
