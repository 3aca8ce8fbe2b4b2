package storetest

import (
	"context"
	"sync"
	"testing"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"AuditEntryCommitsWithTheAppendThatTakesIt", testAuditWithAppend},
		Test{"AuditEntryOfAFailedAppendIsNotWritten", testAuditFailedAppend},
		Test{"AuditEntriesOfConcurrentAppendsCommitWithTheirOwn", testAuditConcurrentAppends},
		Test{"AuditEntryCommitsWithTheSubjectItCreates", testAuditWithSubject},
	)
}

// pending returns a context carrying a fresh pending audit entry.
func pending(action string) (context.Context, *likeness.PendingAudit) {
	p := likeness.NewPendingAudit(&likeness.AccessEntry{ID: likeness.NewID("acc"), Time: t0, Action: action,
		KeyID: "key_t", Role: likeness.RoleCollector, Allow: true})
	return likeness.WithPendingAudit(context.Background(), p), p
}

// auditRows counts the access-log rows with id.
func auditRows(t *testing.T, s likeness.Store, id string) int {
	t.Helper()
	all, err := s.RecentAccess(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range all {
		if e.ID == id {
			n++
		}
	}
	return n
}

func testAuditWithAppend(t *testing.T, s likeness.Store) {
	sub := NewSubject(t, s, "a")
	ctx, p := pending("POST /v1/subjects/{id}/consents")
	// Two appends for one call (an opt-out signal, then the grant): the
	// first takes the entry, the second finds it taken.
	for _, purpose := range []string{"p", "q"} {
		if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{event(sub.ID, purpose, likeness.Grant, t0)}, ledgerlog.LeafHash); err != nil {
			t.Fatal(err)
		}
	}
	if !p.Written() {
		t.Fatal("the entry was not written with the append")
	}
	if p.Close() {
		t.Fatal("Close reports a written entry as unwritten: the caller would write it twice")
	}
	if n := auditRows(t, s, p.Entry().ID); n != 1 {
		t.Fatalf("%d audit rows for one call, want 1", n)
	}
}

func testAuditFailedAppend(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	if _, err := s.BeginErasure(ctx, sub.ID, t0); err != nil {
		t.Fatal(err)
	}
	actx, p := pending("POST /v1/subjects/{id}/consents")
	err := s.AppendEvents(actx, []*likeness.ConsentEvent{event(sub.ID, "p", likeness.Grant, t0)}, ledgerlog.LeafHash)
	if likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("append during erasure: %v, want gone", err)
	}
	if p.Written() || auditRows(t, s, p.Entry().ID) != 0 {
		t.Fatal("a rolled back append left its audit row")
	}
	if !p.Close() {
		t.Fatal("the entry of a rolled back append is not free for its caller")
	}
}

func testAuditConcurrentAppends(t *testing.T, s likeness.Store) {
	a := NewSubject(t, s, "a")
	gone := NewSubject(t, s, "gone")
	if _, err := s.BeginErasure(context.Background(), gone.ID, t0); err != nil {
		t.Fatal(err)
	}
	const n = 24
	entries := make([]*likeness.PendingAudit, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, p := pending("POST /v1/subjects/{id}/consents")
			entries[i] = p
			sub := a.ID
			if i%5 == 0 {
				sub = gone.ID // these fail, in a group with the others
			}
			errs[i] = s.AppendEvents(ctx, []*likeness.ConsentEvent{event(sub, "p", likeness.Grant, t0)}, ledgerlog.LeafHash)
		})
	}
	wg.Wait()
	for i, p := range entries {
		want := 1
		if i%5 == 0 {
			want = 0
			if errs[i] == nil {
				t.Fatalf("append %d about a subject being erased succeeded", i)
			}
		} else if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
		if got := auditRows(t, s, p.Entry().ID); got != want || p.Written() != (want == 1) {
			t.Errorf("append %d (err %v): %d audit rows, written %v; want %d", i, errs[i], got, p.Written(), want)
		}
	}
}

func testAuditWithSubject(t *testing.T, s likeness.Store) {
	ctx, p := pending("POST /v1/subjects")
	sub := &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h-new", Locale: "de", Jurisdiction: "EU-DE", CreatedAt: t0}
	if _, created, err := s.InsertSubject(ctx, sub, []byte("wrapped")); err != nil || !created {
		t.Fatalf("InsertSubject: created=%v err=%v", created, err)
	}
	if !p.Written() || auditRows(t, s, p.Entry().ID) != 1 {
		t.Fatal("the creation's audit row did not commit with it")
	}
	// The same person again: nothing is created, and no row is written
	// for it; the caller decides.
	ctx, p = pending("POST /v1/subjects")
	again := *sub
	again.ID = likeness.NewID("sub")
	out, created, err := s.InsertSubject(ctx, &again, []byte("wrapped"))
	if err != nil || created || out.ID != sub.ID {
		t.Fatalf("second InsertSubject = %v, created=%v, %v", out, created, err)
	}
	if p.Written() || auditRows(t, s, p.Entry().ID) != 0 || !p.Close() {
		t.Fatal("a creation that created nothing took the audit entry")
	}
}
