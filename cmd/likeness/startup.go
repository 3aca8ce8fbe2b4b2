package main

import (
	"net/http"
	"sync/atomic"

	"likeness"
	"likeness/internal/http/response"
	"likeness/internal/snapshot"
)

// startGate is what the listener serves while the replica loads its index,
// so a load balancer's health checks answer from the first second:
// /healthz says the process is alive and how far the load has come,
// /readyz answers 503, and every other route answers 503 with Retry-After.
// Nothing is decided, written or shown from a partly loaded index. Once
// open, every request goes to the real handler.
type startGate struct {
	progress *snapshot.Progress
	next     atomic.Pointer[http.Handler]
}

// open hands every later request to h.
func (g *startGate) open(h http.Handler) { g.next.Store(&h) }

func (g *startGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.next.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	report := g.progress.Report()
	switch r.URL.Path {
	case "/healthz":
		response.JSON(w, http.StatusOK, map[string]any{"status": "starting", "load": report})
	case "/readyz":
		w.Header().Set("Retry-After", "1")
		response.JSON(w, http.StatusServiceUnavailable, map[string]any{"status": "loading", "load": report})
	default:
		response.Error(w, r, nil, likeness.Errorf(likeness.EUNAVAILABLE,
			"this replica is starting (%s); retry shortly, or on another replica", report))
	}
}
