package importer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/importer"
	"likeness/internal/likenesstest"
)

type run struct {
	sum      importer.Summary
	reported map[int64]string
	progress []importer.Progress
}

func importText(t *testing.T, d *likenesstest.Deployment, text string, batch int) run {
	t.Helper()
	r := run{reported: map[int64]string{}}
	var last int64
	sum, err := importer.Run(context.Background(), strings.NewReader(text), int64(len(text)), importer.Config{
		Recorder: d.Consent, Batch: batch, ProgressEvery: time.Nanosecond,
		Report: func(l *consent.ImportLine) {
			if l.Line <= last {
				t.Errorf("line %d reported after line %d", l.Line, last)
			}
			last = l.Line
			msg := "duplicate"
			if l.Err != nil {
				msg = l.Err.Error()
			}
			r.reported[l.Line] = msg
		},
		Progress: func(p importer.Progress) { r.progress = append(r.progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sum = sum
	return r
}

func grantLine(d *likenesstest.Deployment, ext string) string {
	n, _ := d.Notices.Notice("en")
	return fmt.Sprintf(`{"external_id":%q,"jurisdiction":"EU-DE","consents":[{"purpose":"ai-training","state":"granted","time":%q,"method":"checkbox","language":"en","notice_sha256":%q}]}`,
		ext, d.Clock.Now().Add(-time.Hour).Format(time.RFC3339), n.SHA256)
}

// Lines are numbered as an editor numbers them, whatever their endings,
// blank lines and a byte-order mark; an over-long line fails alone.
func TestLinesAreNumberedAsInTheFile(t *testing.T) {
	d := likenesstest.New(t, likenesstest.Options{})
	long := `{"external_id":"` + strings.Repeat("x", importer.MaxLine) + `"}`
	text := "\xef\xbb\xbf" + grantLine(d, "a") + "\r\n" + // 1, with a BOM and CRLF
		"\r\n" + // 2, blank
		long + "\n" + // 3
		"   \t\n" + // 4, blank
		"[1, 2]\n" + // 5
		grantLine(d, "b") + "\n" + // 6
		grantLine(d, "a") + "\n" + // 7, the same as line 1 but for the line ending
		grantLine(d, "c") // 8, no final newline
	r := importText(t, d, text, 2)
	want := map[int64]string{3: "line is longer than", 5: "line must be a JSON object", 7: "duplicate"}
	if len(r.reported) != len(want) {
		t.Errorf("reported lines %v, want %v", r.reported, want)
	}
	for n, w := range want {
		if !strings.Contains(r.reported[n], w) {
			t.Errorf("line %d reported as %q, want %q", n, r.reported[n], w)
		}
	}
	if s := r.sum; s.Lines != 8 || s.Recorded != 3 || s.Failed != 2 || s.Duplicates != 1 || s.NewSubjects != 3 || s.Events != 3 {
		t.Errorf("summary %+v", s)
	}
	last := r.progress[len(r.progress)-1]
	if len(r.progress) < 2 || last.Bytes != int64(len(text)) || last.Size != int64(len(text)) || last.Lines != 8 {
		t.Errorf("progress %+v: want several reports ending at the whole input", r.progress)
	}
	for _, ext := range []string{"a", "b", "c"} {
		if _, err := d.Subjects.SubjectByExternalID(context.Background(), ext); err != nil {
			t.Errorf("person %s: %v", ext, err)
		}
	}
}

// One person's lines may fall into different batches: the person is
// created once and every line is recorded.
func TestOnePersonAcrossBatches(t *testing.T) {
	d := likenesstest.New(t, likenesstest.Options{})
	n, _ := d.Notices.Notice("en")
	at := func(h int) string { return d.Clock.Now().Add(time.Duration(-h) * time.Hour).Format(time.RFC3339) }
	lines := []string{
		fmt.Sprintf(`{"external_id":"p","jurisdiction":"EU-DE","consents":[{"purpose":"ai-training","state":"granted","time":%q,"method":"checkbox","language":"en","notice_sha256":%q}]}`, at(5), n.SHA256),
		grantLine(d, "q"),
		fmt.Sprintf(`{"external_id":"p","jurisdiction":"EU-DE","consents":[{"purpose":"ai-training","state":"withdrawn","time":%q,"method":"checkbox"}]}`, at(4)),
		fmt.Sprintf(`{"external_id":"p","jurisdiction":"EU-DE","consents":[{"purpose":"marketing-personalization","state":"granted","time":%q,"method":"checkbox","language":"en","notice_sha256":%q}]}`, at(3), n.SHA256),
	}
	r := importText(t, d, strings.Join(lines, "\n"), 1)
	if s := r.sum; s.Recorded != 4 || s.NewSubjects != 2 || len(r.reported) != 0 {
		t.Fatalf("summary %+v, reported %v", s, r.reported)
	}
	sub, err := d.Subjects.SubjectByExternalID(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	states, hist, err := d.Consent.Consents(context.Background(), sub.ID)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history of p: %d events, %v", len(hist), err)
	}
	for _, st := range states {
		want := map[string]likeness.State{"ai-training": likeness.StateWithdrawn, "marketing-personalization": likeness.StateActive}[st.Purpose]
		if want != "" && st.State != want {
			t.Errorf("%s: %s, want %s", st.Purpose, st.State, want)
		}
	}
}

// A batch that cannot be recorded stops the import with an error; what was
// recorded before stays, and running again records the rest.
func TestAnImportStoppedEarlyContinuesWhereItStopped(t *testing.T) {
	d := likenesstest.New(t, likenesstest.Options{})
	lines := make([]string, 6)
	for i := range lines {
		lines[i] = grantLine(d, fmt.Sprintf("s%d", i))
	}
	text := strings.Join(lines, "\n")
	ctx, cancel := context.WithCancel(context.Background())
	stop := &stopAfter{Recorder: d.Consent, batches: 1, cancel: cancel}
	sum, err := importer.Run(ctx, strings.NewReader(text), 0, importer.Config{Recorder: stop, Batch: 2})
	if err == nil || sum.Recorded != 2 {
		t.Fatalf("stopped import: %+v, %v; want 2 recorded and an error", sum, err)
	}
	r := importText(t, d, text, 2)
	if r.sum.AlreadyDone != 2 || r.sum.Recorded != 4 {
		t.Fatalf("second run %+v: want 2 already imported, 4 recorded", r.sum)
	}
	if n, _ := d.Store.LedgerSize(context.Background()); n != 6 {
		t.Fatalf("ledger holds %d events, want 6", n)
	}
}

// stopAfter records batches batches, then cancels the import's context.
type stopAfter struct {
	importer.Recorder
	batches int
	cancel  func()
}

func (s *stopAfter) Import(ctx context.Context, run string, lines []*consent.ImportLine) error {
	if s.batches == 0 {
		s.cancel()
		return ctx.Err()
	}
	s.batches--
	return s.Recorder.Import(ctx, run, lines)
}

// A line that names one key twice says two things (here: granted, then
// withdrawn); it fails alone, saying where, and records nothing of its
// person, while the lines around it are recorded.
func TestALineNamingAKeyTwiceFailsAlone(t *testing.T) {
	d := likenesstest.New(t, likenesstest.Options{})
	twice := strings.Replace(grantLine(d, "b"), `"state":"granted"`, `"state":"granted","state":"withdrawn"`, 1)
	if twice == grantLine(d, "b") {
		t.Fatal("the line was not changed: the test checks nothing")
	}
	r := importText(t, d, grantLine(d, "a")+"\n"+twice+"\n"+grantLine(d, "c")+"\n", 10)
	if got, want := r.reported[2], `line.consents[0] has the key "state" twice`; !strings.Contains(got, want) {
		t.Errorf("line 2 reported as %q, want %q", got, want)
	}
	if s := r.sum; s.Recorded != 2 || s.Failed != 1 || s.NewSubjects != 2 {
		t.Errorf("summary %+v, want 2 recorded, 1 failed", s)
	}
	if _, err := d.Subjects.SubjectByExternalID(context.Background(), "b"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("the person of the refused line: %v, want not found", err)
	}
}
