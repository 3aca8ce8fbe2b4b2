package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// The ledger's next index lives in the one row of ledger_next (migration
// 0020). Updating that row is what orders appends across replicas: its row
// lock is held from the update to commit, so an append takes it as late as
// it can, after everything that does not need an index. An index is never
// visible before every smaller one is: the holder of the lock commits
// before the next holder takes its first index.
//
// Rows written past the counter by anything else (a tool, an older binary
// during a rolling upgrade) are stepped over: the counter never goes below
// the stored ledger's size.
//
// A counter ahead of the stored ledger (consent_events restored from a
// backup, ledger_next not) would make the next append leave a gap of
// missing indexes, which no proof or verification survives; Open lowers
// it to the ledger's size (reconcileNext).

// nextExpr is the counter brought up to the stored ledger's size.
func (d *DB) nextExpr() string {
	greatest := "GREATEST"
	if d.dialect == sqlite {
		greatest = "max"
	}
	return greatest + `(next, (SELECT COALESCE(MAX(idx) + 1, 0) FROM consent_events))`
}

// takeNext reserves n ledger indexes and returns the first; the caller
// must store exactly n events from there before it commits.
func (d *DB) takeNext(ctx context.Context, tx *sql.Tx, n int64) (int64, error) {
	var next int64
	err := tx.QueryRowContext(ctx, d.q(`UPDATE ledger_next SET next = `+d.nextExpr()+` + ? RETURNING next`), n).Scan(&next)
	return next - n, err
}

// lockNext takes the ledger lock and returns the next index, for a writer
// that learns only as it goes how many events it stores; it ends with
// setNext.
func (d *DB) lockNext(ctx context.Context, tx *sql.Tx) (int64, error) { return d.takeNext(ctx, tx, 0) }

// setNext records the index after the last event the transaction stored.
func (d *DB) setNext(ctx context.Context, tx *sql.Tx, next int64) error {
	_, err := tx.ExecContext(ctx, d.q(`UPDATE ledger_next SET next = ?`), next)
	return err
}

// reconcileNext lowers the ledger's next index to the stored ledger's size
// when it is ahead, and returns by how much (0 when it was not).
//
// It is safe while other replicas append. It first reads both in one
// statement, without the lock: an append takes its indexes and stores its
// rows in one transaction, so a consistent read shows the counter ahead
// only when it truly is, and the usual start takes no lock. Then it takes
// the counter's row lock (lockNext) and reads the size again: an appender
// holds that lock from takeNext/lockNext (or insertBatch's update) to
// commit, so the lock waits for it, and the read after it (a new
// statement, so a new snapshot under READ COMMITTED) sees its rows; nothing
// can append between that read and the lowering. The size is not read in
// the UPDATE itself because PostgreSQL would read consent_events in it as
// of the statement's start, before the wait, and could lower the counter
// below rows the waited-for appender had just stored.
func (d *DB) reconcileNext(ctx context.Context) (int64, error) {
	const size = `SELECT COALESCE(MAX(idx) + 1, 0) FROM consent_events`
	var next, stored int64
	if err := d.db.QueryRowContext(ctx, `SELECT next, (`+size+`) FROM ledger_next`).Scan(&next, &stored); err != nil {
		return 0, fmt.Errorf("sqlstore: read the ledger's next index: %w", err)
	}
	if next <= stored {
		return 0, nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: lower the ledger's next index: %w", err)
	}
	defer tx.Rollback()
	if next, err = d.lockNext(ctx, tx); err != nil {
		return 0, fmt.Errorf("sqlstore: lower the ledger's next index: lock: %w", err)
	}
	if err := tx.QueryRowContext(ctx, size).Scan(&stored); err != nil {
		return 0, fmt.Errorf("sqlstore: lower the ledger's next index: %w", err)
	}
	if next <= stored {
		return 0, nil
	}
	if err := d.setNext(ctx, tx, stored); err != nil {
		return 0, fmt.Errorf("sqlstore: lower the ledger's next index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlstore: lower the ledger's next index: commit: %w", err)
	}
	return next - stored, nil
}
