package decision

import (
	"fmt"
	"slices"
	"strings"
	"sync"
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

func TestConsentOlderThanRenewEveryExpires(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0) // renew_every: 12mo
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)   // no renew_every
	expires := t0.AddDate(0, 12, 0)
	tests := []struct {
		name    string
		purpose string
		at      time.Time
		allow   bool
		want    likeness.Reasons
		state   likeness.State
	}{
		{"a day before", "ai-training", expires.Add(-24 * time.Hour), true, 0, likeness.StateActive},
		{"a microsecond before", "ai-training", expires.Add(-time.Microsecond), true, 0, likeness.StateActive},
		{"at the anniversary", "ai-training", expires, false, reasonSet(likeness.ReasonExpired), likeness.StateExpired},
		{"years later", "ai-training", t0.AddDate(5, 0, 0), false, reasonSet(likeness.ReasonExpired), likeness.StateExpired},
		{"no renew_every never expires", "marketing", t0.AddDate(10, 0, 0), true, 0, likeness.StateActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req("s1", tt.purpose, "image")
			r.At = tt.at
			checkDecision(t, e.Decide(r), tt.allow, tt.want)
			st, exp := e.State("s1", tt.purpose, tt.at)
			if st != tt.state {
				t.Errorf("State = %s, want %s", st, tt.state)
			}
			if tt.purpose == "ai-training" && !exp.Equal(expires) {
				t.Errorf("expires = %v, want %v", exp, expires)
			}
		})
	}

	t.Run("clock moves past renewal", func(t *testing.T) {
		now := expires.Add(-time.Second)
		e.Now = func() time.Time { return now }
		checkDecision(t, e.Decide(req("s1", "ai-training", "image")), true, 0)
		now = expires
		checkDecision(t, e.Decide(req("s1", "ai-training", "image")), false, reasonSet(likeness.ReasonExpired))
		// A renewal makes it active again.
		e.Apply(event(likeness.Renew, "s1", "ai-training", likeness.Checkbox, now))
		checkDecision(t, e.Decide(req("s1", "ai-training", "image")), true, 0)
	})
}

func TestMaterialChangeNeedsRenewal(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	for v, purpose := range map[int64]string{3: "ai-training", 4: "marketing", 5: "transcription"} {
		ev := event(likeness.Grant, "s1", purpose, likeness.Checkbox, t0)
		ev.NoticeVersion = v
		e.Apply(ev)
	}
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	e.SetPolicy(p, map[string]int64{"ai-training": 4, "marketing": 4})
	tests := []struct {
		purpose, category string
		allow             bool
		want              likeness.Reasons
		state             likeness.State
	}{
		{"ai-training", "voice", false, reasonSet(likeness.ReasonNeedsRenewal), likeness.StateNeedsRenewal}, // 3 < 4
		{"marketing", "voice", true, 0, likeness.StateActive},                                               // 4 = 4
		{"transcription", "voice", true, 0, likeness.StateActive},                                           // no entry
	}
	for _, tt := range tests {
		t.Run(tt.purpose, func(t *testing.T) {
			d := e.Decide(req("s1", tt.purpose, tt.category))
			checkDecision(t, d, tt.allow, tt.want)
			if d.EventID == "" {
				t.Error("no EventID")
			}
			if st, _ := e.State("s1", tt.purpose, time.Time{}); st != tt.state {
				t.Errorf("State = %s, want %s", st, tt.state)
			}
		})
	}

	// A renewal under the new notice counts.
	ev := event(likeness.Renew, "s1", "ai-training", likeness.Checkbox, t0.Add(time.Hour))
	ev.NoticeVersion = 4
	e.Apply(ev)
	checkDecision(t, e.Decide(req("s1", "ai-training", "voice")), true, 0)
}

