package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"likeness"
)

// afterAssetErased runs inside the transaction that marks an asset erased.
func (d *DB) afterAssetErased(ctx context.Context, tx *sql.Tx, a *likeness.Asset, at time.Time, reason string) error {
	return nil
}

// afterSubjectErased runs inside the transaction that finishes an erasure.
func (d *DB) afterSubjectErased(ctx context.Context, tx *sql.Tx, subjectID string, at time.Time) error {
	return nil
}
