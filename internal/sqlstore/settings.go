package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"likeness"
)

// Setting implements likeness.SettingStore.
func (d *DB) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := d.db.QueryRowContext(ctx, d.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if isNoRows(err) {
		return nil, notFound("setting " + name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read setting: %w", err)
	}
	return v, nil
}

// InitSetting implements likeness.SettingStore.
func (d *DB) InitSetting(ctx context.Context, name string, value []byte) ([]byte, error) {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, value); err != nil {
		return nil, fmt.Errorf("sqlstore: init setting: %w", err)
	}
	return d.Setting(ctx, name)
}

// PutSetting implements likeness.SettingStore.
func (d *DB) PutSetting(ctx context.Context, name string, value []byte) error {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value); err != nil {
		return fmt.Errorf("sqlstore: put setting: %w", err)
	}
	return nil
}

// LatestNotice implements likeness.NoticeStore.
func (d *DB) LatestNotice(ctx context.Context) (*likeness.NoticeVersion, error) {
	return d.readNotice(ctx, d.db.QueryRowContext(ctx, `SELECT doc FROM notice_versions ORDER BY version DESC LIMIT 1`))
}

// Notice implements likeness.NoticeStore.
func (d *DB) Notice(ctx context.Context, version int64) (*likeness.NoticeVersion, error) {
	return d.readNotice(ctx, d.db.QueryRowContext(ctx, d.q(`SELECT doc FROM notice_versions WHERE version = ?`), version))
}

type rowScanner interface{ Scan(...any) error }

func (d *DB) readNotice(_ context.Context, row rowScanner) (*likeness.NoticeVersion, error) {
	var doc string
	if err := row.Scan(&doc); isNoRows(err) {
		return nil, notFound("notice version")
	} else if err != nil {
		return nil, fmt.Errorf("sqlstore: read notice: %w", err)
	}
	n := new(likeness.NoticeVersion)
	if err := json.Unmarshal([]byte(doc), n); err != nil {
		return nil, fmt.Errorf("sqlstore: decode notice: %w", err)
	}
	return n, nil
}

// PublishNotice implements likeness.NoticeStore.
func (d *DB) PublishNotice(ctx context.Context, n *likeness.NoticeVersion) (*likeness.NoticeVersion, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: publish notice: %w", err)
	}
	defer tx.Rollback()
	if d.dialect == postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7422003)`); err != nil {
			return nil, fmt.Errorf("sqlstore: publish notice: %w", err)
		}
	}
	latest, err := d.readNotice(ctx, tx.QueryRowContext(ctx, `SELECT doc FROM notice_versions ORDER BY version DESC LIMIT 1`))
	switch {
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
		latest = nil
	case err != nil:
		return nil, err
	case latest.PolicySHA256 == n.PolicySHA256 && sameTexts(latest.Texts, n.Texts):
		return latest, nil
	}
	out := *n
	out.Version = 1
	out.MaterialSince = map[string]int64{}
	for p, m := range n.Material {
		out.MaterialSince[p] = 1
		if latest != nil {
			out.Version = latest.Version + 1
			out.MaterialSince[p] = out.Version
			if latest.Material[p] == m {
				out.MaterialSince[p] = latest.MaterialSince[p]
			}
		}
	}
	if latest != nil {
		out.Version = latest.Version + 1
	}
	doc, err := json.Marshal(&out)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO notice_versions (version, created_us, doc) VALUES (?, ?, ?)`),
		out.Version, likeness.Micros(out.CreatedAt), string(doc)); err != nil {
		return nil, fmt.Errorf("sqlstore: publish notice: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlstore: publish notice: %w", err)
	}
	return &out, nil
}

func sameTexts(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
