package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"likeness"
)

const eventCols = `idx, id, subject_id, purpose, type, method, notice_version, notice_sha256, language, collector, time_us, sealed, leaf_hash, validation, refers, imported`

func scanEvent(row rowScanner) (*likeness.ConsentEvent, [32]byte, error) {
	var ev likeness.ConsentEvent
	var typ, method string
	var us int64
	var leaf []byte
	var h [32]byte
	err := row.Scan(&ev.LedgerIndex, &ev.ID, &ev.SubjectID, &ev.Purpose, &typ, &method,
		&ev.NoticeVersion, &ev.NoticeSHA256, &ev.Language, &ev.Collector, &us, &ev.Sealed, &leaf, &ev.Validation, &ev.Refers, &ev.Imported)
	if err != nil {
		return nil, h, err
	}
	ev.Type, ev.Method = likeness.EventType(typ), likeness.Method(method)
	ev.Time = likeness.FromMicros(us)
	copy(h[:], leaf)
	return &ev, h, nil
}

// AppendEvents implements likeness.EventStore. Appends are group-committed
// (see group.go) with the audit row of the API call that makes them. The
// ledger index is taken under a lock held to commit, so indexes are dense
// and in commit order.
func (d *DB) AppendEvents(ctx context.Context, evs []*likeness.ConsentEvent, leaf likeness.LeafHashFunc) error {
	if len(evs) == 0 {
		return nil
	}
	if leaf == nil {
		return fmt.Errorf("sqlstore: append consent events: no leaf hash function")
	}
	r := &appendReq{evs: evs, leaf: leaf}
	w := &groupWrite{ctx: ctx, topic: "consent", audit: likeness.TakeAudit(ctx), append: r,
		run: func(ctx context.Context, tx *sql.Tx, g *group) error {
			if err := d.insertEvents(ctx, tx, g.eventStmt, r, g.next); err != nil {
				return err
			}
			g.next += int64(len(r.evs))
			return nil
		},
		committed: func() {
			for i, ev := range r.evs {
				ev.LedgerIndex = r.indexes[i]
				ev.Time = likeness.FromMicros(likeness.Micros(ev.Time))
			}
		}}
	return d.submit(w, "append consent events")
}

type appendReq struct {
	evs     []*likeness.ConsentEvent
	leaf    likeness.LeafHashFunc
	indexes []int64
}

// insertEvents writes one append's events and their outbox messages from
// ledger index next on; stmt is the event insert, prepared in tx.
func (d *DB) insertEvents(ctx context.Context, tx *sql.Tx, stmt *sql.Stmt, r *appendReq, next int64) error {
	if err := d.fenceErasing(ctx, tx, r.evs); err != nil {
		return err
	}
	r.indexes = make([]int64, len(r.evs))
	for i, ev := range r.evs {
		r.indexes[i] = next + int64(i)
		if err := insertEvent(ctx, stmt, ev, r.indexes[i], r.leaf); err != nil {
			return err
		}
		// The validation queue changes with the events that change it.
		if err := d.queueValidationTx(ctx, tx, ev, r.indexes[i]); err != nil {
			return err
		}
	}
	// The outbox messages commit or roll back with the events they report.
	if err := d.enqueueConsentTx(ctx, tx, r.evs, r.indexes); err != nil {
		return fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	return nil
}

const eventInsert = `INSERT INTO consent_events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (d *DB) prepareEventInsert(ctx context.Context, tx *sql.Tx) (*sql.Stmt, error) {
	return tx.PrepareContext(ctx, d.q(eventInsert))
}

// insertEvent writes ev at ledger index idx with the leaf hash leaf gives it.
func insertEvent(ctx context.Context, stmt *sql.Stmt, ev *likeness.ConsentEvent, idx int64, leaf likeness.LeafHashFunc) error {
	h := leaf(ev, idx)
	if _, err := stmt.ExecContext(ctx, idx, ev.ID, ev.SubjectID, ev.Purpose, string(ev.Type), string(ev.Method),
		ev.NoticeVersion, ev.NoticeSHA256, ev.Language, ev.Collector, likeness.Micros(ev.Time), ev.Sealed, h[:], ev.Validation, ev.Refers, ev.Imported); err != nil {
		return fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	return nil
}

// SubjectEvents implements likeness.EventStore.
func (d *DB) SubjectEvents(ctx context.Context, subjectID string) ([]*likeness.ConsentEvent, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+eventCols+` FROM consent_events WHERE subject_id = ? ORDER BY idx`), subjectID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subject events: %w", err)
	}
	defer rows.Close()
	var out []*likeness.ConsentEvent
	for rows.Next() {
		ev, _, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: subject events: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// Event implements likeness.EventStore.
func (d *DB) Event(ctx context.Context, id string) (*likeness.ConsentEvent, error) {
	ev, _, err := scanEvent(d.db.QueryRowContext(ctx, d.q(`SELECT `+eventCols+` FROM consent_events WHERE id = ?`), id))
	if isNoRows(err) {
		return nil, notFound("consent event")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read event: %w", err)
	}
	return ev, nil
}

// ForEachEvent implements likeness.EventStore. It reads the ledger in pages
// in index order, each an index range scan whatever the table's statistics
// say: one unbounded `idx >= ?` query was planned as a sequential scan and
// a sort of the whole table on PostgreSQL after a bulk load (before ANALYZE),
// so a caught-up replica's tail read took tens of seconds, not a millisecond.
func (d *DB) ForEachEvent(ctx context.Context, from int64, fn func(*likeness.ConsentEvent, [32]byte) error) error {
	for {
		n, next, err := d.readEventPage(ctx, from, fn)
		if err != nil || n < eventPage {
			return err
		}
		from = next
	}
}

// eventPage is how many events one query of ForEachEvent reads.
var eventPage = 10_000

// readEventPage calls fn for at most eventPage events from index from on, and
// says how many it read and the index after the last.
func (d *DB) readEventPage(ctx context.Context, from int64, fn func(*likeness.ConsentEvent, [32]byte) error) (int, int64, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+eventCols+` FROM consent_events WHERE idx >= ? ORDER BY idx LIMIT ?`), from, eventPage)
	if err != nil {
		return 0, from, fmt.Errorf("sqlstore: read ledger: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		ev, h, err := scanEvent(rows)
		if err != nil {
			return n, from, fmt.Errorf("sqlstore: read ledger: %w", err)
		}
		n++
		from = ev.LedgerIndex + 1
		if err := fn(ev, h); err != nil {
			return n, from, err
		}
	}
	return n, from, rows.Err()
}

// LedgerSize implements likeness.EventStore.
func (d *DB) LedgerSize(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM consent_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: ledger size: %w", err)
	}
	return n, nil
}

// LeafHashes implements likeness.EventStore.
func (d *DB) LeafHashes(ctx context.Context, from, to int64) ([][32]byte, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT leaf_hash FROM consent_events WHERE idx >= ? AND idx < ? ORDER BY idx`), from, to)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: leaf hashes: %w", err)
	}
	defer rows.Close()
	out := make([][32]byte, 0, max(0, min(to-from, 1<<12)))
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlstore: leaf hashes: %w", err)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("sqlstore: leaf hashes: a stored leaf hash of %d bytes", len(b))
		}
		out = append(out, [32]byte(b))
	}
	return out, rows.Err()
}

