// Package fsblob keeps blobs as files in a local folder: the embedded
// default behind `likeness serve` with no flags.
//
// A blob's key maps to a path under the folder, with "#" appended to the
// file name. Keys cannot contain '#', so a key's file never collides with the
// directory another key needs ("x" is "x#", "x/y" is "x/y#"), nor with the
// temporary files that puts write (".tmp-*", never ending in '#'). A put
// writes a temporary file in the blob's own directory, syncs it and renames
// it into place, so readers see the old blob or the new one, never a part;
// temporary files left by a crash are invisible to Get and List. The folder
// and its directories are 0700 and blob files 0600.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"likeness/internal/blob"
)

const (
	suffix     = "#"
	tempPrefix = ".tmp-"
)

// Store is a blob.Store in a local folder. It is safe for concurrent use,
// also by several processes sharing the folder.
type Store struct {
	root string
}

var _ blob.Store = (*Store)(nil)

// New returns a Store keeping blobs under dir, creating it (mode 0700) if
// needed.
func New(dir string) (*Store, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("fsblob: create blob folder: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("fsblob: %s is not a directory", root)
	}
	return &Store{root: root}, nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key)) + suffix
}

// Put writes r to a temporary file next to the blob, syncs it and renames it
// over the blob.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := blob.ValidKey(key); err != nil {
		return 0, fmt.Errorf("fsblob: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	path := s.path(key)
	f, err := s.createTemp(filepath.Dir(path))
	if err != nil {
		return 0, fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	n, err := io.Copy(f, blob.ContextReader(ctx, r))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	syncDir(filepath.Dir(path))
	return n, nil
}

// createTemp makes dir and a temporary file in it. A concurrent Delete may
// remove dir once empty between the two steps; then it tries again.
func (s *Store) createTemp(dir string) (*os.File, error) {
	var err error
	for range 5 {
		if err = os.MkdirAll(dir, 0o700); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		var f *os.File
		if f, err = os.CreateTemp(dir, tempPrefix+"*"); err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// Get opens the blob's file.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, fmt.Errorf("fsblob: get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsblob: get %q: %w", key, err)
	}
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("fsblob: get %q: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("fsblob: get %q: %w", key, err)
	}
	return f, nil
}

// Delete removes the blob's file, then any directories it leaves empty, and
// syncs the directory so the removal survives a crash.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidKey(key); err != nil {
		return fmt.Errorf("fsblob: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: delete %q: %w", key, err)
	}
	path := s.path(key)
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsblob: delete %q: %w", key, err)
	}
	dir := filepath.Dir(path)
	syncDir(dir)
	for ; dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty, or already gone
			break
		}
	}
	return nil
}

// List walks the directories that can hold keys with prefix.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := blob.ValidPrefix(prefix); err != nil {
		return nil, fmt.Errorf("fsblob: list: %w", err)
	}
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by a concurrent Delete, or never there
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path == start {
				return nil
			}
			if dir := rel + "/"; !strings.HasPrefix(dir, prefix) && !strings.HasPrefix(prefix, dir) {
				return fs.SkipDir
			}
			return nil
		}
		key, ok := strings.CutSuffix(rel, suffix)
		if ok && d.Type().IsRegular() && strings.HasPrefix(key, prefix) && blob.ValidKey(key) == nil {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fsblob: list %q: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// syncDir makes a rename or removal durable. Best effort: not every
// platform can sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
