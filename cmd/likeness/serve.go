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
	"runtime/debug"
	"strings"
	"time"

	"likeness/internal/consent"
	"likeness/internal/follow"
	"likeness/internal/httpapi"
	"likeness/internal/outbox"
	"likeness/internal/ratelimit"
	"likeness/internal/snapshot"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) error {
	m := NewMain(demo, stdout, stderr)
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	var serveErr error
	select {
	case serveErr = <-m.Err():
	case <-ctx.Done():
		m.logger.Info("shutting down")
	}
	if err := m.Close(); err != nil {
		return err
	}
	return serveErr
}

// Main is the `likeness serve` program (and `demo`, which adds synthetic
// subjects): ParseFlags fills its fields, Run opens the deployment and
// starts serving and the background work, Close stops everything. End-to-end
// tests build one, run it, and read URL and AdminKey.
type Main struct {
	Config        config
	Addr          string // "127.0.0.1:0" picks a free port
	BaseURL       string
	AllowedHosts  string // comma-separated; see --allowed-hosts
	SecureCookies bool
	// Proxies are the reverse proxies or load balancers in front (see
	// --trusted-proxies): requests from them are limited per the client
	// they forward for.
	Proxies      ratelimit.Proxies
	Events       eventFlags
	Observe      observeFlags
	Demo         bool
	DemoSubjects int
	// AdminToken, if set, is made an admin API key (LIKENESS_ADMIN_TOKEN).
	AdminToken string
	Mail       mailFlags
	// Snapshots says when the decision snapshot is rewritten.
	Snapshots snapshot.Policy

	Stdout, Stderr io.Writer

	logger     *slog.Logger
	url        string
	adminKey   string
	d          *deployment
	srv        *http.Server
	errc       chan error
	stopWork   context.CancelFunc
	closeSinks func()
	snapshots  *snapshot.Writer // nil until serving, or with --snapshot off
}

// NewMain returns a Main with the defaults of `likeness serve`.
func NewMain(demo bool, stdout, stderr io.Writer) *Main {
	return &Main{Demo: demo, DemoSubjects: 300, Addr: "127.0.0.1:8080", Stdout: stdout, Stderr: stderr,
		Snapshots: snapshot.Policy{Every: 10 * time.Minute, Events: 100_000},
		errc:      make(chan error, 1), stopWork: func() {}, closeSinks: func() {}}
}

