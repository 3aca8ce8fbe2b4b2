package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.DatasetReviewStore = (*DB)(nil)

const reviewCols = `dataset_id, item_id, asset_id, purpose, category, reason, state, created_us, decided_by, decided_us, note`

func scanReview(row rowScanner) (*likeness.DatasetReview, error) {
	var r likeness.DatasetReview
	var created, decided int64
	if err := row.Scan(&r.DatasetID, &r.ItemID, &r.AssetID, &r.Purpose, &r.Category, &r.Reason, &r.State, &created,
		&r.DecidedBy, &decided, &r.Note); err != nil {
		return nil, err
	}
	r.CreatedAt = likeness.FromMicros(created)
	if decided != 0 {
		r.DecidedAt = likeness.FromMicros(decided)
	}
	return &r, nil
}

// InsertDatasetReviews implements likeness.DatasetReviewStore.
func (d *DB) InsertDatasetReviews(ctx context.Context, reviews []*likeness.DatasetReview) error {
	if len(reviews) == 0 {
		return nil
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO dataset_reviews (`+reviewCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("sqlstore: insert dataset reviews: %w", err)
		}
		defer stmt.Close()
		for _, r := range reviews {
			var decided int64
			if !r.DecidedAt.IsZero() {
				decided = likeness.Micros(r.DecidedAt)
			}
			if _, err := stmt.ExecContext(ctx, r.DatasetID, r.ItemID, r.AssetID, r.Purpose, r.Category, r.Reason, r.State,
				likeness.Micros(r.CreatedAt), r.DecidedBy, decided, r.Note); err != nil {
				return fmt.Errorf("sqlstore: insert dataset review: %w", err)
			}
		}
		return nil
	})
}

func (d *DB) queryReviews(ctx context.Context, q querier, query string, args ...any) ([]*likeness.DatasetReview, error) {
	rows, err := q.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list dataset reviews: %w", err)
	}
	defer rows.Close()
	out := []*likeness.DatasetReview{}
	for rows.Next() {
		r, err := scanReview(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list dataset reviews: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DatasetReviews implements likeness.DatasetReviewStore.
func (d *DB) DatasetReviews(ctx context.Context, datasetID string) ([]*likeness.DatasetReview, error) {
	return d.queryReviews(ctx, d.db, `SELECT `+reviewCols+` FROM dataset_reviews WHERE dataset_id = ? ORDER BY item_id`, datasetID)
}

// DecideDatasetReview implements likeness.DatasetReviewStore. One update
// takes every pending review of the item's asset and purpose, so two
// reviewers deciding at once (here or in another dataset) get one decision
// and one ECONFLICT.
func (d *DB) DecideDatasetReview(ctx context.Context, datasetID, itemID, state, by, note string, at time.Time) (*likeness.DatasetReview, error) {
	var out *likeness.DatasetReview
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		get := func() (*likeness.DatasetReview, error) {
			r, err := scanReview(tx.QueryRowContext(ctx, d.q(`SELECT `+reviewCols+` FROM dataset_reviews WHERE dataset_id = ? AND item_id = ?`), datasetID, itemID))
			if isNoRows(err) {
				return nil, notFound("dataset review")
			}
			if err != nil {
				return nil, fmt.Errorf("sqlstore: decide dataset review: %w", err)
			}
			return r, nil
		}
		r, err := get()
		if err != nil {
			return err
		}
		if r.State != likeness.ReviewPending {
			return decided(r)
		}
		elsewhere := fmt.Sprintf("decided in dataset %s (item %s)", datasetID, itemID)
		if note != "" {
			elsewhere += ": " + note
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE dataset_reviews SET state = ?, decided_by = ?, decided_us = ?,
			note = CASE WHEN dataset_id = ? AND item_id = ? THEN ? ELSE ? END
			WHERE asset_id = ? AND purpose = ? AND state = ?`), state, by, likeness.Micros(at), datasetID, itemID, note, elsewhere,
			r.AssetID, r.Purpose, likeness.ReviewPending); err != nil {
			return fmt.Errorf("sqlstore: decide dataset review: %w", err)
		}
		if r, err = get(); err != nil {
			return err
		}
		if r.State != state || r.DecidedBy != by || !r.DecidedAt.Equal(likeness.FromMicros(likeness.Micros(at))) || r.Note != note {
			return decided(r) // another decision took it first
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decided is the conflict of deciding r again.
func decided(r *likeness.DatasetReview) error {
	return likeness.Errorf(likeness.ECONFLICT, "this item was already reviewed (%s by %s)", r.State, r.DecidedBy)
}

// AssetReviewDecisions implements likeness.DatasetReviewStore.
func (d *DB) AssetReviewDecisions(ctx context.Context, purpose string) (map[string]*likeness.DatasetReview, error) {
	rs, err := d.queryReviews(ctx, d.db, `SELECT `+reviewCols+` FROM dataset_reviews WHERE purpose = ? AND state <> ?
		ORDER BY decided_us, dataset_id, item_id`, purpose, likeness.ReviewPending)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*likeness.DatasetReview, len(rs))
	for _, r := range rs {
		out[r.AssetID] = r // later decisions replace earlier ones
	}
	return out, nil
}

// PutDatasetCard implements likeness.DatasetReviewStore.
func (d *DB) PutDatasetCard(ctx context.Context, datasetID string, card []byte) error {
	res, err := d.db.ExecContext(ctx, d.q(`INSERT INTO dataset_cards (dataset_id, card) VALUES (?, ?) ON CONFLICT (dataset_id) DO NOTHING`),
		datasetID, string(card))
	if err != nil {
		return fmt.Errorf("sqlstore: put dataset card: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return likeness.Errorf(likeness.ECONFLICT, "dataset %s already has a card", datasetID)
	}
	return nil
}

// DatasetCard implements likeness.DatasetReviewStore.
func (d *DB) DatasetCard(ctx context.Context, datasetID string) ([]byte, error) {
	var card string
	err := d.db.QueryRowContext(ctx, d.q(`SELECT card FROM dataset_cards WHERE dataset_id = ?`), datasetID).Scan(&card)
	if isNoRows(err) {
		return nil, notFound("dataset card")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read dataset card: %w", err)
	}
	return []byte(card), nil
}
