package storetest

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"RequestRoundTrip", testRequestRoundTrip},
		Test{"RequestUpdateComparesRevisionAndState", testRequestUpdateCAS},
		Test{"ConcurrentRequestUpdatesHaveOneWinner", testRequestConcurrentUpdates},
		Test{"RequestsFilterByStateSubjectAndOverdue", testRequestsFilter},
	)
}

func newRequest(subjectID string, typ likeness.RequestType, received time.Time, due time.Duration) *likeness.DSRequest {
	return &likeness.DSRequest{ID: likeness.NewID("req"), SubjectID: subjectID, Type: typ, Channel: likeness.ChannelEmail,
		ReceivedAt: received, DueAt: received.Add(due), State: likeness.RequestOpen}
}

func insertRequest(t *testing.T, rs likeness.RequestStore, r *likeness.DSRequest) {
	t.Helper()
	if err := rs.InsertRequest(context.Background(), r); err != nil {
		t.Fatalf("InsertRequest: %v", err)
	}
}

func sameRequest(a, b *likeness.DSRequest) bool {
	return a.ID == b.ID && a.SubjectID == b.SubjectID && a.Type == b.Type && a.Purpose == b.Purpose && a.Channel == b.Channel &&
		a.ReceivedAt.Equal(b.ReceivedAt) && a.DueAt.Equal(b.DueAt) && a.ExtendedTo.Equal(b.ExtendedTo) &&
		a.ExtensionReason == b.ExtensionReason && a.State == b.State && a.CompletedAt.Equal(b.CompletedAt) &&
		a.Outcome == b.Outcome && bytes.Equal(a.Certificate, b.Certificate) && a.RejectReason == b.RejectReason &&
		a.ClaimedUntil.Equal(b.ClaimedUntil) && a.Revision == b.Revision
}

func testRequestRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	received := t0.Truncate(time.Microsecond)
	r := newRequest(sub.ID, likeness.RequestWithdrawal, received, 30*24*time.Hour)
	r.Purpose, r.Channel = "ai-training", likeness.ChannelLetter
	insertRequest(t, s, r)
	got, err := s.Request(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRequest(got, r) || !got.ExtendedTo.IsZero() || !got.CompletedAt.IsZero() || !got.ClaimedUntil.IsZero() {
		t.Fatalf("Request = %+v, want %+v", got, r)
	}
	if _, err := s.Request(ctx, likeness.NewID("req")); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Request(unknown) err = %v, want not_found", err)
	}
	if err := s.InsertRequest(ctx, r); err == nil {
		t.Fatal("a second request with the same id was stored")
	}
	absent := newRequest(sub.ID, likeness.RequestAccess, received, time.Hour)
	if err := s.UpdateRequest(ctx, absent); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("UpdateRequest(absent) err = %v, want not_found", err)
	}
}

func testRequestUpdateCAS(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	r := newRequest(sub.ID, likeness.RequestErasure, t0, 24*time.Hour)
	insertRequest(t, s, r)
	a, _ := s.Request(ctx, r.ID)
	b, _ := s.Request(ctx, r.ID)

	a.ExtendedTo, a.ExtensionReason = t0.Add(48*time.Hour), "many requests at once"
	if err := s.UpdateRequest(ctx, a); err != nil {
		t.Fatalf("first update: %v", err)
	}
	if a.Revision != 1 {
		t.Fatalf("revision after one update = %d, want 1", a.Revision)
	}
	b.State, b.CompletedAt, b.Outcome = likeness.RequestCompleted, t0.Add(time.Hour), "stale"
	if err := s.UpdateRequest(ctx, b); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("update from a stale read: err = %v, want conflict", err)
	}
	if got, _ := s.Request(ctx, r.ID); got.State != likeness.RequestOpen || !got.ExtendedTo.Equal(a.ExtendedTo) {
		t.Fatalf("a refused update changed the request: %+v", got)
	}

	a.ClaimedUntil = t0.Add(2 * time.Hour)
	if err := s.UpdateRequest(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.State, a.CompletedAt, a.Outcome, a.Certificate, a.ClaimedUntil = likeness.RequestCompleted, t0.Add(time.Hour),
		"erasure certificate issued", []byte("header.payload.sig"), time.Time{}
	if err := s.UpdateRequest(ctx, a); err != nil {
		t.Fatalf("complete: %v", err)
	}
	got, err := s.Request(ctx, r.ID)
	if err != nil || !sameRequest(got, a) {
		t.Fatalf("after completion Request = %+v, %v; want %+v", got, err, a)
	}
	// A closed request is never changed again, whatever the revision.
	got.State, got.RejectReason = likeness.RequestRejected, "too late"
	if err := s.UpdateRequest(ctx, got); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("update of a completed request: err = %v, want conflict", err)
	}
	if again, _ := s.Request(ctx, r.ID); again.State != likeness.RequestCompleted || again.RejectReason != "" {
		t.Fatalf("a completed request changed: %+v", again)
	}
}

