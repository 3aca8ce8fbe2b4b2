package consent_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/likenesstest"
	"likeness/internal/sqlstore"
	"likeness/policy"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	d     *likenesstest.Deployment
	svc   *consent.Service
	store *sqlstore.DB
	clock *likenesstest.Clock
}

// newDeployment opens a deployment on a fresh SQLite database with the
// policy p and a clock standing at t0.
func newDeployment(t testing.TB, p *policy.Policy) *likenesstest.Deployment {
	t.Helper()
	return likenesstest.New(t, likenesstest.Options{Policy: p, Start: t0})
}

func newFixture(t *testing.T) *fixture {
	d := newDeployment(t, policy.Example())
	return &fixture{t: t, d: d, svc: d.Consent, store: d.Store, clock: d.Clock}
}

func (f *fixture) subject(ext string) string {
	f.t.Helper()
	sub, created, err := f.d.Subjects.CreateSubject(context.Background(), ext, "en", "EU-DE")
	if err != nil || !created {
		f.t.Fatalf("create subject: %v (created %v)", err, created)
	}
	return sub.ID
}

func (f *fixture) grant(sub string, purposes ...string) []*likeness.ConsentEvent {
	f.t.Helper()
	n, err := f.d.Notices.Notice("en")
	if err != nil {
		f.t.Fatal(err)
	}
	evs, err := f.svc.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: purposes,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"})
	if err != nil {
		f.t.Fatalf("grant %v: %v", purposes, err)
	}
	return evs
}

func (f *fixture) state(sub, purpose string) likeness.State {
	f.t.Helper()
	states, _, err := f.svc.Consents(context.Background(), sub)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, st := range states {
		if st.Purpose == purpose {
			return st.State
		}
	}
	f.t.Fatalf("no state for purpose %s", purpose)
	return ""
}

// decide asks about purpose and category at at (zero: the service's now).
func (f *fixture) decide(sub, purpose, category string, at time.Time) likeness.Decision {
	f.t.Helper()
	d, err := f.svc.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: purpose, Category: category, At: at})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func wantAllow(t *testing.T, what string, d likeness.Decision) {
	t.Helper()
	if !d.Allow || d.Reasons != 0 {
		t.Errorf("%s: allow=%v reasons=%v, want allow", what, d.Allow, d.Reasons.Names())
	}
}

func wantDeny(t *testing.T, what string, d likeness.Decision, reason string) {
	t.Helper()
	if d.Allow || !slices.Contains(d.Reasons.Names(), reason) {
		t.Errorf("%s: allow=%v reasons=%v, want deny with %s", what, d.Allow, d.Reasons.Names(), reason)
	}
}

func TestGrantOlderThanRenewEveryExpires(t *testing.T) {
	f := newFixture(t)
	sub := f.subject("user-1")
	f.grant(sub, "ai-training", "marketing-personalization") // ai-training: renew_every 12mo

	f.clock.Set(t0.AddDate(0, 12, 0).Add(-time.Microsecond))
	if st := f.state(sub, "ai-training"); st != likeness.StateActive {
		t.Errorf("just before 12 months: %s, want active", st)
	}
	wantAllow(t, "just before 12 months", f.decide(sub, "ai-training", "image", time.Time{}))

	f.clock.Set(t0.AddDate(0, 12, 0))
	if st := f.state(sub, "ai-training"); st != likeness.StateExpired {
		t.Errorf("after 12 months: %s, want expired", st)
	}
	wantDeny(t, "after 12 months", f.decide(sub, "ai-training", "image", time.Time{}), "expired")
	// A purpose without renew_every does not expire.
	if st := f.state(sub, "marketing-personalization"); st != likeness.StateActive {
		t.Errorf("marketing-personalization after 12 months: %s, want active", st)
	}
	wantAllow(t, "marketing-personalization after 12 months", f.decide(sub, "marketing-personalization", "video", time.Time{}))
	// Asking about a time back inside the window must not revive it.
	if _, err := f.svc.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: "ai-training", Category: "image", At: t0.AddDate(0, 6, 0)}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("decision asked about 6 months ago: err %v, want invalid (no decisions about the past)", err)
	}

	// Granting again renews it.
	evs := f.grant(sub, "ai-training")
	if evs[0].Type != likeness.Renew {
		t.Errorf("grant of an expired consent recorded as %q, want renew", evs[0].Type)
	}
	if st := f.state(sub, "ai-training"); st != likeness.StateActive {
		t.Errorf("after renewal: %s, want active", st)
	}
	wantAllow(t, "after renewal", f.decide(sub, "ai-training", "image", time.Time{}))
}

