package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"likeness"
)

// Group commit. The hot writes (ledger appends, subjects' creation) do not
// open transactions of their own: each is handed to one committer
// goroutine, which takes every write waiting at that moment and runs them
// in one transaction, each in its own savepoint so a failing write fails
// alone, paying one disk sync for the lot. A write made for an API call
// also writes the call's audit-log row (likeness.PendingAudit) in its
// savepoint, so the change and its record commit together.
//
// At low concurrency a group would often hold one write while the others
// are a moment away. The committer remembers how many writers it has seen
// together (the target) and, when fewer are waiting, waits for the rest up
// to half the duration of the last commit (between groupWindowMin and
// groupWindowMax): a few hundred microseconds of waiting buy a write that
// would otherwise pay a whole disk sync of its own. A wait that runs out
// halves the target; a lone writer never waits.

// groupWrite is one write waiting for the committer.
type groupWrite struct {
	ctx   context.Context
	topic string // what changed, for notifications
	// run makes the write inside the group's transaction.
	run func(ctx context.Context, tx *sql.Tx, g *group) error
	// committed, if set, runs after a commit that kept the write.
	committed func()
	audit     *likeness.PendingAudit // nil: no audit row with this write
	append    *appendReq             // a ledger append's events, which take ledger indexes (nil for other writes)
	unchanged bool                   // run found nothing to change: no audit row
	done      chan error
	err       error
}

// group is the state the writes of one transaction share.
type group struct {
	next       int64     // the next ledger index (when a write takes them)
	ledger     bool      // the group holds the ledger lock (ledger_next)
	eventStmt  *sql.Stmt // the consent-event insert, in the transaction
	d          *DB
	notifyWhat map[string]bool
}

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// GroupCommits reports how many group-commit transactions have run and how
// many writes they carried, for benchmarks and metrics: writes per
// transaction is writes per disk sync.
func (d *DB) GroupCommits() (groups, writes int64) { return d.groups.Load(), d.grouped.Load() }

// groupWindowMin and groupWindowMax bound how long a group waits for the
// writers it expects.
const (
	groupWindowMin = 100 * time.Microsecond
	groupWindowMax = 2 * time.Millisecond
)

// submit hands w to the committer and waits for its outcome. Once handed
// over, a write commits or fails as a whole; the caller waits for the
// answer so it never mistakes a commit for a failure.
func (d *DB) submit(w *groupWrite, what string) error {
	w.done = make(chan error, 1)
	d.commitOnce.Do(func() {
		d.writes, d.committed = make(chan *groupWrite), make(chan struct{})
		go d.committer()
	})
	d.closeMu.RLock()
	err := fmt.Errorf("sqlstore: %s: database is closed", what)
	if !d.closed {
		select {
		case d.writes <- w:
			err = nil
		case <-w.ctx.Done():
			err = w.ctx.Err()
		}
	}
	d.closeMu.RUnlock()
	if err != nil {
		if w.audit != nil {
			w.audit.Settle(false) // never handed over
		}
		return err
	}
	return <-w.done
}

func (d *DB) committer() {
	defer close(d.committed)
	// The committer keeps one connection: its statements stay prepared
	// and, on SQLite, its page cache stays valid between groups, as it
	// makes nearly every write itself.
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	target, window := 1, groupWindowMin
	for first := range d.writes {
		group, late := d.gather(first, target, window)
		switch {
		case len(group) > target:
			target = len(group)
		case late:
			target = max(len(group), target/2)
		}
		d.groups.Add(1)
		d.grouped.Add(int64(len(group)))
		start := time.Now()
		var err error
		if conn == nil {
			conn, err = d.db.Conn(context.Background())
		}
		if err == nil {
			if err = d.commitWrites(conn, group); err != nil && conn.PingContext(context.Background()) != nil {
				conn.Close() // a broken connection is not kept
				conn = nil
			}
		}
		window = min(max(time.Since(start)/2, groupWindowMin), groupWindowMax)
		for _, w := range group {
			if w.err == nil && err != nil {
				w.err = err
			}
			if w.audit != nil {
				w.audit.Settle(w.err == nil && !w.unchanged)
			}
			if w.err == nil && w.committed != nil {
				w.committed()
			}
			w.done <- w.err
		}
	}
}

// gather returns first and the writes waiting behind it, and waits up to
// window for more while the group holds fewer than target; late reports
// that the wait ran out.
func (d *DB) gather(first *groupWrite, target int, window time.Duration) (group []*groupWrite, late bool) {
	group = []*groupWrite{first}
drain:
	for len(group) < maxGroup {
		select {
		case w, ok := <-d.writes:
			if !ok {
				return group, false
			}
			group = append(group, w)
		default:
			break drain
		}
	}
	if len(group) >= target {
		return group, false
	}
	timer := time.NewTimer(window)
	defer timer.Stop()
	for len(group) < target {
		select {
		case w, ok := <-d.writes:
			if !ok {
				return group, false
			}
			group = append(group, w)
		case <-timer.C:
			return group, true
		}
	}
	return group, false
}