func testRequestConcurrentUpdates(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "a")
	r := newRequest(sub.ID, likeness.RequestErasure, t0, 24*time.Hour)
	insertRequest(t, s, r)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *r
			mine.ClaimedUntil = t0.Add(time.Duration(i+1) * time.Minute)
			errs[i] = s.UpdateRequest(ctx, &mine)
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
			t.Errorf("concurrent update: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent updates from one read succeeded, want exactly 1", won)
	}
	if got, _ := s.Request(ctx, r.ID); got.Revision != 1 {
		t.Fatalf("revision %d after one successful update", got.Revision)
	}
}

func testRequestsFilter(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a"), NewSubject(t, s, "b")
	day := 24 * time.Hour
	late := newRequest(a.ID, likeness.RequestAccess, t0, 10*day)            // open, deadline t0+10d
	extended := newRequest(a.ID, likeness.RequestExport, t0, 5*day)         // open, extended to t0+20d
	other := newRequest(b.ID, likeness.RequestErasure, t0, 3*day)           // open, deadline t0+3d
	done := newRequest(b.ID, likeness.RequestRectification, t0, 1*day)      // completed
	future := newRequest(a.ID, likeness.RequestAccess, t0.Add(day), 30*day) // open, deadline t0+31d
	for _, r := range []*likeness.DSRequest{late, extended, other, done, future} {
		insertRequest(t, s, r)
	}
	extended.ExtendedTo, extended.ExtensionReason = t0.Add(20*day), "complex"
	if err := s.UpdateRequest(ctx, extended); err != nil {
		t.Fatal(err)
	}
	done.State, done.CompletedAt, done.Outcome = likeness.RequestCompleted, t0.Add(time.Hour), "subject rectified"
	if err := s.UpdateRequest(ctx, done); err != nil {
		t.Fatal(err)
	}
	ids := func(f likeness.RequestFilter) []string {
		t.Helper()
		got, err := s.Requests(ctx, f)
		if err != nil {
			t.Fatalf("Requests(%+v): %v", f, err)
		}
		if got == nil {
			t.Fatalf("Requests(%+v) returned nil, want an empty slice", f)
		}
		out := []string{}
		for _, r := range got {
			out = append(out, r.ID)
		}
		return out
	}
	cases := []struct {
		name string
		f    likeness.RequestFilter
		want []*likeness.DSRequest
	}{
		{"everything, most urgent first", likeness.RequestFilter{}, []*likeness.DSRequest{done, other, late, extended, future}},
		{"open", likeness.RequestFilter{State: likeness.RequestOpen}, []*likeness.DSRequest{other, late, extended, future}},
		{"completed", likeness.RequestFilter{State: likeness.RequestCompleted}, []*likeness.DSRequest{done}},
		{"one subject", likeness.RequestFilter{SubjectID: b.ID}, []*likeness.DSRequest{done, other}},
		// At t0+15d the extended request (t0+20d) is not overdue; the
		// completed one never is.
		{"overdue at t0+15d", likeness.RequestFilter{OverdueAt: t0.Add(15 * day)}, []*likeness.DSRequest{other, late}},
		{"overdue at t0+25d for subject a", likeness.RequestFilter{OverdueAt: t0.Add(25 * day), SubjectID: a.ID}, []*likeness.DSRequest{late, extended}},
		{"overdue exactly at the deadline is not yet overdue", likeness.RequestFilter{OverdueAt: t0.Add(3 * day)}, nil},
		{"limit", likeness.RequestFilter{State: likeness.RequestOpen, Limit: 2}, []*likeness.DSRequest{other, late}},
		{"nothing", likeness.RequestFilter{SubjectID: likeness.NewID("sub")}, nil},
	}
	for _, c := range cases {
		want := []string{}
		for _, r := range c.want {
			want = append(want, r.ID)
		}
		if got := ids(c.f); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", c.name, got, want)
		}
	}
}
