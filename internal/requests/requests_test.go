package requests_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/requests"
)

type fixture struct {
	t   *testing.T
	d   *likenesstest.Deployment
	svc *requests.Service
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	d := likenesstest.New(t, likenesstest.Options{Start: start})
	return &fixture{t: t, d: d, svc: d.Requests(t)}
}

// ctx is an admin's: completing erasures and exports needs one (package authz).
var ctx = likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_test", Role: likeness.RoleAdmin})

func (f *fixture) open(sub string, typ likeness.RequestType, purpose string, received time.Time) *likeness.DSRequest {
	f.t.Helper()
	r, err := f.svc.Open(ctx, sub, typ, likeness.ChannelEmail, purpose, received)
	if err != nil {
		f.t.Fatalf("Open %s: %v", typ, err)
	}
	return r
}

func (f *fixture) decide(sub, purpose string) likeness.Decision {
	f.t.Helper()
	d, err := f.d.Consent.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: purpose, Category: "voice"})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := likeness.ErrorCode(err); got != code {
		t.Fatalf("%s: err = %v, want code %s", what, err, code)
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }

func TestDeadlineFollowsTheSubjectsLaw(t *testing.T) {
	cases := []struct {
		jurisdiction       string
		received           time.Time
		wantDue, wantExtTo time.Time
	}{
		// GDPR: one month, to the last day of a shorter month (EDPB), not
		// 3 March as time.AddDate would make it; extended: three months.
		{"EU-DE", date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)},
		{"EU-DE", date(2028, 1, 31), date(2028, 2, 29), date(2028, 4, 30)}, // leap year
		{"EU-FR", date(2026, 3, 15), date(2026, 4, 15), date(2026, 6, 15)},
		{"GB", date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)},
		// CCPA: 45 days, extended once by 45; the default for every US state.
		{"US-CA", date(2026, 1, 31), date(2026, 3, 17), date(2026, 5, 1)},
		{"US-IL", date(2026, 1, 31), date(2026, 3, 17), date(2026, 5, 1)},
		// Anywhere else: 30 + 30 days.
		{"CH", date(2026, 1, 31), date(2026, 3, 2), date(2026, 4, 1)},
	}
	for _, c := range cases {
		t.Run(c.jurisdiction+"/"+c.received.Format("2006-01-02"), func(t *testing.T) {
			f := newFixture(t, c.received.Add(time.Hour))
			sub := f.d.Subject(t, "p", c.jurisdiction)
			r := f.open(sub, likeness.RequestAccess, "", c.received)
			if !r.ReceivedAt.Equal(c.received) || !r.DueAt.Equal(c.wantDue) {
				t.Fatalf("received %v due %v, want due %v", r.ReceivedAt, r.DueAt, c.wantDue)
			}
			got, err := f.svc.Request(ctx, r.ID)
			if err != nil || !got.DueAt.Equal(c.wantDue) || got.State != likeness.RequestOpen {
				t.Fatalf("stored request %+v, %v", got, err)
			}
			ext, err := f.svc.Extend(ctx, r.ID, "complex: recordings in three systems")
			if err != nil {
				t.Fatal(err)
			}
			if !ext.ExtendedTo.Equal(c.wantExtTo) || !ext.Deadline().Equal(c.wantExtTo) || !ext.DueAt.Equal(c.wantDue) {
				t.Fatalf("extended to %v (due %v), want %v", ext.ExtendedTo, ext.DueAt, c.wantExtTo)
			}
			_, err = f.svc.Extend(ctx, r.ID, "still complex")
			wantCode(t, "second extension", err, likeness.ECONFLICT)
			if got, _ := f.svc.Request(ctx, r.ID); !got.ExtendedTo.Equal(c.wantExtTo) || got.ExtensionReason != "complex: recordings in three systems" {
				t.Fatalf("after a refused second extension: %+v", got)
			}
		})
	}
}

