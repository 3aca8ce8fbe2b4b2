package sqlstore

import (
	"context"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.IdempotencyStore = (*DB)(nil)

// ClaimIdempotency implements likeness.IdempotencyStore. The primary key
// decides between concurrent inserts, and one conditional UPDATE between
// concurrent take-overs of an expired record, so two replicas cannot both
// hold a key.
func (d *DB) ClaimIdempotency(ctx context.Context, r *likeness.IdempotentRequest, now, expired time.Time) (*likeness.IdempotentRequest, error) {
	for range 3 {
		res, err := d.db.ExecContext(ctx, d.q(`INSERT INTO idempotency (scope, idem_key, claim, created_us, lease_us, subject_id)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, idem_key) DO NOTHING`),
			r.Scope, r.Key, r.Claim, likeness.Micros(r.CreatedAt), likeness.Micros(r.LeaseUntil), r.SubjectID)
		if won, err := oneRow(res, err); err != nil || won {
			return nil, wrapClaim(err)
		}
		res, err = d.db.ExecContext(ctx, d.q(`UPDATE idempotency SET claim = ?, created_us = ?, lease_us = ?, subject_id = ?, done = 0,
			fingerprint = '', status = 0, header = NULL, body = NULL
			WHERE scope = ? AND idem_key = ? AND (created_us < ? OR (done = 0 AND lease_us < ?))`),
			r.Claim, likeness.Micros(r.CreatedAt), likeness.Micros(r.LeaseUntil), r.SubjectID, r.Scope, r.Key,
			likeness.Micros(expired), likeness.Micros(now))
		if won, err := oneRow(res, err); err != nil || won {
			return nil, wrapClaim(err)
		}
		held, err := d.idempotent(ctx, r.Scope, r.Key)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			continue // released between our statements: try again
		}
		return held, err
	}
	return nil, likeness.Errorf(likeness.ECONFLICT, "a request with this Idempotency-Key is in progress; retry")
}

func wrapClaim(err error) error {
	if err != nil {
		return fmt.Errorf("sqlstore: claim idempotency key: %w", err)
	}
	return nil
}

// oneRow reports whether an Exec changed exactly one row.
func oneRow(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (d *DB) idempotent(ctx context.Context, scope, key string) (*likeness.IdempotentRequest, error) {
	r := likeness.IdempotentRequest{Scope: scope, Key: key}
	var created, lease, done, status int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT claim, subject_id, created_us, lease_us, done, fingerprint, status, header, body
		FROM idempotency WHERE scope = ? AND idem_key = ?`), scope, key).
		Scan(&r.Claim, &r.SubjectID, &created, &lease, &done, &r.Fingerprint, &status, &r.Header, &r.Body)
	if isNoRows(err) {
		return nil, notFound("idempotent request")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read idempotent request: %w", err)
	}
	r.CreatedAt, r.LeaseUntil = likeness.FromMicros(created), likeness.FromMicros(lease)
	r.Done, r.Status = done == 1, int(status)
	return &r, nil
}

// CompleteIdempotency implements likeness.IdempotencyStore.
func (d *DB) CompleteIdempotency(ctx context.Context, r *likeness.IdempotentRequest) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE idempotency SET done = 1, fingerprint = ?, status = ?, header = ?, body = ?
		WHERE scope = ? AND idem_key = ? AND claim = ? AND done = 0`),
		r.Fingerprint, r.Status, r.Header, r.Body, r.Scope, r.Key, r.Claim)
	won, err := oneRow(res, err)
	if err != nil {
		return fmt.Errorf("sqlstore: complete idempotent request: %w", err)
	}
	if !won {
		return notFound("idempotency claim")
	}
	return nil
}

// ReleaseIdempotency implements likeness.IdempotencyStore.
func (d *DB) ReleaseIdempotency(ctx context.Context, scope, key, claim string) error {
	if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM idempotency WHERE scope = ? AND idem_key = ? AND claim = ? AND done = 0`),
		scope, key, claim); err != nil {
		return fmt.Errorf("sqlstore: release idempotency key: %w", err)
	}
	return nil
}

// SweepIdempotency implements likeness.IdempotencyStore.
func (d *DB) SweepIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM idempotency WHERE created_us < ?`), likeness.Micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: sweep idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
