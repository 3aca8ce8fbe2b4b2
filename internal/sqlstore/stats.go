package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"likeness"
)

// ForEachOutboxSink calls fn for each sink that ever claimed a message, in
// name order, with its backlog (messages neither delivered to it nor dead),
// its dead deliveries and when its oldest backlog message was enqueued. It
// serves the metrics, so it reads aggregates only: one count of messages,
// one grouped count of deliveries, and per sink with a backlog one lookup
// of its oldest message.
func (d *DB) ForEachOutboxSink(ctx context.Context, fn func(sink string, pending, dead int64, oldestPending time.Time) error) error {
	var total int64
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_messages`).Scan(&total); err != nil {
		return fmt.Errorf("sqlstore: outbox stats: %w", err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT sink,
		SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END)
		FROM outbox_deliveries GROUP BY sink ORDER BY sink`)
	if err != nil {
		return fmt.Errorf("sqlstore: outbox stats: %w", err)
	}
	type sinkStats struct {
		name            string
		delivered, dead int64
	}
	var sinks []sinkStats
	for rows.Next() {
		var s sinkStats
		if err := rows.Scan(&s.name, &s.delivered, &s.dead); err != nil {
			rows.Close()
			return fmt.Errorf("sqlstore: outbox stats: %w", err)
		}
		sinks = append(sinks, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: outbox stats: %w", err)
	}
	for _, s := range sinks {
		pending := max(0, total-s.delivered-s.dead)
		var oldest time.Time
		if pending > 0 {
			var us int64
			err := d.db.QueryRowContext(ctx, d.q(`SELECT m.created_us FROM outbox_messages m
				WHERE NOT EXISTS (SELECT 1 FROM outbox_deliveries x
					WHERE x.msg_seq = m.seq AND x.sink = ? AND x.state IN ('delivered', 'dead'))
				ORDER BY m.seq LIMIT 1`), s.name).Scan(&us)
			switch {
			case err == nil:
				oldest = likeness.FromMicros(us)
			case !errors.Is(err, sql.ErrNoRows): // delivered since the count
				return fmt.Errorf("sqlstore: outbox stats: %w", err)
			}
		}
		if err := fn(s.name, pending, s.dead, oldest); err != nil {
			return err
		}
	}
	return nil
}

// AssetBytes returns how many assets are stored and not erased, and the sum
// of their sizes.
func (d *DB) AssetBytes(ctx context.Context) (count, size int64, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM assets WHERE erased_us = 0`).Scan(&count, &size)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: asset sizes: %w", err)
	}
	return count, size, nil
}
