package decision

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"likeness"
	"likeness/policy"
)

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
