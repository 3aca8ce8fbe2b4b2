package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"likeness"
)

var _ likeness.IncidentStore = (*DB)(nil)

// AffectedSubjects implements likeness.IncidentStore. The scope becomes one
// query with optional filters; Go only groups the rows, which arrive sorted
// by subject.
func (d *DB) AffectedSubjects(ctx context.Context, scope likeness.IncidentScope, detectedAt time.Time) ([]likeness.IncidentSubject, error) {
	var b strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		if d.dialect == postgres {
			return "$" + strconv.Itoa(len(args))
		}
		return "?"
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		b.WriteString(" AND " + col + " IN (")
		for i, v := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(arg(v))
		}
		b.WriteString(")")
	}
	// Assets erased at or before detection had nothing left to leak.
	b.WriteString(`SELECT subject_id, id FROM assets WHERE (erased_us = 0 OR erased_us > ` + arg(likeness.Micros(detectedAt)) + `)`)
	in("purpose", scope.Purposes)
	in("category", scope.Categories)
	in("region", scope.Regions)
	in("id", scope.AssetIDs)
	if !scope.From.IsZero() {
		b.WriteString(" AND created_us >= " + arg(likeness.Micros(scope.From)))
	}
	if !scope.To.IsZero() {
		b.WriteString(" AND created_us <= " + arg(likeness.Micros(scope.To)))
	}
	b.WriteString(" ORDER BY subject_id, id")
	// Not through q: the query's shape varies with the scope and must not
	// fill the rebinding cache.
	rows, err := d.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: select affected subjects: %w", err)
	}
	defer rows.Close()
	out := []likeness.IncidentSubject{}
	for rows.Next() {
		var sub, asset string
		if err := rows.Scan(&sub, &asset); err != nil {
			return nil, fmt.Errorf("sqlstore: select affected subjects: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].SubjectID != sub {
			out = append(out, likeness.IncidentSubject{SubjectID: sub})
		}
		last := &out[len(out)-1]
		last.AssetIDs = append(last.AssetIDs, asset)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: select affected subjects: %w", err)
	}
	return out, nil
}

// CreateIncident implements likeness.IncidentStore.
func (d *DB) CreateIncident(ctx context.Context, inc *likeness.Incident, affected []likeness.IncidentSubject) error {
	scope, err := json.Marshal(inc.Scope)
	if err != nil {
		return fmt.Errorf("sqlstore: create incident: %w", err)
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM incidents WHERE id = ?`), inc.ID).Scan(&n); err != nil {
			return fmt.Errorf("check incident id: %w", err)
		}
		if n > 0 {
			return likeness.Errorf(likeness.ECONFLICT, "incident %s exists already", inc.ID)
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO incidents (id, title, description, detected_us, opened_us, opened_by, scope,
			affected_subjects, affected_assets, deadline_us, state, closed_us, close_reason, close_note)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			inc.ID, inc.Title, inc.Description, likeness.Micros(inc.DetectedAt), likeness.Micros(inc.OpenedAt), inc.OpenedBy,
			string(scope), inc.AffectedSubjects, inc.AffectedAssets, likeness.Micros(inc.AuthorityDeadline), inc.State,
			microsOrZero(inc.ClosedAt), inc.CloseReason, inc.CloseNote); err != nil {
			return fmt.Errorf("insert incident: %w", err)
		}
		if len(affected) > 0 {
			stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO incident_subjects (incident_id, subject_id, asset_ids) VALUES (?, ?, ?)`))
			if err != nil {
				return fmt.Errorf("store affected subjects: %w", err)
			}
			defer stmt.Close()
			for _, a := range affected {
				ids, err := json.Marshal(nonNil(a.AssetIDs))
				if err != nil {
					return err
				}
				if _, err := stmt.ExecContext(ctx, inc.ID, a.SubjectID, string(ids)); err != nil {
					return fmt.Errorf("store affected subjects: %w", err)
				}
			}
		}
		for _, n := range inc.Notifications {
			if err := d.insertNotification(ctx, tx, inc.ID, n); err != nil {
				return err
			}
		}
		if !likeness.ValidMessageType(likeness.MsgIncidentOpened) {
			return nil
		}
		data, err := json.Marshal(map[string]any{"incident_id": inc.ID, "detected_at": inc.DetectedAt.UTC(),
			"authority_deadline": inc.AuthorityDeadline.UTC(), "affected_subjects": inc.AffectedSubjects,
			"affected_assets": inc.AffectedAssets, "time": inc.OpenedAt.UTC()})
		if err != nil {
			return err
		}
		return d.enqueueTx(ctx, tx, &likeness.OutboxMessage{ID: "msg_" + likeness.MsgIncidentOpened + "_" + inc.ID,
			Type: likeness.MsgIncidentOpened, Data: data, CreatedAt: inc.OpenedAt})
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create incident: %w", err)
	}
	return nil
}