func TestSetPolicyDroppingPurposeDenies(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "transcription", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "transcription", "voice")), true, 0)

	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	delete(p.Purposes, "transcription")
	p.PurposeIDs = slices.DeleteFunc(slices.Clone(p.PurposeIDs), func(s string) bool { return s == "transcription" })
	e.SetPolicy(p, nil)
	checkDecision(t, e.Decide(req("s1", "transcription", "voice")), false, reasonSet(likeness.ReasonNoConsent))
	if st, _ := e.State("s1", "transcription", time.Time{}); st != likeness.StateNone {
		t.Errorf("State = %s, want none", st)
	}
}

func TestDecisionBeforeConsentDenies(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	ev := grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	r := req("s1", "marketing", "image")
	r.At = t0.Add(-time.Microsecond)
	d := e.Decide(r)
	checkDecision(t, d, false, reasonSet(likeness.ReasonNoConsent))
	if d.EventID != ev.ID {
		t.Errorf("EventID = %q, want the later grant %q", d.EventID, ev.ID)
	}
	if st, _ := e.State("s1", "marketing", r.At); st != likeness.StateNone {
		t.Errorf("State = %s, want none", st)
	}
	r.At = t0
	checkDecision(t, e.Decide(r), true, 0)
}

func TestZeroAtMeansNow(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	now := t0.Add(-time.Hour)
	e.Now = func() time.Time { return now }
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), false, reasonSet(likeness.ReasonNoConsent))
	now = t0
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), true, 0)
}

func TestCategoryNotCoveredDenies(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "transcription", likeness.Checkbox, t0)
	tests := []struct {
		category string
		allow    bool
		want     likeness.Reasons
	}{
		{"voice", true, 0},
		{"transcript", true, 0},
		{"image", false, reasonSet(likeness.ReasonCategoryNotCovered)},
		{"biometric_template", false, reasonSet(likeness.ReasonCategoryNotCovered)},
		{"", false, reasonSet(likeness.ReasonCategoryNotCovered)},
	}
	for _, tt := range tests {
		t.Run(tt.category, func(t *testing.T) {
			checkDecision(t, e.Decide(req("s1", "transcription", tt.category)), tt.allow, tt.want)
		})
	}
}

func TestUndeclaredRecipientDenies(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "EU-DE")
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	tests := []struct {
		recipient string
		allow     bool
		want      likeness.Reasons
	}{
		{"acme-marketing", true, 0},
		{"", true, 0},
		{"acme-ml", false, reasonSet(likeness.ReasonRecipientNotDeclared)},  // declared, not for this purpose
		{"fr-lab", false, reasonSet(likeness.ReasonRecipientNotDeclared)},   // declared, in the EEA, used by no purpose
		{"stranger", false, reasonSet(likeness.ReasonRecipientNotDeclared)}, // not in the policy at all
	}
	for _, tt := range tests {
		t.Run(tt.recipient, func(t *testing.T) {
			r := req("s1", "marketing", "image")
			r.Recipient = tt.recipient
			checkDecision(t, e.Decide(r), tt.allow, tt.want)
		})
	}
}

