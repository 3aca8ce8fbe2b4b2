package sqlstore

import (
	"context"
	"database/sql"
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
