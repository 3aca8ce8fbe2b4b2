package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// TestErasureAppendedBetweenFenceAndInsertRefusesTheGrant has another
// replica begin a subject's erasure and append its erasure event after a
// grant for that subject passed its first erasure check but before it took
// its ledger indexes: the grant must then be refused, so that no grant
// lands in the ledger after the subject's erasure event.
func TestErasureAppendedBetweenFenceAndInsertRefusesTheGrant(t *testing.T) {
	storetest.NeedPostgres(t)
	ctx := context.Background()
	dsn := storetest.Postgres(t)
	db, other := open(t, dsn), open(t, dsn)
	defer db.Close()
	defer other.Close()
	sub := storetest.NewSubject(t, db, "late")
	event := func(typ likeness.EventType) *likeness.ConsentEvent {
		return &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: "p", Type: typ,
			Method: likeness.Checkbox, Time: time.Now()}
	}
	if err := db.AppendEvents(ctx, []*likeness.ConsentEvent{event(likeness.Grant)}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	var erasure *likeness.ConsentEvent
	db.SetBeforeInsert(func() {
		db.SetBeforeInsert(nil)
		if _, err := other.BeginErasure(ctx, sub.ID, time.Now()); err != nil {
			t.Error(err)
		}
		erasure = event(likeness.Erasure)
		erasure.Purpose = ""
		if err := other.AppendEvents(ctx, []*likeness.ConsentEvent{erasure}, ledgerlog.LeafHash); err != nil {
			t.Error(err)
		}
	})
	late := event(likeness.Grant)
	if err := db.AppendEvents(ctx, []*likeness.ConsentEvent{late}, ledgerlog.LeafHash); likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("grant whose subject's erasure event was appended while it waited: %v (index %d, erasure at %d), want gone",
			err, late.LedgerIndex, erasure.LedgerIndex)
	}
	evs, err := db.SubjectEvents(ctx, sub.ID)
	if err != nil || len(evs) != 2 || evs[1].Type != likeness.Erasure {
		t.Fatalf("subject's ledger: %d events (%v), want the first grant then the erasure", len(evs), err)
	}
}

// TestARestoredLedgerWithoutItsCounterContinuesWithoutAGap restores the
// ledger's events from a backup taken at index 3 but leaves its next index
// at 5: after the store is opened again, the next append takes index 3 and
// the ledger's indexes stay contiguous.
func TestARestoredLedgerWithoutItsCounterContinuesWithoutAGap(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		sub := storetest.NewSubject(t, db, "restored")
		appendGrants(t, db, sub.ID, 5)
		if _, err := db.SQL().Exec(db.Rebind(`DELETE FROM consent_events WHERE idx >= ?`), 3); err != nil {
			t.Fatal(err)
		}
		if next := ledgerNext(t, db); next != 5 {
			t.Fatalf("before reopening, ledger_next = %d, want 5 (the restore must leave it ahead)", next)
		}
		db.Close()

		db = open(t, dsn)
		defer db.Close()
		if n := db.NextIndexLowered(); n != 2 {
			t.Errorf("NextIndexLowered() = %d, want 2", n)
		}
		if got := appendGrants(t, db, sub.ID, 1); got[0] != 3 {
			t.Fatalf("the first append after the restore took index %d, want 3", got[0])
		}
		if got := appendGrants(t, db, sub.ID, 2); !slices.Equal(got, []int64{4, 5}) {
			t.Fatalf("the next appends took indexes %v, want [4 5]", got)
		}
		checkContiguous(t, db, 6)
	})
}

