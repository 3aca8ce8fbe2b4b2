package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"likeness"
)

const assetCols = `id, subject_id, purpose, category, content_type, size, sha256, original_sha256, derived_from,
	consent_event_id, region, blob_key, created_us, retain_until_us, erased_us, erased_reason`

func scanAsset(row rowScanner) (*likeness.Asset, error) {
	var a likeness.Asset
	var created, retain, erased int64
	err := row.Scan(&a.ID, &a.SubjectID, &a.Purpose, &a.Category, &a.ContentType, &a.Size, &a.SHA256, &a.OriginalSHA256,
		&a.DerivedFrom, &a.ConsentEventID, &a.Region, &a.BlobKey, &created, &retain, &erased, &a.ErasedReason)
	if err != nil {
		return nil, err
	}
	a.CreatedAt, a.RetainUntil = likeness.FromMicros(created), likeness.FromMicros(retain)
	if erased != 0 {
		a.ErasedAt = likeness.FromMicros(erased)
	}
	return &a, nil
}

// InsertAsset implements likeness.AssetStore.
func (d *DB) InsertAsset(ctx context.Context, a *likeness.Asset) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO assets (`+assetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')`),
		a.ID, a.SubjectID, a.Purpose, a.Category, a.ContentType, a.Size, a.SHA256, a.OriginalSHA256, a.DerivedFrom,
		a.ConsentEventID, a.Region, a.BlobKey, likeness.Micros(a.CreatedAt), likeness.Micros(a.RetainUntil))
	if err != nil {
		return fmt.Errorf("sqlstore: insert asset: %w", err)
	}
	d.notify(ctx, "asset")
	return nil
}

// Asset implements likeness.AssetStore.
func (d *DB) Asset(ctx context.Context, id string) (*likeness.Asset, error) {
	a, err := scanAsset(d.db.QueryRowContext(ctx, d.q(`SELECT `+assetCols+` FROM assets WHERE id = ?`), id))
	if isNoRows(err) {
		return nil, notFound("asset")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read asset: %w", err)
	}
	return a, nil
}

func (d *DB) queryAssets(ctx context.Context, query string, args ...any) ([]*likeness.Asset, error) {
	rows, err := d.db.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list assets: %w", err)
	}
	defer rows.Close()
	var out []*likeness.Asset
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list assets: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SubjectAssets implements likeness.AssetStore.
func (d *DB) SubjectAssets(ctx context.Context, subjectID string) ([]*likeness.Asset, error) {
	return d.queryAssets(ctx, `SELECT `+assetCols+` FROM assets WHERE subject_id = ? ORDER BY created_us, id`, subjectID)
}

// DerivedAssets implements likeness.AssetStore.
func (d *DB) DerivedAssets(ctx context.Context, parentID string) ([]*likeness.Asset, error) {
	return d.queryAssets(ctx, `SELECT `+assetCols+` FROM assets WHERE derived_from = ? ORDER BY created_us, id`, parentID)
}

// ExpiredAssets implements likeness.AssetStore.
func (d *DB) ExpiredAssets(ctx context.Context, now time.Time, limit int) ([]*likeness.Asset, error) {
	return d.queryAssets(ctx, `SELECT `+assetCols+` FROM assets WHERE erased_us = 0 AND retain_until_us <= ? ORDER BY retain_until_us LIMIT ?`,
		likeness.Micros(now), limit)
}

// AssetsChangedSince implements likeness.AssetStore.
func (d *DB) AssetsChangedSince(ctx context.Context, since time.Time) ([]*likeness.Asset, error) {
	us := likeness.Micros(since)
	return d.queryAssets(ctx, `SELECT `+assetCols+` FROM assets WHERE created_us >= ? OR erased_us >= ? ORDER BY created_us, id`, us, us)
}

// ForEachAsset implements likeness.AssetStore.
func (d *DB) ForEachAsset(ctx context.Context, fn func(*likeness.Asset) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT `+assetCols+` FROM assets`)
	if err != nil {
		return fmt.Errorf("sqlstore: list assets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return fmt.Errorf("sqlstore: list assets: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// MarkAssetErased implements likeness.AssetStore.
func (d *DB) MarkAssetErased(ctx context.Context, id string, at time.Time, reason string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		a, err := scanAsset(tx.QueryRowContext(ctx, d.q(`SELECT `+assetCols+` FROM assets WHERE id = ?`), id))
		if isNoRows(err) {
			return notFound("asset")
		}
		if err != nil {
			return fmt.Errorf("sqlstore: erase asset: %w", err)
		}
		if a.Erased() {
			return nil
		}
		// The content's fingerprints go with the content: a hash of a face
		// could still confirm whose it was.
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE assets SET erased_us = ?, erased_reason = ?, sha256 = '', original_sha256 = '' WHERE id = ?`),
			likeness.Micros(at), reason, id); err != nil {
			return fmt.Errorf("sqlstore: erase asset: %w", err)
		}
		return d.afterAssetErased(ctx, tx, a, at, reason)
	})
}

// AppendAccess implements likeness.AuditStore.
func (d *DB) AppendAccess(ctx context.Context, e *likeness.AccessEntry) error {
	if _, err := d.db.ExecContext(ctx, d.q(insertAccess), accessArgs(e)...); err != nil {
		return fmt.Errorf("sqlstore: append access log: %w", err)
	}
	return nil
}

// SubjectAccessLog implements likeness.AuditStore.
func (d *DB) SubjectAccessLog(ctx context.Context, subjectID string, limit int) ([]*likeness.AccessEntry, error) {
	return d.accessLog(ctx, `WHERE subject_id = ? ORDER BY seq DESC LIMIT ?`, subjectID, limit)
}

