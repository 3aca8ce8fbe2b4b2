// Package replica knows how current this process's in-memory state is. The
// follower reports each catch-up with the database (the ledger revision it
// has applied, and when); decisions ask two questions before answering from
// memory: has this replica applied the revision the caller already saw (a
// consistency token, like Zanzibar's zookies), and has it heard from the
// database recently enough (bounded staleness)? A replica that cannot say yes
// refuses rather than answer from older state.
//
// A revision is the ledger size after a write: every consent event,
// withdrawal and erasure advances it, so a token from any such write orders
// it against every decision that carries the token.
package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBehind is returned by WaitFor when the replica has not applied the
// asked-for revision within the wait: answer 503 with a Retry-After header.
var ErrBehind = errors.New("replica: behind the requested revision")

// Tracker is safe for concurrent use. The zero value is not usable; use New.
type Tracker struct {
	maxStale time.Duration
	now      func() time.Time

	applied  atomic.Int64 // highest revision applied to memory
	caughtUp atomic.Int64 // unix nanoseconds of the last successful catch-up
	ready    atomic.Bool  // the initial load has finished

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every advance
}

// New returns a tracker that calls the replica stale once maxStale has
// passed since its last catch-up. now is injected for tests (nil: time.Now).
func New(maxStale time.Duration, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{maxStale: maxStale, now: now, changed: make(chan struct{})}
}

// MaxStaleness is the bound this tracker enforces.
func (t *Tracker) MaxStaleness() time.Duration { return t.maxStale }

// Applied records that memory now reflects every write up to revision
// (a local write, or one learned from the database). Revisions never go back.
func (t *Tracker) Applied(revision int64) {
	for {
		cur := t.applied.Load()
		if revision <= cur || t.applied.CompareAndSwap(cur, revision) {
			break
		}
	}
	t.broadcast()
}

// CaughtUp records a successful catch-up with the database at time at,
// having applied everything up to revision, and marks the replica ready.
func (t *Tracker) CaughtUp(revision int64, at time.Time) {
	t.caughtUp.Store(at.UnixNano())
	t.ready.Store(true)
	t.Applied(revision)
}

func (t *Tracker) broadcast() {
	t.mu.Lock()
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// Revision is the highest revision applied to memory.
func (t *Tracker) Revision() int64 { return t.applied.Load() }

// CaughtUpAt is when the last successful catch-up began (the zero time if
// none has): everything committed before it is in memory, up to clock skew
// between replicas.
func (t *Tracker) CaughtUpAt() time.Time {
	at := t.caughtUp.Load()
	if at == 0 {
		return time.Time{}
	}
	return time.Unix(0, at)
}

// Lag is how long ago the replica last caught up with the database (zero
// value meaning never: a very large duration).
func (t *Tracker) Lag() time.Duration {
	at := t.caughtUp.Load()
	if at == 0 {
		return time.Duration(1<<63 - 1)
	}
	return t.now().Sub(time.Unix(0, at))
}

// Stale reports whether the replica has not caught up within its bound, or
// has not finished its first load: decisions must then deny.
func (t *Tracker) Stale() bool { return !t.ready.Load() || t.Lag() > t.maxStale }

// Ready reports whether the first load has finished and the replica is
// within its staleness bound (what /readyz answers).
func (t *Tracker) Ready() bool { return !t.Stale() }

// WaitFor returns nil once revision has been applied, waiting at most max
// (or until ctx ends) for the follower to bring it in; then ErrBehind.
func (t *Tracker) WaitFor(ctx context.Context, revision int64, max time.Duration) error {
	if t.applied.Load() >= revision {
		return nil
	}
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		t.mu.Lock()
		ch := t.changed
		t.mu.Unlock()
		if t.applied.Load() >= revision {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			if t.applied.Load() >= revision {
				return nil
			}
			return ErrBehind
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
