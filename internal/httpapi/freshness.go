package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"likeness"
	"likeness/internal/replica"

	"github.com/prometheus/client_golang/prometheus"
)

// Consistency tokens. Every write that records consent events answers with
// the revision it committed at, in the Likeness-Revision header and a
// "revision" field; a client that passes it back (the Likeness-Min-Revision
// header, or "min_revision" in a decision body) is never answered from a
// state older than its own write, on any replica.
const (
	RevisionHeader    = "Likeness-Revision"
	MinRevisionHeader = "Likeness-Min-Revision"
	// RevisionWait bounds how long a replica behind a requested revision
	// waits for its follower before answering 503.
	RevisionWait = 500 * time.Millisecond
)

// revisionOf is the revision a write of evs committed at: one past the
// ledger index of its last event.
func revisionOf(evs ...*likeness.ConsentEvent) int64 {
	var rev int64
	for _, ev := range evs {
		rev = max(rev, ev.LedgerIndex+1)
	}
	return rev
}

// markRevision tells the client the revision of its write, and this
// replica's tracker that its memory holds the ledger up to the tree's size.
func (s *Server) markRevision(w http.ResponseWriter, rev int64) {
	if s.replica != nil {
		s.replica.Applied(int64(s.ledger.Tree().Size()))
	}
	w.Header().Set(RevisionHeader, strconv.FormatInt(rev, 10))
}

// awaitRevision holds r until this replica has applied the revision the
// client asks for (header, or fromBody when larger), for at most
// RevisionWait; then it refuses with 503 and Retry-After rather than answer
// from older state.
func (s *Server) awaitRevision(w http.ResponseWriter, r *http.Request, fromBody int64) error {
	want := fromBody
	if h := r.Header.Get(MinRevisionHeader); h != "" {
		v, err := strconv.ParseInt(h, 10, 64)
		if err != nil || v < 0 {
			return likeness.Errorf(likeness.EINVALID, "%s must be a revision number from a %s header", MinRevisionHeader, RevisionHeader)
		}
		want = max(want, v)
	}
	if want < 0 {
		return likeness.Errorf(likeness.EINVALID, "min_revision must not be negative")
	}
	if want == 0 || s.replica == nil {
		return nil
	}
	if err := s.replica.WaitFor(r.Context(), want, RevisionWait); err != nil {
		w.Header().Set("Retry-After", "1")
		return likeness.Errorf(likeness.EUNAVAILABLE, "this replica has not yet caught up with revision %d; retry (another replica may answer)", want)
	}
	return nil
}

// stale reports whether decisions must deny because this replica has not
// heard from the database within its staleness bound.
func (s *Server) stale() bool { return s.replica != nil && s.replica.Stale() }

// staleDecision is what a stale replica answers: deny, and say why.
var staleDecision = likeness.Decision{Reasons: likeness.Reasons(likeness.ReasonReplicaStale)}

// handleReady answers 200 once the replica has loaded its state and while
// it is within its staleness bound, 503 otherwise: a load balancer sends
// traffic only to ready replicas.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.replica == nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
		return
	}
	body := map[string]any{"revision": s.replica.Revision(), "max_staleness_seconds": s.replica.MaxStaleness().Seconds()}
	if lag := s.replica.Lag(); lag < time.Duration(1<<62) {
		body["seconds_since_catch_up"] = lag.Seconds()
	}
	if !s.replica.Ready() {
		body["status"] = "not_ready"
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

// replicaMetrics tell an operator how current this replica is: the revision
// it has applied (compare replicas: the lowest is the furthest behind), the
// seconds since it last caught up with the database, and whether it is ready.
func replicaMetrics(t *replica.Tracker) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_replica_revision",
			Help: "Ledger revision this replica has applied to memory."},
			func() float64 { return float64(t.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_replica_seconds_since_catch_up",
			Help: "Seconds since this replica last caught up with the database (+Inf before the first)."},
			func() float64 {
				if lag := t.Lag(); lag < time.Duration(1<<62) {
					return lag.Seconds()
				}
				return math.Inf(1)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likeness_replica_ready",
			Help: "1 when this replica is loaded and within its staleness bound, else 0 (decisions deny as replica_stale)."},
			func() float64 {
				if t.Ready() {
					return 1
				}
				return 0
			}),
	}
}