// ParseFlags fills m from the command line and the environment.
func (m *Main) ParseFlags(args []string) error {
	name, summary := "serve", "Runs the HTTP API (/v1), the consent page and privacy portal (/consent, /me), the\noperator console (/console), /healthz, /metrics and the background workers (following\nother replicas, the retention sweep, event delivery).\nWith no flags it keeps everything under ./likeness-data (SQLite, blobs, a local key)."
	if m.Demo {
		name, summary = "demo", "Serves with the example policy and a few hundred synthetic subjects with consents,\nthen prints an admin key and curl lines to try. Data goes to a fresh folder unless --data-dir is given."
	}
	fs := newFlags(name, summary, m.Stderr)
	m.Config.addStorageFlags(fs)
	m.Config.addUploadFlags(fs)
	fs.StringVar(&m.Addr, "addr", env("LIKENESS_ADDR", m.Addr), "address to listen on (env LIKENESS_ADDR)")
	fs.StringVar(&m.BaseURL, "base-url", env("LIKENESS_BASE_URL", ""), "public origin of consent and portal links, e.g. https://privacy.example.com (env LIKENESS_BASE_URL; default: the request's host)")
	fs.StringVar(&m.AllowedHosts, "allowed-hosts", env("LIKENESS_ALLOWED_HOSTS", ""), "comma-separated host names links may be built for when --base-url is unset (env LIKENESS_ALLOWED_HOSTS; default: the --addr host and localhost; demo: any)")
	proxies := fs.String("trusted-proxies", env("LIKENESS_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDR prefixes of the reverse proxies or load balancers in front:\nrate limits count the client they name in X-Forwarded-For, not them (env LIKENESS_TRUSTED_PROXIES;\ndefault none: every request is its peer's, whatever it forwards)")
	fs.BoolVar(&m.SecureCookies, "secure-cookies", env("LIKENESS_SECURE_COOKIES", "") == "1", "mark portal cookies Secure (behind a TLS proxy) (env LIKENESS_SECURE_COOKIES=1)")
	fs.DurationVar(&m.Config.maxStaleness, "max-staleness", envDuration("LIKENESS_MAX_STALENESS", time.Second), "how long a replica may go without catching up with the database before its\ndecisions deny with reason replica_stale and /readyz turns not-ready (env LIKENESS_MAX_STALENESS)")
	fs.BoolVar(&m.Config.adoptBlobs, "adopt-blob-store", false, "accept a blob store that lacks the marker the database records (a store replaced\non purpose) and mark it as the deployment's; without it such a store is refused")
	m.Config.checkBlobs = true
	fs.DurationVar(&m.Snapshots.Every, "snapshot-every", envDuration("LIKENESS_SNAPSHOT_EVERY", m.Snapshots.Every), "rewrite the decision snapshot this often when the ledger grew (env LIKENESS_SNAPSHOT_EVERY)")
	fs.Int64Var(&m.Snapshots.Events, "snapshot-events", envInt("LIKENESS_SNAPSHOT_EVENTS", m.Snapshots.Events), "and as soon as the ledger grew by this many events (env LIKENESS_SNAPSHOT_EVENTS)")
	m.Events.add(fs)
	m.Mail.add(fs)
	m.Observe.add(fs)
	if m.Demo {
		fs.IntVar(&m.DemoSubjects, "subjects", m.DemoSubjects, "synthetic subjects to create")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	ps, err := ratelimit.ParseProxies(*proxies)
	if err != nil {
		return fmt.Errorf("%w: --trusted-proxies: %v", errUsage, err)
	}
	m.Proxies = ps
	m.AdminToken = os.Getenv("LIKENESS_ADMIN_TOKEN")
	m.Config.remindBefore = time.Duration(m.Mail.remindDays) * 24 * time.Hour
	if m.Demo && !flagSet(fs, "data-dir") && os.Getenv("LIKENESS_DATA_DIR") == "" {
		dir, err := os.MkdirTemp("", "likeness-demo-")
		if err != nil {
			return err
		}
		m.Config.dataDir = dir
	}
	return nil
}

// URL is the base URL the server listens on, once Run has returned.
func (m *Main) URL() string { return m.url }

// AdminKey is the admin API key: AdminToken, or the key Run created for a
// database without one (and for every demo); "" if neither applies.
func (m *Main) AdminKey() string { return m.adminKey }

// Err delivers the error that stopped the server before Close, if any.
func (m *Main) Err() <-chan error { return m.errc }

// Run opens the deployment, listens on Addr at once (health checks answer
// while the decision index loads), loads the index (from the snapshot when
// it verifies), catches up with the database, and only then opens the API
// and pages; it returns once they are served. Call Close to stop.
func (m *Main) Run(ctx context.Context) error {
	logger, err := newLogger(m.Observe.logFormat, m.Stderr)
	if err != nil {
		return err
	}
	m.logger = logger
	disp, closeSinks, err := m.Events.dispatcher(ctx, m.logger)
	m.closeSinks = closeSinks
	if err != nil {
		return err
	}
	// The mail dispatcher's sink is set once the server's URL is known;
	// withdrawals wake it like the events' one.
	mailDisp := &outbox.Dispatcher{Logger: m.logger, Batch: 10}
	listeners := []consent.Listener{notifier{mailDisp}}
	if disp != nil {
		listeners = append(listeners, notifier{disp})
	}
	gate := &startGate{progress: &snapshot.Progress{}}
	if err := m.listen(gate); err != nil {
		return err
	}
	m.logger.Info("likeness is starting: /healthz answers now, /readyz and the API once the decision index is loaded", "url", m.url)
	if m.d, err = m.Config.connect(ctx, m.Stderr, m.logger, listeners...); err != nil {
		return err
	}
	// The API and pages do not read the index to be built: build them
	// on the other core while the index loads.
	handlers := make(chan servedHandlers, 1)
	go func() { handlers <- m.buildHandlers(ctx, mailDisp) }()
	snap := m.d.snapshotConfig(&m.Config, m.logger, gate.progress)
	loaded, err := snapshot.Load(ctx, snap)
	built := <-handlers
	if err != nil {
		return err
	}
	if built.err != nil {
		return built.err
	}
	if err := m.d.resumeErasures(ctx, m.logger); err != nil {
		return err
	}
	// One catch-up before opening: what other replicas wrote during the
	// load is applied before the first decision.
	caughtUp := time.Now()
	if err := m.d.follower.CatchUp(ctx, loaded.Since); err != nil {
		return fmt.Errorf("catch up with the database after loading: %w", err)
	}
	m.d.replica.CaughtUp(int64(m.d.ledger.Tree().Size()), caughtUp)
	if disp != nil {
		if err := m.Events.addWebhook(ctx, disp, m.d.subjects, eventSource(m.d.ledger.Signer().Name()), m.Stdout); err != nil {
			return err
		}
	}
	if err := m.ensureAdminKey(ctx); err != nil {
		return err
	}
	if m.Demo {
		if err := loadDemo(ctx, m.d, m.DemoSubjects, m.Stdout); err != nil {
			return err
		}
		printDemo(m.Stdout, m.url, m.adminKey, m.d)
	}
	if err := m.startWork(ctx, disp, mailDisp, built.api, snap, loaded, caughtUp); err != nil {
		return err
	}
	// What loading allocated and dropped goes back to the system before
	// the replica takes traffic, so its resident memory is what it holds.
	debug.FreeOSMemory()
	gate.open(built.handler)
	if m.d.store.Dialect() == "postgres" && !strings.HasPrefix(m.Config.blobs, "s3://") {
		m.logger.Warn("blobs are kept in a local folder: replicas on this database need a shared blob store (s3://… or a folder every replica mounts)",
			"blobs", m.Config.blobDir())
	}
	m.logger.Info("likeness is listening", "url", m.url, "db", m.d.store.Dialect(), "data_dir", m.Config.dataDir, "policy", m.d.policy.Name)
	return nil
}

// servedHandlers is the API and the whole handler (API, pages, console).
type servedHandlers struct {
	api     *httpapi.Server
	handler http.Handler
	err     error
}

// buildHandlers builds the API and pages, and gives mailDisp its sink:
// mail links point at --base-url, or at the address the server listens on.
func (m *Main) buildHandlers(ctx context.Context, mailDisp *outbox.Dispatcher) servedHandlers {
	apiCfg := m.d.apiConfig(m.logger)
	apiCfg.SeparateMetrics = m.Observe.metricsAddr != ""
	apiCfg.ClientIP = m.Proxies.ClientIP
	api := httpapi.New(apiCfg)
	mailBase := m.BaseURL
	if mailBase == "" {
		mailBase = m.url
	}
	sink, err := m.Mail.sink(m.d.mail, mailBase, m.logger)
	if err != nil {
		return servedHandlers{err: err}
	}
	mailDisp.Sinks = []outbox.Sink{sink}
	handler, err := withPages(ctx, m.d, api, pageFlags{baseURL: m.BaseURL, allowedHosts: linkHosts(m.AllowedHosts, m.Addr, m.Demo),
		secure: m.SecureCookies, mailSending: sink.Sending(), clientIP: m.Proxies.ClientIP, logger: m.logger})
	return servedHandlers{api: api, handler: handler, err: err}
}

// listen opens Addr and serves h on it in the background.
func (m *Main) listen(h http.Handler) error {
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Addr, err)
	}
	m.url = "http://" + ln.Addr().String()
	m.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	srv := m.srv
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.errc <- err
		}
	}()
	return nil
}

