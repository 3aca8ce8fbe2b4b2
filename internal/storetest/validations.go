package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"PendingGrantJoinsTheValidationQueue", testValidationQueue},
		Test{"ValidationIsDecidedOnceAndARefusedVerdictWritesNothing", testValidationDecidedOnce},
		Test{"LaterEventsSupersedePendingValidations", testValidationSuperseded},
		Test{"ConcurrentVerdictsOneWins", testValidationConcurrentVerdicts},
	)
}

func pendingGrant(sub, purpose string, at time.Time, due time.Duration) *likeness.ConsentEvent {
	ev := event(sub, purpose, likeness.Grant, at)
	ev.Method, ev.Collector = likeness.Verbal, "key_collector"
	ev.Validation, ev.ValidationDue = likeness.ValidationPending, at.Add(due)
	return ev
}

func verdictOn(g *likeness.ConsentEvent, typ likeness.EventType, reviewer string, at time.Time) *likeness.ConsentEvent {
	ev := event(g.SubjectID, g.Purpose, typ, at)
	ev.Method, ev.NoticeVersion, ev.NoticeSHA256, ev.Language = "", 0, "", ""
	ev.Collector, ev.Refers = reviewer, g.ID
	return ev
}

func appendOne(t *testing.T, s likeness.Store, ev *likeness.ConsentEvent) {
	t.Helper()
	if err := s.AppendEvents(context.Background(), []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
		t.Fatalf("append %s: %v", ev.Type, err)
	}
}

func queue(t *testing.T, s likeness.Store, state string) []*likeness.Validation {
	t.Helper()
	vs, err := s.Validations(context.Background(), state, 0)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func testValidationQueue(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a"), NewSubject(t, s, "b")
	late := pendingGrant(a.ID, "p1", t0, 72*time.Hour)
	soon := pendingGrant(b.ID, "p1", t0.Add(time.Hour), time.Hour) // due first
	plain := event(a.ID, "p2", likeness.Grant, t0)                 // needs no validation
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{late, plain}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	appendOne(t, s, soon)

	vs := queue(t, s, likeness.ValidationStatePending)
	if len(vs) != 2 || vs[0].EventID != soon.ID || vs[1].EventID != late.ID {
		t.Fatalf("pending queue = %+v; want the grant due first, then the other, and not the plain grant", vs)
	}
	v := vs[1]
	if v.SubjectID != a.ID || v.Purpose != "p1" || v.Method != likeness.Verbal || v.Collector != "key_collector" ||
		!v.CreatedAt.Equal(late.Time) || !v.Due.Equal(t0.Add(72*time.Hour)) || v.State != likeness.ValidationStatePending || v.Reviewer != "" {
		t.Fatalf("queued item = %+v", v)
	}
	if !v.Overdue(t0.Add(72*time.Hour)) || v.Overdue(t0.Add(71*time.Hour)) {
		t.Errorf("Overdue disagrees with the deadline %s", v.Due)
	}
	got, err := s.Validation(ctx, late.ID)
	if err != nil || *got != *v {
		t.Fatalf("Validation(id) = %+v, %v; want %+v", got, err, v)
	}
	if _, err := s.Validation(ctx, plain.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Validation of a grant that needed none: %v, want not_found", err)
	}
	// The ledger keeps the mark: the event reads back pending.
	ev, err := s.Event(ctx, late.ID)
	if err != nil || ev.Validation != likeness.ValidationPending || ev.Refers != "" {
		t.Fatalf("Event = %+v, %v", ev, err)
	}
	if n := len(queue(t, s, "")); n != 2 {
		t.Fatalf("whole queue has %d items, want 2", n)
	}
	if vs, _ := s.Validations(ctx, "", 1); len(vs) != 1 || vs[0].EventID != soon.ID {
		t.Fatalf("limit 1: %+v", vs)
	}
}

func testValidationDecidedOnce(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	g := pendingGrant(a.ID, "p1", t0, 72*time.Hour)
	appendOne(t, s, g)
	ok := verdictOn(g, likeness.Validated, "operator:rita", t0.Add(time.Hour))
	appendOne(t, s, ok)
	v, err := s.Validation(ctx, g.ID)
	if err != nil || v.State != likeness.ValidationStateApproved || v.Reviewer != "operator:rita" ||
		!v.DecidedAt.Equal(ok.Time) || v.OutcomeID != ok.ID {
		t.Fatalf("after approval: %+v, %v", v, err)
	}
	if read, _ := s.Event(ctx, ok.ID); read == nil || read.Refers != g.ID || read.Type != likeness.Validated {
		t.Fatalf("the verdict reads back as %+v", read)
	}
	size, _ := s.LedgerSize(ctx)

	refused := map[string]*likeness.ConsentEvent{
		likeness.ECONFLICT: verdictOn(g, likeness.ValidationRejected, "operator:sam", t0.Add(2*time.Hour)),
		likeness.ENOTFOUND: verdictOn(&likeness.ConsentEvent{ID: "evt_nope", SubjectID: a.ID, Purpose: "p1"}, likeness.Validated, "operator:sam", t0),
		likeness.EINVALID:  verdictOn(&likeness.ConsentEvent{ID: g.ID, SubjectID: a.ID, Purpose: "p2"}, likeness.Validated, "operator:sam", t0),
	}
	for code, ev := range refused {
		err := s.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash)
		if likeness.ErrorCode(err) != code {
			t.Errorf("verdict expecting %s: %v", code, err)
		}
		if _, err := s.Event(ctx, ev.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Errorf("a refused verdict (%s) was stored: %v", code, err)
		}
	}
	if after, _ := s.LedgerSize(ctx); after != size {
		t.Fatalf("ledger grew from %d to %d on refused verdicts", size, after)
	}
	if v, _ := s.Validation(ctx, g.ID); v.State != likeness.ValidationStateApproved || v.Reviewer != "operator:rita" {
		t.Fatalf("a refused verdict changed the item: %+v", v)
	}
	if n := len(queue(t, s, likeness.ValidationStateApproved)); n != 1 {
		t.Fatalf("approved items: %d, want 1", n)
	}
}