func TestReceivedAtDefaultsToNow(t *testing.T) {
	f := newFixture(t, date(2026, 5, 4))
	sub := f.d.Subject(t, "p", "EU-DE")
	r := f.open(sub, likeness.RequestExport, "", time.Time{})
	if !r.ReceivedAt.Equal(date(2026, 5, 4)) || !r.DueAt.Equal(date(2026, 6, 4)) {
		t.Fatalf("received %v due %v", r.ReceivedAt, r.DueAt)
	}
}

func TestExtensionNeedsAReasonAndComesBeforeTheDeadline(t *testing.T) {
	f := newFixture(t, date(2026, 1, 31))
	sub := f.d.Subject(t, "p", "EU-DE")
	r := f.open(sub, likeness.RequestAccess, "", time.Time{})
	_, err := f.svc.Extend(ctx, r.ID, "  ")
	wantCode(t, "extension without a reason", err, likeness.EINVALID)
	_, err = f.svc.Extend(ctx, r.ID, strings.Repeat("x", requests.MaxReason+1))
	wantCode(t, "extension with an overlong reason", err, likeness.EINVALID)
	f.d.Clock.Set(date(2026, 3, 1))
	_, err = f.svc.Extend(ctx, r.ID, "too late")
	wantCode(t, "extension after the deadline", err, likeness.ECONFLICT)
	if got, _ := f.svc.Request(ctx, r.ID); !got.ExtendedTo.IsZero() {
		t.Fatalf("a refused extension was stored: %+v", got)
	}
	_, err = f.svc.Extend(ctx, likeness.NewID("req"), "reason")
	wantCode(t, "extension of an unknown request", err, likeness.ENOTFOUND)
}

func TestCompletingAnErasureRequestErasesTheSubject(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	if d := f.decide(sub, "ai-training"); !d.Allow {
		t.Fatalf("before erasure: %v", d.Reasons.Names())
	}
	r := f.open(sub, likeness.RequestErasure, "", time.Time{})
	done, err := f.svc.Complete(ctx, r.ID, requests.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != likeness.RequestCompleted || done.Outcome != requests.OutcomeErased || done.CompletedAt.IsZero() {
		t.Fatalf("completed request: %+v", done)
	}
	if d := f.decide(sub, "ai-training"); d.Allow || !slices.Contains(d.Reasons.Names(), "subject_erased") {
		t.Fatalf("decision after the erasure request: allow=%v %v", d.Allow, d.Reasons.Names())
	}
	stored, err := f.svc.Request(ctx, r.ID)
	if err != nil || len(stored.Certificate) == 0 {
		t.Fatalf("stored request has no certificate: %+v %v", stored, err)
	}
	claims, err := f.d.Erasure.VerifyCertificate(stored.Certificate)
	if err != nil || claims.Subject != sub || !claims.Destroyed.DataKey {
		t.Fatalf("certificate: %+v, %v", claims, err)
	}

	_, err = f.svc.Complete(ctx, r.ID, requests.Params{})
	wantCode(t, "completing twice", err, likeness.ECONFLICT)
	if n := erasureEvents(t, f, sub); n != 1 {
		t.Fatalf("%d erasure events in the ledger, want 1", n)
	}

	// A later erasure request is idempotent: the same certificate.
	again := f.open(sub, likeness.RequestErasure, "", time.Time{})
	done2, err := f.svc.Complete(ctx, again.ID, requests.Params{})
	if err != nil || string(done2.Certificate) != string(stored.Certificate) {
		t.Fatalf("erasure request for an erased subject: %v (same certificate: %v)", err, err == nil && string(done2.Certificate) == string(stored.Certificate))
	}
	if n := erasureEvents(t, f, sub); n != 1 {
		t.Fatalf("%d erasure events after a second request, want 1", n)
	}
	// Anything else about an erased subject is refused.
	for _, typ := range []likeness.RequestType{likeness.RequestAccess, likeness.RequestExport, likeness.RequestRectification} {
		_, err := f.svc.Open(ctx, sub, typ, likeness.ChannelEmail, "", time.Time{})
		wantCode(t, string(typ)+" request for an erased subject", err, likeness.EGONE)
	}
}

func erasureEvents(t *testing.T, f *fixture, sub string) int {
	t.Helper()
	evs, err := f.d.Store.SubjectEvents(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type == likeness.Erasure {
			n++
		}
	}
	return n
}

func TestConcurrentCompletionsPerformTheRightOnce(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "US-CA")
	f.d.Grant(t, sub, "ai-training")
	r := f.open(sub, likeness.RequestErasure, "", time.Time{})
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Complete(ctx, r.ID, requests.Params{})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch likeness.ErrorCode(err) {
		case "":
			ok++
		case likeness.ECONFLICT:
		default:
			t.Errorf("concurrent completion: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent completions succeeded, want 1", ok)
	}
	if got := erasureEvents(t, f, sub); got != 1 {
		t.Fatalf("%d erasure events, want 1", got)
	}
}

