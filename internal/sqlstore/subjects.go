package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"

	"likeness"
)

const subjectCols = `id, external_hash, locale, jurisdiction, guardian, created_us, erased_us`

// subjectRead is what scanSubject reads: the stored columns and the hash
// of the contact address.
const subjectRead = subjectCols + `, contact_hash`

func scanSubject(row rowScanner) (*likeness.Subject, error) {
	var s likeness.Subject
	var created, erased int64
	if err := row.Scan(&s.ID, &s.ExternalHash, &s.Locale, &s.Jurisdiction, &s.Guardian, &created, &erased, &s.ContactHash); err != nil {
		return nil, err
	}
	s.CreatedAt = likeness.FromMicros(created)
	if erased != 0 {
		s.ErasedAt = likeness.FromMicros(erased)
	}
	return &s, nil
}

// InsertSubject implements likeness.SubjectStore. Creations are
// group-committed (see group.go) with the audit row of the API call that
// makes them; a creation that finds the subject already there writes none.
func (d *DB) InsertSubject(ctx context.Context, s *likeness.Subject, wrappedKey []byte) (*likeness.Subject, bool, error) {
	created := false
	w := &groupWrite{ctx: ctx, topic: "subject", audit: likeness.TakeAudit(ctx)}
	w.run = func(ctx context.Context, tx *sql.Tx, g *group) error {
		won, err := oneRow(g.exec(ctx, tx, `INSERT INTO subjects (`+subjectCols+`) VALUES (?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT (external_hash) DO NOTHING`, s.ID, s.ExternalHash, s.Locale, s.Jurisdiction, s.Guardian, likeness.Micros(s.CreatedAt)))
		if err != nil {
			return fmt.Errorf("sqlstore: insert subject: %w", err)
		}
		if !won {
			w.unchanged = true
			return nil
		}
		if _, err := g.exec(ctx, tx, `INSERT INTO subject_keys (subject_id, wrapped) VALUES (?, ?)`, s.ID, wrappedKey); err != nil {
			return fmt.Errorf("sqlstore: insert subject key: %w", err)
		}
		created = true
		return nil
	}
	if err := d.submit(w, "insert subject"); err != nil {
		return nil, false, err
	}
	if !created {
		existing, err := d.SubjectByExternalHash(ctx, s.ExternalHash)
		return existing, false, err
	}
	out := *s
	out.CreatedAt = likeness.FromMicros(likeness.Micros(s.CreatedAt))
	return &out, true, nil
}

// Subject implements likeness.SubjectStore.
func (d *DB) Subject(ctx context.Context, id string) (*likeness.Subject, error) {
	s, err := scanSubject(d.queryRow(ctx, `SELECT `+subjectRead+` FROM subjects WHERE id = ?`, id))
	if isNoRows(err) {
		return nil, notFound("subject")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subject: %w", err)
	}
	return s, nil
}

// SubjectByExternalHash implements likeness.SubjectStore.
func (d *DB) SubjectByExternalHash(ctx context.Context, hash string) (*likeness.Subject, error) {
	s, err := scanSubject(d.queryRow(ctx, `SELECT `+subjectRead+` FROM subjects WHERE external_hash = ?`, hash))
	if isNoRows(err) {
		return nil, notFound("subject")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subject: %w", err)
	}
	return s, nil
}

