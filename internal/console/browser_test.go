package console_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// TestBrowserKeyboardOnly signs in and looks a person up in headless
// Chromium with the keyboard alone, keeping a screenshot of each page (in
// $LIKENESS_SCREENSHOTS when set).
func TestBrowserKeyboardOnly(t *testing.T) {
	f := newFixture(t)
	const ext = "crm-browser-1"
	sub := f.d.Subject(t, ext, "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	ctxPipe := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	if _, err := f.d.Vault.Ingest(ctxPipe, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice",
		ContentType: "audio/wav", Body: bytes.NewReader(likenesstest.WAV("console", 100))}); err != nil {
		t.Fatal(err)
	}

	ctx := likenesstest.Browser(t, 1100, 900)
	shot := likenesstest.Screenshots(t)
	var overview, person string
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		shot("console-login"),
		likenesstest.TabTo("#key"),
		chromedp.KeyEvent(f.keys[likeness.RoleAuditor]),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/logout"]`)), // signed in
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			s, err := chromedp.Text(chromedp.CSS(`main`))(ctx, tg)
			overview = s
			return err
		}),
		shot("console-overview"),
		chromedp.Navigate(f.srv.URL+"/console/subjects"),
		chromedp.WaitVisible(chromedp.CSS(`#external_id`)),
		likenesstest.TabTo("#external_id"),
		chromedp.KeyEvent(ext),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			s, err := chromedp.Text(chromedp.CSS(`main`))(ctx, tg)
			person = s
			return err
		}),
		shot("console-subject"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(overview, "Sign in") || !strings.Contains(person, sub) || !strings.Contains(person, "Train our portrait and voice AI models") {
		t.Fatalf("after signing in with the keyboard:\noverview: %.300s\nperson: %.300s", overview, person)
	}
}

// TestBrowserReviewerApprovesWithTheKeyboardAlone signs a reviewer in
// with password and TOTP code, opens the validation queue from the
// navigation, opens the waiting consent, gives a reason and approves it,
// all in headless Chromium with Tab, Enter and typing only; then the
// decision allows and the ledger holds the approval.
func TestBrowserReviewerApprovesWithTheKeyboardAlone(t *testing.T) {
	f := newOperatorFixtureWith(t, likenesstest.Options{Policy: likenesstest.ValidatingPolicy(t)})
	f.create("rita", likeness.OperatorReviewer, true)
	sub, g := f.pending(collectorActor, "browser-val-1", likeness.Checkbox, nil)
	if f.allows(sub) {
		t.Fatal("a consent waiting for validation allows")
	}

	ctx := likenesstest.Browser(t, 1100, 900)
	shot := likenesstest.Screenshots(t)
	var done string
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		likenesstest.TabTo(`#name`),
		chromedp.KeyEvent("rita"),
		likenesstest.TabTo(`#password`),
		chromedp.KeyEvent(operatorPassword),
		likenesstest.TabTo(`#code`),
		chromedp.KeyEvent(f.code("rita")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/logout"]`)), // signed in
		likenesstest.TabTo(`nav a[href="/console/validations"]`),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#review-`+g.ID)),
		shot("console-validations"),
		likenesstest.TabTo(`#review-`+g.ID),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#reason`)),
		shot("console-validation"),
		likenesstest.TabTo(`#reason`),
		chromedp.KeyEvent("heard the person agree on the call"),
		likenesstest.TabTo(`#approve`),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`p[role="status"]`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			s, err := chromedp.Text(chromedp.CSS(`p[role="status"]`))(ctx, tg)
			done = s
			return err
		}),
		shot("console-validation-approved"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(done, "Approved") {
		t.Fatalf("after approving with the keyboard the page says %q", done)
	}
	if !f.allows(sub) {
		t.Fatal("the decision still denies after the reviewer approved in the browser")
	}
	v, err := f.d.Store.Validation(context.Background(), g.ID)
	if err != nil || v.State != likeness.ValidationStateApproved || v.Reviewer != "operator:rita" {
		t.Fatalf("the queue after approval: %+v, %v", v, err)
	}
	ev, err := f.d.Store.Event(context.Background(), v.OutcomeID)
	if err != nil || ev.Type != likeness.Validated || ev.Refers != g.ID {
		t.Fatalf("the approval in the ledger: %+v, %v", ev, err)
	}
}
