package sqlstore

import (
	"context"
	"fmt"
	"time"

	"likeness"
)

const keyColumns = `id, hash, name, role, created_us, expires_us, revoked_us, last_used_us`

// InsertAPIKey implements likeness.APIKeyStore.
func (d *DB) InsertAPIKey(ctx context.Context, k *likeness.APIKey) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO api_keys (id, hash, name, role, created_us, expires_us) VALUES (?, ?, ?, ?, ?, ?)`),
		k.ID, k.Hash, k.Name, string(k.Role), likeness.Micros(k.CreatedAt), microsOrZero(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert api key: %w", err)
	}
	return nil
}

// APIKeyByHash implements likeness.APIKeyStore.
func (d *DB) APIKeyByHash(ctx context.Context, hash []byte) (*likeness.APIKey, error) {
	k, err := scanKey(d.db.QueryRowContext(ctx, d.q(`SELECT `+keyColumns+` FROM api_keys WHERE hash = ? AND revoked_us = 0`), hash))
	if isNoRows(err) {
		return nil, notFound("api key")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read api key: %w", err)
	}
	return k, nil
}

// APIKeys implements likeness.APIKeyStore.
func (d *DB) APIKeys(ctx context.Context) ([]*likeness.APIKey, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_us, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list api keys: %w", err)
	}
	defer rows.Close()
	var out []*likeness.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements likeness.APIKeyStore. The revocation time is set
// only where none is, so a second revocation changes nothing.
func (d *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us = 0`), microsOrZero(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: revoke api key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var one int
	if err := d.db.QueryRowContext(ctx, d.q(`SELECT 1 FROM api_keys WHERE id = ?`), id).Scan(&one); isNoRows(err) {
		return notFound("api key")
	} else if err != nil {
		return fmt.Errorf("sqlstore: revoke api key: %w", err)
	}
	return nil
}

// TouchAPIKey implements likeness.APIKeyStore.
func (d *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := d.db.ExecContext(ctx, d.q(`UPDATE api_keys SET last_used_us = ? WHERE id = ? AND last_used_us < ?`), microsOrZero(at), id, microsOrZero(at))
	if err != nil {
		return fmt.Errorf("sqlstore: record api key use: %w", err)
	}
	return nil
}

// APIKeyRevision implements likeness.APIKeyStore: the number of revoked
// keys. Keys are never deleted and a revocation is never undone, so it only
// grows, by one for each revocation.
func (d *DB) APIKeyRevision(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE revoked_us <> 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: api key revision: %w", err)
	}
	return n, nil
}

func scanKey(row rowScanner) (*likeness.APIKey, error) {
	var k likeness.APIKey
	var role string
	var created, expires, revoked, used int64
	if err := row.Scan(&k.ID, &k.Hash, &k.Name, &role, &created, &expires, &revoked, &used); err != nil {
		return nil, err
	}
	k.Role = likeness.Role(role)
	k.CreatedAt = likeness.FromMicros(created)
	k.ExpiresAt = timeOrZero(expires)
	k.RevokedAt = timeOrZero(revoked)
	k.LastUsedAt = timeOrZero(used)
	return &k, nil
}
