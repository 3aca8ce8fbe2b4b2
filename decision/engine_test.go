package decision

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/policy"
)

const testPolicy = `
organization: {name: Acme Portraits GmbH, country: DE, contact: privacy@acme.example}
languages: [en]
purposes:
  ai-training:
    title: {en: Train our models}
    description: {en: We train models on your photos and voice.}
    data: [image, voice, biometric_template]
    recipients: [acme-ml, gpu-cloud-us, adpartner-us, dpf-us, dpf-in, bcr-in, plain-in, plain-jp]
    retention: 3y
    renew_every: 12mo
  marketing:
    title: {en: Personalised marketing}
    description: {en: We put your photo and voice in marketing videos.}
    data: [image, voice, video]
    recipients: [acme-marketing, adpartner-us]
    retention: 2y
  transcription:
    title: {en: Transcribe your calls}
    description: {en: We turn your calls into text.}
    data: [voice, transcript]
    recipients: [acme-support]
    retention: 90d
recipients:
  acme-ml:        {name: Acme ML team, country: DE}
  acme-marketing: {name: Acme marketing team, country: DE}
  acme-support:   {name: Acme support, country: DE}
  gpu-cloud-us:   {name: GPU Cloud Inc., country: US, transfer: scc}
  adpartner-us:   {name: Ad Partner LLC, country: US, transfer: none}
  dpf-us:         {name: DPF Inc., country: US, transfer: dpf}
  dpf-in:         {name: DPF India, country: IN, transfer: dpf}
  bcr-in:         {name: BCR India, country: IN, transfer: bcr}
  plain-in:       {name: Plain India, country: IN}
  plain-jp:       {name: Plain Japan, country: JP}
  fr-lab:         {name: Lab not used by any purpose, country: FR}
`

// t0 is when test consents are given; the engine's clock stands 30 days later.
var t0 = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)

func testEngine(t testing.TB) *Engine {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatalf("parse test policy: %v", err)
	}
	e := New(p)
	e.Now = func() time.Time { return t0.Add(30 * 24 * time.Hour) }
	return e
}

var ledgerSeq int64

// event builds a consent event; purpose "" and method "" are allowed.
func event(typ likeness.EventType, subject, purpose string, method likeness.Method, at time.Time) *likeness.ConsentEvent {
	ledgerSeq++
	return &likeness.ConsentEvent{
		ID:            fmt.Sprintf("evt_%026d", ledgerSeq),
		SubjectID:     subject,
		Purpose:       purpose,
		Type:          typ,
		Method:        method,
		NoticeVersion: 1,
		Time:          at,
		LedgerIndex:   ledgerSeq,
	}
}

func grantAt(e *Engine, subject, purpose string, method likeness.Method, at time.Time) *likeness.ConsentEvent {
	ev := event(likeness.Grant, subject, purpose, method, at)
	e.Apply(ev)
	return ev
}

func req(subject, purpose, category string) *likeness.DecisionRequest {
	return &likeness.DecisionRequest{SubjectID: subject, Purpose: purpose, Category: category}
}

func reasonSet(rs ...likeness.Reason) likeness.Reasons {
	var out likeness.Reasons
	for _, r := range rs {
		out |= likeness.Reasons(r)
	}
	return out
}

func checkDecision(t *testing.T, d likeness.Decision, allow bool, want likeness.Reasons) {
	t.Helper()
	if d.Allow != allow || d.Reasons != want {
		t.Errorf("decision = allow %v %v, want allow %v %v", d.Allow, d.Reasons.Names(), allow, want.Names())
	}
}

func TestActiveGrantAllows(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	ev := grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	d := e.Decide(req("s1", "ai-training", "voice"))
	checkDecision(t, d, true, 0)
	if d.EventID != ev.ID || d.EventTime != likeness.Micros(t0) {
		t.Errorf("evidence = %q@%d, want %q@%d", d.EventID, d.EventTime, ev.ID, likeness.Micros(t0))
	}
}

func TestSubjectIDsOfAnyLengthWork(t *testing.T) {
	for _, n := range []int{1, 30, 34, 35, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := testEngine(t)
			id := strings.Repeat("x", n)
			other := strings.Repeat("x", n-1) + "y"
			e.PutSubject(id, "EU-DE")
			e.PutSubject(other, "EU-DE")
			grantAt(e, id, "marketing", likeness.Checkbox, t0)
			checkDecision(t, e.Decide(req(id, "marketing", "image")), true, 0)
			checkDecision(t, e.Decide(req(other, "marketing", "image")), false, reasonSet(likeness.ReasonNoConsent))
			checkDecision(t, e.Decide(req(id+"x", "marketing", "image")), false, reasonSet(likeness.ReasonSubjectNotFound))
			e.EraseSubject(id)
			checkDecision(t, e.Decide(req(id, "marketing", "image")), false, reasonSet(likeness.ReasonSubjectErased))
			if s, g := e.Stats(); s != 1 || g != 0 {
				t.Errorf("Stats = %d, %d; want 1, 0", s, g)
			}
		})
	}
}

