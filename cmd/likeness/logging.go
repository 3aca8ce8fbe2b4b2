package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// newLogger returns the service's logger: one line per record on w, as
// logfmt-style text ("text") or one JSON object a line ("json"), at info
// level.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format must be json or text, not %q", errUsage, format)
}

// observeFlags are serve's logging and metrics flags.
type observeFlags struct {
	logFormat   string
	metricsAddr string
}

func (o *observeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&o.logFormat, "log-format", env("LIKENESS_LOG_FORMAT", "text"), "log lines as text or json (env LIKENESS_LOG_FORMAT)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", env("LIKENESS_METRICS_ADDR", ""), "serve /metrics without a key on this address only, e.g. 127.0.0.1:9090 (env LIKENESS_METRICS_ADDR;\ndefault: /metrics on --addr, for an admin or auditor key)")
}

// serveMetrics serves h at /metrics on o.metricsAddr until ctx ends; with
// no address it does nothing. The listener is opened before it returns, so
// a taken port fails the start.
func (o *observeFlags) serveMetrics(ctx context.Context, h http.Handler, logger *slog.Logger) error {
	if o.metricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", o.metricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.metricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln)
	logger.Info("metrics are served", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
