// Package blobtest is the conformance suite that every blob.Store backend
// runs from its own tests, so that all backends keep the same promises.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"likeness/internal/blob"
)

// Run checks that the stores made by newStore keep the blob.Store contract.
// Each subtest gets a fresh, empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s blob.Store)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutOverwrites", testPutOverwrites},
		{"GetAbsentIsNotFound", testGetAbsentIsNotFound},
		{"DeleteIsIdempotent", testDeleteIsIdempotent},
		{"ListByPrefixSorted", testListByPrefixSorted},
		{"FailedPutLeavesNothing", testFailedPutLeavesNothing},
		{"CancelledPutLeavesNothing", testCancelledPutLeavesNothing},
		{"ConcurrentPuts", testConcurrentPuts},
		{"InvalidKeysRejected", testInvalidKeysRejected},
		{"KeysDoNotCollide", testKeysDoNotCollide},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f(t, newStore(t))
		})
	}
}

// Data returns n reproducible pseudo-random bytes, seeded by seed.
func Data(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(s).Read(b)
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	n, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(data))
	}
}

func get(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

func wantAbsent(t *testing.T, s blob.Store, key string) {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Get(%q) found a blob, want ErrNotFound", key)
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get(%q): err = %v, want ErrNotFound", key, err)
	}
}

func list(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	keys, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func testPutGetRoundTrip(t *testing.T, s blob.Store) {
	for _, n := range []int{0, 1, 100_000, 20 << 20} {
		key := fmt.Sprintf("round-trip/%d.bin", n)
		data := Data(n, uint64(n))
		put(t, s, key, data)
		if got := get(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("Get(%q) returned %d bytes that differ from the %d put", key, len(got), n)
		}
	}
}

func testPutOverwrites(t *testing.T, s blob.Store) {
	put(t, s, "a/b", []byte("first version, longer"))
	put(t, s, "a/b", []byte("second"))
	if got := get(t, s, "a/b"); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q, want %q", got, "second")
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"a/b"}) {
		t.Fatalf("List after overwrite = %q, want [a/b]", got)
	}
}

func testGetAbsentIsNotFound(t *testing.T, s blob.Store) {
	wantAbsent(t, s, "never/put")
	put(t, s, "dir/file", []byte("x"))
	wantAbsent(t, s, "dir") // a prefix of a key is not a key
	wantAbsent(t, s, "dir/fil")
}

func testDeleteIsIdempotent(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "d/1", []byte("one"))
	put(t, s, "d/2", []byte("two"))
	for range 2 {
		if err := s.Delete(ctx, "d/1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.Delete(ctx, "never/put"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	wantAbsent(t, s, "d/1")
	if got := get(t, s, "d/2"); string(got) != "two" {
		t.Fatalf("Delete touched a sibling: Get(d/2) = %q", got)
	}
	if got := list(t, s, ""); !slices.Equal(got, []string{"d/2"}) {
		t.Fatalf("List after Delete = %q, want [d/2]", got)
	}
	// A key can be put again after its directory-like prefix emptied.
	if err := s.Delete(ctx, "d/2"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "d/3", []byte("three"))
	if got := get(t, s, "d/3"); string(got) != "three" {
		t.Fatalf("Get(d/3) = %q", got)
	}
}

func testListByPrefixSorted(t *testing.T, s blob.Store) {
	keys := []string{
		"subjects/s2/assets/a1", "subjects/s1/assets/b", "subjects/s1/assets/a",
		"subjects/s10/x", "subjects/s1", "subject", "other/z", "a.b-c_d",
		"subjects/s1/assets.old",
	}
	for _, k := range keys {
		put(t, s, k, []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a.b-c_d", "other/z", "subject", "subjects/s1", "subjects/s1/assets.old", "subjects/s1/assets/a", "subjects/s1/assets/b", "subjects/s10/x", "subjects/s2/assets/a1"}},
		{"subjects/s1/", []string{"subjects/s1/assets.old", "subjects/s1/assets/a", "subjects/s1/assets/b"}},
		{"subjects/s1", []string{"subjects/s1", "subjects/s1/assets.old", "subjects/s1/assets/a", "subjects/s1/assets/b", "subjects/s10/x"}},
		{"subjects/s1/assets/", []string{"subjects/s1/assets/a", "subjects/s1/assets/b"}},
		{"subj", []string{"subject", "subjects/s1", "subjects/s1/assets.old", "subjects/s1/assets/a", "subjects/s1/assets/b", "subjects/s10/x", "subjects/s2/assets/a1"}},
		{"subjects/s2/assets/a1", []string{"subjects/s2/assets/a1"}},
		{"nothing/", nil},
		{"zz", nil},
	}
	for _, tt := range tests {
		got := list(t, s, tt.prefix)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) =\n %q\nwant\n %q", tt.prefix, got, tt.want)
		}
	}
}

