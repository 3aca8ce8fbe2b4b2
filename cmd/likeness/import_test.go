package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/ledger"
	"likeness/policy"
)

// importFixture is an import file whose lines exercise every outcome, and
// what the test expects of them.
type importFixture struct {
	lines    []string
	failures map[int]string // line number → what its report line says
	// liveSubject existed before the import and withdrew ai-training live.
	liveSubject string
}

func newImportFixture(t *testing.T, d *deployment) importFixture {
	t.Helper()
	en, err := policy.Default().Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	at := func(daysAgo int) string {
		return now.Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)
	}
	grant := func(purpose string, daysAgo int, extra string) string {
		return fmt.Sprintf(`{"purpose":%q,"state":"granted","time":%q,"method":"checkbox","language":"en","notice_sha256":%q%s}`,
			purpose, at(daysAgo), en.SHA256, extra)
	}
	line := func(ext, juris string, consents ...string) string {
		return fmt.Sprintf(`{"external_id":%q,"jurisdiction":%q,"consents":[%s]}`, ext, juris, strings.Join(consents, ","))
	}
	// A person the service knew before the import, who withdrew live.
	live := newSubject(t, d, "imp-live")
	grantOne(t, d, live, "ai-training", likeness.Checkbox, nil)
	withdrawOne(t, d, live, "ai-training")

	return importFixture{liveSubject: live, lines: []string{
		/* 1 */ line("imp-1", "EU-DE", grant("ai-training", 30, `,"evidence":{"form":"signup-v2"}`)),
		/* 2 */ `{"external_id":"imp-2", "consents": [`,
		/* 3 */ line("imp-3", "EU-DE", grant("no-such-purpose", 30, "")),
		/* 4 */ "",
		/* 5 */ line("imp-5", "US-CA",
			`{"purpose":"voice-transcription","state":"granted","time":"`+at(90)+`","method":"written","language":"en","notice_text":"Our old notice.","evidence":{"document":"scan-5.pdf"}}`,
			`{"purpose":"voice-transcription","state":"withdrawn","time":"`+at(60)+`","method":"checkbox"}`),
		/* 6 */ line("imp-1", "EU-DE", grant("ai-training", 30, `,"evidence":{"form":"signup-v2"}`)),
		/* 7 */ `{"external_id":"imp-7","jurisdiction":"EU-DE","guardian":true,"consents":[` + grant("profile-photo", 3, "") + `]}`,
		/* 8 */ line("imp-8", "EU-FR", `{"purpose":"voice-transcription","state":"granted","time":"`+at(2)+`","method":"verbal","language":"de","notice_version":1,"evidence":{"recording":"rec-8"}}`),
		/* 9 */ line("imp-9", "EU-DE", grant("ai-training", -3, "")),
		/* 10 */ line("imp-live", "EU-DE", grant("ai-training", 10, "")),
		/* 11 */ `{"external_id":"imp-11","jurisdiction":"EU-DE","locale":"not a locale!","consents":[]}`,
		/* 12 */ line("imp-12", "EU-DE"),
	}, failures: map[int]string{
		2:  "line 2: malformed JSON: the line ends early",
		3:  `line 3: consents[0]: unknown purpose "no-such-purpose"`,
		6:  "line 6: same as line 1: recorded once",
		7:  "line 7: consents[0]: this subject is a minor",
		9:  "line 9: consents[0]: time ",
		11: `line 11: locale "not a locale!" is not a BCP 47 language tag`,
	}}
}

func (f importFixture) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "consents.jsonl")
	writeFile(t, path, strings.Join(f.lines, "\n")+"\n")
	return path
}

var summaryRE = regexp.MustCompile(`imported (\d+) lines in .*: (\d+) recorded \((\d+) consents, (\d+) new people\), (\d+) already imported, (\d+) duplicate, (\d+) failed`)

// checkSummary checks the summary line against recorded, consents, new
// people, already imported, duplicates and failed, in that order.
func checkSummary(t *testing.T, out string, want ...int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	got := fmt.Sprint(m[2:])
	if w := fmt.Sprint(want); strings.Trim(w, "[]") != strings.Trim(got, "[]") {
		t.Fatalf("summary counts %s, want %s:\n%s", got, w, out)
	}
}