func TestTransferNeedsLawfulMechanism(t *testing.T) {
	e := testEngine(t)
	subjects := map[string]string{
		"eu": "EU-DE", "fr": "FR", "gb": "GB", "us": "US-CA", "il": "US-IL", "ch": "CH", "bad": "Atlantis",
	}
	for id, j := range subjects {
		e.PutSubject(id, j)
		grantAt(e, id, "ai-training", likeness.Written, t0)
	}
	deny := reasonSet(likeness.ReasonTransferNotPermitted)
	tests := []struct {
		subject, recipient, country string
		allow                       bool
	}{
		// EU subject.
		{"eu", "acme-ml", "", true},         // DE recipient, same area
		{"eu", "", "FR", true},              // EEA
		{"eu", "", "NO", true},              // EEA, not EU
		{"eu", "", "JP", true},              // adequacy
		{"eu", "", "GB", true},              // adequacy
		{"eu", "", "US", false},             // US adequate only via dpf
		{"eu", "", "IN", false},             // no adequacy, no recipient
		{"eu", "gpu-cloud-us", "", true},    // US via scc
		{"eu", "dpf-us", "", true},          // US via dpf
		{"eu", "dpf-in", "", false},         // dpf means nothing outside the US
		{"eu", "bcr-in", "", true},          // bcr
		{"eu", "plain-in", "", false},       // no mechanism
		{"eu", "plain-jp", "", true},        // adequacy, no mechanism needed
		{"eu", "plain-jp", "IN", false},     // r.Country overrides the recipient's
		{"eu", "gpu-cloud-us", "DE", true},  // processed in the EEA
		{"eu", "adpartner-us", "", false},   // transfer: none
		{"eu", "adpartner-us", "AT", true},  // none, but no transfer
		{"fr", "gpu-cloud-us", "", true},    // a bare EEA code is the EU regime
		{"fr", "", "DE", true},              //
		{"fr", "", "US", false},             //
		{"gb", "", "GB", true},              // same country
		{"gb", "acme-ml", "", true},         // EEA is adequate for the UK
		{"gb", "", "JP", true},              // UK adequacy
		{"gb", "", "US", false},             //
		{"gb", "gpu-cloud-us", "", true},    // scc
		{"gb", "dpf-us", "", true},          // dpf (UK extension)
		{"gb", "plain-in", "", false},       //
		{"gb", "adpartner-us", "", false},   // none
		{"us", "", "IN", true},              // CCPA has no transfer rule
		{"us", "acme-ml", "", true},         //
		{"us", "plain-in", "", true},        //
		{"us", "adpartner-us", "", true},    // none, but US → US is no transfer
		{"us", "adpartner-us", "DE", false}, // none, abroad
		{"il", "acme-ml", "", true},         // BIPA has no transfer rule either
		{"ch", "", "CH", true},              // other regime: own country
		{"ch", "", "JP", true},              // EU list applied (conservative)
		{"ch", "acme-ml", "", false},        // DE is not on the EU list: denied, conservatively
		{"ch", "gpu-cloud-us", "", true},    // scc
		{"ch", "dpf-us", "", true},          // dpf to the US
		{"bad", "", "", true},               // no transfer: the jurisdiction does not matter
		{"bad", "acme-ml", "", false},       // unknown jurisdiction: every transfer denies
		{"bad", "", "DE", false},            //
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s to %s/%s", tt.subject, tt.recipient, tt.country), func(t *testing.T) {
			r := req(tt.subject, "ai-training", "voice") // written grants: BIPA is satisfied
			r.Recipient, r.Country = tt.recipient, tt.country
			want := likeness.Reasons(0)
			if !tt.allow {
				want = deny
			}
			checkDecision(t, e.Decide(r), tt.allow, want)
		})
	}
}

func TestBIPARequiresWrittenRelease(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("il-written", "US-IL")
	e.PutSubject("il-checkbox", "US-IL")
	e.PutSubject("ca-checkbox", "US-CA")
	e.PutSubject("eu-checkbox", "EU-DE")
	for _, s := range []string{"il-written", "il-checkbox", "ca-checkbox", "eu-checkbox"} {
		m := likeness.Checkbox
		if s == "il-written" {
			m = likeness.Written
		}
		grantAt(e, s, "ai-training", m, t0)
		grantAt(e, s, "transcription", m, t0)
	}
	written := reasonSet(likeness.ReasonWrittenReleaseRequired)
	tests := []struct {
		subject, purpose, category string
		allow                      bool
		want                       likeness.Reasons
	}{
		{"il-written", "ai-training", "voice", true, 0},
		{"il-written", "ai-training", "biometric_template", true, 0},
		{"il-checkbox", "ai-training", "voice", false, written},
		{"il-checkbox", "ai-training", "image", false, written},
		{"il-checkbox", "ai-training", "biometric_template", false, written},
		{"il-checkbox", "transcription", "transcript", true, 0}, // not biometric
		{"ca-checkbox", "ai-training", "voice", true, 0},
		{"eu-checkbox", "ai-training", "voice", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.subject+"/"+tt.category, func(t *testing.T) {
			checkDecision(t, e.Decide(req(tt.subject, tt.purpose, tt.category)), tt.allow, tt.want)
		})
	}
}

