package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"likeness"
	"likeness/internal/sqlstore"
)

func TestAPIKeyExpiresInAndRevoke(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "apikey", "create", "--role", "auditor", "--expires-in", "30d", "--data-dir", dir); code != 0 {
		t.Fatalf("apikey create --expires-in = %d: %s", code, errOut)
	}
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ks, err := store.APIKeys(context.Background())
	if err != nil || len(ks) != 1 {
		t.Fatalf("stored keys: %+v, %v", ks, err)
	}
	if left := time.Until(ks[0].ExpiresAt); left < 29*24*time.Hour || left > 31*24*time.Hour {
		t.Errorf("expires_at = %v, want about 30 days from now", ks[0].ExpiresAt)
	}
	if code, out, errOut := run(t, "apikey", "revoke", ks[0].ID, "--data-dir", dir); code != 0 {
		t.Fatalf("apikey revoke = %d: %s %s", code, out, errOut)
	}
	if ks, _ = store.APIKeys(context.Background()); ks[0].RevokedAt.IsZero() {
		t.Error("the key is not revoked")
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"apikey", "revoke", "--data-dir", dir}, 2},
		{[]string{"apikey", "revoke", "not-a-key", "--data-dir", dir}, 2},
		{[]string{"apikey", "revoke", "--data-dir", dir, likeness.NewID("key")}, 1},
		{[]string{"apikey", "create", "--role", "auditor", "--expires-in", "soon", "--data-dir", dir}, 2},
	} {
		if code, _, _ := run(t, tc.args...); code != tc.want {
			t.Errorf("%v = %d, want %d", tc.args, code, tc.want)
		}
	}
}
