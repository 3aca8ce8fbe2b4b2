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
	form := hidden(t, b.Get(path), "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training", "voice-transcription"}
	done := b.Post(path, form)
	if done.Status != 200 || !strings.Contains(done.Body, "checks these before they count") {
		t.Fatalf("confirmation: %d %s", done.Status, done.Body)
	}
	if e.allows(sub, "ai-training", "image") || !e.allows(sub, "voice-transcription", "voice") {
		t.Fatal("decisions: ai-training must wait for a reviewer, voice-transcription not")
	}

	me := e.signIn(sub)
	p := me.Get("/me")
	if p.Status != 200 || !strings.Contains(p.Body, "Being checked") || !strings.Contains(p.Body, "checks this consent before it counts") ||
		!strings.Contains(p.Body, `value="ai-training"`) {
		t.Fatalf("portal while pending: %d %s", p.Status, p.Body)
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
	p = me.Get("/me")
	for _, want := range []string{"Not accepted", "We could not accept this consent: the voice on the recording is not yours",
		"Consent checked and not accepted", "reason: the voice on the recording is not yours"} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("portal after rejection lacks %q:\n%s", want, p.Body)
		}
	}
	if r := me.Get("/me/receipts/" + verdict.ID); r.Status != http.StatusOK || !strings.Contains(r.Body, ".") {
		t.Fatalf("the rejection's receipt: %d %s", r.Status, r.Body)
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("a rejected consent allows")
	}
}
