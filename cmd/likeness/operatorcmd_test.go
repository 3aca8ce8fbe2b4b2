package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/sqlstore"
)

func TestOperatorCreatePrintsEnrolmentOnceAndDisable(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "operator", "create", "alice", "--role", "reviewer", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("operator create = %d: %s", code, errOut)
	}
	if !strings.Contains(out, "temporary password: ") || !strings.Contains(out, "otpauth://totp/") || strings.Count(out, "\n  ") != 10 {
		t.Fatalf("operator create printed:\n%s", out)
	}
	if code, _, _ := run(t, "operator", "create", "bob", "--role", "owner", "--data-dir", dir); code != 2 {
		t.Fatalf("operator create with an unknown role = %d; want 2", code)
	}
	if code, _, errOut := run(t, "operator", "disable", "alice", "--data-dir", dir); code != 0 {
		t.Fatalf("operator disable = %d: %s", code, errOut)
	}
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	op, err := store.Operator(context.Background(), "alice")
	if err != nil || op.Role != likeness.OperatorReviewer || op.TOTPConfirmed || op.DisabledAt.IsZero() {
		t.Fatalf("stored operator = %+v, %v", op, err)
	}
	if strings.Contains(string(op.TOTPSealed), "secret=") || !strings.HasPrefix(op.PasswordHash, "$argon2id$") {
		t.Fatal("an operator secret is stored in the clear")
	}
}
