package sqlstore

import (
	"context"
	"fmt"
	"time"

	"likeness"
)

// BeginWithdrawalErasure implements likeness.WithdrawalErasureStore.
func (d *DB) BeginWithdrawalErasure(ctx context.Context, e *likeness.WithdrawalErasure) (*likeness.WithdrawalErasure, error) {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO withdrawal_erasures (event_id, subject_id, purpose, ledger_index, requested_us)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`),
		e.EventID, e.SubjectID, e.Purpose, e.LedgerIndex, likeness.Micros(e.RequestedAt)); err != nil {
		return nil, fmt.Errorf("sqlstore: begin withdrawal erasure: %w", err)
	}
	got, err := scanWithdrawalErasure(d.db.QueryRowContext(ctx, d.q(`SELECT `+withdrawalErasureCols+` FROM withdrawal_erasures WHERE event_id = ?`), e.EventID))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin withdrawal erasure: %w", err)
	}
	return got, nil
}

// FinishWithdrawalErasure implements likeness.WithdrawalErasureStore.
func (d *DB) FinishWithdrawalErasure(ctx context.Context, eventID string, at time.Time, certificate []byte) error {
	if _, err := d.db.ExecContext(ctx, d.q(`UPDATE withdrawal_erasures SET completed_us = ?, certificate = ? WHERE event_id = ?`),
		likeness.Micros(at), certificate, eventID); err != nil {
		return fmt.Errorf("sqlstore: finish withdrawal erasure: %w", err)
	}
	return nil
}

// WithdrawalErasure implements likeness.WithdrawalErasureStore.
func (d *DB) WithdrawalErasure(ctx context.Context, eventID string) (*likeness.WithdrawalErasure, error) {
	e, err := scanWithdrawalErasure(d.db.QueryRowContext(ctx, d.q(`SELECT `+withdrawalErasureCols+` FROM withdrawal_erasures WHERE event_id = ?`), eventID))
	if isNoRows(err) {
		return nil, notFound("withdrawal erasure")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: withdrawal erasure: %w", err)
	}
	return e, nil
}

// SubjectWithdrawalErasures implements likeness.WithdrawalErasureStore.
func (d *DB) SubjectWithdrawalErasures(ctx context.Context, subjectID string) ([]*likeness.WithdrawalErasure, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+withdrawalErasureCols+` FROM withdrawal_erasures WHERE subject_id = ? ORDER BY ledger_index`), subjectID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: withdrawal erasures: %w", err)
	}
	defer rows.Close()
	var out []*likeness.WithdrawalErasure
	for rows.Next() {
		e, err := scanWithdrawalErasure(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: withdrawal erasures: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WithdrawalsAfter implements likeness.WithdrawalErasureStore.
func (d *DB) WithdrawalsAfter(ctx context.Context, index int64, limit int) ([]*likeness.ConsentEvent, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT idx, id, subject_id, purpose, time_us, imported FROM consent_events
		WHERE idx > ? AND type = ? ORDER BY idx LIMIT ?`), index, string(likeness.Withdraw), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: withdrawals: %w", err)
	}
	defer rows.Close()
	var out []*likeness.ConsentEvent
	for rows.Next() {
		ev := &likeness.ConsentEvent{Type: likeness.Withdraw}
		var us int64
		if err := rows.Scan(&ev.LedgerIndex, &ev.ID, &ev.SubjectID, &ev.Purpose, &us, &ev.Imported); err != nil {
			return nil, fmt.Errorf("sqlstore: withdrawals: %w", err)
		}
		ev.Time = likeness.FromMicros(us)
		out = append(out, ev)
	}
	return out, rows.Err()
}

const withdrawalErasureCols = `event_id, subject_id, purpose, ledger_index, requested_us, completed_us, certificate`

func scanWithdrawalErasure(row rowScanner) (*likeness.WithdrawalErasure, error) {
	var e likeness.WithdrawalErasure
	var req, done int64
	if err := row.Scan(&e.EventID, &e.SubjectID, &e.Purpose, &e.LedgerIndex, &req, &done, &e.Certificate); err != nil {
		return nil, err
	}
	e.RequestedAt = likeness.FromMicros(req)
	if done != 0 {
		e.CompletedAt = likeness.FromMicros(done)
	}
	return &e, nil
}
