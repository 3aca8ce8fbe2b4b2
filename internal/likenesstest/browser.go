package likenesstest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Browser starts Debian's headless Chromium for t and returns its context,
// closed when the test ends and at the latest after BrowserTimeout, so a
// page that never shows what a test waits for fails the test instead of
// hanging it. Without chromium, or in -short mode, t is
// skipped with one line. The flags keep Chromium off the network this
// machine does not have.
func Browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser tests skipped: chromium not found; apt-get install chromium")
	}
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, BrowserTimeout)
	t.Cleanup(cancelT)
	return ctx
}

// BrowserTimeout bounds a browser test: generous, since a loaded machine
// running the race detector can take tens of seconds for a scenario.
const BrowserTimeout = 3 * time.Minute

// Screenshots returns the action that saves a full-page PNG named NAME.png
// of the current page. The files go to the directory named by the
// LIKENESS_SCREENSHOTS environment variable when it is set (to look at the
// pages after a run), else to a temporary directory of t: a test run never
// writes into the source tree.
func Screenshots(t testing.TB) func(name string) chromedp.Action[chromedp.Void] {
	t.Helper()
	dir := os.Getenv("LIKENESS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshots: %v", err)
	}
	return func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
}

// TabTo presses Tab until the focused element matches the CSS selector sel,
// as a keyboard user moves through a page; it fails after 60 presses.
func TabTo(sel string) chromedp.Action[chromedp.Void] {
	quoted, _ := json.Marshal(sel)
	focused := `!!document.activeElement && document.activeElement.matches(` + string(quoted) + `)`
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for range 60 {
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
				return err
			}
			ok, err := chromedp.Evaluate[bool](focused)(ctx, tg)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		return fmt.Errorf("Tab never reached %s", sel)
	})
}
