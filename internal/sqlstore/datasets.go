package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.DatasetStore = (*DB)(nil)

const datasetCols = `id, version, status, purpose, categories, recipient, profile, item_count, subject_count, skipped,
	manifest_sha256, created_us, created_by, predecessor_id, successor_id, taint_reason, tainted_us, wrapped_key`

func scanDataset(row rowScanner) (*likeness.Dataset, error) {
	var d likeness.Dataset
	var cats, profile, skipped string
	var created, tainted int64
	if err := row.Scan(&d.ID, &d.Version, &d.Status, &d.Purpose, &cats, &d.Recipient, &profile, &d.ItemCount, &d.SubjectCount,
		&skipped, &d.ManifestSHA256, &created, &d.CreatedBy, &d.PredecessorID, &d.SuccessorID, &d.TaintReason, &tainted,
		&d.WrappedKey); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cats), &d.Categories); err != nil {
		return nil, fmt.Errorf("decode dataset categories: %w", err)
	}
	if err := json.Unmarshal([]byte(profile), &d.Profile); err != nil {
		return nil, fmt.Errorf("decode dataset profile: %w", err)
	}
	if skipped != "" && skipped != "null" {
		if err := json.Unmarshal([]byte(skipped), &d.Skipped); err != nil {
			return nil, fmt.Errorf("decode dataset skipped: %w", err)
		}
	}
	d.CreatedAt = likeness.FromMicros(created)
	if tainted != 0 {
		d.TaintedAt = likeness.FromMicros(tainted)
	}
	return &d, nil
}