func TestEveryApplicableReasonIsReported(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("il", "US-IL")
	grantAt(e, "il", "ai-training", likeness.Verbal, t0)
	e.SetPolicy(mustParse(t), map[string]int64{"ai-training": 2})
	r := req("il", "ai-training", "video") // not covered, but biometric
	r.Recipient = "adpartner-us"
	r.Country = "IN"
	r.At = t0.AddDate(2, 0, 0)
	want := reasonSet(likeness.ReasonExpired, likeness.ReasonNeedsRenewal, likeness.ReasonWrittenReleaseRequired,
		likeness.ReasonCategoryNotCovered, likeness.ReasonTransferNotPermitted)
	d := e.Decide(r)
	checkDecision(t, d, false, want)
	if d.EventID == "" || d.EventTime != likeness.Micros(t0) {
		t.Errorf("evidence = %q@%d, want the grant", d.EventID, d.EventTime)
	}

	r.Recipient = "stranger"
	r.Purpose = "marketing" // no grant
	want = reasonSet(likeness.ReasonNoConsent, likeness.ReasonRecipientNotDeclared)
	checkDecision(t, e.Decide(r), false, want)
}

func mustParse(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyIsIdempotentAndOrderSafe(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ev := func(typ likeness.EventType, h int, ledger int64) *likeness.ConsentEvent {
		return &likeness.ConsentEvent{
			ID: fmt.Sprintf("evt_%s_%d_%d", typ, h, ledger), SubjectID: "s1", Purpose: "marketing",
			Type: typ, Method: likeness.Checkbox, NoticeVersion: 1, Time: at(h), LedgerIndex: ledger,
		}
	}
	grant1, withdraw2, grant3 := ev(likeness.Grant, 1, 10), ev(likeness.Withdraw, 2, 11), ev(likeness.Grant, 3, 12)
	// Same time, ordered by ledger index.
	sameTimeGrant, sameTimeWithdraw := ev(likeness.Grant, 5, 20), ev(likeness.Withdraw, 5, 21)
	tests := []struct {
		name   string
		events []*likeness.ConsentEvent
		allow  bool
		last   *likeness.ConsentEvent
	}{
		{"in order", []*likeness.ConsentEvent{grant1, withdraw2, grant3}, true, grant3},
		{"reversed", []*likeness.ConsentEvent{grant3, withdraw2, grant1}, true, grant3},
		{"withdrawal arrives late", []*likeness.ConsentEvent{grant1, withdraw2}, false, withdraw2},
		{"stale grant after withdrawal", []*likeness.ConsentEvent{withdraw2, grant1}, false, withdraw2},
		{"replayed", []*likeness.ConsentEvent{grant1, withdraw2, grant1, withdraw2, withdraw2}, false, withdraw2},
		{"equal time, ledger order", []*likeness.ConsentEvent{sameTimeWithdraw, sameTimeGrant}, false, sameTimeWithdraw},
		{"equal time, in order", []*likeness.ConsentEvent{sameTimeGrant, sameTimeWithdraw}, false, sameTimeWithdraw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEngine(t)
			e.PutSubject("s1", "EU-DE")
			for _, ev := range tt.events {
				e.Apply(ev)
			}
			d := e.Decide(req("s1", "marketing", "image"))
			if d.Allow != tt.allow || d.EventID != tt.last.ID {
				t.Errorf("decision = allow %v on %q, want allow %v on %q", d.Allow, d.EventID, tt.allow, tt.last.ID)
			}
			if _, g := e.Stats(); g != 1 {
				t.Errorf("grants = %d, want 1", g)
			}
		})
	}
}

func TestEventsOfUnknownSubjectsAreIgnored(t *testing.T) {
	e := testEngine(t)
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	e.Apply(nil)
	if e.HasSubject("s1") {
		t.Error("HasSubject before PutSubject")
	}
	e.Apply(&likeness.ConsentEvent{SubjectID: "s1", Type: "bogus", Purpose: "marketing", Time: t0})
	if s, g := e.Stats(); s != 0 || g != 0 {
		t.Errorf("Stats = %d, %d; want 0, 0", s, g)
	}
	e.PutSubject("s1", "EU-DE")
	if !e.HasSubject("s1") {
		t.Error("!HasSubject after PutSubject")
	}
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), false, reasonSet(likeness.ReasonNoConsent))
	grantAt(e, "s1", "marketing", likeness.Checkbox, t0)
	checkDecision(t, e.Decide(req("s1", "marketing", "image")), true, 0)
	if s, g := e.Stats(); s != 1 || g != 1 {
		t.Errorf("Stats = %d, %d; want 1, 1", s, g)
	}
}

