// Package blob defines where encrypted blobs live. Blob storage is untrusted:
// it only ever receives ciphertext made by package keys, and a blob's key
// must not reveal who or what it belongs to beyond opaque ids.
//
// Backends implement [Store] in sibling packages (fsblob for a local folder,
// s3blob for S3-compatible object storage), and all of them pass the one
// conformance suite in blobtest.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Store keeps opaque blobs by key. Implementations must be safe for
// concurrent use.
type Store interface {
	// Put stores r under key, replacing any blob already there, and returns
	// the number of bytes stored. The blob becomes visible only once it is
	// complete: a Put that fails or whose ctx is cancelled leaves nothing
	// behind, and a previous blob under key stays as it was.
	Put(ctx context.Context, key string, r io.Reader) (size int64, err error)
	// Get returns the blob under key, to be closed by the caller. It returns
	// an error wrapping ErrNotFound when there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the blob under key. It is idempotent: deleting an
	// absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted. An empty prefix
	// lists everything.
	List(ctx context.Context, prefix string) ([]string, error)
}

// ErrNotFound is returned (wrapped) by Get when no blob has the key.
// Callers compare with errors.Is and answer 404.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned (wrapped) for a key or prefix that [ValidKey]
// rejects. It is a caller's bug, never a storage failure.
var ErrInvalidKey = errors.New("blob: invalid key")

// MaxKeyLen is the longest key a Store accepts, and MaxSegmentLen the
// longest part of it between slashes (file systems limit names to 255 bytes,
// and a backend may add a suffix).
const (
	MaxKeyLen     = 512
	MaxSegmentLen = 200
)

// ValidKey reports whether key can name a blob in every backend: 1 to 512
// characters from a-z, 0-9, '/', '_', '-' and '.', made of '/'-separated
// segments of at most 200 characters that are neither empty nor "." and
// never contain "..". So no leading, trailing or doubled '/'. Such keys map
// safely to file paths and object names alike.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if err := validPrefix(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." {
			return fmt.Errorf("%w %q: empty or \".\" path segment", ErrInvalidKey, key)
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: a segment has %d characters, more than %d", ErrInvalidKey, len(seg), MaxSegmentLen)
		}
	}
	return nil
}

// ValidPrefix reports whether prefix can start a valid key, for List. The
// empty prefix is valid.
func ValidPrefix(prefix string) error {
	return validPrefix(prefix)
}

func validPrefix(p string) error {
	if len(p) > MaxKeyLen {
		return fmt.Errorf("%w: %d characters, more than %d", ErrInvalidKey, len(p), MaxKeyLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w %q: character %q is not allowed (use a-z, 0-9, / _ - .)", ErrInvalidKey, p, c)
		}
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w %q: leading '/'", ErrInvalidKey, p)
	}
	if strings.Contains(p, "..") {
		return fmt.Errorf("%w %q: contains \"..\"", ErrInvalidKey, p)
	}
	return nil
}

// ContextReader returns a reader that fails once ctx is done, so a
// cancelled Put stops reading and is abandoned rather than stored.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
