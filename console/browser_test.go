package console_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"likeness"
	"likeness/likenesstest"
	"likeness/vault"
)

// TestBrowserKeyboardOnly signs in and looks a person up in headless
// Chromium with the keyboard alone, keeping a screenshot of each page in
// testdata/screenshots.
func TestBrowserKeyboardOnly(t *testing.T) {
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser tests skipped: chromium not found; apt-get install chromium")
	}
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	f := newFixture(t)
	const ext = "crm-browser-1"
	sub := f.d.Subject(t, ext, "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	ctxPipe := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	if _, err := f.d.Vault.Ingest(ctxPipe, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice",
		ContentType: "audio/wav", Body: bytes.NewReader(likenesstest.WAV("console", 100))}); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	defer cancelT()
	if err := os.MkdirAll(filepath.Join("testdata", "screenshots"), 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join("testdata", "screenshots", name+".png"), buf, 0o644)
		})
	}
	// tabTo presses Tab until the element with id has the focus.
	tabTo := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for range 30 {
				if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
					return err
				}
				ok, err := chromedp.Evaluate[bool](`document.activeElement && document.activeElement.id === "`+id+`"`)(ctx, tg)
				if err != nil {
					return err
				}
				if ok {
					return nil
				}
			}
			t.Fatalf("Tab never reached #%s", id)
			return nil
		})
	}
	var overview, person string
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
		shot("console-login"),
		tabTo("key"),
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
		tabTo("external_id"),
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