// startWork starts the background work, which stops with Close, not with
// ctx: following the database (from caughtUp on), change notifications,
// the retention sweep, event and mail delivery, renewal reminders, the
// metrics listener and snapshots.
func (m *Main) startWork(ctx context.Context, disp, mailDisp *outbox.Dispatcher, api *httpapi.Server, snap snapshot.Config, loaded snapshot.Result, caughtUp time.Time) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	m.stopWork = stopWork
	d, interval := m.d, followInterval(m.Config.maxStaleness) // Close clears m.d
	d.follower.StartFrom(caughtUp.Add(-follow.Overlap))
	go d.follower.Run(workCtx, interval)
	// On PostgreSQL every committed change is pushed to every replica at
	// once; polling above catches whatever a notification missed.
	go func() {
		if err := d.store.ListenChanges(workCtx, func(string) { d.follower.Wake() }); err != nil && workCtx.Err() == nil {
			m.logger.Info("change notifications are not available on this database; replicas poll", "interval", interval)
		}
	}()
	go d.vault.Sweep(workCtx, time.Minute, 500)
	go d.withdrawals.Run(workCtx, time.Minute)
	if disp != nil {
		disp.Store = d.store
		go disp.Run(workCtx, 2*time.Second)
	}
	mailDisp.Store = d.store
	go mailDisp.Run(workCtx, 2*time.Second)
	go d.mail.RunReminders(workCtx, remindEvery, mailDisp.Notify)
	if snap.Path != "" {
		m.snapshots = snapshot.NewWriter(snap)
		m.snapshots.Loaded(loaded)
		go m.snapshots.Run(workCtx, m.Snapshots)
	}
	return m.Observe.serveMetrics(workCtx, api.MetricsHandler(), m.logger)
}

