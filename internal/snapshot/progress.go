package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Progress says how far a start-up load has come, for the log and the
// health endpoints. It is safe for concurrent use; the zero value is ready
// to use.
type Progress struct {
	mu    sync.Mutex
	phase string
	unit  string
	total int64
	doneF func() int64 // when set, done is read from it

	done  atomic.Int64
	ready atomic.Bool
}

// Report is one reading of a Progress.
type Report struct {
	Phase string `json:"phase"`           // "snapshot", "subjects", "assets", "events", "tail", "ready"
	Unit  string `json:"unit,omitempty"`  // what Done and Total count
	Done  int64  `json:"done"`            // so far in this phase
	Total int64  `json:"total,omitempty"` // 0 when not known
}

// start begins a phase counting total units (0: not known).
func (p *Progress) start(phase, unit string, total int64, done func() int64) {
	p.mu.Lock()
	p.phase, p.unit, p.total, p.doneF = phase, unit, total, done
	p.done.Store(0)
	p.mu.Unlock()
}

func (p *Progress) add(n int) { p.done.Add(int64(n)) }

func (p *Progress) finish() {
	p.start("ready", "", 0, nil)
	p.ready.Store(true)
}

// Ready reports whether the load has finished.
func (p *Progress) Ready() bool { return p.ready.Load() }

// Report returns where the load is now.
func (p *Progress) Report() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Report{Phase: p.phase, Unit: p.unit, Total: p.total, Done: p.done.Load()}
	if p.doneF != nil {
		r.Done = p.doneF()
	}
	if r.Phase == "" {
		r.Phase = "starting"
	}
	return r
}

// String is the report as a log line says it: "loaded 400k/1M subjects".
func (r Report) String() string {
	switch {
	case r.Unit == "bytes":
		return fmt.Sprintf("read %s/%s of the snapshot", mib(r.Done), mib(r.Total))
	case r.Total > 0:
		return fmt.Sprintf("loaded %s/%s %s", count(r.Done), count(r.Total), r.Unit)
	case r.Unit != "":
		return fmt.Sprintf("loaded %s %s", count(r.Done), r.Unit)
	}
	return r.Phase
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// count writes 400000 as 400k and 1000000 as 1M.
func count(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return trimZero(fmt.Sprintf("%.1fM", float64(n)/1e6))
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func trimZero(s string) string {
	if len(s) > 3 && s[len(s)-3:] == ".0M" {
		return s[:len(s)-3] + "M"
	}
	return s
}

// logEvery logs the progress every interval until ctx ends.
func (p *Progress) logEvery(ctx context.Context, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r := p.Report()
			log.Info("starting: "+r.String()+"…", "phase", r.Phase, "done", r.Done, "total", r.Total)
		}
	}
}
