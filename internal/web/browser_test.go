package web_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"likeness"
	"likeness/internal/likenesstest"
)

// TestBrowser drives the pages in headless Chromium as a person would:
// keyboard only where it matters, one browser for every flow, and a
// screenshot of each page (kept in $LIKENESS_SCREENSHOTS when set). It is
// one scenario from start to finish; splitting it would hide the order.
func TestBrowser(t *testing.T) {
	browserCtx := likenesstest.Browser(t, 1024, 900)
	e := newEnv(t)
	tab := func(t *testing.T) context.Context {
		// A browser context of its own: no cookies carried between flows.
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(900, 900, chromedp.EmulateScale(0.6))); err != nil {
			t.Fatal(err)
		}
		ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
		t.Cleanup(cancelT)
		return ctx
	}
	run := func(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	shot := likenesstest.Screenshots(t)
	t.Run("GiveConsentWithTheKeyboardOnly", func(t *testing.T) {
		sub := e.subject("b-give", "EU-DE", "en")
		url := e.srv.URL + e.consentLink(sub, allPurposes, "")
		ctx := tab(t)
		var text string
		run(t, ctx,
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`#p-ai-training`)),
			shot("consent-en"),
			likenesstest.TabTo(`#p-ai-training`),
			chromedp.KeyEvent(" "),
			likenesstest.TabTo(`button[value="accept"]`),
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`ul.granted`)),
			into(&text, chromedp.Text(chromedp.CSS(`main`))),
			shot("consent-accepted"),
		)
		if !strings.Contains(text, "Train our portrait and voice AI models") {
			t.Fatalf("confirmation: %q", text)
		}
		evs := e.events(sub)
		if len(evs) != 1 || evs[0].Purpose != "ai-training" || evs[0].Method != likeness.Checkbox {
			t.Fatalf("events %+v, want one checkbox grant for ai-training", evs)
		}
	})

	t.Run("DeclineAll", func(t *testing.T) {
		sub := e.subject("b-decline", "EU-DE", "en")
		url := e.srv.URL + e.consentLink(sub, allPurposes, "")
		ctx := tab(t)
		var text string
		run(t, ctx,
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`button[value="decline"]`)),
			chromedp.Click(chromedp.CSS(`button[value="decline"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#done`)),
			into(&text, chromedp.Text(chromedp.CSS(`h1`))),
			shot("consent-declined"),
		)
		if text != "Nothing was recorded" || len(e.events(sub)) != 0 {
			t.Fatalf("decline: %q, %d events", text, len(e.events(sub)))
		}
	})

	t.Run("SwitchLanguage", func(t *testing.T) {
		sub := e.subject("b-lang", "EU-DE", "en")
		url := e.srv.URL + e.consentLink(sub, allPurposes, "")
		ctx := tab(t)
		var text, lang string
		run(t, ctx,
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`a[hreflang="de"]`)),
			chromedp.Click(chromedp.CSS(`a[hreflang="de"]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[hreflang="de"][aria-current="true"]`)),
			into(&text, chromedp.Text(chromedp.CSS(`main`))),
			into(&lang, chromedp.Evaluate[string](`document.documentElement.lang`)),
			shot("consent-de"),
		)
		for _, want := range []string{"Alle ablehnen", "Auswahl bestätigen", "Training unserer Porträt- und Stimm-KI-Modelle", "Ihre Rechte"} {
			if !strings.Contains(text, want) {
				t.Errorf("German page lacks %q", want)
			}
		}
		if lang != "de" {
			t.Errorf("html lang = %q", lang)
		}
	})

	t.Run("IllinoisWrittenReleaseOnAPhone", func(t *testing.T) {
		sub := e.subject("b-il", "US-IL", "en")
		url := e.srv.URL + e.consentLink(sub, []string{"ai-training"}, "https://shop.example/back")
		ctx := tab(t)
		run(t, ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1), chromedp.EmulateMobile),
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`#signature`)),
			shot("consent-illinois-phone"),
			chromedp.Click(chromedp.CSS(`#p-ai-training`)),
			chromedp.SendKeys(chromedp.CSS(`#signature`), "Ada Lovelace"),
			chromedp.Click(chromedp.CSS(`button[value="accept"]`)),
			chromedp.WaitVisible(chromedp.CSS(`ul.granted`)),
		)
		evs := e.events(sub)
		if len(evs) != 1 || evs[0].Method != likeness.Written || evs[0].Evidence["signature"] != "Ada Lovelace" {
			t.Fatalf("events %+v", evs)
		}
	})

	t.Run("PortalWithdrawExportErase", func(t *testing.T) {
		sub := e.subject("b-portal", "EU-DE", "en")
		e.grant(sub, "ai-training", "voice-transcription", "marketing-personalization")
		photo := e.upload(sub, "marketing-personalization", "image") // kept: the withdrawal below is of ai-training
		e.upload(sub, "ai-training", "image")                        // erased by it
		url := e.srv.URL + e.portalLink(sub)
		ctx := tab(t)
		var flash, erasedRow, download string
		run(t, ctx,
			chromedp.Navigate(url),
			chromedp.WaitVisible(chromedp.CSS(`#consents-h`)), // the login page moves on to /me by itself
			shot("portal"),
			likenesstest.TabTo(`form[action="/me/withdraw"] button`),
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
			into(&flash, chromedp.Text(chromedp.CSS(`.flash`))),
			chromedp.ScrollIntoView(chromedp.CSS(`#withdrawn-h`)),
			into(&erasedRow, chromedp.Text(chromedp.CSS(`section[aria-labelledby="withdrawn-h"] tbody`))),
			into(&download, chromedp.Evaluate[string](`document.querySelector('section[aria-labelledby="withdrawn-h"] a[download]').download`)),
			shot("portal-withdrawn"),
		)
		if !strings.Contains(flash, "withdrawn") || e.allows(sub, "ai-training", "image") {
			t.Fatalf("withdrawal: flash %q, still allowed: %v", flash, e.allows(sub, "ai-training", "image"))
		}
		if !strings.Contains(erasedRow, "Train our portrait and voice AI models") || !strings.HasSuffix(download, ".jws") {
			t.Errorf("what the withdrawal erased: row %q, download %q; want the purpose and a .jws certificate", erasedRow, download)
		}

		// The export, fetched with the session cookie the browser holds.
		var b64 string
		run(t, ctx, into(&b64, chromedp.Evaluate[string](`fetch("/me/export").then(r => r.arrayBuffer()).then(b => {
			let s = ""; new Uint8Array(b).forEach(c => s += String.fromCharCode(c)); return btoa(s); })`, chromedp.EvalAwaitPromise)))
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		files := unzip(t, raw)
		for _, name := range []string{"subject.json", "consents.json", "media/" + photo + ".jpg"} {
			if _, ok := files[name]; !ok {
				t.Errorf("export lacks %s", name)
			}
		}
		if n := len(e.events(sub)); countPrefix(files, "receipts/") != n {
			t.Errorf("export has %d receipts, want %d", countPrefix(files, "receipts/"), n)
		}

		var title string
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`#erase`)),
			chromedp.WaitVisible(chromedp.CSS(`#erase-confirm`)),
			shot("erase-confirm"),
			chromedp.Click(chromedp.CSS(`#erase-confirm`)),
			chromedp.WaitVisible(chromedp.CSS(`#certificate`)),
			into(&title, chromedp.Text(chromedp.CSS(`h1`))),
			shot("erased"),
		)
		if title != "Your data is erased" || e.allows(sub, "voice-transcription", "voice") {
			t.Fatalf("erase: %q", title)
		}
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/me"), chromedp.WaitVisible(chromedp.CSS(`h1`)), into(&title, chromedp.Text(chromedp.CSS(`h1`))))
		if strings.Contains(title, "privacy page") && !strings.Contains(title, "sign in") {
			t.Fatalf("portal still open after erasure: %q", title)
		}
	})

	t.Run("ReceiptChecksInTheBrowser", func(t *testing.T) {
		sub := e.subject("b-receipt", "EU-DE", "en")
		e.grant(sub, "ai-training")
		ctx := tab(t)
		var result, text string
		run(t, ctx,
			chromedp.Navigate(e.srv.URL+e.portalLink(sub)),
			chromedp.WaitVisible(chromedp.CSS(`#receipt-check`)),
			likenesstest.TabTo(`button[data-receipt]`),
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`#receipt-result[data-result="verified"], #receipt-result[data-result="failed"]`)),
			into(&result, chromedp.Evaluate[string](`document.getElementById("receipt-result").dataset.result`)),
			into(&text, chromedp.Text(chromedp.CSS(`#receipt-result`))),
			shot("portal-receipt-verified"),
		)
		if result != "verified" || !strings.Contains(text, "Train our portrait and voice AI models") {
			t.Fatalf("the person's own receipt: %s: %q", result, text)
		}
		// The same receipt with one claim changed, as a file the person
		// kept: the check refuses it, still without asking the server.
		jws := e.receipts(sub)[0]
		parts := strings.Split(jws, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"grant"`, `"withdraw"`, 1)))
		file := filepath.Join(t.TempDir(), "changed.jws")
		if err := os.WriteFile(file, []byte(strings.Join(parts, ".")), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS(`#receipt-file`), []string{file}),
			chromedp.WaitVisible(chromedp.CSS(`#receipt-result[data-result="failed"]`)),
			into(&text, chromedp.Text(chromedp.CSS(`#receipt-result`))),
			shot("portal-receipt-changed"),
		)
		if !strings.Contains(text, "signature does not verify") {
			t.Fatalf("a changed receipt: %q", text)
		}
	})

	t.Run("ReusedLinkPage", func(t *testing.T) {
		sub := e.subject("b-gone", "EU-DE", "de")
		url := e.srv.URL + e.portalLink(sub)
		e.browser().Get(strings.TrimPrefix(url, e.srv.URL))
		ctx := tab(t)
		var title string
		run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`h1`)), into(&title, chromedp.Text(chromedp.CSS(`h1`))), shot("link-used-de"))
		if title != "Dieser Link wurde bereits verwendet" {
			t.Fatalf("reused link page: %q", title)
		}
	})
}

func countPrefix(m map[string][]byte, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// into runs a as a step and keeps its value in *v.
func into[T any](v *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		*v, err = a(ctx, tg)
		return err
	})
}

// receipts signs the person's receipts as the portal would.
func (e *env) receipts(sub string) []string {
	e.t.Helper()
	s, err := e.d.Subjects.Subject(context.Background(), sub)
	if err != nil {
		e.t.Fatal(err)
	}
	rs, err := e.d.Ledger.Receipts(context.Background(), e.d.Notices.Policy(), s, e.events(sub))
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}
