// Package importer brings existing people and their consents into likeness
// from JSON Lines (docs/IMPORT.md): one person per line, with the consent
// events to record for them at their original times.
//
// It streams: one goroutine reads and decodes lines into batches while the
// consent service records the previous batch, and no more than a few batches
// are held at any time, so memory does not grow with the input. Each line is
// decoded under the API's rules (internal/http/input) and recorded by
// consent.Service.Import, which checks it as the API checks grants and
// withdrawals and records it once however often the input is imported. A
// line that fails is reported with its number and reason while the others
// load.
package importer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/http/input"
)

// Recorder records a batch of decoded lines. *consent.Service implements it.
type Recorder interface {
	Import(ctx context.Context, run string, lines []*consent.ImportLine) error
}

// MaxLine is the longest line accepted, newline excluded.
const MaxLine = 1 << 20

// DefaultBatch is how many lines share one ledger transaction by default.
// Large: every line adds entries at random places of several indexes (ids
// are random), and a transaction writes each page it touched once, so the
// more lines share a transaction, the fewer pages each line costs: importing
// 300,000 lines into SQLite wrote 1.6 GB in batches of 50,000, 4.9 GB in
// batches of 10,000.
const DefaultBatch = 50_000

// Config holds what an import runs with. Recorder is required.
type Config struct {
	Recorder Recorder
	// Run names this run in the marks of the lines it records (default: a
	// fresh id), so a line repeated within the input is told apart from a
	// line an earlier run recorded.
	Run   string
	Batch int // lines per batch; DefaultBatch if 0
	// Report is called for every line that was not recorded now (failed,
	// duplicate, or recorded by an earlier run), in line order.
	Report func(*consent.ImportLine)
	// Progress is called with the counts so far at most every
	// ProgressEvery (0: never) and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Now           func() time.Time
}

// Progress is how far an import has come.
type Progress struct {
	Summary
	Bytes int64 // input read so far
	Size  int64 // the input's size, 0 if unknown
}

// Summary counts what an import did. Lines counts every line read, blank
// ones included; the outcomes count non-blank lines.
type Summary struct {
	Lines       int64
	Recorded    int64 // lines recorded now
	AlreadyDone int64 // lines an earlier run recorded
	Duplicates  int64 // lines repeating an earlier line of this run
	Failed      int64
	Events      int64 // consent events recorded now
	NewSubjects int64 // people created now
	// ForeignNotices counts grants whose notice is none of this
	// deployment's, recorded under the notice version current at import.
	ForeignNotices int64
	Elapsed        time.Duration
}

// Run imports every line of r, whose size is size bytes (0 if unknown, for
// progress). It returns an error only when the import could not go on (the
// input could not be read, a batch could not be recorded): lines recorded
// before stay recorded, and running the same input again records only what
// is missing. Failed lines are in the Summary and the Report, not the error.
func Run(ctx context.Context, r io.Reader, size int64, cfg Config) (Summary, error) {
	if cfg.Recorder == nil {
		return Summary{}, fmt.Errorf("importer: a Recorder is required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Run == "" {
		cfg.Run = likeness.NewID("imp")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	var readErr error
	go func() {
		defer close(batches)
		readErr = read(ctx, r, cfg.Batch, batches)
	}()
	start := cfg.Now()
	w := &writer{cfg: cfg, start: start, size: size, lastProgress: start}
	var err error
	for b := range batches {
		if err = w.write(ctx, b); err != nil {
			cancel()
			for range batches { // let the reader stop
			}
			break
		}
	}
	w.sum.Elapsed = cfg.Now().Sub(w.start)
	if cfg.Progress != nil {
		cfg.Progress(Progress{Summary: w.sum, Bytes: w.bytes, Size: size})
	}
	if err == nil && readErr != nil && !errors.Is(readErr, context.Canceled) {
		err = readErr
	}
	if err == nil {
		err = ctx.Err()
	}
	return w.sum, err
}

// batch is a run of decoded lines and how far into the input they end.
type batch struct {
	lines []*consent.ImportLine
	read  int64 // lines read, blank ones included
	bytes int64
}

// read decodes r into batches of n non-blank lines.
func read(ctx context.Context, r io.Reader, n int, out chan<- batch) error {
	br := bufio.NewReaderSize(r, MaxLine+2)
	var no, off int64
	cur := batch{}
	flush := func() bool {
		cur.read, cur.bytes = no, off
		select {
		case out <- cur:
			cur = batch{lines: make([]*consent.ImportLine, 0, n)}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		raw, err := br.ReadSlice('\n')
		off += int64(len(raw))
		long := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of an over-long line
			var more []byte
			more, err = br.ReadSlice('\n')
			off += int64(len(more))
		}
		if len(raw) > 0 {
			no++
			if l := decode(no, raw, long); l != nil {
				cur.lines = append(cur.lines, l)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("importer: read line %d: %w", no+1, err)
		}
		if len(cur.lines) >= n && !flush() {
			return ctx.Err()
		}
	}
	if (len(cur.lines) > 0 || no > cur.read) && !flush() {
		return ctx.Err()
	}
	return nil
}

var bom = []byte("\xef\xbb\xbf")

// decode turns line no into an ImportLine; nil for a blank line.
func decode(no int64, raw []byte, long bool) *consent.ImportLine {
	l := &consent.ImportLine{Line: no}
	if long {
		l.Err = likeness.Errorf(likeness.EINVALID, "line is longer than %d bytes", MaxLine)
		return l
	}
	if no == 1 {
		raw = bytes.TrimPrefix(raw, bom)
	}
	data := bytes.TrimSpace(raw)
	if len(data) == 0 {
		return nil
	}
	l.Digest = sha256.Sum256(data)
	var rec likeness.ImportRecord
	if err := input.UnmarshalLine(data, &rec); err != nil {
		l.Err = err
		return l
	}
	if err := input.Locale("locale", rec.Locale); err != nil {
		l.Err = err
		return l
	}
	l.Record = &rec
	l.Key = consent.ImportKey(rec.ImportID, l.Digest)
	return l
}

// writer records batches and keeps the counts.
type writer struct {
	cfg          Config
	start        time.Time
	size, bytes  int64
	sum          Summary
	lastProgress time.Time
}

func (w *writer) write(ctx context.Context, b batch) error {
	if len(b.lines) > 0 {
		if err := w.cfg.Recorder.Import(ctx, w.cfg.Run, b.lines); err != nil {
			return fmt.Errorf("importer: lines %d–%d: %w", b.lines[0].Line, b.lines[len(b.lines)-1].Line, err)
		}
	}
	for _, l := range b.lines {
		switch l.Outcome {
		case consent.ImportRecorded:
			w.sum.Recorded++
			w.sum.Events += int64(len(l.Events))
			w.sum.ForeignNotices += int64(l.ForeignNotices)
			if l.NewSubject {
				w.sum.NewSubjects++
			}
			continue
		case consent.ImportAlreadyDone:
			w.sum.AlreadyDone++
		case consent.ImportDuplicate:
			w.sum.Duplicates++
		default:
			w.sum.Failed++
		}
		if w.cfg.Report != nil {
			w.cfg.Report(l)
		}
	}
	w.sum.Lines, w.bytes = b.read, b.bytes
	if now := w.cfg.Now(); w.cfg.Progress != nil && w.cfg.ProgressEvery > 0 && now.Sub(w.lastProgress) >= w.cfg.ProgressEvery {
		w.lastProgress = now
		w.sum.Elapsed = now.Sub(w.start)
		w.cfg.Progress(Progress{Summary: w.sum, Bytes: w.bytes, Size: w.size})
	}
	return nil
}
