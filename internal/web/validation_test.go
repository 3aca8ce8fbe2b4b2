package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/likenesstest"
)

// TestPortalShowsAConsentBeingCheckedAndWhyItWasNotAccepted: a person
// who consents to a purpose the policy holds for a reviewer is told so on
// the confirmation page and in their portal, can withdraw it meanwhile,
// and after a rejection sees it was not accepted and the reviewer's
// reason, with the verdict's own receipt.
func TestPortalShowsAConsentBeingCheckedAndWhyItWasNotAccepted(t *testing.T) {
	e := newEnvPolicy(t, "", likenesstest.ValidatingPolicy(t))
	sub := e.subject("u-val", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training", "voice-transcription"}
	done := b.post(path, form)
	if done.status != 200 || !strings.Contains(done.body, "checks these before they count") {
		t.Fatalf("confirmation: %d %s", done.status, done.body)
	}
	if e.allows(sub, "ai-training", "image") || !e.allows(sub, "voice-transcription", "voice") {
		t.Fatal("decisions: ai-training must wait for a reviewer, voice-transcription not")
	}

	me := e.signIn(sub)
	p := me.get("/me")
	if p.status != 200 || !strings.Contains(p.body, "Being checked") || !strings.Contains(p.body, "checks this consent before it counts") ||
		!strings.Contains(p.body, `value="ai-training"`) {
		t.Fatalf("portal while pending: %d %s", p.status, p.body)
	}

	var pending *likeness.ConsentEvent
	for _, ev := range e.events(sub) {
		if ev.Purpose == "ai-training" {
			pending = ev
		}
	}
	reviewer := likeness.WithActor(context.Background(), likeness.Actor{Operator: "rita", Role: likeness.Role(likeness.OperatorReviewer)})
	verdict, err := e.svc.Validate(reviewer, pending.ID, consent.Reject, "the voice on the recording is not yours")
	if err != nil {
		t.Fatal(err)
	}
	p = me.get("/me")
	for _, want := range []string{"Not accepted", "We could not accept this consent: the voice on the recording is not yours",
		"Consent checked and not accepted", "reason: the voice on the recording is not yours"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("portal after rejection lacks %q:\n%s", want, p.body)
		}
	}
	if r := me.get("/me/receipts/" + verdict.ID); r.status != http.StatusOK || !strings.Contains(r.body, ".") {
		t.Fatalf("the rejection's receipt: %d %s", r.status, r.body)
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("a rejected consent allows")
	}
}
