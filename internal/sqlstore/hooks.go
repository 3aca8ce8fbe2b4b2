package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"likeness"
)

// afterAssetErased runs inside the transaction that marks an asset erased:
// downstream systems hear of it through the outbox, in the same commit.
func (d *DB) afterAssetErased(ctx context.Context, tx *sql.Tx, a *likeness.Asset, at time.Time, reason string) error {
	typ := likeness.MsgAssetErased
	if reason == "retention_expired" {
		typ = likeness.MsgAssetExpired
	}
	data, err := json.Marshal(map[string]any{"asset_id": a.ID, "subject_id": a.SubjectID, "purpose": a.Purpose,
		"category": a.Category, "derived_from": a.DerivedFrom, "reason": reason, "time": at.UTC()})
	if err != nil {
		return err
	}
	if err := d.notifyTx(ctx, tx, "asset"); err != nil {
		return err
	}
	return d.enqueueTx(ctx, tx, &likeness.OutboxMessage{ID: "msg_" + typ + "_" + a.ID, Type: typ,
		SubjectID: a.SubjectID, Data: data, CreatedAt: at})
}

// afterSubjectErased runs inside the transaction that finishes an erasure.
func (d *DB) afterSubjectErased(ctx context.Context, tx *sql.Tx, subjectID string, at time.Time) error {
	data, err := json.Marshal(map[string]any{"subject_id": subjectID, "time": at.UTC()})
	if err != nil {
		return err
	}
	if err := d.notifyTx(ctx, tx, "subject"); err != nil {
		return err
	}
	return d.enqueueTx(ctx, tx, &likeness.OutboxMessage{ID: "msg_subject.erased_" + subjectID, Type: likeness.MsgSubjectErased,
		SubjectID: subjectID, Data: data, CreatedAt: at})
}