// PutCheckpoint implements likeness.CheckpointStore.
func (d *DB) PutCheckpoint(ctx context.Context, size int64, sign func() ([]byte, error)) (bool, error) {
	stored := false
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if err := d.lockCheckpoints(ctx, tx); err != nil {
			return err
		}
		var top int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(size), 0) FROM checkpoints`).Scan(&top); err != nil {
			return err
		}
		if size <= top {
			return nil
		}
		signed, err := sign()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO checkpoints (size, signed) VALUES (?, ?)`), size, signed); err != nil {
			return err
		}
		stored = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: put checkpoint: %w", err)
	}
	return stored, nil
}

// Checkpoints implements likeness.CheckpointStore.
func (d *DB) Checkpoints(ctx context.Context) ([][]byte, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT signed FROM checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: checkpoints: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlstore: checkpoints: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// LatestCheckpoint implements likeness.CheckpointStore.
func (d *DB) LatestCheckpoint(ctx context.Context) (int64, []byte, error) {
	var size int64
	var b []byte
	err := d.db.QueryRowContext(ctx, `SELECT size, signed FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &b)
	if isNoRows(err) {
		return 0, nil, notFound("checkpoint")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlstore: latest checkpoint: %w", err)
	}
	return size, b, nil
}

// fenceErasing refuses events about a subject whose erasure has begun, the
// erasure's own event excepted. It runs under the ledger lock (commitBatch
// fences again in its insert, which runs under it), and an erasure records
// its start before it appends its event, so no grant or withdrawal can land
// in the ledger after a subject's erasure event.
func (d *DB) fenceErasing(ctx context.Context, tx *sql.Tx, evs []*likeness.ConsentEvent) error {
	checked := ""
	var stmt *sql.Stmt // prepared on first use, for every subject
	for _, ev := range evs {
		if ev.Type == likeness.Erasure || ev.SubjectID == checked {
			continue
		}
		var n int
		var err error
		if stmt == nil {
			stmt, err = d.txStmt(ctx, tx, `SELECT count(*) FROM erasures WHERE subject_id = ?`)
		}
		if err == nil {
			err = stmt.QueryRowContext(ctx, ev.SubjectID).Scan(&n)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: append consent events: %w", err)
		}
		if n > 0 {
			return likeness.Errorf(likeness.EGONE, "this person's data is being erased; nothing more can be recorded about them")
		}
		checked = ev.SubjectID
	}
	return nil
}
