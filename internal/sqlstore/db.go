// Package sqlstore implements likeness.Store on SQL databases: embedded SQLite
// (the default, through the pure-Go modernc.org/sqlite driver, WAL mode) and
// PostgreSQL (through pgx's database/sql driver). Both dialects share every
// query; they differ only in placeholders, a few column types and how a
// writer takes the ledger lock. Migrations are embedded, versioned per
// dialect and only ever appended.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"likeness"
)

//go:embed migrations
var migrations embed.FS

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// DB is a likeness.Store on a SQL database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect dialect
	dsn     string

	mu      sync.Mutex
	rebound map[string]string

	// Group commit of the hot writes (see group.go).
	commitOnce sync.Once
	writes     chan *groupWrite
	committed  chan struct{} // closed when the committer has stopped
	closeMu    sync.RWMutex
	closed     bool
	groups     atomic.Int64 // group-commit transactions run
	grouped    atomic.Int64 // writes they carried

	// beforeInsert, set by tests, runs in commitBatch between the fence and
	// the insert.
	beforeInsert func()

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared hot statements (see prepared)

	nextLowered int64 // how far Open lowered the ledger's next index
}

var _ likeness.Store = (*DB)(nil)

// Open connects to dsn and applies pending migrations. dsn is
// "sqlite:PATH" (the file is created, with its folder) or a
// "postgres://" / "postgresql://" URL.
func Open(ctx context.Context, dsn string) (*DB, error) { return OpenWith(ctx, dsn, Options{}) }

// Options tune how a database is opened; the zero value is what serve uses.
type Options struct {
	// CacheMiB is SQLite's page cache per connection in MiB (0: SQLite's
	// default of 2 MiB). A bulk writer raises it so the pages a large
	// transaction changes stay in memory instead of being spilled to the
	// log and read back. PostgreSQL ignores it.
	CacheMiB int
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, opts Options) (*DB, error) {
	d := &DB{dsn: dsn, rebound: map[string]string{}}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("sqlstore: %q names no file", dsn)
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("sqlstore: create database folder: %w", err)
			}
		}
		// _txlock=immediate makes every transaction take the write lock at
		// BEGIN, so two writers never deadlock upgrading a read lock.
		pragmas := "&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)"
		if opts.CacheMiB > 0 {
			pragmas += fmt.Sprintf("&_pragma=cache_size(-%d)", opts.CacheMiB*1024) // negative: KiB
		}
		d.db, err = sql.Open("sqlite", "file:"+path+"?_txlock=immediate"+pragmas)
		d.dialect = sqlite
		// database/sql keeps 2 idle connections by default: under
		// concurrent requests it would open (and set up) a connection
		// for nearly every query and close it after.
		d.db.SetMaxIdleConns(32)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		d.db, err = sql.Open("pgx", dsn)
		d.dialect = postgres
		d.db.SetMaxOpenConns(32)
		d.db.SetMaxIdleConns(32)
	default:
		return nil, fmt.Errorf("sqlstore: unknown database %q: use sqlite:PATH or postgres://…", redact(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	if err := d.startUp(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// startUp connects, migrates and lowers a ledger counter left ahead of the
// stored ledger (reconcileNext). Replicas sharing a fresh SQLite file race
// to switch it to WAL and create its tables, and the loser can see
// "database is locked" beyond the busy timeout; it retries for up to a
// minute.
func (d *DB) startUp(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for pause := 50 * time.Millisecond; ; pause = min(pause*2, 2*time.Second) {
		err := d.db.PingContext(ctx)
		if err != nil {
			err = fmt.Errorf("sqlstore: connect to %s: %w", redact(d.dsn), err)
		} else {
			err = d.migrate(ctx)
		}
		if err == nil {
			d.nextLowered, err = d.reconcileNext(ctx)
		}
		if err == nil || d.dialect != sqlite || !strings.Contains(err.Error(), "locked") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// redact drops the password from a URL so a DSN can appear in an error.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	return dsn[:scheme+3] + "…" + dsn[at:]
}

// NextIndexLowered reports by how many indexes Open lowered the ledger's
// next index because it was ahead of the stored ledger, as it is when the
// events were restored from a backup without it; 0 when it was not. The
// caller logs it: the database was restored, and the ledger continues at
// its stored size without a gap.
func (d *DB) NextIndexLowered() int64 { return d.nextLowered }

// SQL returns the underlying database, for tests and tools that inspect rows.
func (d *DB) SQL() *sql.DB { return d.db }

// Dialect returns "sqlite" or "postgres".
func (d *DB) Dialect() string {
	if d.dialect == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Close stops the committer and closes the database.
func (d *DB) Close() error {
	d.closeMu.Lock()
	if !d.closed {
		d.closed = true
		if d.writes != nil {
			close(d.writes)
			<-d.committed
		}
	}
	d.closeMu.Unlock()
	d.stmtMu.Lock()
	for _, s := range d.stmts {
		s.Close()
	}
	d.stmts = nil
	d.stmtMu.Unlock()
	return d.db.Close()
}

// Rebind rewrites a query written with ? placeholders for the database's
// dialect, for tools and tests that run their own SQL on SQL().
func (d *DB) Rebind(query string) string { return d.q(query) }

// q rewrites a query written with ? placeholders for the dialect.
func (d *DB) q(query string) string {
	if d.dialect == sqlite {
		return query
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.rebound[query]; ok {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	d.rebound[query] = b.String()
	return b.String()
}

// migrate applies pending migrations. On PostgreSQL the whole run, the
// creation of schema_migrations included, holds a session advisory lock, so
// replicas started at the same instant on a fresh database take turns: the
// first migrates, the others wait and then find nothing to do.
func (d *DB) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if d.dialect == postgres {
		dir = "migrations/postgres"
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer conn.Close()
	if d.dialect == postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7422001)`); err != nil {
			return fmt.Errorf("sqlstore: migrate lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7422001)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("sqlstore: migration %s: name must start with a number", e.Name())
		}
		if err := d.applyMigration(ctx, conn, dir+"/"+e.Name(), version); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, conn *sql.Conn, path string, version int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("sqlstore: apply %s: %w", path, err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version) VALUES (?)`), version); err != nil {
		return fmt.Errorf("sqlstore: record %s: %w", path, err)
	}
	return tx.Commit()
}

// lockCheckpoints serialises the storing of checkpoints across replicas, so
// stored sizes and signing times only grow. Appends do not take it; they
// are ordered by ledger_next (ledgernext.go). SQLite already holds the write
// lock from BEGIN IMMEDIATE.
func (d *DB) lockCheckpoints(ctx context.Context, tx *sql.Tx) error {
	if d.dialect != postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7422002)`)
	return err
}

func notFound(what string) error {
	return likeness.Errorf(likeness.ENOTFOUND, "%s not found", what)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// SchemaVersion is the highest migration applied to the database.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}
