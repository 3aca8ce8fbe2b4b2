package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangeChannel is the PostgreSQL notification channel on which every write
// that replicas keep in memory (consent events, subjects, assets, erasures)
// is announced, in the transaction that commits it.
const ChangeChannel = "likeness_changes"

// notifyTx announces a change of kind ("consent", "subject", "asset",
// "erasure") inside tx: PostgreSQL delivers it to listeners only if tx
// commits. SQLite has no notifications; its replicas poll.
func (d *DB) notifyTx(ctx context.Context, tx *sql.Tx, kind string) error {
	if d.dialect != postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, kind)
	return err
}

// notify announces a change that a single statement already committed. A
// lost notification costs only latency: followers also poll.
func (d *DB) notify(ctx context.Context, kind string) {
	if d.dialect != postgres {
		return
	}
	d.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, kind)
}

// ErrNoNotifications is returned by ListenChanges on a database that cannot
// push changes (SQLite): the caller relies on polling alone.
var ErrNoNotifications = errors.New("sqlstore: this database does not push change notifications")

// ListenChanges calls wake with the kind of every change another process (or
// this one) commits, until ctx ends. It holds one dedicated connection,
// reconnects after a failure with a growing pause (up to 2 s), and calls
// wake("") after every (re)connect, since changes made while it was not
// listening were never announced to it. It returns ctx's error, or
// ErrNoNotifications at once on SQLite.
func (d *DB) ListenChanges(ctx context.Context, wake func(kind string)) error {
	if d.dialect != postgres {
		return ErrNoNotifications
	}
	pause := 50 * time.Millisecond
	for {
		err := d.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the follower's own polling reports database trouble
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, 2*time.Second)
	}
}

func (d *DB) listenOnce(ctx context.Context, wake func(string)) error {
	connectCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(connectCtx, d.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+ChangeChannel); err != nil {
		return err
	}
	wake("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}
