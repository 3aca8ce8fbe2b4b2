package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"likeness"
)

const operatorColumns = `name, role, password_hash, totp_sealed, totp_confirmed, totp_step, failures, locked_us, created_us, disabled_us`

// InsertOperator implements likeness.OperatorStore.
func (d *DB) InsertOperator(ctx context.Context, op *likeness.Operator, recoveryHashes [][]byte) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM operators WHERE name = ?`), op.Name).Scan(&n); err != nil {
			return fmt.Errorf("check operator name: %w", err)
		}
		if n > 0 {
			return likeness.Errorf(likeness.ECONFLICT, "an operator called %q exists already", op.Name)
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO operators (`+operatorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			op.Name, string(op.Role), op.PasswordHash, op.TOTPSealed, op.TOTPConfirmed, op.TOTPStep, op.Failures,
			microsOrZero(op.LockedUntil), likeness.Micros(op.CreatedAt), microsOrZero(op.DisabledAt)); err != nil {
			return err
		}
		return insertRecoveryCodes(ctx, d, tx, op.Name, recoveryHashes)
	})
	if err != nil && likeness.ErrorCode(err) != likeness.ECONFLICT {
		return fmt.Errorf("sqlstore: insert operator: %w", err)
	}
	return err
}

func insertRecoveryCodes(ctx context.Context, d *DB, tx *sql.Tx, name string, hashes [][]byte) error {
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO operator_recovery_codes (operator, hash) VALUES (?, ?)`), name, h); err != nil {
			return err
		}
	}
	return nil
}

// Operator implements likeness.OperatorStore.
func (d *DB) Operator(ctx context.Context, name string) (*likeness.Operator, error) {
	op, err := scanOperator(d.db.QueryRowContext(ctx, d.q(`SELECT `+operatorColumns+` FROM operators WHERE name = ?`), name))
	if isNoRows(err) {
		return nil, notFound("operator")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read operator: %w", err)
	}
	return op, nil
}

// Operators implements likeness.OperatorStore.
func (d *DB) Operators(ctx context.Context) ([]*likeness.Operator, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list operators: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Operator{}
	for rows.Next() {
		op, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list operators: %w", err)
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

func scanOperator(row interface{ Scan(...any) error }) (*likeness.Operator, error) {
	var op likeness.Operator
	var role string
	var locked, created, disabled int64
	if err := row.Scan(&op.Name, &role, &op.PasswordHash, &op.TOTPSealed, &op.TOTPConfirmed, &op.TOTPStep, &op.Failures,
		&locked, &created, &disabled); err != nil {
		return nil, err
	}
	op.Role, op.CreatedAt = likeness.OperatorRole(role), likeness.FromMicros(created)
	if locked != 0 {
		op.LockedUntil = likeness.FromMicros(locked)
	}
	if disabled != 0 {
		op.DisabledAt = likeness.FromMicros(disabled)
	}
	return &op, nil
}

// UpdateOperator implements likeness.OperatorStore.
func (d *DB) UpdateOperator(ctx context.Context, op *likeness.Operator) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE operators SET role = ?, password_hash = ?, totp_sealed = ?, totp_confirmed = ?,
		failures = ?, locked_us = ?, disabled_us = ? WHERE name = ?`),
		string(op.Role), op.PasswordHash, op.TOTPSealed, op.TOTPConfirmed, op.Failures, microsOrZero(op.LockedUntil),
		microsOrZero(op.DisabledAt), op.Name)
	if err != nil {
		return fmt.Errorf("sqlstore: update operator: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound("operator")
	}
	return nil
}

// AcceptOperatorStep implements likeness.OperatorStore: one conditional
// UPDATE, so of two sign-ins with the same code only one changes the row.
func (d *DB) AcceptOperatorStep(ctx context.Context, name string, step int64) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE operators SET totp_step = ? WHERE name = ? AND totp_step < ?`), step, name, step)
	if err != nil {
		return false, fmt.Errorf("sqlstore: accept totp step: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: accept totp step: %w", err)
	}
	return n == 1, nil
}

// ReplaceRecoveryCodes implements likeness.OperatorStore.
func (d *DB) ReplaceRecoveryCodes(ctx context.Context, name string, hashes [][]byte) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM operator_recovery_codes WHERE operator = ?`), name); err != nil {
			return err
		}
		return insertRecoveryCodes(ctx, d, tx, name, hashes)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: replace recovery codes: %w", err)
	}
	return nil
}

// UseRecoveryCode implements likeness.OperatorStore.
func (d *DB) UseRecoveryCode(ctx context.Context, name string, hash []byte, at time.Time) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE operator_recovery_codes SET used_us = ? WHERE operator = ? AND hash = ? AND used_us = 0`),
		likeness.Micros(at), name, hash)
	if err != nil {
		return false, fmt.Errorf("sqlstore: use recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: use recovery code: %w", err)
	}
	return n == 1, nil
}

// UnusedRecoveryCodes implements likeness.OperatorStore.
func (d *DB) UnusedRecoveryCodes(ctx context.Context, name string) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, d.q(`SELECT count(*) FROM operator_recovery_codes WHERE operator = ? AND used_us = 0`), name).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count recovery codes: %w", err)
	}
	return n, nil
}