// InsertDataset implements likeness.DatasetStore.
func (d *DB) InsertDataset(ctx context.Context, ds *likeness.Dataset, members []*likeness.DatasetMember) error {
	cats, err := json.Marshal(ds.Categories)
	if err != nil {
		return err
	}
	profile, err := json.Marshal(ds.Profile)
	if err != nil {
		return err
	}
	skipped := []byte("{}")
	if len(ds.Skipped) > 0 {
		if skipped, err = json.Marshal(ds.Skipped); err != nil {
			return err
		}
	}
	var tainted int64
	if !ds.TaintedAt.IsZero() {
		tainted = likeness.Micros(ds.TaintedAt)
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if ds.PredecessorID != "" {
			res, err := tx.ExecContext(ctx, d.q(`UPDATE datasets SET successor_id = ? WHERE id = ? AND successor_id = ''`), ds.ID, ds.PredecessorID)
			if err != nil {
				return fmt.Errorf("sqlstore: link dataset successor: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var succ string
				err := tx.QueryRowContext(ctx, d.q(`SELECT successor_id FROM datasets WHERE id = ?`), ds.PredecessorID).Scan(&succ)
				if isNoRows(err) {
					return notFound("predecessor dataset")
				}
				if err != nil {
					return fmt.Errorf("sqlstore: link dataset successor: %w", err)
				}
				return likeness.Errorf(likeness.ECONFLICT, "dataset %s already has a successor (%s)", ds.PredecessorID, succ)
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO datasets (`+datasetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ds.ID, ds.Version, ds.Status, ds.Purpose, string(cats), ds.Recipient, string(profile), ds.ItemCount, ds.SubjectCount,
			string(skipped), ds.ManifestSHA256, likeness.Micros(ds.CreatedAt), ds.CreatedBy, ds.PredecessorID, ds.SuccessorID,
			ds.TaintReason, tainted, ds.WrappedKey); err != nil {
			return fmt.Errorf("sqlstore: insert dataset: %w", err)
		}
		if len(members) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO dataset_members (dataset_id, item_id, asset_id, subject_id, category, consent_event_id)
			VALUES (?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("sqlstore: insert dataset members: %w", err)
		}
		defer stmt.Close()
		for _, m := range members {
			if _, err := stmt.ExecContext(ctx, ds.ID, m.ItemID, m.AssetID, m.SubjectID, m.Category, m.ConsentEventID); err != nil {
				return fmt.Errorf("sqlstore: insert dataset member: %w", err)
			}
		}
		return nil
	})
}

// Dataset implements likeness.DatasetStore.
func (d *DB) Dataset(ctx context.Context, id string) (*likeness.Dataset, error) {
	ds, err := scanDataset(d.db.QueryRowContext(ctx, d.q(`SELECT `+datasetCols+` FROM datasets WHERE id = ?`), id))
	if isNoRows(err) {
		return nil, notFound("dataset")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read dataset: %w", err)
	}
	return ds, nil
}

func (d *DB) queryDatasets(ctx context.Context, q querier, query string, args ...any) ([]*likeness.Dataset, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list datasets: %w", err)
	}
	defer rows.Close()
	var out []*likeness.Dataset
	for rows.Next() {
		ds, err := scanDataset(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list datasets: %w", err)
		}
		out = append(out, ds)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Datasets implements likeness.DatasetStore.
func (d *DB) Datasets(ctx context.Context) ([]*likeness.Dataset, error) {
	return d.queryDatasets(ctx, d.db, `SELECT `+datasetCols+` FROM datasets ORDER BY created_us, id`)
}

// SubjectDatasets implements likeness.DatasetStore.
func (d *DB) SubjectDatasets(ctx context.Context, subjectID string) ([]*likeness.Dataset, error) {
	return d.queryDatasets(ctx, d.db, `SELECT `+datasetCols+` FROM datasets
		WHERE id IN (SELECT dataset_id FROM dataset_members WHERE subject_id = ?) ORDER BY created_us, id`, subjectID)
}

// DatasetMembers implements likeness.DatasetStore.
func (d *DB) DatasetMembers(ctx context.Context, datasetID string) ([]*likeness.DatasetMember, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT dataset_id, item_id, asset_id, subject_id, category, consent_event_id
		FROM dataset_members WHERE dataset_id = ? ORDER BY item_id`), datasetID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list dataset members: %w", err)
	}
	defer rows.Close()
	out := []*likeness.DatasetMember{}
	for rows.Next() {
		var m likeness.DatasetMember
		if err := rows.Scan(&m.DatasetID, &m.ItemID, &m.AssetID, &m.SubjectID, &m.Category, &m.ConsentEventID); err != nil {
			return nil, fmt.Errorf("sqlstore: list dataset members: %w", err)
		}
		out = append(out, &m)
	}
	return out, rows.Err()
}

// TaintSubjectDatasets implements likeness.DatasetStore. The taint and its
// dataset.tainted messages commit together.
func (d *DB) TaintSubjectDatasets(ctx context.Context, subjectID, purpose, reason string, at time.Time) ([]*likeness.Dataset, error) {
	return d.taint(ctx, "subject_id", subjectID, purpose, reason, at)
}

// TaintAssetDatasets implements likeness.DatasetStore, as
// TaintSubjectDatasets does for a subject.
func (d *DB) TaintAssetDatasets(ctx context.Context, assetID, reason string, at time.Time) ([]*likeness.Dataset, error) {
	return d.taint(ctx, "asset_id", assetID, "", reason, at)
}

// taint taints the datasets whose members have the given value in column
// (subject_id or asset_id), of purpose ("": any), and enqueues their
// dataset.tainted messages, listing those members' items.
func (d *DB) taint(ctx context.Context, column, value, purpose, reason string, at time.Time) ([]*likeness.Dataset, error) {
	at = likeness.FromMicros(likeness.Micros(at))
	var out []*likeness.Dataset
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		// Every dataset holding them, tainted or not: one already tainted
		// by someone else must still report these items.
		query := `SELECT ` + datasetCols + ` FROM datasets WHERE id IN (SELECT dataset_id FROM dataset_members WHERE ` + column + ` = ?)`
		args := []any{value}
		if purpose != "" {
			query += ` AND purpose = ?`
			args = append(args, purpose)
		}
		found, err := d.queryDatasets(ctx, tx, query+` ORDER BY created_us, id`, args...)
		if err != nil {
			return err
		}
		for _, ds := range found {
			res, err := tx.ExecContext(ctx, d.q(`UPDATE datasets SET status = ?, taint_reason = ?, tainted_us = ? WHERE id = ? AND status <> ?`),
				likeness.DatasetTainted, reason, likeness.Micros(at), ds.ID, likeness.DatasetTainted)
			if err != nil {
				return fmt.Errorf("sqlstore: taint dataset: %w", err)
			}
			changed, _ := res.RowsAffected()
			if changed > 0 {
				ds.Status, ds.TaintReason, ds.TaintedAt = likeness.DatasetTainted, reason, at
				out = append(out, ds)
			}
			msg, err := d.taintMessage(ctx, tx, ds, column, value, reason, at)
			if err != nil {
				return err
			}
			if err := d.enqueueTx(ctx, tx, msg); err != nil {
				return fmt.Errorf("sqlstore: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// taintMessage builds the dataset.tainted message: the affected items by
// their pseudonyms and the models to retrain, never the subject's or the
// asset's id. It reports the items of one subject (or one asset) leaving a
// dataset; its id is keyed by dataset and that id (hashed: the id never
// leaves), so a retried taint enqueues it once.
func (d *DB) taintMessage(ctx context.Context, tx *sql.Tx, ds *likeness.Dataset, column, value, reason string, at time.Time) (*likeness.OutboxMessage, error) {
	data := likeness.DatasetTaintedData{DatasetID: ds.ID, Version: ds.Version, Purpose: ds.Purpose, Reason: reason,
		Time: at, ItemIDs: []string{}, Models: []string{}}
	items, err := tx.QueryContext(ctx, d.q(`SELECT item_id FROM dataset_members WHERE dataset_id = ? AND `+column+` = ? ORDER BY item_id`), ds.ID, value)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: taint message: %w", err)
	}
	for items.Next() {
		var id string
		if err := items.Scan(&id); err != nil {
			items.Close()
			return nil, err
		}
		data.ItemIDs = append(data.ItemIDs, id)
	}
	items.Close()
	models, err := tx.QueryContext(ctx, d.q(`SELECT id FROM models WHERE dataset_id = ? ORDER BY created_us, id`), ds.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: taint message: %w", err)
	}
	for models.Next() {
		var id string
		if err := models.Scan(&id); err != nil {
			models.Close()
			return nil, err
		}
		data.Models = append(data.Models, id)
	}
	models.Close()
	body, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(ds.ID + "/" + value))
	return &likeness.OutboxMessage{ID: "msg_dataset.tainted_" + ds.ID + "_" + hex.EncodeToString(key[:8]),
		Type: likeness.MsgDatasetTainted, Data: body, CreatedAt: at}, nil
}

// InsertModel implements likeness.DatasetStore.
func (d *DB) InsertModel(ctx context.Context, m *likeness.Model) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM datasets WHERE id = ?`), m.DatasetID).Scan(&n); err != nil {
			return fmt.Errorf("sqlstore: insert model: %w", err)
		}
		if n == 0 {
			return notFound("dataset")
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO models (id, name, dataset_id, created_us, created_by) VALUES (?, ?, ?, ?, ?)`),
			m.ID, m.Name, m.DatasetID, likeness.Micros(m.CreatedAt), m.CreatedBy); err != nil {
			return fmt.Errorf("sqlstore: insert model: %w", err)
		}
		return nil
	})
}