func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return likeness.Micros(t)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const incidentCols = `id, title, description, detected_us, opened_us, opened_by, scope, affected_subjects, affected_assets,
	deadline_us, state, closed_us, close_reason, close_note`

func scanIncident(row rowScanner) (*likeness.Incident, error) {
	var inc likeness.Incident
	var detected, opened, deadline, closed int64
	var scope string
	if err := row.Scan(&inc.ID, &inc.Title, &inc.Description, &detected, &opened, &inc.OpenedBy, &scope, &inc.AffectedSubjects,
		&inc.AffectedAssets, &deadline, &inc.State, &closed, &inc.CloseReason, &inc.CloseNote); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scope), &inc.Scope); err != nil {
		return nil, fmt.Errorf("decode incident scope: %w", err)
	}
	inc.DetectedAt, inc.OpenedAt, inc.AuthorityDeadline = likeness.FromMicros(detected), likeness.FromMicros(opened), likeness.FromMicros(deadline)
	if closed != 0 {
		inc.ClosedAt = likeness.FromMicros(closed)
	}
	inc.Notifications = []likeness.IncidentNotification{}
	return &inc, nil
}

// Incident implements likeness.IncidentStore.
func (d *DB) Incident(ctx context.Context, id string) (*likeness.Incident, error) {
	inc, err := scanIncident(d.db.QueryRowContext(ctx, d.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), id))
	if isNoRows(err) {
		return nil, notFound("incident")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read incident: %w", err)
	}
	if err := d.loadNotifications(ctx, []*likeness.Incident{inc}); err != nil {
		return nil, err
	}
	return inc, nil
}

// Incidents implements likeness.IncidentStore.
func (d *DB) Incidents(ctx context.Context, f likeness.IncidentFilter) ([]*likeness.Incident, error) {
	var where []string
	var args []any
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if !f.DeadlineBefore.IsZero() {
		where, args = append(where, "deadline_us < ?"), append(args, likeness.Micros(f.DeadlineBefore))
	}
	query := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := d.db.QueryContext(ctx, d.q(query+` ORDER BY detected_us DESC, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list incidents: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list incidents: %w", err)
	}
	rows.Close()
	if err := d.loadNotifications(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadNotifications fills in the notifications of incs. Organizations have
// few incidents, so one query per incident is fine.
func (d *DB) loadNotifications(ctx context.Context, incs []*likeness.Incident) error {
	for _, inc := range incs {
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT kind, at_us, reference, count FROM incident_notifications
			WHERE incident_id = ? ORDER BY seq`), inc.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: read incident notifications: %w", err)
		}
		for rows.Next() {
			var n likeness.IncidentNotification
			var at int64
			if err := rows.Scan(&n.Kind, &at, &n.Reference, &n.Count); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: read incident notifications: %w", err)
			}
			n.At = likeness.FromMicros(at)
			inc.Notifications = append(inc.Notifications, n)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlstore: read incident notifications: %w", err)
		}
	}
	return nil
}

