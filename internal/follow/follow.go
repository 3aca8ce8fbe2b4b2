// Package follow keeps a replica's in-memory state in step with what other
// replicas write to the shared database: consent events (erasures among
// them) reach the decision index and the ledger tree, rectified subjects and
// created or erased assets reach the index. It is the one place that polls,
// with one overlap, and [Follower.Wake] runs a catch-up at once, so a push
// notification can shorten the wait without changing the loop.
package follow

import (
	"context"
	"log/slog"
	"time"

	"likeness"
	"likeness/internal/replica"
)

// Overlap is how far before the last successful poll each poll re-reads, so
// a replica whose clock runs behind is not missed; applying a change twice
// is harmless.
const Overlap = 10 * time.Second

// Store reads what changed since a time, on any replica.
type Store interface {
	// SubjectsUpdatedSince returns subjects rectified at or after since.
	SubjectsUpdatedSince(ctx likeness.Context, since time.Time) ([]*likeness.Subject, error)
	// AssetsChangedSince returns assets created or erased at or after since.
	AssetsChangedSince(ctx likeness.Context, since time.Time) ([]*likeness.Asset, error)
}

// Events applies consent events committed since its last call to the
// decision index and the ledger tree. *consent.Service implements it.
type Events interface {
	Sync(ctx context.Context) error
}

// Index is the decision index. *decision.Engine implements it; it must be
// safe for concurrent use.
type Index interface {
	PutSubject(id, jurisdiction string)
	PutAsset(a *likeness.Asset)
}

// Config holds what a Follower is built from; Store, Events and Index are
// required.
type Config struct {
	Store  Store
	Events Events
	Index  Index
	// Tracker, if set, hears of every successful catch-up: the revision
	// applied (from Revision) and when the catch-up began.
	Tracker  *replica.Tracker
	Revision func() int64
	// Timeout bounds one catch-up, so a database that stops answering
	// never hangs the follower; 0 is 2 s.
	Timeout time.Duration
	Now     func() time.Time // nil is time.Now
	Logger  *slog.Logger
	// Since is where the first catch-up starts reading subjects and
	// assets: when the load that filled memory began, less Overlap. The
	// zero time means Overlap before Run starts, which misses changes
	// made during a load that took longer than Overlap.
	Since time.Time
}

// Follower runs catch-ups on a timer or when woken. Its methods are safe
// for concurrent use; Run runs at most once at a time.
type Follower struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Follower.
func New(cfg Config) *Follower {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return &Follower{cfg: cfg, wake: make(chan struct{}, 1)}
}

// StartFrom sets where Run's first catch-up starts reading subjects and
// assets (see Config.Since); call it before Run.
func (f *Follower) StartFrom(since time.Time) { f.cfg.Since = since }

// Wake asks Run for a catch-up now. It never blocks: a wake-up already
// pending covers this one.
func (f *Follower) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run catches up at once, then every interval and whenever woken, until
// ctx ends. Each catch-up is bounded by the configured timeout; after a
// successful one the tracker learns the revision applied and that the
// replica heard from the database when the catch-up began.
func (f *Follower) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	since := f.cfg.Since
	if since.IsZero() {
		since = f.cfg.Now().Add(-Overlap)
	}
	failing := false
	for {
		began := f.cfg.Now()
		cctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		err := f.CatchUp(cctx, since)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				f.cfg.Logger.Warn("following the database failed; decisions will deny as stale once the staleness bound passes", "err", err)
			}
			failing = true
			// read the same span again next time
		case err == nil:
			if failing {
				f.cfg.Logger.Info("following the database again")
			}
			failing = false
			since = began.Add(-Overlap)
			if f.cfg.Tracker != nil && f.cfg.Revision != nil {
				f.cfg.Tracker.CaughtUp(f.cfg.Revision(), began)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
	}
}

// CatchUp applies consent events not yet applied, and subjects and assets
// changed at or after since. Events are applied even when a later step
// fails; the error is the first failure.
func (f *Follower) CatchUp(ctx context.Context, since time.Time) error {
	first := f.cfg.Events.Sync(ctx)
	subs, err := f.cfg.Store.SubjectsUpdatedSince(ctx, since)
	if err != nil {
		return firstOf(first, err)
	}
	for _, sub := range subs {
		f.cfg.Index.PutSubject(sub.ID, sub.Jurisdiction)
	}
	assets, err := f.cfg.Store.AssetsChangedSince(ctx, since)
	if err != nil {
		return firstOf(first, err)
	}
	for _, a := range assets {
		f.cfg.Index.PutAsset(a)
	}
	return first
}

func firstOf(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
