package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"likeness/decision"
	"likeness/internal/blob"
	"likeness/internal/blob/fsblob"
	"likeness/internal/blob/s3blob"
	"likeness/internal/consent"
	"likeness/internal/dataset"
	"likeness/internal/erasure"
	"likeness/internal/follow"
	"likeness/internal/httpapi"
	"likeness/internal/incidents"
	"likeness/internal/keys"
	"likeness/internal/ledgerlog"
	"likeness/internal/mail"
	"likeness/internal/records"
	"likeness/internal/replica"
	"likeness/internal/requests"
	"likeness/internal/snapshot"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
	"likeness/internal/vault"
	"likeness/policy"
)

// config is what every command that touches a deployment's data shares.
type config struct {
	dataDir    string
	db         string
	policyFile string
	keyFile    string
	blobs      string
	maxUpload  int64
	region     string
	// maxStaleness is how long a replica may go without catching up with
	// the database before its decisions deny (serve's --max-staleness).
	maxStaleness time.Duration
	// checkBlobs makes build prove the blob store is the one every replica
	// on the database uses (serve sets it); adoptBlobs accepts a replaced
	// store instead of refusing it.
	checkBlobs, adoptBlobs bool
	// remindBefore is how long before a consent ends its reminder is
	// mailed (serve's --remind-days); 0 is the mailer's default.
	remindBefore time.Duration
	// store tunes the database connection (import raises SQLite's cache).
	store sqlstore.Options
	// snapshot is the decision snapshot file ("off": none); serve writes
	// it, every command that loads the index reads it.
	snapshot string
	// inForce makes build refuse a policy other than the one whose notices
	// are in force, rather than publish it (one-off commands; see open).
	inForce bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// addStorageFlags registers --data-dir, --db, --policy, --key-file, --blobs
// and --snapshot.
func (c *config) addStorageFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", env("LIKENESS_DATA_DIR", "likeness-data"), "folder for the embedded database, blobs and the local key (env LIKENESS_DATA_DIR)")
	fs.StringVar(&c.db, "db", env("LIKENESS_DB", ""), "database: sqlite:PATH or postgres://… (env LIKENESS_DB; default sqlite:DATA_DIR/likeness.db)")
	fs.StringVar(&c.policyFile, "policy", env("LIKENESS_POLICY", ""), "policy file likeness.yaml (env LIKENESS_POLICY; default: the built-in policy)")
	fs.StringVar(&c.keyFile, "key-file", env("LIKENESS_KEY_FILE", ""), "local key-encryption keyring (env LIKENESS_KEY_FILE; default DATA_DIR/kek.json)")
	fs.StringVar(&c.blobs, "blobs", env("LIKENESS_BLOBS", ""), "blob store: a folder, or s3://BUCKET/PREFIX with LIKENESS_S3_ENDPOINT, LIKENESS_S3_REGION,\nLIKENESS_S3_ACCESS_KEY, LIKENESS_S3_SECRET_KEY (env LIKENESS_BLOBS; default DATA_DIR/blobs)")
	fs.StringVar(&c.snapshot, "snapshot", env("LIKENESS_SNAPSHOT", ""), "decision snapshot file, read at start instead of the whole history and rewritten by serve;\n\"off\" for none (env LIKENESS_SNAPSHOT; default DATA_DIR/decision.snapshot)")
}

