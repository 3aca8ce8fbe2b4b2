package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.LinkStore = (*DB)(nil)

const linkCols = `kind, subject_id, purposes, return_url, created_us, expires_us, used_us`

// CreateLink implements likeness.LinkStore. Only the hash of the id is stored.
func (d *DB) CreateLink(ctx context.Context, l *likeness.Link) error {
	if l.ID == "" {
		return likeness.Errorf(likeness.EINVALID, "link has no id")
	}
	purposes := l.Purposes
	if purposes == nil {
		purposes = []string{}
	}
	pj, err := json.Marshal(purposes)
	if err != nil {
		return err
	}
	var used int64
	if !l.UsedAt.IsZero() {
		used = likeness.Micros(l.UsedAt)
	}
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO links (id_hash, `+linkCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		likeness.LinkHash(l.ID), l.Kind, l.SubjectID, string(pj), l.ReturnURL,
		likeness.Micros(l.CreatedAt), likeness.Micros(l.ExpiresAt), used); err != nil {
		return fmt.Errorf("sqlstore: create link: %w", err)
	}
	return nil
}

// Link implements likeness.LinkStore.
func (d *DB) Link(ctx context.Context, id string) (*likeness.Link, error) {
	return d.readLink(ctx, id)
}

func (d *DB) readLink(ctx context.Context, id string) (*likeness.Link, error) {
	var l likeness.Link
	var pj string
	var created, expires, used int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT `+linkCols+` FROM links WHERE id_hash = ?`), likeness.LinkHash(id)).
		Scan(&l.Kind, &l.SubjectID, &pj, &l.ReturnURL, &created, &expires, &used)
	if isNoRows(err) {
		return nil, notFound("link")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read link: %w", err)
	}
	if err := json.Unmarshal([]byte(pj), &l.Purposes); err != nil {
		return nil, fmt.Errorf("sqlstore: decode link purposes: %w", err)
	}
	l.ID = id
	l.CreatedAt, l.ExpiresAt = likeness.FromMicros(created), likeness.FromMicros(expires)
	if used != 0 {
		l.UsedAt = likeness.FromMicros(used)
	}
	return &l, nil
}

// UseLink implements likeness.LinkStore. One conditional UPDATE decides the
// winner, so two replicas cannot both use a link.
func (d *DB) UseLink(ctx context.Context, id string, now time.Time) (*likeness.Link, error) {
	us := likeness.Micros(now)
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE links SET used_us = ? WHERE id_hash = ? AND used_us = 0 AND expires_us > ?`),
		us, likeness.LinkHash(id), us)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: use link: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: use link: %w", err)
	}
	l, err := d.readLink(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case n == 1:
		return l, nil
	case l.Used():
		return nil, likeness.Errorf(likeness.ECONFLICT, "this link was already used")
	default:
		return nil, likeness.Errorf(likeness.EGONE, "this link has expired")
	}
}