func TestImportLoadsGoodLinesReportsBadOnesAndRecordsNothingTwice(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			ctx := context.Background()
			f := deploymentFiles{dir: t.TempDir(), db: backendDSN(t, backend)}
			d := openDeployment(t, f)
			fx := newImportFixture(t, d)
			before, _ := d.store.LedgerSize(ctx)
			d.Close()
			file := fx.write(t)
			args := append([]string{"import", "--progress", "0"}, append(f.flags(), file)...)

			code, out, errOut := run(t, args...)
			if code != 1 {
				t.Fatalf("import with failing lines: exit %d, want 1\n%s\n%s", code, out, errOut)
			}
			for n, want := range fx.failures {
				if !strings.Contains(errOut, want) {
					t.Errorf("the report lacks line %d (%q):\n%s", n, want, errOut)
				}
			}
			if n := len(regexp.MustCompile(`(?m)^line \d+: `).FindAllString(errOut, -1)); n != len(fx.failures) {
				t.Errorf("the report has other lines than the %d expected:\n%s", len(fx.failures), errOut)
			}
			// Recorded: lines 1, 5 (two events), 8, 10 and 12 (a person
			// only); imp-live existed.
			checkSummary(t, out, 5, 5, 4, 0, 1, 5)

			d = openDeployment(t, f)
			after, _ := d.store.LedgerSize(ctx)
			if after != before+5 {
				t.Fatalf("ledger grew by %d events, want 5", after-before)
			}
			checkImportedDecisions(t, d, fx)
			checkImportedReceipt(t, d)
			d.Close()

			// Again: nothing new is recorded, the same lines fail.
			code, out, errOut = run(t, args...)
			if code != 1 {
				t.Fatalf("second import: exit %d\n%s\n%s", code, out, errOut)
			}
			checkSummary(t, out, 0, 0, 0, 5, 1, 5)
			d = openDeployment(t, f)
			if again, _ := d.store.LedgerSize(ctx); again != after {
				t.Fatalf("importing the same file again recorded %d more events", again-after)
			}
			d.Close()

			code, out, errOut = run(t, append([]string{"ledger", "verify"}, f.flags()...)...)
			if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("ledger ok: %d events", after)) {
				t.Fatalf("ledger verify after import = %d\n%s\n%s", code, out, errOut)
			}
		})
	}
}

// checkImportedDecisions checks decisions rest on the imported history.
func checkImportedDecisions(t *testing.T, d *deployment, fx importFixture) {
	t.Helper()
	ctx := context.Background()
	decide := func(ext, purpose, category string) likeness.Decision {
		t.Helper()
		sub, err := d.subjects.SubjectByExternalID(ctx, ext)
		if err != nil {
			t.Fatalf("person %s: %v", ext, err)
		}
		dec, err := d.consent.Decide(&likeness.DecisionRequest{SubjectID: sub.ID, Purpose: purpose, Category: category})
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	if dec := decide("imp-1", "ai-training", "voice"); !dec.Allow {
		t.Errorf("imported grant does not allow: %v", dec.Reasons.Names())
	}
	if dec := decide("imp-5", "voice-transcription", "voice"); dec.Allow {
		t.Error("an imported withdrawal after an imported grant still allows")
	}
	if dec := decide("imp-8", "voice-transcription", "voice"); !dec.Allow {
		t.Errorf("grant under notice version 1 does not allow: %v", dec.Reasons.Names())
	}
	if dec := decide("imp-live", "ai-training", "voice"); dec.Allow {
		t.Error("an old imported grant undid a withdrawal recorded before the import")
	}
	for _, ext := range []string{"imp-3", "imp-7", "imp-9", "imp-11"} {
		if _, err := d.subjects.SubjectByExternalID(ctx, ext); likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Errorf("person of a failed line %s exists (%v)", ext, err)
		}
	}
	if _, err := d.subjects.SubjectByExternalID(ctx, "imp-12"); err != nil {
		t.Errorf("a line with no consents did not create its person: %v", err)
	}

	sub, _ := d.subjects.SubjectByExternalID(ctx, "imp-5")
	_, hist, err := d.consent.Consents(ctx, sub.ID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("imp-5 history: %d events, %v", len(hist), err)
	}
	g := hist[0]
	sum := sha256.Sum256([]byte("Our old notice."))
	latest, _ := d.store.LatestNotice(ctx)
	if !g.Imported || g.Method != likeness.Written || g.Evidence["document"] != "scan-5.pdf" || g.Collector != "import" ||
		g.NoticeSHA256 != hex.EncodeToString(sum[:]) || g.NoticeVersion != latest.Version || time.Since(g.Time) < 89*24*time.Hour {
		t.Errorf("imported grant as stored: %+v", g)
	}
}

// checkImportedReceipt checks a receipt of an imported event says so and
// verifies.
func checkImportedReceipt(t *testing.T, d *deployment) {
	t.Helper()
	ctx := context.Background()
	sub, _ := d.subjects.SubjectByExternalID(ctx, "imp-1")
	_, hist, err := d.consent.Consents(ctx, sub.ID)
	if err != nil || len(hist) != 1 {
		t.Fatalf("imp-1 history: %v, %v", hist, err)
	}
	rs, err := d.ledger.Receipts(ctx, d.notices.Policy(), sub, hist)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.ledger.Signer().Verifier().VerifyReceipt(rs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !c.Imported || !c.Event.Imported || c.Event.Version != ledger.LeafV2 {
		t.Errorf("receipt of an imported grant: imported %v, event imported %v, leaf v%d", c.Imported, c.Event.Imported, c.Event.Version)
	}
}

func TestImportHelpAndUsage(t *testing.T) {
	code, _, errOut := run(t, "import", "--help")
	if code != 0 || !strings.Contains(errOut, "Usage: likeness import FILE") || !strings.Contains(errOut, "docs/IMPORT.md") {
		t.Fatalf("import --help = %d:\n%s", code, errOut)
	}
	if code, _, _ := run(t, "import"); code != 2 {
		t.Errorf("import without FILE: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "import", "--batch", "0", "x.jsonl"); code != 2 {
		t.Errorf("import --batch 0: exit %d, want 2", code)
	}
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	if code, _, errOut := run(t, "import", "--data-dir", t.TempDir(), missing); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("import of a missing file: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("import created its input")
	}
}
