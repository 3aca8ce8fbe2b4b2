package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"likeness"
)

var _ likeness.ImportStore = (*DB)(nil)

// inChunk bounds the values of one IN (…) list, well under both databases'
// limits on bound parameters.
const inChunk = 500

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// chunks calls fn on successive slices of at most inChunk values.
func chunks[T any](vals []T, fn func([]T) error) error {
	for len(vals) > 0 {
		n := min(len(vals), inChunk)
		if err := fn(vals[:n]); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}

func anys[T any](vals []T, conv func(T) any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = conv(v)
	}
	return out
}

// ImportMarks implements likeness.ImportStore.
func (d *DB) ImportMarks(ctx context.Context, keys [][32]byte) (map[[32]byte]*likeness.ImportMark, error) {
	out := map[[32]byte]*likeness.ImportMark{}
	err := chunks(keys, func(part [][32]byte) error {
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT import_key, digest, run, line, created_us FROM import_marks
			WHERE import_key IN (`+placeholders(len(part))+`)`), anys(part, func(k [32]byte) any { return k[:] })...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMark(rows)
			if err != nil {
				return err
			}
			out[m.Key] = m
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read import marks: %w", err)
	}
	return out, nil
}

func scanMark(row rowScanner) (*likeness.ImportMark, error) {
	var m likeness.ImportMark
	var key, digest []byte
	var us int64
	if err := row.Scan(&key, &digest, &m.Run, &m.Line, &us); err != nil {
		return nil, err
	}
	copy(m.Key[:], key)
	copy(m.Digest[:], digest)
	m.At = likeness.FromMicros(us)
	return &m, nil
}

// AppendImported implements likeness.ImportStore. It is one transaction
// under the ledger lock, like a group of AppendEvents, but without a
// savepoint per item: the two ways an item fails alone (its key is marked,
// its subject is being erased) are found by reading, before it writes.
func (d *DB) AppendImported(ctx context.Context, items []*likeness.ImportItem, leaf likeness.LeafHashFunc) error {
	if len(items) == 0 {
		return nil
	}
	if leaf == nil {
		return fmt.Errorf("sqlstore: append imported: no leaf hash function")
	}
	indexes, err := d.appendImported(ctx, items, leaf)
	if err != nil {
		return fmt.Errorf("sqlstore: append imported: %w", err)
	}
	for i, it := range items {
		for k, ev := range it.Events {
			if indexes[i] == nil {
				break
			}
			ev.LedgerIndex = indexes[i][k]
			ev.Time = likeness.FromMicros(likeness.Micros(ev.Time))
		}
	}
	return nil
}

// appendImported writes the items and returns each stored item's ledger
// indexes (nil for items not stored).
func (d *DB) appendImported(ctx context.Context, items []*likeness.ImportItem, leaf likeness.LeafHashFunc) ([][]int64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	next, err := d.lockNext(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("lock ledger: %w", err)
	}
	erasing, err := d.erasing(ctx, tx, items)
	if err != nil {
		return nil, err
	}
	mark, err := tx.PrepareContext(ctx, d.q(`INSERT INTO import_marks (import_key, digest, run, line, created_us)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (import_key) DO NOTHING`))
	if err != nil {
		return nil, err
	}
	defer mark.Close()
	insert, err := d.prepareEventInsert(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer insert.Close()
	now := likeness.FromMicros(likeness.Micros(time.Now()))
	indexes := make([][]int64, len(items))
	var msgs []*likeness.OutboxMessage
	for i, it := range items {
		it.Existing, it.Err = nil, nil
		if len(it.Events) > 0 && erasing[it.Events[0].SubjectID] {
			it.Err = likeness.Errorf(likeness.EGONE, "this person's data is being erased; nothing more can be recorded about them")
			continue
		}
		m := &it.Mark
		m.At = now
		won, err := oneRow(mark.ExecContext(ctx, m.Key[:], m.Digest[:], m.Run, m.Line, likeness.Micros(now)))
		if err != nil {
			return nil, err
		}
		if !won {
			if it.Existing, err = scanMark(tx.QueryRowContext(ctx, d.q(`SELECT import_key, digest, run, line, created_us
				FROM import_marks WHERE import_key = ?`), m.Key[:])); err != nil {
				return nil, err
			}
			continue
		}
		indexes[i] = make([]int64, len(it.Events))
		for k, ev := range it.Events {
			indexes[i][k] = next
			if err := insertEvent(ctx, insert, ev, next, leaf); err != nil {
				return nil, err
			}
			if msg := likeness.ConsentMessage(ev, next); msg != nil {
				msgs = append(msgs, msg)
			}
			next++
		}
	}
	if err := d.setNext(ctx, tx, next); err != nil {
		return nil, err
	}
	// The outbox messages commit or roll back with the events they report.
	if err := d.enqueueTx(ctx, tx, msgs...); err != nil {
		return nil, err
	}
	if err := d.notifyTx(ctx, tx, "consent"); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return indexes, nil
}

// erasing returns the subjects of items whose erasure has begun, read under
// the ledger lock (see fenceErasing).
func (d *DB) erasing(ctx context.Context, tx *sql.Tx, items []*likeness.ImportItem) (map[string]bool, error) {
	seen := map[string]bool{}
	var ids []string
	for _, it := range items {
		for _, ev := range it.Events {
			if ev.Type == likeness.Erasure {
				return nil, likeness.Errorf(likeness.EINVALID, "an erasure cannot be imported")
			}
			if !seen[ev.SubjectID] {
				seen[ev.SubjectID] = true
				ids = append(ids, ev.SubjectID)
			}
		}
	}
	out := map[string]bool{}
	err := chunks(ids, func(part []string) error {
		rows, err := tx.QueryContext(ctx, d.q(`SELECT subject_id FROM erasures WHERE subject_id IN (`+placeholders(len(part))+`)`),
			anys(part, func(s string) any { return s })...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
		}
		return rows.Err()
	})
	return out, err
}

// InsertSubjects implements likeness.SubjectStore.
func (d *DB) InsertSubjects(ctx context.Context, subs []*likeness.Subject, wrappedKeys [][]byte) ([]*likeness.Subject, []bool, error) {
	if len(subs) != len(wrappedKeys) {
		return nil, nil, fmt.Errorf("sqlstore: insert subjects: %d subjects, %d keys", len(subs), len(wrappedKeys))
	}
	out := make([]*likeness.Subject, len(subs))
	created := make([]bool, len(subs))
	var taken []string
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		sub, err := tx.PrepareContext(ctx, d.q(`INSERT INTO subjects (`+subjectCols+`) VALUES (?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT (external_hash) DO NOTHING`))
		if err != nil {
			return err
		}
		defer sub.Close()
		key, err := tx.PrepareContext(ctx, d.q(`INSERT INTO subject_keys (subject_id, wrapped) VALUES (?, ?)`))
		if err != nil {
			return err
		}
		defer key.Close()
		for i, s := range subs {
			won, err := oneRow(sub.ExecContext(ctx, s.ID, s.ExternalHash, s.Locale, s.Jurisdiction, s.Guardian, likeness.Micros(s.CreatedAt)))
			if err != nil {
				return err
			}
			if !won {
				taken = append(taken, s.ExternalHash)
				continue
			}
			if _, err := key.ExecContext(ctx, s.ID, wrappedKeys[i]); err != nil {
				return err
			}
			c := *s
			c.CreatedAt = likeness.FromMicros(likeness.Micros(s.CreatedAt))
			out[i], created[i] = &c, true
		}
		return d.notifyTx(ctx, tx, "subject")
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: insert subjects: %w", err)
	}
	if len(taken) == 0 {
		return out, created, nil
	}
	existing, err := d.SubjectsByExternalHash(ctx, taken)
	if err != nil {
		return nil, nil, err
	}
	for i, s := range subs {
		if out[i] == nil {
			if out[i] = existing[s.ExternalHash]; out[i] == nil {
				return nil, nil, fmt.Errorf("sqlstore: insert subjects: a subject vanished while it was inserted")
			}
		}
	}
	return out, created, nil
}

// SubjectsByExternalHash implements likeness.SubjectStore.
func (d *DB) SubjectsByExternalHash(ctx context.Context, hashes []string) (map[string]*likeness.Subject, error) {
	out := map[string]*likeness.Subject{}
	err := chunks(hashes, func(part []string) error {
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+subjectRead+` FROM subjects WHERE external_hash IN (`+placeholders(len(part))+`)`),
			anys(part, func(s string) any { return s })...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSubject(rows)
			if err != nil {
				return err
			}
			out[s.ExternalHash] = s
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subjects: %w", err)
	}
	return out, nil
}
