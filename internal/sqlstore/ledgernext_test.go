package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/storetest"
)

// TestErasureBegunWhileAnAppendWaitsForTheLedgerLockFencesIt holds the
// ledger lock (the ledger_next row) while an append, already past its
// first erasure check, waits for it, and begins the subject's erasure
// meanwhile: once the lock is free the append must be refused, so that no
// grant lands after an erasure event that could follow it.
func TestErasureBegunWhileAnAppendWaitsForTheLedgerLockFencesIt(t *testing.T) {
	storetest.NeedPostgres(t)
	ctx := context.Background()
	db := open(t, storetest.Postgres(t))
	defer db.Close()
	sub := storetest.NewSubject(t, db, "late")
	holder, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT next FROM ledger_next FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub.ID, Purpose: "p", Type: likeness.Grant,
			Method: likeness.Checkbox, Time: time.Now()}
		done <- db.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash)
	}()
	// Wait until the append is blocked on the ledger lock, past its first check.
	for n := 0; n == 0; {
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE ledger_next%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("the append finished while the ledger lock was held: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := db.BeginErasure(ctx, sub.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("append whose subject's erasure began while it waited: %v, want gone", err)
	}
	if size, _ := db.LedgerSize(ctx); size != 0 {
		t.Fatalf("ledger size %d after a refused append, want 0", size)
	}
}
