package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/importer"
)

const importSummary = `Brings existing people and their consents into the ledger from JSON Lines:
one person per line, with each consent's original time, method, notice and
evidence (format: docs/IMPORT.md; FILE "-" reads standard input). Every line
is checked as the API checks subjects, grants and withdrawals; events are
recorded through the ledger, marked imported. A line that fails is reported
with its number and reason, and the others load. Running the same file again
records nothing twice. Exit status 1 if any line failed.

Example line:
  {"external_id":"crm-4711","jurisdiction":"EU-DE","locale":"de","consents":[
    {"purpose":"ai-training","state":"granted","time":"2024-03-01T09:30:00Z",
     "method":"checkbox","language":"de","notice_sha256":"<64 hex digits>"}]}`

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import FILE", importSummary, stderr)
	var c config
	c.addStorageFlags(fs)
	batch := fs.Int("batch", importer.DefaultBatch, "lines recorded per ledger transaction")
	fs.IntVar(&c.store.CacheMiB, "sqlite-cache-mib", 1024, "SQLite page cache in MiB while importing, enough for the pages a batch changes\n(PostgreSQL ignores it)")
	reportFile := fs.String("report", "", "write the lines that were not recorded (number and reason) to this file instead of stderr")
	every := fs.Duration("progress", time.Second, "print a progress line to stderr this often (0: never)")
	if err := parse(fs, reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: import takes one FILE (or - for standard input)", errUsage)
	}
	if *batch <= 0 || *batch > 100_000 {
		return fmt.Errorf("%w: --batch must be between 1 and 100000", errUsage)
	}
	in, size, name, err := openInput(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	report := stderr
	if *reportFile != "" {
		f, err := os.Create(*reportFile)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		report = bw
	}
	d, err := c.open(ctx, stderr, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = likeness.WithActor(ctx, cliActor)
	sum, err := importer.Run(ctx, in, size, importer.Config{Recorder: d.consent, Batch: *batch, ProgressEvery: *every,
		Report: func(l *consent.ImportLine) { reportLine(report, l) },
		Progress: func(p importer.Progress) {
			if *every > 0 {
				fmt.Fprintln(stderr, progressLine(p))
			}
		}})
	// A checkpoint covering what was recorded anchors it for `ledger verify`
	// and for monitors, even if the import stopped early.
	if _, _, cerr := d.ledger.Checkpoint(context.WithoutCancel(ctx), true); cerr != nil && err == nil {
		err = fmt.Errorf("store a checkpoint: %w", cerr)
	}
	recordCLI(ctx, d.store, stderr, "import "+name, "")
	fmt.Fprintln(stdout, summaryLine(sum))
	if sum.ForeignNotices > 0 {
		fmt.Fprintf(stdout, "grants under a notice that is none of this deployment's: %s; they count as given under the notice version current now\n",
			thousands(sum.ForeignNotices))
	}
	if err != nil {
		return fmt.Errorf("%w (what was recorded stays; run the import again to continue)", err)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("lines that failed: %s (each reported with its number); fix them and import the file again: recorded lines are not recorded twice",
			thousands(sum.Failed))
	}
	return nil
}

// openInput opens path ("-": standard input) and returns its size if known.
func openInput(path string) (io.ReadCloser, int64, string, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), 0, "(standard input)", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, "", err
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, path, nil
}

// reportLine writes why line l was not recorded now. Lines an earlier run
// recorded are only counted: a second run over a large file would list
// every line.
func reportLine(w io.Writer, l *consent.ImportLine) {
	switch l.Outcome {
	case consent.ImportAlreadyDone:
	case consent.ImportDuplicate:
		fmt.Fprintf(w, "line %d: same as line %d: recorded once\n", l.Line, l.SameAs)
	default:
		fmt.Fprintf(w, "line %d: %s\n", l.Line, likeness.ErrorMessage(l.Err))
	}
}

func progressLine(p importer.Progress) string {
	s := "import: " + thousands(p.Lines) + " lines"
	if p.Size > 0 {
		s += fmt.Sprintf(" (%d%%)", p.Bytes*100/p.Size)
	}
	s += ", " + thousands(perSecond(p.Lines, p.Elapsed)) + " lines/s"
	if p.Failed > 0 {
		s += ", " + thousands(p.Failed) + " failed"
	}
	return s
}

func summaryLine(s importer.Summary) string {
	return fmt.Sprintf("imported %s lines in %s (%s lines/s): %s recorded (%s consents, %s new people), %s already imported, %s duplicate, %s failed",
		thousands(s.Lines), s.Elapsed.Round(time.Millisecond), thousands(perSecond(s.Lines, s.Elapsed)), thousands(s.Recorded),
		thousands(s.Events), thousands(s.NewSubjects), thousands(s.AlreadyDone), thousands(s.Duplicates), thousands(s.Failed))
}

func perSecond(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
