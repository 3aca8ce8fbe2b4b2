package fsblob

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"likeness/internal/blob"
	"likeness/internal/blob/blobtest"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := New(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFilesAreOwnerOnly(t *testing.T) {
	root := filepath.Join(t.TempDir(), "blobs")
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), "subjects/s1/a", strings.NewReader("ciphertext")); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeftoverTempFilesAreInvisible(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "a/b", strings.NewReader("whole")); err != nil {
		t.Fatal(err)
	}
	// What a crash mid-Put leaves behind, and files that are not blobs.
	for _, name := range []string{"a/.tmp-12345", ".tmp-999", "a/c", "stray.txt"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/b"}) {
		t.Fatalf("List = %q, want [a/b]", keys)
	}
	for _, key := range []string{"a/.tmp-12345", ".tmp-999", "a/c", "stray.txt"} {
		if _, err := s.Get(ctx, key); err == nil {
			t.Errorf("Get(%q) found a leftover file", key)
		}
	}
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, "subjects/s1/assets/a1", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "subjects/s1/assets/a1"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("blob folder still holds %d entries after the only blob was deleted", len(entries))
	}
}