func TestDecideBatchMatchesDecide(t *testing.T) {
	e := testEngine(t)
	for i := range 20 {
		id := fmt.Sprintf("s%d", i)
		e.PutSubject(id, []string{"EU-DE", "US-IL", "GB", "US-CA"}[i%4])
		if i%3 != 0 {
			grantAt(e, id, "ai-training", likeness.Checkbox, t0)
		}
		if i%5 == 0 {
			e.Apply(event(likeness.Withdraw, id, "ai-training", "", t0.Add(time.Hour)))
		}
	}
	var rs []likeness.DecisionRequest
	for i := range 25 {
		r := req(fmt.Sprintf("s%d", i), "ai-training", []string{"voice", "image", "video"}[(i/2)%3])
		r.Recipient = []string{"", "gpu-cloud-us", "plain-in"}[(i/4)%3]
		rs = append(rs, *r)
	}
	out := make([]likeness.Decision, len(rs))
	e.DecideBatch(rs, out)
	allowed := 0
	for i := range rs {
		if want := e.Decide(&rs[i]); out[i] != want {
			t.Errorf("batch[%d] = %+v, Decide = %+v", i, out[i], want)
		}
		if out[i].Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(rs) {
		t.Errorf("%d of %d allowed: the test does not exercise both answers", allowed, len(rs))
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	e := testEngine(t)
	e.PutSubject("s1", "US-IL")
	grantAt(e, "s1", "ai-training", likeness.Checkbox, t0)
	r := req("s1", "ai-training", "voice")
	r.Recipient = "gpu-cloud-us"
	rs := []likeness.DecisionRequest{*r, *req("s1", "marketing", "image"), *req("nobody", "x", "y")}
	out := make([]likeness.Decision, len(rs))
	var d likeness.Decision
	if n := testing.AllocsPerRun(100, func() { d = e.Decide(r) }); n != 0 {
		t.Errorf("Decide: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { e.DecideBatch(rs, out) }); n != 0 {
		t.Errorf("DecideBatch: %v allocations, want 0", n)
	}
	_ = d
}

func TestEventIDsSurviveArenaCompaction(t *testing.T) {
	e := testEngine(t)
	e.ids.compactMin = 1 // compact as soon as half the arena is garbage
	const subjects = 50
	for i := range subjects {
		e.PutSubject(fmt.Sprintf("s%d", i), "EU-DE")
	}
	held := e.Decide(req("s0", "marketing", "image")) // no grant yet
	var last [subjects]string
	for round := range 20 {
		for i := range subjects {
			ev := grantAt(e, fmt.Sprintf("s%d", i), "marketing", likeness.Checkbox, t0.Add(time.Duration(round)*time.Second))
			last[i] = ev.ID
		}
		if round == 3 {
			held = e.Decide(req("s0", "marketing", "image"))
		}
	}
	heldID := held.EventID
	for i := range subjects {
		if d := e.Decide(req(fmt.Sprintf("s%d", i), "marketing", "image")); d.EventID != last[i] {
			t.Fatalf("s%d: EventID = %q, want %q", i, d.EventID, last[i])
		}
	}
	if e.ids.total > 4*e.ids.live {
		t.Errorf("arena holds %d bytes for %d live: not compacted", e.ids.total, e.ids.live)
	}
	if held.EventID != heldID || len(heldID) != 30 {
		t.Errorf("an id handed out before compaction changed: %q", held.EventID)
	}
}

// TestConcurrentApplyAndDecide is for -race: writers record and withdraw
// consent, swap the policy and compact the id arena while readers decide.
func TestConcurrentApplyAndDecide(t *testing.T) {
	e := testEngine(t)
	e.ids.compactMin = 1
	const subjects = 64
	for i := range subjects {
		e.PutSubject(fmt.Sprintf("s%d", i), "EU-DE")
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for n := range 2000 {
				id := fmt.Sprintf("s%d", (n*7+w)%subjects)
				typ := likeness.Grant
				if n%2 == 1 {
					typ = likeness.Withdraw
				}
				e.Apply(&likeness.ConsentEvent{
					ID: fmt.Sprintf("evt_w%d_%06d", w, n), SubjectID: id, Purpose: "marketing", Type: typ,
					Method: likeness.Checkbox, Time: t0.Add(time.Duration(n) * time.Second), LedgerIndex: int64(n*2 + w),
				})
				if n%500 == 0 {
					e.SetPolicy(mustParse(t), nil)
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			rs := make([]likeness.DecisionRequest, subjects)
			out := make([]likeness.Decision, subjects)
			for i := range rs {
				rs[i] = *req(fmt.Sprintf("s%d", i), "marketing", "image")
			}
			for range 200 {
				e.DecideBatch(rs, out)
				for i := range out {
					if out[i].Allow && out[i].EventID == "" {
						t.Errorf("allow without evidence")
					}
				}
				d := e.Decide(&rs[0])
				_ = d.EventID + "" // read the shared string
				e.State("s1", "marketing", time.Time{})
				e.Stats()
			}
		})
	}
	wg.Wait()
}

func TestAssetDecisionsFollowSubjectAndAsset(t *testing.T) {
	e := New(mustParse(t))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.PutSubject("s1", "EU-DE")
	e.Apply(&likeness.ConsentEvent{ID: "evt_1", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox, NoticeVersion: 1, Time: t0})
	e.PutAsset(&likeness.Asset{ID: "ast_1", SubjectID: "s1", Category: "voice", RetainUntil: t0.Add(48 * time.Hour)})
	at := t0.Add(time.Hour)
	ask := func(r likeness.DecisionRequest) likeness.Decision {
		r.At = at
		return e.Decide(&r)
	}
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); !d.Allow || d.SubjectID != "s1" || d.EventID != "evt_1" {
		t.Fatalf("consented asset: %+v", d)
	}
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training", Category: "image"}); d.Allow || !d.Reasons.Has(likeness.ReasonCategoryNotCovered) {
		t.Fatalf("asking about another category than the asset's: %+v", d)
	}
	at = t0.Add(49 * time.Hour)
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); d.Allow || !d.Reasons.Has(likeness.ReasonAssetExpired) {
		t.Fatalf("past retention, before any sweeper: %+v", d)
	}
	at = t0.Add(time.Hour)
	e.EraseAsset("ast_1")
	if d := ask(likeness.DecisionRequest{AssetID: "ast_1", Purpose: "ai-training"}); d.Allow || !d.Reasons.Has(likeness.ReasonAssetErased) {
		t.Fatalf("erased asset: %+v", d)
	}
}

// A withdrawal committed after a grant wins even when a replica with a
// fast clock stamped the grant later than the withdrawal.
func TestLaterLedgerEventWinsOverClockSkew(t *testing.T) {
	e := New(mustParse(t))
	e.PutSubject("s1", "EU-DE")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Apply(&likeness.ConsentEvent{ID: "evt_g", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Grant, Method: likeness.Checkbox,
		NoticeVersion: 1, Time: base.Add(5 * time.Second), LedgerIndex: 0})
	e.Apply(&likeness.ConsentEvent{ID: "evt_w", SubjectID: "s1", Purpose: "ai-training", Type: likeness.Withdraw,
		Time: base, LedgerIndex: 1})
	d := e.Decide(&likeness.DecisionRequest{SubjectID: "s1", Purpose: "ai-training", Category: "voice", At: base.Add(10 * time.Second)})
	if d.Allow || !d.Reasons.Has(likeness.ReasonWithdrawn) {
		t.Fatalf("decision after a withdrawal stamped earlier than the grant: %+v", d)
	}
}
