package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"likeness"
)

var _ likeness.MailStore = (*DB)(nil)

const mailCols = `msg_id, subject_id, kind, to_masked, locale, message_id, status, attempts, last_error, created_us, sent_us, sealed`

func mailArgs(m *likeness.Mail) []any {
	var sent int64
	if !m.SentAt.IsZero() {
		sent = likeness.Micros(m.SentAt)
	}
	return []any{m.MsgID, m.SubjectID, m.Kind, m.To, m.Locale, m.MessageID, m.Status, m.Attempts, m.LastError,
		likeness.Micros(m.CreatedAt), sent, m.Sealed}
}

func scanMail(row rowScanner, extra ...any) (*likeness.Mail, error) {
	m := &likeness.Mail{}
	var created, sent int64
	dest := append([]any{&m.MsgID, &m.SubjectID, &m.Kind, &m.To, &m.Locale, &m.MessageID, &m.Status, &m.Attempts,
		&m.LastError, &created, &sent, &m.Sealed}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.CreatedAt = likeness.FromMicros(created)
	if sent != 0 {
		m.SentAt = likeness.FromMicros(sent)
	}
	if len(m.Sealed) == 0 {
		m.Sealed = nil
	}
	return m, nil
}

func checkMail(m *likeness.Mail) error {
	if m.MsgID == "" || m.Kind == "" || m.Status == "" {
		return likeness.Errorf(likeness.EINVALID, "a mail needs its message id, kind and status")
	}
	return nil
}

// QueueMail implements likeness.MailStore.
func (d *DB) QueueMail(ctx context.Context, m *likeness.Mail, msg *likeness.OutboxMessage) error {
	if err := checkMail(m); err != nil {
		return err
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`INSERT INTO mails (`+mailCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (msg_id, subject_id) DO NOTHING`), mailArgs(m)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // queued before: its message is stored too
		}
		return d.enqueueTx(ctx, tx, msg)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: queue mail: %w", err)
	}
	return nil
}

// PutMail implements likeness.MailStore.
func (d *DB) PutMail(ctx context.Context, m *likeness.Mail) error {
	if err := checkMail(m); err != nil {
		return err
	}
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO mails (`+mailCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (msg_id, subject_id) DO UPDATE SET kind = excluded.kind, to_masked = excluded.to_masked,
		locale = excluded.locale, message_id = excluded.message_id, status = excluded.status, attempts = excluded.attempts,
		last_error = excluded.last_error, sent_us = excluded.sent_us, sealed = excluded.sealed`), mailArgs(m)...)
	if err != nil {
		return fmt.Errorf("sqlstore: put mail: %w", err)
	}
	return nil
}

// Mail implements likeness.MailStore.
func (d *DB) Mail(ctx context.Context, msgID, subjectID string) (*likeness.Mail, error) {
	m, err := scanMail(d.db.QueryRowContext(ctx, d.q(`SELECT `+mailCols+` FROM mails WHERE msg_id = ? AND subject_id = ?`), msgID, subjectID))
	if isNoRows(err) {
		return nil, notFound("mail")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read mail: %w", err)
	}
	return m, nil
}

// Mails implements likeness.MailStore.
func (d *DB) Mails(ctx context.Context, limit int) ([]*likeness.Mail, error) {
	if limit <= 0 {
		return []*likeness.Mail{}, nil
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT mails.msg_id, mails.subject_id, kind, to_masked, locale, message_id, status,
		mails.attempts, mails.last_error, mails.created_us, sent_us, sealed, COALESCE(d.state, '')
		FROM mails
		LEFT JOIN outbox_messages o ON o.id = mails.msg_id
		LEFT JOIN outbox_deliveries d ON d.msg_seq = o.seq AND d.sink = ?
		ORDER BY mails.created_us DESC, mails.msg_id, mails.subject_id
		LIMIT ?`), likeness.SinkMail, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list mails: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Mail{}
	for rows.Next() {
		var state string
		m, err := scanMail(rows, &state)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list mails: %w", err)
		}
		if state == likeness.DeliveryDead && (m.Status == likeness.MailQueued || m.Status == likeness.MailRetrying) {
			m.Status = likeness.MailFailed
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
