package sqlstore

import "context"

// SetBeforeInsert makes the group committer call f between its erasure
// fence and its insert, so a test can change the database in between.
func (d *DB) SetBeforeInsert(f func()) { d.beforeInsert = f }

// ReconcileNext runs what Open runs to lower a ledger counter left ahead
// of the stored ledger, and returns by how much it lowered it.
func (d *DB) ReconcileNext(ctx context.Context) (int64, error) { return d.reconcileNext(ctx) }