// UpdateSubject implements likeness.SubjectStore.
func (d *DB) UpdateSubject(ctx context.Context, id, locale, jurisdiction string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE subjects SET locale = ?, jurisdiction = ?, updated_us = ? WHERE id = ? AND erased_us = 0`),
		locale, jurisdiction, likeness.Micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: update subject: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("subject")
	}
	d.notify(ctx, "subject")
	return nil
}

// SubjectsUpdatedSince implements likeness.SubjectStore.
func (d *DB) SubjectsUpdatedSince(ctx context.Context, since time.Time) ([]*likeness.Subject, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+subjectRead+` FROM subjects WHERE updated_us >= ? ORDER BY updated_us`), likeness.Micros(since))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: updated subjects: %w", err)
	}
	defer rows.Close()
	var out []*likeness.Subject
	for rows.Next() {
		s, err := scanSubject(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: updated subjects: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SubjectKey implements likeness.SubjectStore.
func (d *DB) SubjectKey(ctx context.Context, id string) ([]byte, error) {
	var w []byte
	err := d.db.QueryRowContext(ctx, d.q(`SELECT wrapped FROM subject_keys WHERE subject_id = ?`), id).Scan(&w)
	if isNoRows(err) {
		return nil, notFound("subject key")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subject key: %w", err)
	}
	return w, nil
}

// RewrapSubjectKeys implements likeness.SubjectStore.
func (d *DB) RewrapSubjectKeys(ctx context.Context, fn func(string, []byte) ([]byte, error)) (int, error) {
	const batch = 500
	after, total := "", 0
	for {
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT subject_id, wrapped FROM subject_keys WHERE subject_id > ? ORDER BY subject_id LIMIT ?`), after, batch)
		if err != nil {
			return total, fmt.Errorf("sqlstore: rewrap keys: %w", err)
		}
		type kv struct {
			id string
			w  []byte
		}
		var page []kv
		for rows.Next() {
			var e kv
			if err := rows.Scan(&e.id, &e.w); err != nil {
				rows.Close()
				return total, fmt.Errorf("sqlstore: rewrap keys: %w", err)
			}
			page = append(page, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("sqlstore: rewrap keys: %w", err)
		}
		if len(page) == 0 {
			return total, nil
		}
		err = d.inTx(ctx, func(tx *sql.Tx) error {
			for _, e := range page {
				w, err := fn(e.id, e.w)
				if err != nil {
					return err
				}
				if bytes.Equal(w, e.w) {
					continue // a read-only scan writes nothing
				}
				if _, err := tx.ExecContext(ctx, d.q(`UPDATE subject_keys SET wrapped = ? WHERE subject_id = ?`), w, e.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sqlstore: rewrap keys: %w", err)
		}
		total += len(page)
		after = page[len(page)-1].id
	}
}

// SubjectsCreatedSince implements likeness.SubjectStore. It reads in pages,
// keyed by (created_us, id), so each query is a range scan of the
// created_us index however stale the table's statistics are: as one
// unbounded query it was a sequential scan of every person on a
// PostgreSQL database that had not been analyzed since a bulk load.
func (d *DB) SubjectsCreatedSince(ctx context.Context, since time.Time) ([]*likeness.Subject, error) {
	us, after := likeness.Micros(since), ""
	var out []*likeness.Subject
	for {
		page, err := d.subjectsCreatedPage(ctx, us, after)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: created subjects: %w", err)
		}
		out = append(out, page...)
		if len(page) < subjectPage {
			return out, nil
		}
		last := page[len(page)-1]
		us, after = likeness.Micros(last.CreatedAt), last.ID
	}
}

// subjectPage is how many people one query of SubjectsCreatedSince reads.
var subjectPage = 10_000

// subjectsCreatedPage reads the next page of people created at or after us
// (those created at us itself only with an id after after).
func (d *DB) subjectsCreatedPage(ctx context.Context, us int64, after string) ([]*likeness.Subject, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+subjectRead+` FROM subjects
		WHERE created_us >= ? AND (created_us > ? OR id > ?) ORDER BY created_us, id LIMIT ?`), us, us, after, subjectPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*likeness.Subject
	for rows.Next() {
		s, err := scanSubject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CountSubjects returns how many subjects are stored, erased ones included
// (what a full load reads, for its progress).
func (d *DB) CountSubjects(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM subjects`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count subjects: %w", err)
	}
	return n, nil
}

// ForEachSubject implements likeness.SubjectStore.
func (d *DB) ForEachSubject(ctx context.Context, fn func(*likeness.Subject) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT `+subjectRead+` FROM subjects`)
	if err != nil {
		return fmt.Errorf("sqlstore: list subjects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSubject(rows)
		if err != nil {
			return fmt.Errorf("sqlstore: list subjects: %w", err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetSubjectContact implements likeness.SubjectStore.
func (d *DB) SetSubjectContact(ctx context.Context, id, hash string, sealed []byte) error {
	if (hash == "") != (sealed == nil) {
		return likeness.Errorf(likeness.EINVALID, "a contact address needs both its hash and its sealed form")
	}
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE subjects SET contact_hash = ?, contact_sealed = ? WHERE id = ? AND erased_us = 0`),
		hash, sealed, id)
	if err != nil {
		return fmt.Errorf("sqlstore: set subject contact: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("subject")
	}
	return nil
}

// SubjectContact implements likeness.SubjectStore.
func (d *DB) SubjectContact(ctx context.Context, id string) ([]byte, error) {
	var sealed []byte
	err := d.db.QueryRowContext(ctx, d.q(`SELECT contact_sealed FROM subjects WHERE id = ? AND contact_hash <> ''`), id).Scan(&sealed)
	if isNoRows(err) || (err == nil && len(sealed) == 0) {
		return nil, notFound("contact address")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read subject contact: %w", err)
	}
	return sealed, nil
}

// SubjectsByContactHash implements likeness.SubjectStore.
func (d *DB) SubjectsByContactHash(ctx context.Context, hash string) ([]*likeness.Subject, error) {
	out := []*likeness.Subject{}
	if hash == "" {
		return out, nil
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+subjectRead+` FROM subjects WHERE contact_hash = ? AND erased_us = 0 ORDER BY id`), hash)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subjects by contact: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSubject(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: subjects by contact: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
