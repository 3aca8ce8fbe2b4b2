package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"likeness"
)

var _ likeness.PortalSessionStore = (*DB)(nil)

// CreatePortalSession implements likeness.PortalSessionStore. Only the
// hash of the id is stored; sessions expired before s.CreatedAt are dropped
// on the way.
func (d *DB) CreatePortalSession(ctx context.Context, s *likeness.PortalSession) error {
	if s.ID == "" || s.SubjectID == "" {
		return likeness.Errorf(likeness.EINVALID, "portal session has no id or subject")
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM portal_sessions WHERE expires_us <= ?`), likeness.Micros(s.CreatedAt)); err != nil {
			return fmt.Errorf("sqlstore: drop expired portal sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO portal_sessions (id_hash, subject_id, opened_by, created_us, expires_us) VALUES (?, ?, ?, ?, ?)`),
			likeness.SessionHash(s.ID), s.SubjectID, s.OpenedBy, likeness.Micros(s.CreatedAt), likeness.Micros(s.ExpiresAt)); err != nil {
			return fmt.Errorf("sqlstore: create portal session: %w", err)
		}
		return nil
	})
}

// PortalSession implements likeness.PortalSessionStore. The erasure fence
// is part of the read: from the moment a subject's erasure begins, on any
// replica, none of their sessions is found.
func (d *DB) PortalSession(ctx context.Context, id string) (*likeness.PortalSession, error) {
	s := likeness.PortalSession{ID: id}
	var created, expires int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT subject_id, opened_by, created_us, expires_us FROM portal_sessions p
		WHERE id_hash = ? AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.subject_id = p.subject_id)`), likeness.SessionHash(id)).
		Scan(&s.SubjectID, &s.OpenedBy, &created, &expires)
	if isNoRows(err) {
		return nil, notFound("portal session")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read portal session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = likeness.FromMicros(created), likeness.FromMicros(expires)
	return &s, nil
}

// EndPortalSession implements likeness.PortalSessionStore.
func (d *DB) EndPortalSession(ctx context.Context, id string) error {
	if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM portal_sessions WHERE id_hash = ?`), likeness.SessionHash(id)); err != nil {
		return fmt.Errorf("sqlstore: end portal session: %w", err)
	}
	return nil
}

// EndSubjectPortalSessions implements likeness.PortalSessionStore.
func (d *DB) EndSubjectPortalSessions(ctx context.Context, subjectID string) (int, error) {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM portal_sessions WHERE subject_id = ?`), subjectID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: end portal sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

var _ likeness.EndedSessionStore = (*DB)(nil)

// EndSession implements likeness.EndedSessionStore.
func (d *DB) EndSession(ctx context.Context, id string, until, now time.Time) error {
	if id == "" {
		return likeness.Errorf(likeness.EINVALID, "ended session has no id")
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM ended_sessions WHERE until_us < ?`), likeness.Micros(now)); err != nil {
			return fmt.Errorf("sqlstore: drop old ended sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO ended_sessions (id, until_us) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
			id, likeness.Micros(until)); err != nil {
			return fmt.Errorf("sqlstore: end session: %w", err)
		}
		return nil
	})
}

// SessionEnded implements likeness.EndedSessionStore.
func (d *DB) SessionEnded(ctx context.Context, id string) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx, d.q(`SELECT 1 FROM ended_sessions WHERE id = ?`), id).Scan(&n)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: read ended session: %w", err)
	}
	return true, nil
}
