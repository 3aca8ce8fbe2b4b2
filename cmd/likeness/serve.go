package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"likeness/internal/httpapi"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) error {
	name, summary := "serve", "Runs the HTTP API (/v1), the consent page and privacy portal (/consent, /me), the\noperator console (/console), /healthz, /metrics and the background workers (following\nother replicas, the retention sweep, event delivery).\nWith no flags it keeps everything under ./likeness-data (SQLite, blobs, a local key)."
	if demo {
		name, summary = "demo", "Serves with the example policy and a few hundred synthetic subjects with consents,\nthen prints an admin key and curl lines to try. Data goes to a fresh folder unless --data-dir is given."
	}
	fs := newFlags(name, summary, stderr)
	var c config
	c.addStorageFlags(fs)
	addr := fs.String("addr", env("LIKENESS_ADDR", "127.0.0.1:8080"), "address to listen on (env LIKENESS_ADDR)")
	baseURL := fs.String("base-url", env("LIKENESS_BASE_URL", ""), "public origin of consent and portal links, e.g. https://privacy.example.com (env LIKENESS_BASE_URL; default: the request's host)")
	allowedHosts := fs.String("allowed-hosts", env("LIKENESS_ALLOWED_HOSTS", ""), "comma-separated host names links may be built for when --base-url is unset (env LIKENESS_ALLOWED_HOSTS; default: the --addr host and localhost; demo: any)")
	secureCookies := fs.Bool("secure-cookies", env("LIKENESS_SECURE_COOKIES", "") == "1", "mark portal cookies Secure (behind a TLS proxy) (env LIKENESS_SECURE_COOKIES=1)")
	var ev eventFlags
	ev.add(fs)
	subjects := 300
	if demo {
		fs.IntVar(&subjects, "subjects", 300, "synthetic subjects to create")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if demo && !flagSet(fs, "data-dir") && os.Getenv("LIKENESS_DATA_DIR") == "" {
		dir, err := os.MkdirTemp("", "likeness-demo-")
		if err != nil {
			return err
		}
		c.dataDir = dir
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := c.open(ctx, stderr, logger)
	if err != nil {
		return err
	}
	defer d.Close()

	adminToken := os.Getenv("LIKENESS_ADMIN_TOKEN")
	if adminToken != "" {
		if err := httpapi.EnsureAdminToken(ctx, d.store, adminToken, time.Now()); err != nil {
			return err
		}
	} else {
		if demo {
			_, adminToken, err = httpapi.CreateAPIKey(ctx, d.store, "demo admin", "admin", time.Now())
		} else {
			adminToken, err = httpapi.EnsureFirstAdmin(ctx, d.store, time.Now())
		}
		if err != nil {
			return err
		}
		if adminToken != "" {
			fmt.Fprintf(stdout, "Created an admin API key; it is shown only this once:\n\n    %s\n\n", adminToken)
		}
	}

	api := httpapi.New(httpapi.Config{Consent: d.consent, Vault: d.vault, Datasets: d.datasets, Incidents: d.incidents, Store: d.store, Logger: logger})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	handler, err := withPages(ctx, d, api, *baseURL, linkHosts(*allowedHosts, *addr, demo), *secureCookies)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	url := "http://" + ln.Addr().String()

	if demo {
		if err := loadDemo(ctx, d, subjects, stdout); err != nil {
			ln.Close()
			return err
		}
		printDemo(stdout, url, adminToken, d)
	}

	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	go d.consent.Follow(workCtx, 250*time.Millisecond)
	go d.vault.Sweep(workCtx, time.Minute, 500)
	go d.vault.Follow(workCtx, time.Second)
	stopEvents, err := ev.start(workCtx, d, stdout, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopEvents()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("likeness is listening", "url", url, "db", d.store.Dialect(), "data_dir", c.dataDir, "policy", d.policy.Name)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}
