package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"likeness"
)

var _ likeness.ValidationStore = (*DB)(nil)

const validationCols = `event_id, idx, subject_id, purpose, method, collector, created_us, due_us, state, reviewer, decided_us, outcome_id`

// superseded is true for a row of validations whose subject and purpose
// have a later grant, renewal, withdrawal or expiry, or whose subject a
// later erasure: its question is moot. It is read, never stored, so an
// ordinary append does not pay for it.
const superseded = `EXISTS (SELECT 1 FROM consent_events e WHERE e.subject_id = validations.subject_id AND e.idx > validations.idx
	AND (e.type = 'erasure' OR e.purpose = validations.purpose AND e.type IN ('grant', 'renew', 'withdraw', 'expire')))`

func scanValidation(row rowScanner) (*likeness.Validation, error) {
	var v likeness.Validation
	var idx, created, due, decided int64
	var method string
	var moot bool
	if err := row.Scan(&v.EventID, &idx, &v.SubjectID, &v.Purpose, &method, &v.Collector, &created, &due, &v.State,
		&v.Reviewer, &decided, &v.OutcomeID, &moot); err != nil {
		return nil, err
	}
	v.Method = likeness.Method(method)
	v.CreatedAt, v.Due = likeness.FromMicros(created), likeness.FromMicros(due)
	if decided != 0 {
		v.DecidedAt = likeness.FromMicros(decided)
	}
	if moot && v.State == likeness.ValidationStatePending {
		v.State = likeness.ValidationStateSuperseded
	}
	return &v, nil
}

// selectValidations reads rows with their superseded flag.
const selectValidations = `SELECT ` + validationCols + `, CASE WHEN ` + superseded + ` THEN 1 ELSE 0 END = 1 FROM validations`

// queueValidationTx keeps the validation queue in step with ev, appended at
// ledger index idx (see likeness.ValidationStore).
func (d *DB) queueValidationTx(ctx context.Context, tx *sql.Tx, ev *likeness.ConsentEvent, idx int64) error {
	switch ev.Type {
	case likeness.Grant, likeness.Renew:
		if ev.Validation != likeness.ValidationPending {
			return nil
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO validations (`+validationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '')`),
			ev.ID, idx, ev.SubjectID, ev.Purpose, string(ev.Method), ev.Collector, likeness.Micros(ev.Time),
			likeness.Micros(ev.ValidationDue), likeness.ValidationStatePending); err != nil {
			return fmt.Errorf("sqlstore: queue consent for validation: %w", err)
		}
	case likeness.Validated, likeness.ValidationRejected:
		state := likeness.ValidationStateApproved
		if ev.Type == likeness.ValidationRejected {
			state = likeness.ValidationStateRejected
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE validations SET state = ?, reviewer = ?, decided_us = ?, outcome_id = ?
			WHERE event_id = ? AND subject_id = ? AND purpose = ? AND state = 'pending' AND NOT `+superseded),
			state, ev.Collector, likeness.Micros(ev.Time), ev.ID, ev.Refers, ev.SubjectID, ev.Purpose)
		if err != nil {
			return fmt.Errorf("sqlstore: decide validation: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return d.whyUndecidable(ctx, tx, ev)
	}
	return nil
}

// whyUndecidable says why a verdict found no pending item to decide.
func (d *DB) whyUndecidable(ctx context.Context, tx *sql.Tx, ev *likeness.ConsentEvent) error {
	v, err := scanValidation(tx.QueryRowContext(ctx, d.q(selectValidations+` WHERE event_id = ?`), ev.Refers))
	switch {
	case isNoRows(err):
		return likeness.Errorf(likeness.ENOTFOUND, "no consent waits for validation under this id")
	case err != nil:
		return fmt.Errorf("sqlstore: decide validation: %w", err)
	case v.SubjectID != ev.SubjectID || v.Purpose != ev.Purpose:
		return likeness.Errorf(likeness.EINVALID, "the verdict names another subject or purpose than the consent it decides")
	case v.State == likeness.ValidationStateSuperseded:
		return likeness.Errorf(likeness.ECONFLICT, "this consent was replaced by a later event (a new consent, a withdrawal or an erasure); nothing is left to validate")
	default:
		return likeness.Errorf(likeness.ECONFLICT, "this consent was already %s by %s", v.State, v.Reviewer)
	}
}

// Validations implements likeness.ValidationStore.
func (d *DB) Validations(ctx context.Context, state string, limit int) ([]*likeness.Validation, error) {
	where, args := "", []any{}
	switch state {
	case "":
	case likeness.ValidationStatePending:
		where = ` WHERE state = 'pending' AND NOT ` + superseded
	case likeness.ValidationStateSuperseded:
		where = ` WHERE state = 'pending' AND ` + superseded
	default:
		where, args = ` WHERE state = ?`, append(args, state)
	}
	q := selectValidations + where + ` ORDER BY due_us, event_id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list validations: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Validation{}
	for rows.Next() {
		v, err := scanValidation(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list validations: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Validation implements likeness.ValidationStore.
func (d *DB) Validation(ctx context.Context, eventID string) (*likeness.Validation, error) {
	v, err := scanValidation(d.db.QueryRowContext(ctx, d.q(selectValidations+` WHERE event_id = ?`), eventID))
	if isNoRows(err) {
		return nil, notFound("validation")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read validation: %w", err)
	}
	return v, nil
}
