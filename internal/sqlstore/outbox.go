package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.OutboxStore = (*DB)(nil)

// enqueueTx writes outbox messages inside tx, the transaction of the change
// they report: if it rolls back they are gone too, if it commits they will be
// delivered. Store code that reports a change (erasures, assets) calls it.
// It fills an empty ID and a zero CreatedAt, and skips a message whose ID is
// already stored, so a retried step enqueues nothing twice.
func (d *DB) enqueueTx(ctx context.Context, tx *sql.Tx, msgs ...*likeness.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	stmt, err := d.txStmt(ctx, tx, `INSERT INTO outbox_messages (id, type, subject_id, sink, data, created_us)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("enqueue outbox message: %w", err)
	}
	defer stmt.Close()
	for _, m := range msgs {
		if err := readyMessage(m); err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, m.ID, m.Type, m.SubjectID, m.Sink, string(m.Data), likeness.Micros(m.CreatedAt)); err != nil {
			return fmt.Errorf("enqueue outbox message: %w", err)
		}
	}
	return nil
}

// readyMessage checks m before it is stored and fills what is left empty.
func readyMessage(m *likeness.OutboxMessage) error {
	if !likeness.ValidMessageType(m.Type) {
		return likeness.Errorf(likeness.EINVALID, "outbox message type %q is not known", m.Type)
	}
	if likeness.IsMailMessage(m.Type) != (m.Sink == likeness.SinkMail) {
		// Mail messages go to the mail sink alone, and it takes nothing else.
		return likeness.Errorf(likeness.EINVALID, "outbox message of type %q addressed to sink %q: mail.* types go to %q alone", m.Type, m.Sink, likeness.SinkMail)
	}
	if len(m.Data) == 0 {
		m.Data = json.RawMessage("{}")
	}
	if !json.Valid(m.Data) {
		return likeness.Errorf(likeness.EINVALID, "outbox message data is not JSON")
	}
	if m.ID == "" {
		m.ID = likeness.NewID("msg")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	m.CreatedAt = likeness.FromMicros(likeness.Micros(m.CreatedAt))
	return nil
}

// enqueueConsentTx enqueues the consent.* message of each event appended in
// tx at the given ledger indexes.
func (d *DB) enqueueConsentTx(ctx context.Context, tx *sql.Tx, evs []*likeness.ConsentEvent, indexes []int64) error {
	msgs := make([]*likeness.OutboxMessage, 0, len(evs))
	for i, ev := range evs {
		if m := likeness.ConsentMessage(ev, indexes[i]); m != nil {
			msgs = append(msgs, m)
		}
		if m := likeness.WithdrawalMail(ev, indexes[i]); m != nil {
			msgs = append(msgs, m)
		}
	}
	return d.enqueueTx(ctx, tx, msgs...)
}

// Enqueue implements likeness.OutboxStore.
func (d *DB) Enqueue(ctx context.Context, msgs ...*likeness.OutboxMessage) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: enqueue: %w", err)
	}
	defer tx.Rollback()
	if err := d.enqueueTx(ctx, tx, msgs...); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: enqueue: commit: %w", err)
	}
	return nil
}

const msgCols = `m.seq, m.id, m.type, m.subject_id, m.sink, m.data, m.created_us`

func scanDelivery(row rowScanner, sink string) (int64, *likeness.Delivery, error) {
	var seq, created, next int64
	var data string
	m := &likeness.OutboxMessage{}
	dl := &likeness.Delivery{Message: m, Sink: sink}
	dest := []any{&seq, &m.ID, &m.Type, &m.SubjectID, &m.Sink, &data, &created, &dl.Attempts, &dl.State, &next, &dl.LastError}
	if sink == "" {
		dest = append(dest, &dl.Sink)
	}
	if err := row.Scan(dest...); err != nil {
		return 0, nil, err
	}
	m.Data = json.RawMessage(data)
	m.CreatedAt = likeness.FromMicros(created)
	if next != 0 {
		dl.NextAt = likeness.FromMicros(next)
	}
	return seq, dl, nil
}

// ClaimDeliveries implements likeness.OutboxStore. Candidates are read and
// then leased one by one with a conditional upsert, so a delivery another
// claimer leased in between is skipped (and with it the rest of that
// subject's messages, to keep their order). On PostgreSQL claims of one sink
// also take an advisory lock, so they run one at a time; SQLite's write lock
// does the same. It is kept as one function because it is one transaction
// read top to bottom: lock, read the candidates, lease them, commit.
func (d *DB) ClaimDeliveries(ctx context.Context, sink string, now time.Time, limit int) ([]*likeness.Delivery, error) {
	if sink == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "a sink name is required")
	}
	if limit <= 0 {
		return nil, nil
	}
	nowUS := likeness.Micros(now)
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
	}
	defer tx.Rollback()
	if d.dialect == postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7422004, hashtext($1))`, sink); err != nil {
			return nil, fmt.Errorf("sqlstore: claim deliveries: lock: %w", err)
		}
	}
	// A message is due if the sink never claimed it, or its delivery is
	// pending, due and not leased; it is held back while an earlier message
	// of its subject waits for a retry or is leased. A sink sees the
	// messages addressed to it and, unless it takes only those, the ones
	// addressed to no sink.
	broadcast := ""
	if likeness.AddressedOnly(sink) {
		broadcast = sink
	}
	rows, err := tx.QueryContext(ctx, d.q(`SELECT `+msgCols+`, COALESCE(d.attempts, 0), COALESCE(d.state, 'pending'),
			COALESCE(d.next_at_us, 0), COALESCE(d.last_error, '')
		FROM outbox_messages m
		LEFT JOIN outbox_deliveries d ON d.msg_seq = m.seq AND d.sink = ?
		WHERE (d.msg_seq IS NULL OR (d.state = 'pending' AND d.next_at_us <= ? AND d.lease_until_us <= ?))
		AND m.sink IN (?, ?)
		AND (m.subject_id = '' OR NOT EXISTS (
			SELECT 1 FROM outbox_messages p
			JOIN outbox_deliveries pd ON pd.msg_seq = p.seq AND pd.sink = ?
			WHERE p.subject_id = m.subject_id AND p.seq < m.seq AND pd.state = 'pending'
			AND (pd.next_at_us > ? OR pd.lease_until_us > ?)))
		ORDER BY m.seq
		LIMIT ?`), sink, nowUS, nowUS, sink, broadcast, sink, nowUS, nowUS, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
	}
	type candidate struct {
		seq int64
		dl  *likeness.Delivery
	}
	var cands []candidate
	for rows.Next() {
		seq, dl, err := scanDelivery(rows, sink)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
		}
		cands = append(cands, candidate{seq, dl})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
	}

	lease := nowUS + likeness.OutboxLease.Microseconds()
	claim, err := tx.PrepareContext(ctx, d.q(`INSERT INTO outbox_deliveries (msg_seq, sink, state, attempts, next_at_us, lease_until_us)
		VALUES (?, ?, 'pending', 0, ?, ?)
		ON CONFLICT (msg_seq, sink) DO UPDATE SET lease_until_us = excluded.lease_until_us
		WHERE outbox_deliveries.state = 'pending' AND outbox_deliveries.next_at_us <= ? AND outbox_deliveries.lease_until_us <= ?
		RETURNING msg_seq`))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
	}
	defer claim.Close()
	var out []*likeness.Delivery
	lost := map[string]bool{}
	for _, c := range cands {
		subj := c.dl.Message.SubjectID
		if subj != "" && lost[subj] {
			continue
		}
		var got int64
		err := claim.QueryRowContext(ctx, c.seq, sink, nowUS, lease, nowUS, nowUS).Scan(&got)
		if isNoRows(err) {
			lost[subj] = subj != ""
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
		}
		c.dl.State = likeness.DeliveryPending
		out = append(out, c.dl)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: commit: %w", err)
	}
	return out, nil
}

