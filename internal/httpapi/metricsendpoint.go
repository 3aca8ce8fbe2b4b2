package httpapi

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"likeness"
)

// metricsReaders may scrape /metrics on the API's own listener. The counts
// it shows (requests, erasures by outcome, dead letters) say how the
// deployment is used, so it is not public.
var metricsReaders = []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor}

// registerMetrics registers the store collector and cfg.Collectors on the
// registry, and serves it at GET /metrics unless cfg.SeparateMetrics.
func (s *Server) registerMetrics(cfg Config) {
	c := &storeCollector{store: cfg.Store, timeout: cfg.StatsTimeout, now: s.now, log: s.log}
	if c.timeout <= 0 {
		c.timeout = DefaultStatsTimeout
	}
	if st, ok := cfg.Store.(StatsStore); ok {
		c.stats = st
	}
	cfg.Registry.MustRegister(c)
	// Extra collectors (replica lag, other components) join here.
	cfg.Registry.MustRegister(cfg.Collectors...)

	s.metricsHandler = promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
	if cfg.SeparateMetrics {
		return
	}
	s.mux.Handle("GET /metrics", s.wrap(Route{Method: "GET", Pattern: "/metrics", Roles: metricsReaders,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			s.metricsHandler.ServeHTTP(w, r)
			return nil
		}}))
}

// MetricsHandler serves the metrics without authentication, for a listener
// of their own (serve --metrics-addr) that only the monitoring system reaches.
func (s *Server) MetricsHandler() http.Handler { return s.metricsHandler }

// slogPrinter passes promhttp's errors to the server's logger.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) {
	p.s.log.Error("metrics: could not gather", "err", fmt.Sprint(v...))
}

var _ prometheus.Collector = (*storeCollector)(nil)