// DatasetModels implements likeness.DatasetStore.
func (d *DB) DatasetModels(ctx context.Context, datasetID string) ([]*likeness.Model, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT id, name, dataset_id, created_us, created_by FROM models WHERE dataset_id = ? ORDER BY created_us, id`), datasetID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list models: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Model{}
	for rows.Next() {
		var m likeness.Model
		var us int64
		if err := rows.Scan(&m.ID, &m.Name, &m.DatasetID, &us, &m.CreatedBy); err != nil {
			return nil, fmt.Errorf("sqlstore: list models: %w", err)
		}
		m.CreatedAt = likeness.FromMicros(us)
		out = append(out, &m)
	}
	return out, rows.Err()
}

// PutSubjectAttributes implements likeness.DatasetStore.
func (d *DB) PutSubjectAttributes(ctx context.Context, subjectID, purpose string, sealed []byte, at time.Time) error {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO subject_attributes (subject_id, purpose, sealed, updated_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject_id, purpose) DO UPDATE SET sealed = excluded.sealed, updated_us = excluded.updated_us`),
		subjectID, purpose, sealed, likeness.Micros(at)); err != nil {
		return fmt.Errorf("sqlstore: put subject attributes: %w", err)
	}
	return nil
}

// SubjectAttributes implements likeness.DatasetStore.
func (d *DB) SubjectAttributes(ctx context.Context, subjectID, purpose string) ([]byte, error) {
	var sealed []byte
	err := d.db.QueryRowContext(ctx, d.q(`SELECT sealed FROM subject_attributes WHERE subject_id = ? AND purpose = ?`), subjectID, purpose).Scan(&sealed)
	if isNoRows(err) {
		return nil, notFound("subject attributes")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subject attributes: %w", err)
	}
	return sealed, nil
}

// RewrapDatasetKeys implements likeness.DatasetStore.
func (d *DB) RewrapDatasetKeys(ctx context.Context, fn func(string, []byte) ([]byte, error)) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, wrapped_key FROM datasets ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: rewrap dataset keys: %w", err)
	}
	type kv struct {
		id string
		w  []byte
	}
	var all []kv
	for rows.Next() {
		var e kv
		if err := rows.Scan(&e.id, &e.w); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlstore: rewrap dataset keys: %w", err)
		}
		all = append(all, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range all {
			w, err := fn(e.id, e.w)
			if err != nil {
				return err
			}
			if bytes.Equal(w, e.w) {
				continue // a read-only scan writes nothing
			}
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE datasets SET wrapped_key = ? WHERE id = ?`), w, e.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: rewrap dataset keys: %w", err)
	}
	return len(all), nil
}
