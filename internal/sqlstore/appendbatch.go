package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"likeness"
)

// batchable reports whether commitBatch may write group: on PostgreSQL, when
// no append carries a reviewer's verdict (a verdict updates the validation
// queue, which must see the appends ahead of it; those rare groups go one
// append at a time).
func (d *DB) batchable(group []*appendReq) bool {
	if d.dialect != postgres {
		return false // one writer at a time: the lock costs nothing to share
	}
	for _, r := range group {
		for _, ev := range r.evs {
			if ev.Type == likeness.Validated || ev.Type == likeness.ValidationRejected {
				return false
			}
		}
	}
	return true
}

// commitBatch writes a group so that replicas appending to one database
// hold the ledger lock as briefly as possible: what needs no index first
// (the erasure fence, which fails an append without touching the others,
// and the change notification), then the indexes from ledger_next, then
// every row of every append in one statement, then commit. The lock is held
// for two round trips and the commit.
//
// It reports done=false, having rolled back, when the group must be written
// one append at a time instead: the statement failed (an append is bad, e.g.
// a duplicate id, and the savepoints of commitEach isolate it), or an erasure
// began between the fence and the lock (the statement fences again, under
// the lock, and stores fewer events than it took indexes for).
func (d *DB) commitBatch(ctx context.Context, group []*appendReq) (done bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	defer tx.Rollback()
	live, err := d.admit(ctx, tx, group)
	if err != nil || len(live) == 0 {
		return true, err
	}
	if err := d.notifyTx(ctx, tx, "consent"); err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: notify: %w", err)
	}
	var n int64
	for _, r := range live {
		n += int64(len(r.evs))
	}
	base, err := d.takeNext(ctx, tx, n)
	if err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: lock ledger: %w", err)
	}
	rows, err := batchRows(live, base)
	if err != nil {
		return false, nil
	}
	var stored int64
	if err := tx.QueryRowContext(ctx, insertBatch, rows...).Scan(&stored); err != nil || stored != n {
		return false, nil
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: commit: %w", err)
	}
	return true, nil
}