// failAfter yields n bytes of data and then fails.
type failAfter struct {
	data []byte
	err  error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func testFailedPutLeavesNothing(t *testing.T, s blob.Store) {
	ctx := context.Background()
	boom := errors.New("client went away")
	// Small and large (past one upload part) bodies, new and existing keys.
	for _, n := range []int{0, 10, 9 << 20} {
		key := fmt.Sprintf("fail/new-%d", n)
		_, err := s.Put(ctx, key, &failAfter{data: Data(n, 1), err: boom})
		if !errors.Is(err, boom) {
			t.Fatalf("Put with a failing reader: err = %v, want it to wrap the reader's error", err)
		}
		wantAbsent(t, s, key)

		key = fmt.Sprintf("fail/old-%d", n)
		put(t, s, key, []byte("kept"))
		if _, err := s.Put(ctx, key, &failAfter{data: Data(n, 2), err: boom}); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if got := get(t, s, key); string(got) != "kept" {
			t.Fatalf("a failed overwrite changed the blob: %d bytes", len(got))
		}
	}
	if got := list(t, s, "fail/"); !slices.Equal(got, []string{"fail/old-0", "fail/old-10", "fail/old-9437184"}) {
		t.Fatalf("List after failed puts = %q", got)
	}
}

// cancelAfter cancels its context once it has yielded its data, then keeps
// yielding, as a client that disconnects mid-upload would.
type cancelAfter struct {
	data   []byte
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		c.cancel()
		clear(p)
		return len(p), nil
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func testCancelledPutLeavesNothing(t *testing.T, s blob.Store) {
	for _, n := range []int{10, 9 << 20} {
		ctx, cancel := context.WithCancel(context.Background())
		key := fmt.Sprintf("cancel/%d", n)
		_, err := s.Put(ctx, key, io.LimitReader(&cancelAfter{data: Data(n, 3), cancel: cancel}, int64(n)+(20<<20)))
		cancel()
		if err == nil {
			t.Fatal("Put succeeded although its context was cancelled")
		}
		wantAbsent(t, s, key)
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Fatalf("List after cancelled puts = %q, want nothing", got)
	}
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("concurrent/%02d/blob", i)
			data := Data(100_000+i, uint64(i))
			if _, err := s.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
		})
	}
	// Deletes under sibling prefixes race with the puts.
	for i := range n {
		wg.Go(func() {
			if err := s.Delete(context.Background(), fmt.Sprintf("concurrent/%02d/other", i)); err != nil {
				t.Errorf("Delete: %v", err)
			}
		})
	}
	wg.Wait()
	got := list(t, s, "concurrent/")
	if len(got) != n {
		t.Fatalf("List found %d blobs, want %d: %q", len(got), n, got)
	}
	for i := range n {
		key := fmt.Sprintf("concurrent/%02d/blob", i)
		if got := get(t, s, key); !bytes.Equal(got, Data(100_000+i, uint64(i))) {
			t.Fatalf("Get(%q) returned other data", key)
		}
	}
}

func testInvalidKeysRejected(t *testing.T, s blob.Store) {
	ctx := context.Background()
	bad := []string{
		"", "/abs", "a/../b", "..", "a/..", "Upper", "sp ace", "a//b", "a/", "./a", "a/./b",
		"ünicode", "a\\b", "a\x00b", "a:b", strings.Repeat("k/", blob.MaxKeyLen/2) + "k",
		"a/" + strings.Repeat("k", blob.MaxSegmentLen+1),
	}
	for _, key := range bad {
		if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q): err = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a/..", "UP"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q): err = %v, want ErrInvalidKey", prefix, err)
		}
	}
	seg := strings.Repeat("k", blob.MaxSegmentLen)
	long := seg + "/" + seg + "/" + strings.Repeat("k", blob.MaxKeyLen-2*blob.MaxSegmentLen-2)
	if len(long) != blob.MaxKeyLen {
		t.Fatalf("test key is %d characters", len(long))
	}
	put(t, s, long, []byte("x"))
	if got := list(t, s, ""); !slices.Equal(got, []string{long}) {
		t.Fatalf("List = %q, want only the %d-character key", got, blob.MaxKeyLen)
	}
}

// testKeysDoNotCollide puts keys that a naive mapping to files would
// confuse: a key that is also a prefix of another, and names that look like
// a backend's own temporary files.
func testKeysDoNotCollide(t *testing.T, s blob.Store) {
	keys := []string{"x", "x/y", "x/y/z", "x.blob", "x.blob/y", ".tmp", "tmp-1", ".x", "x/.y"}
	for _, k := range keys {
		put(t, s, k, []byte("v:"+k))
	}
	for _, k := range keys {
		if got := get(t, s, k); string(got) != "v:"+k {
			t.Fatalf("Get(%q) = %q", k, got)
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := list(t, s, ""); !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
}
