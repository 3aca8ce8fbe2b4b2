package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"likeness"
)

var _ likeness.RequestStore = (*DB)(nil)

const requestCols = `id, subject_id, type, purpose, channel, received_us, due_us, extended_us, extension_reason,
	state, completed_us, outcome, certificate, reject_reason, claimed_us, revision`

func scanRequest(row rowScanner) (*likeness.DSRequest, error) {
	var r likeness.DSRequest
	var typ string
	var received, due, extended, completed, claimed int64
	err := row.Scan(&r.ID, &r.SubjectID, &typ, &r.Purpose, &r.Channel, &received, &due, &extended, &r.ExtensionReason,
		&r.State, &completed, &r.Outcome, &r.Certificate, &r.RejectReason, &claimed, &r.Revision)
	if err != nil {
		return nil, err
	}
	r.Type = likeness.RequestType(typ)
	r.ReceivedAt, r.DueAt = likeness.FromMicros(received), likeness.FromMicros(due)
	r.ExtendedTo = timeOrZero(extended)
	r.CompletedAt = timeOrZero(completed)
	r.ClaimedUntil = timeOrZero(claimed)
	return &r, nil
}

// timeOrZero is FromMicros with 0 meaning the zero time.
func timeOrZero(us int64) (t time.Time) {
	if us != 0 {
		t = likeness.FromMicros(us)
	}
	return t
}

// requestMicros is Micros with the zero time stored as 0.
func requestMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return likeness.Micros(t)
}

// InsertRequest implements likeness.RequestStore.
func (d *DB) InsertRequest(ctx context.Context, r *likeness.DSRequest) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO requests (`+requestCols+`, deadline_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`),
		r.ID, r.SubjectID, string(r.Type), r.Purpose, r.Channel, likeness.Micros(r.ReceivedAt), likeness.Micros(r.DueAt),
		requestMicros(r.ExtendedTo), r.ExtensionReason, r.State, requestMicros(r.CompletedAt), r.Outcome, r.Certificate,
		r.RejectReason, requestMicros(r.ClaimedUntil), likeness.Micros(r.Deadline()))
	if err != nil {
		return fmt.Errorf("sqlstore: insert request: %w", err)
	}
	r.Revision = 0
	return nil
}

// Request implements likeness.RequestStore.
func (d *DB) Request(ctx context.Context, id string) (*likeness.DSRequest, error) {
	r, err := scanRequest(d.db.QueryRowContext(ctx, d.q(`SELECT `+requestCols+` FROM requests WHERE id = ?`), id))
	if isNoRows(err) {
		return nil, notFound("request")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read request: %w", err)
	}
	return r, nil
}

// Requests implements likeness.RequestStore.
func (d *DB) Requests(ctx context.Context, f likeness.RequestFilter) ([]*likeness.DSRequest, error) {
	var where []string
	var args []any
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.SubjectID != "" {
		where, args = append(where, "subject_id = ?"), append(args, f.SubjectID)
	}
	if !f.OverdueAt.IsZero() {
		where, args = append(where, "state = ? AND deadline_us < ?"), append(args, likeness.RequestOpen, likeness.Micros(f.OverdueAt))
	}
	query := `SELECT ` + requestCols + ` FROM requests`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY deadline_us, id`
	if f.Limit > 0 {
		query, args = query+` LIMIT ?`, append(args, f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list requests: %w", err)
	}
	defer rows.Close()
	out := []*likeness.DSRequest{}
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list requests: %w", err)
	}
	return out, nil
}

// UpdateRequest implements likeness.RequestStore: a compare-and-swap on the
// revision, so two replicas completing one request cannot both succeed.
func (d *DB) UpdateRequest(ctx context.Context, r *likeness.DSRequest) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE requests SET extended_us = ?, extension_reason = ?, deadline_us = ?,
		state = ?, completed_us = ?, outcome = ?, certificate = ?, reject_reason = ?, claimed_us = ?, revision = revision + 1
		WHERE id = ? AND state = ? AND revision = ?`),
		requestMicros(r.ExtendedTo), r.ExtensionReason, likeness.Micros(r.Deadline()), r.State, requestMicros(r.CompletedAt),
		r.Outcome, r.Certificate, r.RejectReason, requestMicros(r.ClaimedUntil), r.ID, likeness.RequestOpen, r.Revision)
	if err != nil {
		return fmt.Errorf("sqlstore: update request: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: update request: %w", err)
	}
	if n == 1 {
		r.Revision++
		return nil
	}
	cur, err := d.Request(ctx, r.ID)
	if err != nil {
		return err
	}
	if cur.State != likeness.RequestOpen {
		return likeness.Errorf(likeness.ECONFLICT, "the request is already %s", cur.State)
	}
	return likeness.Errorf(likeness.ECONFLICT, "the request was changed at the same time by another caller; read it again")
}