// TestALedgerCounterNotAheadIsLeftAlone opens a store whose next index is
// at the ledger's size, and one whose next index is behind it (rows stored
// by a tool that did not move it): neither is changed, and appends go on
// from the ledger's size.
func TestALedgerCounterNotAheadIsLeftAlone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		counter int64 // ledger_next before reopening; the ledger holds 3
	}{
		{"AtTheLedgersSize", 3},
		{"BehindIt", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onEachDatabase(t, func(t *testing.T, dsn string) {
				db := open(t, dsn)
				sub := storetest.NewSubject(t, db, "kept")
				appendGrants(t, db, sub.ID, 3)
				if _, err := db.SQL().Exec(db.Rebind(`UPDATE ledger_next SET next = ?`), tc.counter); err != nil {
					t.Fatal(err)
				}
				db.Close()

				db = open(t, dsn)
				defer db.Close()
				if n := db.NextIndexLowered(); n != 0 {
					t.Errorf("NextIndexLowered() = %d, want 0", n)
				}
				if next := ledgerNext(t, db); next != tc.counter {
					t.Fatalf("ledger_next after reopening = %d, want it left at %d", next, tc.counter)
				}
				if got := appendGrants(t, db, sub.ID, 1); got[0] != 3 {
					t.Fatalf("the append after reopening took index %d, want 3", got[0])
				}
				checkContiguous(t, db, 4)
			})
		})
	}
}

// onEachDatabase runs f on a fresh SQLite file and, when one is
// configured, a fresh PostgreSQL database.
func onEachDatabase(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("SQLite", func(t *testing.T) { f(t, "sqlite:"+filepath.Join(t.TempDir(), "likeness.db")) })
	t.Run("PostgreSQL", func(t *testing.T) { f(t, storetest.Postgres(t)) })
}

// appendGrants appends n grants for sub, one append each, and returns the
// indexes they took.
func appendGrants(t *testing.T, db *sqlstore.DB, sub string, n int) []int64 {
	t.Helper()
	var got []int64
	for range n {
		ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub, Purpose: "p", Type: likeness.Grant,
			Method: likeness.Checkbox, Time: time.Now()}
		if err := db.AppendEvents(context.Background(), []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.LedgerIndex)
	}
	return got
}

func ledgerNext(t *testing.T, db *sqlstore.DB) int64 {
	t.Helper()
	var next int64
	if err := db.SQL().QueryRow(`SELECT next FROM ledger_next`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	return next
}

// checkContiguous checks the stored ledger holds exactly the indexes
// 0…size-1, each leaf hash that of its row.
func checkContiguous(t *testing.T, db *sqlstore.DB, size int64) {
	t.Helper()
	var want int64
	err := db.ForEachEvent(context.Background(), 0, func(ev *likeness.ConsentEvent, h [32]byte) error {
		if ev.LedgerIndex != want {
			return fmt.Errorf("index %d where %d belongs", ev.LedgerIndex, want)
		}
		if ledgerlog.LeafHash(ev, ev.LedgerIndex) != h {
			return fmt.Errorf("leaf %d does not match its row", ev.LedgerIndex)
		}
		want++
		return nil
	})
	if err != nil || want != size {
		t.Fatalf("the ledger holds %d contiguous events (%v), want %d", want, err, size)
	}
}

// TestAReplicaStartingWhileAnotherAppendsLowersNothing opens a second
// store on one PostgreSQL database, as a replica starts, and runs its
// start-up reconciliation of the ledger counter 2,000 times while another
// handle appends from four goroutines: a counter that looks ahead of the
// stored ledger only because an append has taken its indexes and not yet
// committed must never be lowered, and the ledger must stay dense.
func TestAReplicaStartingWhileAnotherAppendsLowersNothing(t *testing.T) {
	storetest.NeedPostgres(t)
	dsn := storetest.Postgres(t)
	db := open(t, dsn)
	defer db.Close()
	sub := storetest.NewSubject(t, db, "busy")
	ctx, stop := context.WithCancel(context.Background())
	var appended atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: "p",
					Type: likeness.Grant, Method: likeness.Checkbox, Time: time.Now()}
				if err := db.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				appended.Add(1)
			}
		})
	}
	replica := open(t, dsn)
	defer replica.Close()
	if n := replica.NextIndexLowered(); n != 0 {
		t.Errorf("a replica started during appends lowered the ledger's next index by %d", n)
	}
	// What Open runs, again and again, so that it meets appends in flight.
	for range 2000 {
		if n, err := replica.ReconcileNext(context.Background()); err != nil || n != 0 {
			t.Fatalf("a replica starting during appends lowered the ledger's next index by %d (%v)", n, err)
		}
	}
	stop()
	wg.Wait()
	if appended.Load() == 0 {
		t.Fatal("no append ran while the replicas started: the test proves nothing")
	}
	checkContiguous(t, db, appended.Load())
}