func TestWithdrawalRequestWithdrawsThePurpose(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "EU-DE")
	f.d.Grant(t, sub, "ai-training", "voice-transcription")
	r, err := f.svc.Open(ctx, sub, likeness.RequestWithdrawal, likeness.ChannelPhone, "ai-training", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.svc.Complete(ctx, r.ID, requests.Params{})
	if err != nil || done.Outcome != requests.OutcomeWithdrawn {
		t.Fatalf("Complete = %+v, %v", done, err)
	}
	if d := f.decide(sub, "ai-training"); d.Allow || !slices.Contains(d.Reasons.Names(), "withdrawn") {
		t.Fatalf("ai-training after the withdrawal request: allow=%v %v", d.Allow, d.Reasons.Names())
	}
	if d := f.decide(sub, "voice-transcription"); !d.Allow {
		t.Fatalf("a withdrawal of one purpose touched another: %v", d.Reasons.Names())
	}
	_, hist, err := f.d.Consent.Consents(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Type != likeness.Withdraw || last.Purpose != "ai-training" || last.Method != likeness.Verbal || last.Evidence["request"] != r.ID {
		t.Fatalf("ledger event of the withdrawal: %+v", last)
	}
	// A second request for a purpose already withdrawn records nothing new.
	again := f.open(sub, likeness.RequestWithdrawal, "ai-training", time.Time{})
	done, err = f.svc.Complete(ctx, again.ID, requests.Params{})
	if err != nil || done.Outcome != requests.OutcomeWasWithdrawn {
		t.Fatalf("second withdrawal request: %+v, %v", done, err)
	}
	if _, h, _ := f.d.Consent.Consents(ctx, sub); len(h) != len(hist) {
		t.Fatalf("the second withdrawal request added %d events", len(h)-len(hist))
	}
}

func TestOptOutWithdrawsEverySaleOrSharePurpose(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	for _, jurisdiction := range []string{"US-CA", "US-VA", "EU-DE"} {
		sub := f.d.Subject(t, "p-"+jurisdiction, jurisdiction)
		f.d.Grant(t, sub, "ai-training", "marketing-personalization")
		r := f.open(sub, likeness.RequestOptOut, "", time.Time{})
		done, err := f.svc.Complete(ctx, r.ID, requests.Params{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(done.Outcome, "1 of 1") {
			t.Errorf("%s outcome %q", jurisdiction, done.Outcome)
		}
		if d := f.decide(sub, "marketing-personalization"); d.Allow {
			t.Errorf("%s: sale_or_share purpose allowed after opt-out", jurisdiction)
		}
		if d := f.decide(sub, "ai-training"); !d.Allow {
			t.Errorf("%s: opt-out withdrew a purpose that is not a sale or share: %v", jurisdiction, d.Reasons.Names())
		}
		evs, _ := f.d.Store.SubjectEvents(ctx, sub)
		if last := evs[len(evs)-1]; last.Method != likeness.Written {
			t.Errorf("%s: opt-out by email recorded with method %q, want written (not gpc)", jurisdiction, last.Method)
		}
	}
}

func TestRectificationRequestCorrectsTheJurisdiction(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "EU-DE")
	r := f.open(sub, likeness.RequestRectification, "", time.Time{})
	for _, c := range []struct {
		name string
		p    requests.Params
	}{
		{"no correction", requests.Params{}},
		{"bad jurisdiction", requests.Params{Jurisdiction: "Narnia"}},
		{"overlong locale", requests.Params{Locale: strings.Repeat("d", 40)}},
	} {
		_, err := f.svc.Complete(ctx, r.ID, c.p)
		wantCode(t, c.name, err, likeness.EINVALID)
	}
	if got, _ := f.svc.Request(ctx, r.ID); got.State != likeness.RequestOpen || got.Revision != 0 {
		t.Fatalf("refused completions changed the request: %+v", got)
	}
	done, err := f.svc.Complete(ctx, r.ID, requests.Params{Jurisdiction: "US-CA"})
	if err != nil || done.Outcome != "subject rectified (jurisdiction)" {
		t.Fatalf("Complete = %+v, %v", done, err)
	}
	if s, err := f.d.Subjects.Subject(ctx, sub); err != nil || s.Jurisdiction != "US-CA" || s.Locale != "en" {
		t.Fatalf("subject after rectification: %+v, %v", s, err)
	}
	// Parameters belong to rectifications only.
	acc := f.open(sub, likeness.RequestAccess, "", time.Time{})
	_, err = f.svc.Complete(ctx, acc.ID, requests.Params{Locale: "de"})
	wantCode(t, "params on an access request", err, likeness.EINVALID)
	done, err = f.svc.Complete(ctx, acc.ID, requests.Params{})
	if err != nil || done.Outcome != requests.OutcomeDataAvailable {
		t.Fatalf("access: %+v, %v", done, err)
	}
}

func TestRejectClosesWithoutPerforming(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	r := f.open(sub, likeness.RequestWithdrawal, "ai-training", time.Time{})
	_, err := f.svc.Reject(ctx, r.ID, "")
	wantCode(t, "reject without a reason", err, likeness.EINVALID)
	got, err := f.svc.Reject(ctx, r.ID, "identity could not be verified")
	if err != nil || got.State != likeness.RequestRejected || got.RejectReason != "identity could not be verified" {
		t.Fatalf("Reject = %+v, %v", got, err)
	}
	_, err = f.svc.Complete(ctx, r.ID, requests.Params{})
	wantCode(t, "completing a rejected request", err, likeness.ECONFLICT)
	_, err = f.svc.Extend(ctx, r.ID, "more time")
	wantCode(t, "extending a rejected request", err, likeness.ECONFLICT)
	_, err = f.svc.Reject(ctx, r.ID, "again")
	wantCode(t, "rejecting twice", err, likeness.ECONFLICT)
	if d := f.decide(sub, "ai-training"); !d.Allow {
		t.Fatalf("a rejected withdrawal request withdrew: %v", d.Reasons.Names())
	}
}

func TestOverdueRequestsAreListed(t *testing.T) {
	f := newFixture(t, date(2026, 3, 2))
	eu := f.d.Subject(t, "eu", "EU-DE")
	us := f.d.Subject(t, "us", "US-CA")
	late := f.open(eu, likeness.RequestAccess, "", time.Time{})     // due 2 April
	extended := f.open(eu, likeness.RequestExport, "", time.Time{}) // extended to 2 June
	done := f.open(eu, likeness.RequestRectification, "", time.Time{})
	usReq := f.open(us, likeness.RequestAccess, "", time.Time{}) // due 16 April
	if _, err := f.svc.Extend(ctx, extended.ID, "volume of requests"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(ctx, done.ID, requests.Params{Locale: "de"}); err != nil {
		t.Fatal(err)
	}
	ids := func(fl requests.Filter) []string {
		t.Helper()
		rs, err := f.svc.List(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	overdue := requests.Filter{Overdue: true}
	if got := ids(overdue); len(got) != 0 {
		t.Fatalf("overdue on the day of receipt: %v", got)
	}
	f.d.Clock.Set(date(2026, 4, 2).Add(time.Minute))
	if got := ids(overdue); !slices.Equal(got, []string{late.ID}) {
		t.Fatalf("overdue on 2 April after the due time: %v, want only %s", got, late.ID)
	}
	f.d.Clock.Set(date(2026, 5, 1))
	if got := ids(overdue); !slices.Equal(got, []string{late.ID, usReq.ID}) {
		t.Fatalf("overdue on 1 May: %v", got)
	}
	if got := ids(requests.Filter{Overdue: true, SubjectID: us}); !slices.Equal(got, []string{usReq.ID}) {
		t.Fatalf("overdue for one subject: %v", got)
	}
	if got := ids(requests.Filter{State: likeness.RequestCompleted}); !slices.Equal(got, []string{done.ID}) {
		t.Fatalf("completed: %v", got)
	}
	if got := ids(requests.Filter{State: likeness.RequestOpen}); !slices.Equal(got, []string{late.ID, usReq.ID, extended.ID}) {
		t.Fatalf("open, most urgent first: %v", got)
	}
	if _, err := f.svc.Complete(ctx, late.ID, requests.Params{}); err != nil {
		t.Fatal(err)
	}
	if got := ids(overdue); !slices.Equal(got, []string{usReq.ID}) {
		t.Fatalf("overdue after completing the late one: %v", got)
	}
	for _, bad := range []requests.Filter{{State: "pending"}, {SubjectID: "nope"}, {Limit: -1}, {Limit: requests.MaxLimit + 1},
		{State: likeness.RequestCompleted, Overdue: true}} {
		_, err := f.svc.List(ctx, bad)
		wantCode(t, "List with a bad filter", err, likeness.EINVALID)
	}
}

func TestBadRequestsAreRefusedAndStoreNothing(t *testing.T) {
	f := newFixture(t, likenesstest.Start)
	sub := f.d.Subject(t, "p", "EU-DE")
	cases := []struct {
		name    string
		sub     string
		typ     likeness.RequestType
		channel string
		purpose string
		at      time.Time
		code    string
	}{
		{"unknown type", sub, "forget-me", "email", "", time.Time{}, likeness.EINVALID},
		{"empty type", sub, "", "email", "", time.Time{}, likeness.EINVALID},
		{"unknown channel", sub, likeness.RequestAccess, "fax", "", time.Time{}, likeness.EINVALID},
		{"withdrawal without a purpose", sub, likeness.RequestWithdrawal, "email", "", time.Time{}, likeness.EINVALID},
		{"withdrawal of an unknown purpose", sub, likeness.RequestWithdrawal, "email", "mind-reading", time.Time{}, likeness.EINVALID},
		{"opt-out of a purpose that is not a sale", sub, likeness.RequestOptOut, "email", "ai-training", time.Time{}, likeness.EINVALID},
		{"purpose on an erasure", sub, likeness.RequestErasure, "email", "ai-training", time.Time{}, likeness.EINVALID},
		{"received in the future", sub, likeness.RequestAccess, "email", "", likenesstest.Start.Add(time.Hour), likeness.EINVALID},
		{"unknown subject", likeness.NewID("sub"), likeness.RequestAccess, "email", "", time.Time{}, likeness.ENOTFOUND},
		{"malformed subject", "robert'); DROP TABLE", likeness.RequestAccess, "email", "", time.Time{}, likeness.ENOTFOUND},
	}
	for _, c := range cases {
		_, err := f.svc.Open(ctx, c.sub, c.typ, c.channel, c.purpose, c.at)
		if got := likeness.ErrorCode(err); got != c.code {
			t.Errorf("%s: err = %v, want %s", c.name, err, c.code)
		}
		if got := likeness.ErrorMessage(err); got == "" || got == "internal error" {
			t.Errorf("%s: message %q does not say what is wrong", c.name, got)
		}
	}
	all, err := f.svc.List(ctx, requests.Filter{})
	if err != nil || len(all) != 0 {
		t.Fatalf("refused requests left %d rows (%v)", len(all), err)
	}
	_, err = f.svc.Complete(ctx, "req_nope", requests.Params{})
	wantCode(t, "complete an unknown request", err, likeness.ENOTFOUND)
}