// addUploadFlags registers --max-upload and --region, for the commands
// that take uploads (serve); the others store none.
func (c *config) addUploadFlags(fs *flag.FlagSet) {
	fs.Int64Var(&c.maxUpload, "max-upload", envInt("LIKENESS_MAX_UPLOAD", vault.DefaultMaxSize), "largest accepted upload in bytes (env LIKENESS_MAX_UPLOAD)")
	fs.StringVar(&c.region, "region", env("LIKENESS_REGION", "local"), "where blobs are stored, recorded with every asset (env LIKENESS_REGION)")
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// openBlobs opens the blob store named by c.blobs.
func (c *config) openBlobs(ctx context.Context) (blob.Store, error) {
	if rest, ok := strings.CutPrefix(c.blobs, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		return s3blob.Open(ctx, s3blob.Config{Bucket: bucket, Prefix: prefix,
			Endpoint: os.Getenv("LIKENESS_S3_ENDPOINT"), Region: env("LIKENESS_S3_REGION", "us-east-1"),
			AccessKey: os.Getenv("LIKENESS_S3_ACCESS_KEY"), SecretKey: os.Getenv("LIKENESS_S3_SECRET_KEY"),
			PathStyle: os.Getenv("LIKENESS_S3_ENDPOINT") != ""})
	}
	return fsblob.New(c.blobDir())
}

// blobLocation names the blob store for messages: the folder, or the S3
// URL without credentials (they come from the environment).
func (c *config) blobLocation() string {
	if strings.HasPrefix(c.blobs, "s3://") {
		return c.blobs
	}
	return c.blobDir()
}

// blobDir is the local blob folder when blobs are not in S3.
func (c *config) blobDir() string {
	if c.blobs == "" {
		return filepath.Join(c.dataDir, "blobs")
	}
	return c.blobs
}

func (c *config) resolve() {
	if c.db == "" {
		c.db = "sqlite:" + filepath.Join(c.dataDir, "likeness.db")
	}
	if c.keyFile == "" {
		c.keyFile = filepath.Join(c.dataDir, "kek.json")
	}
	switch c.snapshot {
	case "":
		c.snapshot = filepath.Join(c.dataDir, "decision.snapshot")
	case "off":
		c.snapshot = ""
	}
}

// policyName names the policy c loads, for messages.
func (c *config) policyName() string {
	if c.policyFile == "" {
		return "the built-in policy (no --policy)"
	}
	return "the policy " + c.policyFile
}

func (c *config) loadPolicy() (*policy.Policy, error) {
	if c.policyFile == "" {
		return policy.Default(), nil
	}
	return policy.Load(c.policyFile)
}

// deployment is an opened data store with its keys and services.
type deployment struct {
	store       *sqlstore.DB
	kek         *keys.Local
	policy      *policy.Policy
	engine      *decision.Engine
	notices     *consent.Notices
	subjects    *subjects.Registry
	ledger      *ledgerlog.Log
	consent     *consent.Service
	erasure     *erasure.Service
	withdrawals *erasure.Withdrawals // erases what a withdrawal took the consent of
	vault       *vault.Vault
	datasets    *dataset.Service
	incidents   *incidents.Service
	requests    *requests.Service
	mail        *mail.Service
	follower    *follow.Follower
	replica     *replica.Tracker
}

func (d *deployment) Close() {
	if d.store != nil {
		d.store.Close()
	}
}

// open opens the deployment for a command: the services built, the index
// loaded (from the snapshot when it verifies), and erasures a crash cut
// short completed.
//
// Unlike serve, a command opened so never publishes its policy's notices
// over another's: it runs under the policy in force, or refuses.
func (c *config) open(ctx context.Context, stderr io.Writer, logger *slog.Logger, listeners ...consent.Listener) (*deployment, error) {
	c.inForce = true
	d, err := c.connect(ctx, stderr, logger, listeners...)
	if err != nil {
		return nil, err
	}
	if _, err := snapshot.Load(ctx, d.snapshotConfig(c, logger, nil)); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.resumeErasures(ctx, logger); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openStore opens the database named by c, and says on logger (if any)
// when opening it lowered the ledger's next index: whichever command first
// opens the database after a restore from a backup does that.
func (c *config) openStore(ctx context.Context, logger *slog.Logger) (*sqlstore.DB, error) {
	store, err := sqlstore.OpenWith(ctx, c.db, c.store)
	if err != nil {
		return nil, err
	}
	if n := store.NextIndexLowered(); n > 0 && logger != nil {
		logger.Warn("the ledger's next index was ahead of the stored ledger (restored from a backup?); lowered it so appends continue without a gap", "by", n)
	}
	return store, nil
}

// warnings is the logger a one-off command reports warnings on.
func warnings(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// connect opens the database and key file named by c and builds the
// services, without loading the index. listeners hear of every consent
// event and erasure, after the datasets.
func (c *config) connect(ctx context.Context, stderr io.Writer, logger *slog.Logger, listeners ...consent.Listener) (*deployment, error) {
	c.resolve()
	p, err := c.loadPolicy()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	kek, created, err := keys.OpenLocal(c.keyFile, nil)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stderr, "Created a development key-encryption key at %s.\n"+
			"It protects every subject's data key: back it up, keep it secret, and use a KMS in production.\n", c.keyFile)
	}
	store, err := c.openStore(ctx, logger)
	if err != nil {
		return nil, err
	}
	d := &deployment{store: store, kek: kek, policy: p}
	if err := d.build(ctx, c, logger, listeners...); err != nil {
		store.Close()
		return nil, err
	}
	return d, nil
}

// resumeErasures completes erasures of people a crash cut short, before
// anything else is served; the index must be loaded. (The erasures of
// withdrawals are completed by serve in the background, from its start:
// see erasure.Withdrawals.Run.)
func (d *deployment) resumeErasures(ctx context.Context, logger *slog.Logger) error {
	n, err := d.erasure.ResumeErasures(ctx)
	if err != nil {
		return fmt.Errorf("resume erasures: %w", err)
	}
	if n > 0 {
		logger.Info("completed interrupted erasures", "count", n)
	}
	return nil
}

// snapshotConfig is how d loads and writes its decision snapshot.
func (d *deployment) snapshotConfig(c *config, logger *slog.Logger, progress *snapshot.Progress) snapshot.Config {
	return snapshot.Config{Path: c.snapshot, Store: d.store, Engine: d.engine, Log: d.ledger, Events: d.consent,
		Origin: d.ledger.Signer().Name(), Policy: snapshot.PolicyDigest(d.policy.Source),
		CaughtUpAt: d.replica.CaughtUpAt, Progress: progress, Logger: logger}
}

// build wires the services, each given what it uses: this function is the
// whole graph.
func (d *deployment) build(ctx context.Context, c *config, logger *slog.Logger, listeners ...consent.Listener) error {
	var err error
	d.engine = decision.New(d.policy)
	publish := consent.PublishNotices
	if c.inForce {
		publish = consent.UseNotices
	}
	if d.notices, err = publish(ctx, d.store, d.engine, d.policy, nil); err != nil {
		if errors.Is(err, consent.ErrNotInForce) {
			return fmt.Errorf("%s is not the policy in force (%v): run this command with the --policy serve runs with, or restart serve with this one first", c.policyName(), err)
		}
		return err
	}
	if d.subjects, err = subjects.New(ctx, subjects.Config{Store: d.store, KEK: d.kek, Index: d.engine,
		DefaultLocale: d.notices.DefaultLanguage}); err != nil {
		return err
	}
	seed, err := d.subjects.DeploymentKey(ctx, "ledger_signing_seed")
	if err != nil {
		return err
	}
	defer keys.Wipe(seed)
	if d.ledger, err = ledgerlog.New(ctx, d.store, ledgerName(d.policy.Organization.Name), seed, nil); err != nil {
		return err
	}
	blobs, err := c.openBlobs(ctx)
	if err != nil {
		return err
	}
	if c.checkBlobs {
		if err := blob.CheckShared(ctx, blobs, d.store, c.adoptBlobs); err != nil {
			return fmt.Errorf("%w (blobs at %s): replicas on one database need one shared blob store, s3://… or a folder every replica mounts; if this store replaced the old one on purpose, start once with --adopt-blob-store", err, c.blobLocation())
		}
	}
	if d.vault, err = vault.New(ctx, vault.Config{Store: d.store, Blobs: blobs, Subjects: d.subjects, Decisions: d.engine,
		Policy: d.notices.Policy, Logger: logger, MaxSize: c.maxUpload, Region: c.region}); err != nil {
		return err
	}
	if d.datasets, err = dataset.New(dataset.Config{Store: d.store, Subjects: d.subjects, Engine: d.engine,
		Policy: d.notices.Policy, Vault: d.vault, KEK: d.kek, Logger: logger}); err != nil {
		return err
	}
	heard := append([]consent.Listener{d.datasets}, listeners...)
	d.withdrawals = erasure.NewWithdrawals(erasure.WithdrawalsConfig{Store: d.store, Assets: d.vault, Signer: d.ledger.Signer,
		Policy: d.notices.Policy, Logger: logger})
	if d.consent, err = consent.New(ctx, consent.Config{Store: d.store, Subjects: d.subjects, Notices: d.notices,
		Engine: d.engine, Log: d.ledger, Erasers: []consent.PurposeEraser{d.withdrawals}, Listeners: heard,
		Logger: logger}); err != nil {
		return err
	}
	mailKey, err := d.subjects.DeploymentKey(ctx, subjects.MailKey)
	if err != nil {
		return err
	}
	if d.mail, err = mail.New(mail.Config{Store: d.store, Subjects: d.subjects, Policy: d.notices.Policy, Index: d.engine,
		Key: mailKey, RemindBefore: c.remindBefore, Logger: logger}); err != nil {
		return err
	}
	erasureListeners := make([]erasure.Listener, len(heard))
	for i, l := range heard {
		erasureListeners[i] = l
	}
	if d.erasure, err = erasure.New(erasure.Config{Store: d.store, Log: d.ledger, Index: d.engine, Events: d.consent,
		Policy: d.notices.Policy, Erasers: []erasure.DataEraser{d.vault}, Listeners: erasureListeners,
		Farewells: []erasure.Farewell{d.mail}, Logger: logger}); err != nil {
		return err
	}
	if d.incidents, err = incidents.New(incidents.Config{Store: d.store, Policy: d.notices.Policy}); err != nil {
		return err
	}
	if d.requests, err = requests.New(requests.Config{Store: d.store, Subjects: d.subjects, Consent: d.consent,
		States: d.engine, Eraser: d.erasure, Policy: d.notices.Policy, Logger: logger}); err != nil {
		return err
	}
	staleness := c.maxStaleness
	if staleness <= 0 {
		staleness = time.Second
	}
	d.replica = replica.New(staleness, nil)
	d.follower = follow.New(follow.Config{Store: d.store, Events: d.consent, Index: d.engine, Logger: logger,
		Tracker: d.replica, Revision: func() int64 { return int64(d.ledger.Tree().Size()) }, Timeout: staleness})
	return nil
}

// apiConfig is the HTTP API's configuration over d's services.
func (d *deployment) apiConfig(logger *slog.Logger) httpapi.Config {
	return httpapi.Config{Subjects: d.subjects, Notices: d.notices, Consent: d.consent, Index: d.engine, Ledger: d.ledger,
		Eraser: d.erasure, Vault: d.vault, Datasets: d.datasets, Incidents: d.incidents, Requests: d.requests,
		Records: records.New(d.notices.Policy, d.store, nil), Validations: d.consent, Store: d.store, Logger: logger, Replica: d.replica}
}

// ledgerName turns the organization's name into a note key name.
func ledgerName(org string) string {
	out := []rune{}
	for _, r := range org {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			out = append(out, r)
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		case r == ' ':
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "likeness"
	}
	return "likeness-" + string(out)
}
