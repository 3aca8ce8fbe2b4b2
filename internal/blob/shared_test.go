package blob_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"likeness/internal/blob"
	"likeness/internal/blob/fsblob"
	"likeness/internal/sqlstore"
)

func sharedFixture(t *testing.T) (*sqlstore.DB, func(dir string) blob.Store) {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	open := func(dir string) blob.Store {
		s, err := fsblob.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return db, open
}

// TestReplicasRacingOnOneBlobStoreAllPass starts eight checks at once on
// one database and one folder: whoever records the marker first, every
// other replica finds it.
func TestReplicasRacingOnOneBlobStoreAllPass(t *testing.T) {
	db, open := sharedFixture(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = blob.CheckShared(t.Context(), open(dir), db, false) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	keys, err := open(dir).List(t.Context(), "")
	if err != nil || len(keys) != 1 {
		t.Errorf("markers left in the store: %v (%v), want the one recorded", keys, err)
	}
}

// TestReplicaWithAnotherBlobStoreIsRefused gives a second replica a folder
// of its own: it cannot read the first's blobs, so it is refused, until it
// adopts its store on purpose; then the first one's store is the odd one.
func TestReplicaWithAnotherBlobStoreIsRefused(t *testing.T) {
	db, open := sharedFixture(t)
	first, second := open(t.TempDir()), open(t.TempDir())
	if err := blob.CheckShared(t.Context(), first, db, false); err != nil {
		t.Fatal(err)
	}
	err := blob.CheckShared(t.Context(), second, db, false)
	if !errors.Is(err, blob.ErrNotShared) {
		t.Fatalf("second store: %v, want ErrNotShared", err)
	}
	if keys, _ := second.List(t.Context(), ""); len(keys) != 0 {
		t.Errorf("a refused store keeps %v", keys)
	}
	if err := blob.CheckShared(t.Context(), second, db, true); err != nil {
		t.Fatalf("adopting the second store: %v", err)
	}
	if err := blob.CheckShared(t.Context(), second, db, false); err != nil {
		t.Errorf("adopted store: %v", err)
	}
	if err := blob.CheckShared(t.Context(), first, db, false); !errors.Is(err, blob.ErrNotShared) {
		t.Errorf("old store after adoption: %v, want ErrNotShared", err)
	}
}
