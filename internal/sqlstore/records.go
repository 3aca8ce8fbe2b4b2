package sqlstore

import (
	"context"
	"fmt"
)

// ProcessingCounts returns the figures of the record of processing
// activities: subjects not erased; per purpose, subjects not erased whose
// latest event for it is a grant or a renewal; per category, assets not
// erased. Three aggregate queries.
func (d *DB) ProcessingCounts(ctx context.Context) (subjects int64, consents, assets map[string]int64, err error) {
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM subjects WHERE erased_us = 0`).Scan(&subjects); err != nil {
		return 0, nil, nil, fmt.Errorf("sqlstore: count subjects: %w", err)
	}
	consents, err = d.countBy(ctx, `SELECT e.purpose, COUNT(*) FROM consent_events e
		JOIN (SELECT subject_id, purpose, MAX(idx) AS last FROM consent_events WHERE purpose <> '' GROUP BY subject_id, purpose) l
			ON e.idx = l.last
		JOIN subjects s ON s.id = e.subject_id AND s.erased_us = 0
		WHERE e.type IN ('grant', 'renew') GROUP BY e.purpose`)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sqlstore: count active consents: %w", err)
	}
	assets, err = d.countBy(ctx, `SELECT category, COUNT(*) FROM assets WHERE erased_us = 0 GROUP BY category`)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sqlstore: count assets: %w", err)
	}
	return subjects, consents, assets, nil
}

// countBy runs a query of (key, count) rows into a map.
func (d *DB) countBy(ctx context.Context, query string) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
