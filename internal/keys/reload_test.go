package keys

import (
	"context"
	"errors"
	"testing"
	"time"
)

// replicaPair opens the same key file twice, as two replicas do, each with
// a clock the test moves.
func replicaPair(t *testing.T) (a, b *Local, clock *time.Time) {
	t.Helper()
	a, path := openTestLocal(t)
	b, _, err := OpenLocal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock = &now
	a.now = func() time.Time { return *clock }
	b.now = func() time.Time { return *clock }
	return a, b, clock
}

func TestUnwrapReloadsTheFileForAnUnknownVersion(t *testing.T) {
	ctx := context.Background()
	a, b, _ := replicaPair(t)
	if _, err := a.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	dek := newTestDEK(t)
	w, err := a.Wrap(ctx, dek, []byte("subject:s-1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Unwrap(ctx, w, []byte("subject:s-1"))
	if err != nil {
		t.Fatalf("replica that did not rotate: Unwrap = %v, want the key", err)
	}
	if string(got) != string(dek) {
		t.Fatal("unwrapped key differs")
	}
}

func TestUnknownVersionReloadsAtMostOncePerSecond(t *testing.T) {
	ctx := context.Background()
	a, b, clock := replicaPair(t)
	a.Rotate(nil)
	w2, _ := a.Wrap(ctx, newTestDEK(t), nil)
	if _, err := b.Unwrap(ctx, w2, nil); err != nil {
		t.Fatal(err)
	}
	a.Rotate(nil)
	w3, _ := a.Wrap(ctx, newTestDEK(t), nil)
	if _, err := b.Unwrap(ctx, w3, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("second unknown version within a second: Unwrap = %v, want ErrDecrypt without reading the file", err)
	}
	*clock = clock.Add(reloadEvery)
	if _, err := b.Unwrap(ctx, w3, nil); err != nil {
		t.Fatalf("a second later: Unwrap = %v, want the key", err)
	}
}

func TestWrapNoticesANewPrimaryWithinSeconds(t *testing.T) {
	ctx := context.Background()
	a, b, clock := replicaPair(t)
	b.Wrap(ctx, newTestDEK(t), nil) // b has looked at the file now
	if _, err := a.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	w, _ := b.Wrap(ctx, newTestDEK(t), nil)
	if id, _ := WrappedBy(w); id != "local-1" {
		t.Fatalf("right after the rotation: wrapped by %q; b should not stat the file on every Wrap", id)
	}
	*clock = clock.Add(checkEvery)
	w, _ = b.Wrap(ctx, newTestDEK(t), nil)
	if id, _ := WrappedBy(w); id != "local-2" {
		t.Fatalf("after %v: wrapped by %q, want the new primary local-2", checkEvery, id)
	}
	if p := b.Primary(ctx); p != "local-2" {
		t.Fatalf("Primary = %q, want local-2", p)
	}
}

func TestRetireRemovesAVersionButNeverThePrimary(t *testing.T) {
	ctx := context.Background()
	a, b, clock := replicaPair(t)
	old, _ := a.Wrap(ctx, newTestDEK(t), nil)
	if err := a.Retire("local-1"); !errors.Is(err, ErrVersionInUse) {
		t.Fatalf("Retire(primary) = %v, want ErrVersionInUse", err)
	}
	// b rotates; a, which has not seen it, retires local-1 on top of b's file.
	if _, err := b.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Retire("local-1"); err != nil {
		t.Fatal(err)
	}
	if got := a.Versions(); len(got) != 1 || got[0] != "local-2" {
		t.Fatalf("after retire: versions %v, want [local-2]", got)
	}
	if err := a.Retire("local-9"); err == nil {
		t.Fatal("Retire of an unknown version succeeded")
	}
	if _, err := a.Unwrap(ctx, old, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Unwrap of a key wrapped by a retired version = %v, want ErrDecrypt", err)
	}
	*clock = clock.Add(checkEvery)
	b.Wrap(ctx, newTestDEK(t), nil)
	if got := b.Versions(); len(got) != 1 {
		t.Fatalf("other replica after retire: versions %v, want [local-2]", got)
	}
}
