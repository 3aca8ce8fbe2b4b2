package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func openTestLocal(t *testing.T) (*Local, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "kek.json")
	k, created, err := OpenLocal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("OpenLocal on a missing file: created = false, want true")
	}
	return k, path
}

func newTestDEK(t testing.TB) []byte {
	t.Helper()
	dek, err := NewDEK(nil)
	if err != nil {
		t.Fatal(err)
	}
	return dek
}

func TestRotateKeepsOldWrappedKeysReadable(t *testing.T) {
	ctx := context.Background()
	k, path := openTestLocal(t)
	if got := k.Primary(ctx); got != "local-1" {
		t.Fatalf("Primary() = %q, want local-1", got)
	}
	dek := newTestDEK(t)
	ad := []byte("subject:s-1")
	old, err := k.Wrap(ctx, dek, ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := WrappedBy(old); id != "local-1" {
		t.Fatalf("WrappedBy = %q, want local-1", id)
	}

	newID, err := k.Rotate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if newID != "local-2" || k.Primary(ctx) != "local-2" {
		t.Fatalf("after Rotate: id %q, primary %q; want local-2", newID, k.Primary(ctx))
	}

	got, err := k.Unwrap(ctx, old, ad)
	if err != nil {
		t.Fatalf("unwrap of a key wrapped before rotation: %v", err)
	}
	if !bytes.Equal(got, dek) {
		t.Fatal("unwrapped DEK differs")
	}
	rewrapped, err := k.Rewrap(ctx, old, ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := WrappedBy(rewrapped); id != "local-2" {
		t.Fatalf("rewrapped names %q, want local-2", id)
	}
	fresh, err := k.Wrap(ctx, dek, ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := WrappedBy(fresh); id != "local-2" {
		t.Fatalf("wrap after rotate names %q, want local-2", id)
	}

	// A reopened keyring sees both versions and the new primary.
	k2, created, err := OpenLocal(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if created || k2.Primary(ctx) != "local-2" {
		t.Fatalf("reopen: created %v, primary %q", created, k2.Primary(ctx))
	}
	for _, w := range [][]byte{old, rewrapped} {
		got, err := k2.Unwrap(ctx, w, ad)
		if err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("reopened keyring: unwrap = %v", err)
		}
	}
}

func TestUnwrapFailsOnWrongADOrTampering(t *testing.T) {
	ctx := context.Background()
	k, _ := openTestLocal(t)
	dek := newTestDEK(t)
	w, err := k.Wrap(ctx, dek, []byte("subject:a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Unwrap(ctx, w, []byte("subject:b")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unwrap with another subject's ad: err = %v, want ErrDecrypt", err)
	}
	for i := range w {
		bad := bytes.Clone(w)
		bad[i] ^= 0x01
		if _, err := k.Unwrap(ctx, bad, []byte("subject:a")); err == nil {
			t.Fatalf("unwrap succeeded with byte %d flipped", i)
		}
	}
	if _, err := k.Unwrap(ctx, w[:len(w)-1], []byte("subject:a")); err == nil {
		t.Fatal("unwrap succeeded on a truncated key")
	}

	other, _ := openTestLocal(t)
	if _, err := other.Unwrap(ctx, w, []byte("subject:a")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another keyring's local-1 unwrapped it: err = %v", err)
	}
}

func TestKeyFileIsOwnerOnly(t *testing.T) {
	k, path := openTestLocal(t)
	check := func() {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
		}
	}
	check()
	if _, err := k.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	check()
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after rotate, want only the key file", len(entries))
	}
}

func TestOpenLocalRefusesLooseMode(t *testing.T) {
	_, path := openTestLocal(t)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := OpenLocal(path, nil)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("OpenLocal on a 0644 file: err = %v, want advice to chmod 600", err)
	}
}

func TestCorruptKeyFileGivesClearError(t *testing.T) {
	tests := map[string]string{
		"not json":        "\x00\x01garbage",
		"truncated":       `{"versions":[{"id":"local-1","key":"AAAA`,
		"no versions":     `{"versions":[],"primary":"local-1"}`,
		"short key":       `{"versions":[{"id":"local-1","key":"AAAA","created":"2024-01-01T00:00:00Z"}],"primary":"local-1"}`,
		"missing primary": `{"versions":[{"id":"local-1","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","created":"2024-01-01T00:00:00Z"}],"primary":"local-9"}`,
		"unknown field":   `{"versions":[],"primary":"local-1","extra":1}`,
		"empty":           ``,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := OpenLocal(path, nil)
			if err == nil {
				t.Fatal("OpenLocal accepted a corrupt key file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
				t.Fatalf("error %q does not name the file and say it is corrupt", err)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatal("OpenLocal changed a corrupt key file")
			}
		})
	}
}

func TestLocalIsSafeForConcurrentUse(t *testing.T) {
	ctx := context.Background()
	k, _ := openTestLocal(t)
	dek := newTestDEK(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				w, err := k.Wrap(ctx, dek, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := k.Unwrap(ctx, w, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if _, err := k.Rotate(nil); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if k.Primary(ctx) != "local-4" {
		t.Fatalf("primary %q, want local-4", k.Primary(ctx))
	}
}

func TestNewDEKAndWipe(t *testing.T) {
	a, b := newTestDEK(t), newTestDEK(t)
	if len(a) != DEKSize || bytes.Equal(a, b) {
		t.Fatal("NewDEK: wrong size or repeated key")
	}
	Wipe(a)
	if !bytes.Equal(a, make([]byte, DEKSize)) {
		t.Fatal("Wipe left key bytes")
	}
	if _, err := NewDEK(bytes.NewReader(nil)); err == nil {
		t.Fatal("NewDEK with an empty random source succeeded")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	dek := newTestDEK(t)
	for _, pt := range []string{"", "Ada Lovelace", strings.Repeat("x", 10000)} {
		s, err := Seal(dek, []byte(pt), []byte("s-1/name"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 1+12+len(pt)+16 || s[0] != 1 {
			t.Fatalf("sealed form: %d bytes, version %d", len(s), s[0])
		}
		got, err := Open(dek, s, []byte("s-1/name"))
		if err != nil || string(got) != pt {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	dek := newTestDEK(t)
	ad := []byte("s-1/consent-evidence")
	s, err := Seal(dek, []byte("said yes on the call at 10:02"), ad, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(s)
			bad[i] ^= bit
			if _, err := Open(dek, bad, ad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d bit %#x flipped: err = %v, want ErrDecrypt", i, bit, err)
			}
		}
	}
	cases := map[string]func() error{
		"wrong ad":  func() error { _, err := Open(dek, s, []byte("s-2/consent-evidence")); return err },
		"wrong key": func() error { _, err := Open(newTestDEK(t), s, ad); return err },
		"truncated": func() error { _, err := Open(dek, s[:len(s)-1], ad); return err },
		"appended":  func() error { _, err := Open(dek, append(bytes.Clone(s), 0), ad); return err },
		"empty":     func() error { _, err := Open(dek, nil, ad); return err },
		"short key": func() error { _, err := Open(dek[:16], s, ad); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}