// commitWrites writes a group. On PostgreSQL a group of ledger appends
// alone goes as one statement that holds the ledger lock for no round trip
// (commitBatch); any other group, or a batch that must be written again one
// write at a time, goes through commitGroup.
func (d *DB) commitWrites(conn *sql.Conn, group []*groupWrite) error {
	if d.batchable(group) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done, err := d.commitBatch(ctx, group)
		cancel()
		if done {
			return err
		}
		for _, w := range group {
			w.err, w.append.indexes = nil, nil
		}
	}
	return d.commitGroup(conn, group)
}

// commitGroup runs the group's writes in one transaction; a write that
// fails is rolled back to its savepoint and fails alone (w.err), and an
// error returned fails them all.
func (d *DB) commitGroup(conn *sql.Conn, writes []*groupWrite) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	what := writes[0].what()
	for _, w := range writes[1:] {
		if w.what() != what {
			what = "group commit"
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	defer tx.Rollback()
	g := &group{d: d, notifyWhat: map[string]bool{}}
	if err := g.prepare(ctx, tx, writes); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	alone := len(writes) == 1
	for _, w := range writes {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			continue
		}
		if !alone {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT group_write"); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", what, err)
			}
		}
		w.err = w.run(ctx, tx, g)
		if w.err == nil && w.audit != nil && !w.unchanged {
			w.err = g.writeAudit(ctx, tx, w.audit.Entry())
		}
		switch {
		case alone && w.err != nil:
			return w.err
		case alone:
		case w.err != nil:
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT group_write"); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", what, err)
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT group_write"); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", what, err)
			}
			continue
		default:
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT group_write"); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", what, err)
			}
		}
		g.notifyWhat[w.topic] = true
	}
	if g.ledger {
		if err := d.setNext(ctx, tx, g.next); err != nil {
			return fmt.Errorf("sqlstore: %s: %w", what, err)
		}
	}
	for topic := range g.notifyWhat {
		if err := d.notifyTx(ctx, tx, topic); err != nil {
			return fmt.Errorf("sqlstore: %s: notify: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: %s: commit: %w", what, err)
	}
	return nil
}

// what names a write for errors.
func (w *groupWrite) what() string {
	if w.append != nil {
		return "append consent events"
	}
	return "insert subject"
}

// prepare takes the ledger lock and the next index when a write needs
// them, before any write runs (an advisory lock is not a savepoint's).
func (g *group) prepare(ctx context.Context, tx *sql.Tx, writes []*groupWrite) error {
	for _, w := range writes {
		if w.append == nil {
			continue
		}
		next, err := g.d.lockNext(ctx, tx)
		if err != nil {
			return fmt.Errorf("lock ledger: %w", err)
		}
		g.next, g.ledger = next, true
		g.eventStmt, err = g.d.txStmt(ctx, tx, eventInsert)
		return err
	}
	return nil
}

// exec runs query in the group's transaction as a statement prepared
// once per connection: parsing the statement again for every write costs
// more than the write on SQLite.
func (g *group) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	stmt, err := g.d.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

// txStmt returns query, prepared once per connection, for use in tx.
func (d *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	stmt, err := d.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, stmt), nil
}

// queryRow is QueryRowContext with query prepared once per connection,
// for the hot reads.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	stmt, err := d.prepared(ctx, query)
	if err != nil {
		return d.db.QueryRowContext(ctx, d.q(query), args...)
	}
	return stmt.QueryRowContext(ctx, args...)
}

// prepared returns query prepared on the database (database/sql prepares
// it again on each connection that runs it, once).
func (d *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if s, ok := d.stmts[query]; ok {
		return s, nil
	}
	s, err := d.db.PrepareContext(ctx, d.q(query))
	if err != nil {
		return nil, err
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[query] = s
	return s, nil
}

const insertAccess = `INSERT INTO access_log (id, time_us, action, key_id, role, subject_id, asset_id, purpose, recipient, country, allow, reasons, operator, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func accessArgs(e *likeness.AccessEntry) []any {
	return []any{e.ID, likeness.Micros(e.Time), e.Action, e.KeyID, string(e.Role), e.SubjectID, e.AssetID, e.Purpose, e.Recipient, e.Country,
		e.Allow, strings.Join(e.Reasons, ","), e.Operator, e.Reason}
}

// writeAudit writes an API call's audit row in the group's transaction.
func (g *group) writeAudit(ctx context.Context, tx *sql.Tx, e *likeness.AccessEntry) error {
	if _, err := g.exec(ctx, tx, insertAccess, accessArgs(e)...); err != nil {
		return fmt.Errorf("sqlstore: append access log: %w", err)
	}
	return nil
}
