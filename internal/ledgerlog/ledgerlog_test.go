package ledgerlog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"likeness"
	"likeness/internal/sqlstore"
	"likeness/ledger"
)

// history stores n grant events in a fresh SQLite database and returns a
// log over it with an empty tree, and the events' leaf hashes.
func history(t *testing.T, n int) (*Log, [][32]byte) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var evs []*likeness.ConsentEvent
	for range n {
		evs = append(evs, &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: "sub_a", Purpose: "p", Type: likeness.Grant,
			Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: "ab", Language: "en", Collector: "key_x", Time: time.Unix(1700000000, 0)})
	}
	if err := store.AppendEvents(ctx, evs, LeafHash); err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, 32)
	l, err := New(ctx, store, "test", seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][32]byte, n)
	for i, ev := range evs {
		leaves[i] = LeafHash(ev, ev.LedgerIndex)
	}
	return l, leaves
}

func TestSyncOfALongHistoryAppliesEveryEventInOrder(t *testing.T) {
	const n = 3*syncBatch + 17
	l, leaves := history(t, n)
	var seen []int64
	if err := l.Sync(context.Background(), func(ev *likeness.ConsentEvent) error {
		seen = append(seen, ev.LedgerIndex)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("applied %d events, want %d", len(seen), n)
	}
	for i, idx := range seen {
		if idx != int64(i) {
			t.Fatalf("event %d applied at position %d: out of order", idx, i)
		}
	}
	ref := ledger.NewTree()
	for _, h := range leaves {
		ref.Append(h)
	}
	want, _ := ref.Root(n)
	if got, err := l.Tree().Root(n); err != nil || got != want {
		t.Fatalf("tree root after sync = %x, %v; want %x", got, err, want)
	}
}

func TestSyncStopsAtTheEventThatFailsAndResumesThere(t *testing.T) {
	const n, failAt = 3*syncBatch + 17, syncBatch + 5
	l, _ := history(t, n)
	boom := errors.New("index unavailable")
	err := l.Sync(context.Background(), func(ev *likeness.ConsentEvent) error {
		if ev.LedgerIndex == failAt {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Sync = %v, want the apply error", err)
	}
	if got := l.Tree().Size(); got != failAt {
		t.Fatalf("tree at %d after a failure at %d: it must stop at the event that failed", got, failAt)
	}
	first := int64(-1)
	if err := l.Sync(context.Background(), func(ev *likeness.ConsentEvent) error {
		if first < 0 {
			first = ev.LedgerIndex
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if first != failAt || l.Tree().Size() != n {
		t.Fatalf("the next sync began at %d and ended at %d; want %d and %d", first, l.Tree().Size(), failAt, n)
	}
}