// ensureAdminKey makes AdminToken an admin key, or creates and prints one
// when the database has none (or for the demo).
func (m *Main) ensureAdminKey(ctx context.Context) error {
	if m.AdminToken != "" {
		m.adminKey = m.AdminToken
		return httpapi.EnsureAdminToken(ctx, m.d.store, m.AdminToken, time.Now())
	}
	var err error
	if m.Demo {
		_, m.adminKey, err = httpapi.CreateAPIKey(ctx, m.d.store, "demo admin", "admin", time.Now())
	} else {
		// Replicas starting together on a fresh database make one key.
		m.adminKey, err = httpapi.EnsureFirstAdmin(ctx, m.d.store, time.Now())
	}
	if err != nil || m.adminKey == "" {
		return err
	}
	fmt.Fprintf(m.Stdout, "Created an admin API key; it is shown only this once:\n\n    %s\n\n", m.adminKey)
	return nil
}

// Close stops serving (letting requests in flight finish for up to ten
// seconds), stops the background work and closes the deployment. It is
// safe to call after a failed Run.
func (m *Main) Close() error {
	var err error
	if m.srv != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if e := m.srv.Shutdown(shutCtx); e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
		m.srv = nil
	}
	m.stopWork()
	m.closeSinks()
	// A snapshot at shutdown makes the next start read no tail.
	if m.snapshots != nil && m.snapshots.Grown() {
		if wr, e := m.snapshots.Write(); e != nil {
			m.logger.Warn("could not write the decision snapshot at shutdown", "err", e)
		} else {
			m.logger.Info("wrote the decision snapshot at shutdown", "revision", wr.Revision, "seconds", wr.Took.Seconds())
		}
		m.snapshots = nil
	}
	if m.d != nil {
		m.d.Close()
		m.d = nil
	}
	return err
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

// followInterval is how often a replica polls the database: often enough
// that a healthy replica never comes near its staleness bound.
func followInterval(maxStaleness time.Duration) time.Duration {
	return min(250*time.Millisecond, max(maxStaleness/4, 10*time.Millisecond))
}

// envDuration reads a duration such as "1s" or "500ms" from the
// environment, or returns def.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