// admit fails the appends whose caller gave up or whose subject's erasure
// has begun, in one query for the group, and returns the others.
func (d *DB) admit(ctx context.Context, tx *sql.Tx, group []*appendReq) ([]*appendReq, error) {
	var subjects []string
	for _, r := range group {
		for _, ev := range r.evs {
			if ev.Type != likeness.Erasure {
				subjects = append(subjects, ev.SubjectID)
			}
		}
	}
	erasing := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT subject_id FROM erasures WHERE subject_id = ANY($1)`, subjects)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlstore: append consent events: %w", err)
		}
		erasing[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	var live []*appendReq
	for _, r := range group {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		for _, ev := range r.evs {
			if ev.Type != likeness.Erasure && erasing[ev.SubjectID] {
				r.err = likeness.Errorf(likeness.EGONE, "this person's data is being erased; nothing more can be recorded about them")
				break
			}
		}
		if r.err == nil {
			live = append(live, r)
		}
	}
	return live, nil
}

// insertBatch stores a group's events, its validation queue rows and its
// outbox messages in one statement, each table's rows as parallel arrays
// (see batchRows). Events whose subject's erasure has begun are left out,
// read under the ledger lock, and the count of events stored is returned.
const insertBatch = `WITH ev AS (
	INSERT INTO consent_events (` + eventCols + `)
	SELECT v.* FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
		$8::text[], $9::text[], $10::text[], $11::bigint[], $12::bytea[], $13::bytea[], $14::text[], $15::text[], $16::boolean[])
		AS v(` + eventCols + `)
	WHERE v.type = 'erasure' OR NOT EXISTS (SELECT 1 FROM erasures e WHERE e.subject_id = v.subject_id)
	RETURNING 1
), va AS (
	INSERT INTO validations (event_id, idx, subject_id, purpose, method, collector, created_us, due_us, state)
	SELECT * FROM unnest($17::text[], $18::bigint[], $19::text[], $20::text[], $21::text[], $22::text[], $23::bigint[],
		$24::bigint[], $25::text[])
), ob AS (
	INSERT INTO outbox_messages (id, type, subject_id, sink, data, created_us)
	SELECT * FROM unnest($26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::bigint[])
	ON CONFLICT (id) DO NOTHING
)
SELECT count(*) FROM ev`

// batchRows gives the appends their indexes from base on, in group order,
// and returns insertBatch's arguments: one array per column.
func batchRows(live []*appendReq, base int64) ([]any, error) {
	var e eventArrays
	var v validationArrays
	var o outboxArrays
	next := base
	for _, r := range live {
		r.indexes = make([]int64, len(r.evs))
		for i, ev := range r.evs {
			r.indexes[i] = next
			e.add(ev, next, r.leaf(ev, next))
			v.add(ev, next)
			for _, m := range []*likeness.OutboxMessage{likeness.ConsentMessage(ev, next), likeness.WithdrawalMail(ev, next)} {
				if m == nil {
					continue
				}
				if err := readyMessage(m); err != nil {
					return nil, err
				}
				o.add(m)
			}
			next++
		}
	}
	return append(append(e.args(), v.args()...), o.args()...), nil
}

type eventArrays struct {
	idx, version, us                                                        []int64
	id, subject, purpose, typ, method, sha, lang, collector, valid, refers []string
	sealed, leaf                                                            [][]byte
	imported                                                                []bool
}

func (a *eventArrays) add(ev *likeness.ConsentEvent, idx int64, h [32]byte) {
	a.idx, a.id, a.subject = append(a.idx, idx), append(a.id, ev.ID), append(a.subject, ev.SubjectID)
	a.purpose, a.typ, a.method = append(a.purpose, ev.Purpose), append(a.typ, string(ev.Type)), append(a.method, string(ev.Method))
	a.version, a.sha, a.lang = append(a.version, ev.NoticeVersion), append(a.sha, ev.NoticeSHA256), append(a.lang, ev.Language)
	a.collector, a.us, a.sealed = append(a.collector, ev.Collector), append(a.us, likeness.Micros(ev.Time)), append(a.sealed, ev.Sealed)
	a.leaf, a.valid, a.refers = append(a.leaf, h[:]), append(a.valid, ev.Validation), append(a.refers, ev.Refers)
	a.imported = append(a.imported, ev.Imported)
}

func (a *eventArrays) args() []any {
	return []any{a.idx, a.id, a.subject, a.purpose, a.typ, a.method, a.version, a.sha, a.lang, a.collector, a.us,
		a.sealed, a.leaf, a.valid, a.refers, a.imported}
}

// validationArrays are the queue rows of grants and renewals that wait for
// a reviewer (see queueValidationTx).
type validationArrays struct {
	idx, created, due                                 []int64
	event, subject, purpose, method, collector, state []string
}

func (a *validationArrays) add(ev *likeness.ConsentEvent, idx int64) {
	if ev.Type != likeness.Grant && ev.Type != likeness.Renew || ev.Validation != likeness.ValidationPending {
		return
	}
	a.event, a.idx, a.subject = append(a.event, ev.ID), append(a.idx, idx), append(a.subject, ev.SubjectID)
	a.purpose, a.method, a.collector = append(a.purpose, ev.Purpose), append(a.method, string(ev.Method)), append(a.collector, ev.Collector)
	a.created, a.due = append(a.created, likeness.Micros(ev.Time)), append(a.due, likeness.Micros(ev.ValidationDue))
	a.state = append(a.state, likeness.ValidationStatePending)
}

func (a *validationArrays) args() []any {
	return []any{a.event, a.idx, a.subject, a.purpose, a.method, a.collector, a.created, a.due, a.state}
}

type outboxArrays struct {
	id, typ, subject, sink, data []string
	created                      []int64
}

func (a *outboxArrays) add(m *likeness.OutboxMessage) {
	a.id, a.typ, a.subject = append(a.id, m.ID), append(a.typ, m.Type), append(a.subject, m.SubjectID)
	a.sink, a.data, a.created = append(a.sink, m.Sink), append(a.data, string(m.Data)), append(a.created, likeness.Micros(m.CreatedAt))
}

func (a *outboxArrays) args() []any { return []any{a.id, a.typ, a.subject, a.sink, a.data, a.created} }
