package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"likeness"
	"likeness/internal/ledgerlog"
)

// RunShared runs the tests of two stores open on one database, as two
// replicas hold it. open must return two handles on a new, empty database.
func RunShared(t *testing.T, open func(t *testing.T) (likeness.Store, likeness.Store)) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, likeness.Store, likeness.Store)
	}{
		{"TwoHandlesAppendDenseIndexesInCommitOrder", testTwoHandlesDense},
		{"AFailingAppendFailsAloneAcrossTwoHandles", testTwoHandlesFailAlone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { a.Close(); b.Close() })
			tt.fn(t, a, b)
		})
	}
}

// testTwoHandlesDense appends from many goroutines on two handles while a
// follower tails the ledger by index, as a replica does: every stored index
// must be the one its appender was told, the ledger must be dense, and the
// follower must never see an index before every smaller one is visible
// (indexes in commit order).
func testTwoHandlesDense(t *testing.T, a, b likeness.Store) {
	ctx := context.Background()
	subs := []*likeness.Subject{NewSubject(t, a, "a"), NewSubject(t, a, "b")}
	const writers, each = 4, 25 // per handle
	var stop atomic.Bool
	tailErr := make(chan error, 1)
	go func() { tailErr <- tail(ctx, b, &stop) }()
	var mu sync.Mutex
	told := map[string]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each)
	for h, s := range []likeness.Store{a, b} {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					evs := []*likeness.ConsentEvent{event(subs[h].ID, "p", likeness.Grant, t0)}
					if i%3 == 0 { // some appends of several events
						evs = append(evs, event(subs[h].ID, fmt.Sprint("q", w), likeness.Grant, t0))
					}
					if err := s.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for k, ev := range evs {
						if k > 0 && ev.LedgerIndex != evs[k-1].LedgerIndex+1 {
							errs <- fmt.Errorf("one append's events at %d and %d", evs[k-1].LedgerIndex, ev.LedgerIndex)
						}
						told[ev.ID] = ev.LedgerIndex
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	stop.Store(true)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-tailErr; err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	err := a.ForEachEvent(ctx, 0, func(ev *likeness.ConsentEvent, leaf [32]byte) error {
		if ev.LedgerIndex != want {
			return fmt.Errorf("index %d where %d expected: the ledger has a gap or a duplicate", ev.LedgerIndex, want)
		}
		if idx, ok := told[ev.ID]; ok && idx != ev.LedgerIndex {
			return fmt.Errorf("event stored at %d, its appender was told %d", ev.LedgerIndex, idx)
		}
		if leaf != ledgerlog.LeafHash(ev, ev.LedgerIndex) {
			return fmt.Errorf("leaf hash at %d does not commit to its event", ev.LedgerIndex)
		}
		want++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int(want) != len(told) {
		t.Fatalf("%d events stored, %d appended", want, len(told))
	}
}

// tail follows s's ledger by index until stop, failing on the first
// index that is not the next one.
func tail(ctx context.Context, s likeness.Store, stop *atomic.Bool) error {
	next := int64(0)
	for !stop.Load() {
		err := s.ForEachEvent(ctx, next, func(ev *likeness.ConsentEvent, _ [32]byte) error {
			if ev.LedgerIndex != next {
				return fmt.Errorf("the follower at %d saw index %d: an index became visible before a smaller one", next, ev.LedgerIndex)
			}
			next++
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// testTwoHandlesFailAlone has appends from two handles run together, among
// them a duplicate event id and a grant for a subject being erased: those
// two fail, every other append lands, and the ledger stays dense.
func testTwoHandlesFailAlone(t *testing.T, a, b likeness.Store) {
	ctx := context.Background()
	sub, gone := NewSubject(t, a, "a"), NewSubject(t, a, "gone")
	first := event(sub.ID, "p", likeness.Grant, t0)
	if err := a.AppendEvents(ctx, []*likeness.ConsentEvent{first}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if _, err := a.BeginErasure(ctx, gone.ID, t0); err != nil {
		t.Fatal(err)
	}
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := []likeness.Store{a, b}[i%2]
			ev := event(sub.ID, "p", likeness.Grant, t0)
			switch i {
			case 7:
				ev.ID = first.ID
			case 20:
				ev.SubjectID = gone.ID
			}
			errs[i] = s.AppendEvents(ctx, []*likeness.ConsentEvent{ev, event(sub.ID, "q", likeness.Grant, t0)}, ledgerlog.LeafHash)
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 7 && err == nil:
			t.Errorf("the append of a duplicate event id succeeded")
		case i == 20 && likeness.ErrorCode(err) != likeness.EGONE:
			t.Errorf("the grant for a subject being erased: %v, want gone", err)
		case i != 7 && i != 20 && err != nil:
			t.Errorf("append %d failed: %v", i, err)
		}
	}
	size, err := b.LedgerSize(ctx)
	if err != nil || size != 1+2*(n-2) {
		t.Fatalf("ledger size %d (%v), want %d: a failed append left part of itself or took others with it", size, err, 1+2*(n-2))
	}
	want := int64(0)
	b.ForEachEvent(ctx, 0, func(ev *likeness.ConsentEvent, _ [32]byte) error {
		if ev.LedgerIndex != want {
			t.Fatalf("gap at %d", want)
		}
		want++
		return nil
	})
}