func testValidationSuperseded(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a"), NewSubject(t, s, "b")
	first := pendingGrant(a.ID, "p1", t0, 72*time.Hour)
	other := pendingGrant(a.ID, "p2", t0, 72*time.Hour)
	bGrant := pendingGrant(b.ID, "p1", t0, 72*time.Hour)
	for _, ev := range []*likeness.ConsentEvent{first, other, bGrant} {
		appendOne(t, s, ev)
	}
	again := pendingGrant(a.ID, "p1", t0.Add(time.Hour), 72*time.Hour) // the person consents again
	appendOne(t, s, again)
	pend := queue(t, s, likeness.ValidationStatePending)
	if len(pend) != 3 {
		t.Fatalf("pending after a second consent: %+v", pend)
	}
	for _, v := range pend {
		if v.EventID == first.ID {
			t.Fatalf("the replaced consent is still pending")
		}
	}
	if v, _ := s.Validation(ctx, first.ID); v.State != likeness.ValidationStateSuperseded {
		t.Fatalf("replaced consent: %+v", v)
	}
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{verdictOn(first, likeness.Validated, "operator:rita", t0.Add(2*time.Hour))}, ledgerlog.LeafHash); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("approving a replaced consent: %v, want conflict", err)
	}
	appendOne(t, s, event(a.ID, "p1", likeness.Withdraw, t0.Add(3*time.Hour)))
	if v, _ := s.Validation(ctx, again.ID); v.State != likeness.ValidationStateSuperseded {
		t.Fatalf("withdrawn consent: %+v", v)
	}
	if v, _ := s.Validation(ctx, other.ID); v.State != likeness.ValidationStatePending {
		t.Fatalf("a withdrawal of p1 touched p2: %+v", v)
	}
	appendOne(t, s, &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: a.ID, Type: likeness.Erasure, Time: t0.Add(4 * time.Hour)})
	if v, _ := s.Validation(ctx, other.ID); v.State != likeness.ValidationStateSuperseded {
		t.Fatalf("erased subject's consent: %+v", v)
	}
	pend = queue(t, s, likeness.ValidationStatePending)
	if len(pend) != 1 || pend[0].EventID != bGrant.ID {
		t.Fatalf("pending at the end: %+v; want only the other person's", pend)
	}
	if n := len(queue(t, s, likeness.ValidationStateSuperseded)); n != 3 {
		t.Fatalf("superseded: %d, want 3", n)
	}
}

func testValidationConcurrentVerdicts(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	g := pendingGrant(a.ID, "p1", t0, 72*time.Hour)
	appendOne(t, s, g)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			typ := likeness.Validated
			if i%2 == 1 {
				typ = likeness.ValidationRejected
			}
			errs[i] = s.AppendEvents(ctx, []*likeness.ConsentEvent{verdictOn(g, typ, "operator:r", t0.Add(time.Hour))}, ledgerlog.LeafHash)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch likeness.ErrorCode(err) {
		case "":
			won++
		case likeness.ECONFLICT:
		default:
			t.Errorf("verdict: %v", err)
		}
	}
	if size, _ := s.LedgerSize(ctx); won != 1 || size != 2 {
		t.Fatalf("%d verdicts stood and the ledger holds %d events; want 1 and 2", won, size)
	}
}