// RecentAccess implements likeness.AuditStore.
func (d *DB) RecentAccess(ctx context.Context, limit int) ([]*likeness.AccessEntry, error) {
	return d.accessLog(ctx, `ORDER BY seq DESC LIMIT ?`, limit)
}

func (d *DB) accessLog(ctx context.Context, where string, args ...any) ([]*likeness.AccessEntry, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT id, time_us, action, key_id, role, subject_id, asset_id, purpose, recipient, country, allow, reasons, operator, reason
		FROM access_log `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read access log: %w", err)
	}
	defer rows.Close()
	out := []*likeness.AccessEntry{}
	for rows.Next() {
		var e likeness.AccessEntry
		var us int64
		var role, reasons string
		if err := rows.Scan(&e.ID, &us, &e.Action, &e.KeyID, &role, &e.SubjectID, &e.AssetID, &e.Purpose, &e.Recipient, &e.Country, &e.Allow, &reasons, &e.Operator, &e.Reason); err != nil {
			return nil, fmt.Errorf("sqlstore: read access log: %w", err)
		}
		e.Time, e.Role = likeness.FromMicros(us), likeness.Role(role)
		if reasons != "" {
			e.Reasons = strings.Split(reasons, ",")
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}

// BeginErasure implements likeness.ErasureStore.
func (d *DB) BeginErasure(ctx context.Context, subjectID string, at time.Time) (*likeness.ErasureRecord, error) {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO erasures (subject_id, requested_us) VALUES (?, ?) ON CONFLICT (subject_id) DO NOTHING`),
		subjectID, likeness.Micros(at)); err != nil {
		return nil, fmt.Errorf("sqlstore: begin erasure: %w", err)
	}
	// The person's portal sessions end with the erasure (PortalSession
	// already refuses them once the row above exists).
	if _, err := d.EndSubjectPortalSessions(ctx, subjectID); err != nil {
		return nil, err
	}
	d.notify(ctx, "erasure")
	return d.Erasure(ctx, subjectID)
}

// SetErasureLedgerIndex implements likeness.ErasureStore.
func (d *DB) SetErasureLedgerIndex(ctx context.Context, subjectID string, index int64) error {
	if _, err := d.db.ExecContext(ctx, d.q(`UPDATE erasures SET ledger_index = ? WHERE subject_id = ?`), index, subjectID); err != nil {
		return fmt.Errorf("sqlstore: erasure ledger index: %w", err)
	}
	return nil
}

// DestroySubjectKey implements likeness.ErasureStore.
func (d *DB) DestroySubjectKey(ctx context.Context, subjectID string) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM subject_keys WHERE subject_id = ?`), subjectID); err != nil {
			return err
		}
		// The contact address is sealed under the key: it goes with it,
		// and so does its hash, so no link can be asked for it any more.
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE subjects SET contact_hash = '', contact_sealed = NULL WHERE id = ?`), subjectID); err != nil {
			return err
		}
		// So do the kept answers to writes about them: a retry of one
		// performs it again (and finds the person erased).
		_, err := tx.ExecContext(ctx, d.q(`DELETE FROM idempotency WHERE subject_id = ? AND subject_id <> ''`), subjectID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: destroy subject key: %w", err)
	}
	if d.dialect == sqlite {
		// Overwrite freed pages so the wrapped key does not linger in the file.
		if _, err := d.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return fmt.Errorf("sqlstore: checkpoint after key destruction: %w", err)
		}
	}
	return nil
}

// FinishErasure implements likeness.ErasureStore.
func (d *DB) FinishErasure(ctx context.Context, subjectID string, at time.Time, certificate []byte) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE erasures SET completed_us = ?, certificate = ? WHERE subject_id = ? AND completed_us = 0`),
			likeness.Micros(at), certificate, subjectID)
		if err != nil {
			return fmt.Errorf("sqlstore: finish erasure: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already finished
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE subjects SET erased_us = ?, locale = '', external_hash = ? WHERE id = ?`),
			likeness.Micros(at), "erased:"+subjectID, subjectID); err != nil {
			return fmt.Errorf("sqlstore: finish erasure: %w", err)
		}
		return d.afterSubjectErased(ctx, tx, subjectID, at)
	})
}

// Erasure implements likeness.ErasureStore.
func (d *DB) Erasure(ctx context.Context, subjectID string) (*likeness.ErasureRecord, error) {
	e, err := scanErasure(d.db.QueryRowContext(ctx, d.q(`SELECT subject_id, requested_us, completed_us, ledger_index, certificate FROM erasures WHERE subject_id = ?`), subjectID))
	if isNoRows(err) {
		return nil, notFound("erasure")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read erasure: %w", err)
	}
	return e, nil
}

func scanErasure(row rowScanner) (*likeness.ErasureRecord, error) {
	var e likeness.ErasureRecord
	var req, done int64
	if err := row.Scan(&e.SubjectID, &req, &done, &e.LedgerIndex, &e.Certificate); err != nil {
		return nil, err
	}
	e.RequestedAt = likeness.FromMicros(req)
	if done != 0 {
		e.CompletedAt = likeness.FromMicros(done)
	}
	return &e, nil
}

// PendingErasures implements likeness.ErasureStore.
func (d *DB) PendingErasures(ctx context.Context) ([]*likeness.ErasureRecord, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT subject_id, requested_us, completed_us, ledger_index, certificate FROM erasures WHERE completed_us = 0 ORDER BY requested_us`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: pending erasures: %w", err)
	}
	defer rows.Close()
	var out []*likeness.ErasureRecord
	for rows.Next() {
		e, err := scanErasure(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
