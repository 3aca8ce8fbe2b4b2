package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

// observed is the outermost middleware of every route: it times the call,
// counts it in the route's metrics and writes one request log line.
//
// The line names the route pattern ("/v1/subjects/{id}"), never the path,
// which holds subject and asset ids; it carries no query, header, token or
// body either, only method, status, duration and the id of the API key that
// made the call (set by the handler on the statusWriter once authorized).
// Successful decisions, the hot path at tens of thousands a second, are
// logged at debug level; every other call at info, and 5xx answers at warn.
func (s *Server) observed(rt Route, next func(*statusWriter, *http.Request)) http.Handler {
	rm := s.metrics.forRoute(rt)
	hot := rt.Pattern == "/v1/decisions" || rt.Pattern == "/v1/decisions/batch"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next(sw, r)
		d := time.Since(start)
		rm.observe(sw.status, d)
		level := slog.LevelInfo
		switch {
		case sw.status >= 500:
			level = slog.LevelWarn
		case hot && sw.status < 400:
			level = slog.LevelDebug
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("route", rt.Pattern), slog.String("method", rt.Method), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("key", sw.keyID))
	})
}