// MarkDelivered implements likeness.OutboxStore.
func (d *DB) MarkDelivered(ctx context.Context, sink, msgID string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE outbox_deliveries
		SET state = 'delivered', delivered_us = ?, lease_until_us = 0, last_error = ''
		WHERE sink = ? AND msg_seq = (SELECT seq FROM outbox_messages WHERE id = ?)`), likeness.Micros(at), sink, msgID)
	if err != nil {
		return fmt.Errorf("sqlstore: mark delivered: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: mark delivered: %w", err)
	} else if n == 0 {
		return notFound("outbox delivery")
	}
	return nil
}

// MarkFailed implements likeness.OutboxStore.
func (d *DB) MarkFailed(ctx context.Context, sink, msgID string, attempt int, nextAt time.Time, errText string, dead bool) error {
	state := likeness.DeliveryPending
	if dead {
		state = likeness.DeliveryDead
	}
	if len(errText) > 500 {
		errText = errText[:500]
	}
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE outbox_deliveries
		SET state = ?, attempts = ?, next_at_us = ?, last_error = ?, lease_until_us = 0
		WHERE sink = ? AND msg_seq = (SELECT seq FROM outbox_messages WHERE id = ?) AND state <> 'delivered'`),
		state, attempt, likeness.Micros(nextAt), errText, sink, msgID)
	if err != nil {
		return fmt.Errorf("sqlstore: mark failed: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: mark failed: %w", err)
	}
	if n > 0 {
		return nil
	}
	var x int
	err = d.db.QueryRowContext(ctx, d.q(`SELECT 1 FROM outbox_deliveries
		WHERE sink = ? AND msg_seq = (SELECT seq FROM outbox_messages WHERE id = ?)`), sink, msgID).Scan(&x)
	if isNoRows(err) {
		return notFound("outbox delivery")
	}
	if err != nil {
		return fmt.Errorf("sqlstore: mark failed: %w", err)
	}
	return nil // already delivered: the failure report came late
}

// DeadDeliveries implements likeness.OutboxStore.
func (d *DB) DeadDeliveries(ctx context.Context, sink string, limit int) ([]*likeness.Delivery, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+msgCols+`, d.attempts, d.state, d.next_at_us, d.last_error, d.sink
		FROM outbox_deliveries d JOIN outbox_messages m ON m.seq = d.msg_seq
		WHERE d.state = 'dead' AND (? = '' OR d.sink = ?)
		ORDER BY m.seq, d.sink LIMIT ?`), sink, sink, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: dead deliveries: %w", err)
	}
	defer rows.Close()
	var out []*likeness.Delivery
	for rows.Next() {
		_, dl, err := scanDelivery(rows, "")
		if err != nil {
			return nil, fmt.Errorf("sqlstore: dead deliveries: %w", err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: dead deliveries: %w", err)
	}
	return out, nil
}

// RetryDead implements likeness.OutboxStore.
func (d *DB) RetryDead(ctx context.Context, sink, msgID string) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE outbox_deliveries
		SET state = 'pending', attempts = 0, next_at_us = 0, lease_until_us = 0
		WHERE sink = ? AND state = 'dead' AND msg_seq = (SELECT seq FROM outbox_messages WHERE id = ?)`), sink, msgID)
	if err != nil {
		return fmt.Errorf("sqlstore: retry dead delivery: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: retry dead delivery: %w", err)
	} else if n == 0 {
		return notFound("dead delivery")
	}
	return nil
}
