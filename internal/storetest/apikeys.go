package storetest

import (
	"context"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"APIKeyExpiryAndLastUseRoundTrip", testAPIKeyExpiryAndUse},
		Test{"APIKeyRevocationIsIdempotentAndRaisesTheRevision", testAPIKeyRevoke},
	)
}

func testAPIKeyExpiryAndUse(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	k := &likeness.APIKey{ID: likeness.NewID("key"), Name: "ci", Role: likeness.RolePipeline, Hash: []byte("hash-exp"),
		CreatedAt: t0, ExpiresAt: t0.Add(90 * 24 * time.Hour)}
	if err := s.InsertAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, k.Hash)
	if err != nil || !got.ExpiresAt.Equal(k.ExpiresAt) || !got.LastUsedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Fatalf("APIKeyByHash = %+v, %v; want expiry %v, no use, not revoked", got, err, k.ExpiresAt)
	}
	used := t0.Add(time.Hour)
	if err := s.TouchAPIKey(ctx, k.ID, used); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAPIKey(ctx, k.ID, t0.Add(time.Minute)); err != nil { // an older use, arriving late
		t.Fatal(err)
	}
	if got, err := s.APIKeyByHash(ctx, k.Hash); err != nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("last used = %v, %v; want %v", got.LastUsedAt, err, used)
	}
	forever := &likeness.APIKey{ID: likeness.NewID("key"), Role: likeness.RoleAuditor, Hash: []byte("hash-forever"), CreatedAt: t0}
	if err := s.InsertAPIKey(ctx, forever); err != nil {
		t.Fatal(err)
	}
	if got, err := s.APIKeyByHash(ctx, forever.Hash); err != nil || !got.ExpiresAt.IsZero() {
		t.Fatalf("a key without expiry reads back as %+v, %v", got, err)
	}
}

func testAPIKeyRevoke(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	k := &likeness.APIKey{ID: likeness.NewID("key"), Role: likeness.RoleAdmin, Hash: []byte("hash-rev"), CreatedAt: t0}
	if err := s.InsertAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	before, err := s.APIKeyRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	if err := s.RevokeAPIKey(ctx, k.ID, at); err != nil {
		t.Fatal(err)
	}
	after, err := s.APIKeyRevision(ctx)
	if err != nil || after == before {
		t.Fatalf("revision %d → %d, %v; want it to change on revocation", before, after, err)
	}
	if _, err := s.APIKeyByHash(ctx, k.Hash); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("revoked key by hash: err = %v, want not_found", err)
	}
	if err := s.RevokeAPIKey(ctx, k.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("second revocation: %v", err)
	}
	if again, _ := s.APIKeyRevision(ctx); again != after {
		t.Fatalf("a second revocation moved the revision %d → %d", after, again)
	}
	all, err := s.APIKeys(ctx)
	if err != nil || len(all) != 1 || !all[0].RevokedAt.Equal(at) {
		t.Fatalf("APIKeys = %+v, %v; want the key listed, revoked at %v", all, err, at)
	}
	if err := s.RevokeAPIKey(ctx, "key_unknown", at); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("revoking an unknown key: err = %v, want not_found", err)
	}
}
