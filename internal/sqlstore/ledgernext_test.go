package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
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