// IncidentSubjects implements likeness.IncidentStore.
func (d *DB) IncidentSubjects(ctx context.Context, id string) ([]likeness.IncidentSubject, error) {
	if _, err := d.incidentState(ctx, d.db, id); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	subs, err := d.incidentSubjects(ctx, d.db, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return subs, nil
}

// incidentQuerier is a *sql.DB or a *sql.Tx.
type incidentQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d *DB) incidentSubjects(ctx context.Context, q incidentQuerier, id string) ([]likeness.IncidentSubject, error) {
	rows, err := q.QueryContext(ctx, d.q(`SELECT subject_id, asset_ids FROM incident_subjects WHERE incident_id = ? ORDER BY subject_id`), id)
	if err != nil {
		return nil, fmt.Errorf("read affected subjects: %w", err)
	}
	defer rows.Close()
	out := []likeness.IncidentSubject{}
	for rows.Next() {
		var s likeness.IncidentSubject
		var ids string
		if err := rows.Scan(&s.SubjectID, &ids); err != nil {
			return nil, fmt.Errorf("read affected subjects: %w", err)
		}
		if err := json.Unmarshal([]byte(ids), &s.AssetIDs); err != nil {
			return nil, fmt.Errorf("decode affected assets: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read affected subjects: %w", err)
	}
	return out, nil
}

func (d *DB) incidentState(ctx context.Context, q incidentQuerier, id string) (string, error) {
	var state string
	err := q.QueryRowContext(ctx, d.q(`SELECT state FROM incidents WHERE id = ?`), id).Scan(&state)
	if isNoRows(err) {
		return "", notFound("incident")
	}
	if err != nil {
		return "", fmt.Errorf("read incident: %w", err)
	}
	return state, nil
}

func (d *DB) insertNotification(ctx context.Context, tx *sql.Tx, id string, n likeness.IncidentNotification) error {
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO incident_notifications (incident_id, kind, at_us, reference, count) VALUES (?, ?, ?, ?, ?)`),
		id, n.Kind, likeness.Micros(n.At), n.Reference, n.Count); err != nil {
		return fmt.Errorf("record incident notification: %w", err)
	}
	return nil
}

// AddNotification implements likeness.IncidentStore. On PostgreSQL the
// incident's row is locked first, so two notifications of one incident
// serialise; SQLite's write lock does the same.
func (d *DB) AddNotification(ctx context.Context, id string, n likeness.IncidentNotification) error {
	if n.Kind != likeness.NotifyAuthority && n.Kind != likeness.NotifySubjects {
		return likeness.Errorf(likeness.EINVALID, "notification kind must be %q or %q", likeness.NotifyAuthority, likeness.NotifySubjects)
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if d.dialect == postgres {
			lock = " FOR UPDATE"
		}
		inc, err := scanIncident(tx.QueryRowContext(ctx, d.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`+lock), id))
		if isNoRows(err) {
			return notFound("incident")
		}
		if err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		if inc.State == likeness.IncidentClosed {
			return likeness.Errorf(likeness.ECONFLICT, "the incident is closed")
		}
		if n.Kind == likeness.NotifyAuthority {
			if err := d.insertNotification(ctx, tx, id, n); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, d.q(`UPDATE incidents SET state = ? WHERE id = ? AND state = ?`),
				likeness.IncidentAuthorityNotified, id, likeness.IncidentOpen)
			return err
		}
		var done int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT count(*) FROM incident_notifications WHERE incident_id = ? AND kind = ?`),
			id, likeness.NotifySubjects).Scan(&done); err != nil {
			return fmt.Errorf("read incident notifications: %w", err)
		}
		if done > 0 {
			return likeness.Errorf(likeness.ECONFLICT, "the affected subjects were notified already")
		}
		if err := d.insertNotification(ctx, tx, id, n); err != nil {
			return err
		}
		if !likeness.ValidMessageType(likeness.MsgIncidentSubjectNotice) {
			return nil
		}
		// Read every row before writing: a transaction's connection
		// cannot interleave an open result set with inserts on PostgreSQL.
		subs, err := d.incidentSubjects(ctx, tx, id)
		if err != nil {
			return err
		}
		msgs := make([]*likeness.OutboxMessage, 0, len(subs))
		for _, s := range subs {
			data, err := json.Marshal(likeness.IncidentSubjectNoticeData{IncidentID: id, SubjectID: s.SubjectID, AssetIDs: s.AssetIDs,
				Title: inc.Title, Description: inc.Description, DetectedAt: inc.DetectedAt, Time: n.At.UTC()})
			if err != nil {
				return err
			}
			msgs = append(msgs, &likeness.OutboxMessage{ID: "msg_" + likeness.MsgIncidentSubjectNotice + "_" + id + "_" + s.SubjectID,
				Type: likeness.MsgIncidentSubjectNotice, SubjectID: s.SubjectID, Data: data, CreatedAt: n.At},
				// and the person's own notice, by mail in their language
				&likeness.OutboxMessage{ID: "msg_" + likeness.MsgMailBreach + "_" + id + "_" + s.SubjectID,
					Type: likeness.MsgMailBreach, Sink: likeness.SinkMail, SubjectID: s.SubjectID, Data: data, CreatedAt: n.At})
		}
		return d.enqueueTx(ctx, tx, msgs...)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: notify incident: %w", err)
	}
	return nil
}

// CloseIncident implements likeness.IncidentStore.
func (d *DB) CloseIncident(ctx context.Context, id, reason, note string, at time.Time) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE incidents SET state = ?, closed_us = ?, close_reason = ?, close_note = ?
			WHERE id = ? AND state <> ?`), likeness.IncidentClosed, likeness.Micros(at), reason, note, id, likeness.IncidentClosed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		if _, err := d.incidentState(ctx, tx, id); err != nil {
			return err
		}
		return likeness.Errorf(likeness.ECONFLICT, "the incident is closed already")
	})
	if err != nil {
		return fmt.Errorf("sqlstore: close incident: %w", err)
	}
	return nil
}