func TestUnknownSubjectOrPurposeNeverAllows(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	// A grant for a purpose the policy does not declare (e.g. from an old policy).
	grantAt(e, "s1", "retired-purpose", likeness.Checkbox, t0)
	tests := []struct {
		name string
		r    *likeness.DecisionRequest
		want likeness.Reasons
	}{
		{"unknown subject", req("nobody", "ai-training", "voice"), reasonSet(likeness.ReasonSubjectNotFound)},
		{"unknown purpose", req("s1", "no-such-purpose", "voice"), reasonSet(likeness.ReasonNoConsent)},
		{"purpose granted but not in policy", req("s1", "retired-purpose", "voice"), reasonSet(likeness.ReasonNoConsent)},
		{"unknown asset", &likeness.DecisionRequest{AssetID: "ast_x", Purpose: "ai-training", Category: "voice"}, reasonSet(likeness.ReasonAssetNotFound)},
		{"empty request", &likeness.DecisionRequest{}, reasonSet(likeness.ReasonSubjectNotFound)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDecision(t, e.Decide(tt.r), false, tt.want)
		})
	}
}

func TestNoGrantDeniesWithNoConsent(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0) // another purpose does not count
	d := e.Decide(req("s1", "ai-training", "voice"))
	checkDecision(t, d, false, reasonSet(likeness.ReasonNoConsent))
	if d.EventID != "" {
		t.Errorf("EventID = %q with no grant", d.EventID)
	}
}

func TestWithdrawalDeniesNextDecision(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), true, 0)

	w := event(likeness.Withdraw, "s1", "ai-training", likeness.GPC, t0.Add(time.Hour))
	e.Apply(w)
	d := e.Decide(req("s1", "ai-training", "voice"))
	checkDecision(t, d, false, reasonSet(likeness.ReasonWithdrawn))
	if d.EventID != w.ID {
		t.Errorf("EventID = %q, want the withdrawal %q", d.EventID, w.ID)
	}
	if st, _ := e.State("s1", "ai-training", time.Time{}); st != likeness.StateWithdrawn {
		t.Errorf("State = %s, want withdrawn", st)
	}

	// Consent given again counts again.
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0.Add(2*time.Hour))
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), true, 0)
}

func TestExpireEventDenies(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	e.Apply(event(likeness.Expire, "s1", "marketing", "", t0.Add(time.Hour)))
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), false, reasonSet(likeness.ReasonExpired))
	if st, _ := e.State("s1", "marketing", time.Time{}); st != likeness.StateExpired {
		t.Errorf("State = %s, want expired", st)
	}
}

func TestErasedSubjectDenies(t *testing.T) {
	for _, how := range []string{"EraseSubject", "erasure event"} {
		t.Run(how, func(t *testing.T) {
			e := testEngine(t)
			e.PutSubject("s1", "EU-DE")
			e.PutSubject("s2", "EU-DE")
			grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
			grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
			grantAt(e, "s2", "marketing", likeness.Checkbox, t0)
			if how == "EraseSubject" {
				e.EraseSubject("s1")
			} else {
				e.Apply(event(likeness.Erasure, "s1", "", "", t0.Add(time.Hour)))
			}
			checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), false, reasonSet(likeness.ReasonSubjectErased))
			if st, _ := e.State("s1", "ai-training", time.Time{}); st != likeness.StateErased {
				t.Errorf("State = %s, want erased", st)
			}
			if s, g := e.Stats(); s != 1 || g != 1 {
				t.Errorf("Stats = %d subjects, %d grants; want 1, 1", s, g)
			}
			// Erasure is final: late events and a repeated PutSubject change nothing.
			e.PutSubject("s1", "EU-DE")
			grantAt(e, "s1", "ai-training", likeness.Checkbox, t0.Add(2*time.Hour))
			checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), false, reasonSet(likeness.ReasonSubjectErased))
			checkDecision(t, e.Decide(req("s2", "marketing", "voice")), true, 0)
		})
	}
}

func TestErasureBeforeSubjectIsKnownSticks(t *testing.T) {
	e := testEngine(t)
	e.EraseSubject("s1")
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), false, reasonSet(likeness.ReasonSubjectErased))
	if s, g := e.Stats(); s != 0 || g != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", s, g)
	}
}

func mustParse(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