// materialChange returns the example policy with ai-training also covering
// video: a change of substance for that purpose only.
func materialChange(t *testing.T) *policy.Policy {
	t.Helper()
	src, err := os.ReadFile("../../policy/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	from := []byte("data: [image, voice, biometric_template]")
	if bytes.Count(src, from) != 1 {
		t.Fatalf("the example policy changed; update materialChange")
	}
	p, err := policy.Parse("example.yaml", bytes.Replace(src, from, []byte("data: [image, voice, video, biometric_template]"), 1))
	if err != nil {
		t.Fatal(err)
	}
	old := policy.Example()
	if p.Material("ai-training") == old.Material("ai-training") || p.Material("marketing-personalization") != old.Material("marketing-personalization") {
		t.Fatal("the edit did not change ai-training, and only it, materially")
	}
	return p
}

func TestMaterialChangeNeedsRenewalOfThatPurposeOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sub := f.subject("user-1")
	before := f.grant(sub, "ai-training", "marketing-personalization")
	n1, _ := f.d.Notices.Notice("en")

	f.clock.Set(t0.AddDate(0, 1, 0))
	if err := f.d.Notices.SetPolicy(ctx, materialChange(t)); err != nil {
		t.Fatal(err)
	}
	n2, _ := f.d.Notices.Notice("en")
	if n2.Version <= n1.Version || n2.SHA256 == n1.SHA256 {
		t.Fatalf("notice after the change: v%d %s, before v%d %s", n2.Version, n2.SHA256, n1.Version, n1.SHA256)
	}

	if st := f.state(sub, "ai-training"); st != likeness.StateNeedsRenewal {
		t.Errorf("ai-training after a material change: %s, want needs_renewal", st)
	}
	wantDeny(t, "ai-training after a material change", f.decide(sub, "ai-training", "image", time.Time{}), "needs_renewal")
	if st := f.state(sub, "marketing-personalization"); st != likeness.StateActive {
		t.Errorf("marketing-personalization: %s, want active", st)
	}
	wantAllow(t, "marketing-personalization", f.decide(sub, "marketing-personalization", "image", time.Time{}))

	// A grant against the old notice is refused; against the new one it is
	// recorded as a renewal and allows again.
	_, err := f.svc.Grant(ctx, &likeness.GrantRequest{SubjectID: sub, Purposes: []string{"ai-training"},
		NoticeVersion: n1.Version, NoticeSHA256: n1.SHA256, Method: likeness.Checkbox, Language: "en"})
	if likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Errorf("grant under the old notice: %v, want %s", err, likeness.ECONFLICT)
	}
	evs := f.grant(sub, "ai-training")
	if evs[0].Type != likeness.Renew || evs[0].NoticeVersion != n2.Version {
		t.Errorf("renewal recorded as %q under notice v%d, want renew under v%d", evs[0].Type, evs[0].NoticeVersion, n2.Version)
	}
	if st := f.state(sub, "ai-training"); st != likeness.StateActive {
		t.Errorf("ai-training after renewal: %s, want active", st)
	}
	wantAllow(t, "ai-training after renewal", f.decide(sub, "ai-training", "video", time.Time{}))

	// The history keeps both events, in ledger order.
	_, hist, err := f.svc.Consents(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	var types []likeness.EventType
	for _, ev := range hist {
		if ev.Purpose == "ai-training" {
			types = append(types, ev.Type)
		}
	}
	if !slices.Equal(types, []likeness.EventType{likeness.Grant, likeness.Renew}) || before[0].LedgerIndex >= evs[0].LedgerIndex {
		t.Errorf("ai-training history: %v", types)
	}

	// Someone who never consented has no state, under either policy.
	other := f.subject("user-2")
	f.grant(other, "marketing-personalization")
	if st := f.state(other, "ai-training"); st != likeness.StateNone {
		t.Errorf("a subject who never consented: %s, want none", st)
	}
}

func TestWordingChangeKeepsConsentActive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sub := f.subject("user-1")
	f.grant(sub, "ai-training")
	src, err := os.ReadFile("../../policy/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("example.yaml", bytes.Replace(src, []byte("Train our portrait and voice AI models"), []byte("Train our portrait and voice models"), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.Notices.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if st := f.state(sub, "ai-training"); st != likeness.StateActive {
		t.Errorf("after a wording change: %s, want active", st)
	}
	wantAllow(t, "after a wording change", f.decide(sub, "ai-training", "image", time.Time{}))
}

func TestDecisionAtBeforeTheGrantDenies(t *testing.T) {
	f := newFixture(t)
	sub := f.subject("user-1")
	f.clock.Set(t0.Add(time.Hour))
	evs := f.grant(sub, "ai-training")
	if !evs[0].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("event time %v, want the injected clock's %v", evs[0].Time, t0.Add(time.Hour))
	}
	wantDeny(t, "a minute before the grant", f.decide(sub, "ai-training", "image", t0.Add(59*time.Minute)), "no_consent")
	wantDeny(t, "a microsecond before the grant", f.decide(sub, "ai-training", "image", t0.Add(time.Hour-time.Microsecond)), "no_consent")
	wantAllow(t, "at the grant", f.decide(sub, "ai-training", "image", t0.Add(time.Hour)))
	wantAllow(t, "now", f.decide(sub, "ai-training", "image", time.Time{}))

	// After a withdrawal, decisions deny; a category the purpose does not
	// cover denies too.
	if _, err := f.svc.Withdraw(context.Background(), &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}
	wantDeny(t, "after withdrawal", f.decide(sub, "ai-training", "image", time.Time{}), "withdrawn")
	if st := f.state(sub, "ai-training"); st != likeness.StateWithdrawn {
		t.Errorf("after withdrawal: %s", st)
	}
	evs = f.grant(sub, "ai-training")
	if evs[0].Type != likeness.Grant {
		t.Errorf("grant after a withdrawal recorded as %q, want grant", evs[0].Type)
	}
	wantDeny(t, "category not covered", f.decide(sub, "ai-training", "transcript", time.Time{}), "category_not_covered")
}

// A request without a time is decided now, every time it is asked: the
// service must not pin the first call's time into the caller's request.
func TestDecideLeavesTheRequestUnchanged(t *testing.T) {
	d := likenesstest.New(t, likenesstest.Options{})
	q := &likeness.DecisionRequest{SubjectID: "sub_x", Purpose: "ai-training", Category: "image"}
	if _, err := d.Consent.Decide(q); err != nil {
		t.Fatal(err)
	}
	if !q.At.IsZero() {
		t.Fatalf("Decide wrote %v into the caller's request", q.At)
	}
}
