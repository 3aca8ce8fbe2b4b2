package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"likeness"
)

// batchable reports whether commitBatch may write group: on PostgreSQL, when
// every write is a ledger append and none carries a reviewer's verdict (a verdict updates the validation
// queue, which must see the appends ahead of it; those rare groups go one
// append at a time).
func (d *DB) batchable(group []*groupWrite) bool {
	if d.dialect != postgres {
		return false // one writer at a time: the lock costs nothing to share
	}
	for _, w := range group {
		if w.append == nil {
			return false // not a ledger append (a subject's creation)
		}
		for _, ev := range w.append.evs {
			if ev.Type == likeness.Validated || ev.Type == likeness.ValidationRejected {
				return false
			}
		}
	}
	return true
}

// commitBatch writes a group so that replicas appending to one database
// hold the ledger lock as briefly as possible. What needs no index comes
// first, outside the lock: the erasure fence, which fails an append without
// touching the others, and a read of the next index. Then one statement
// (insertBatch) takes the indexes and stores every row of every append,
// committing on its own: the ledger_next row lock is held only while the
// database executes it and syncs the commit, with no round trip to this
// process in between. If another replica took indexes since the read, the
// statement stores nothing and the group reads again; after a few such
// losses it takes the lock first, in a transaction (lockNext, the same
// statement, commit).
//
// It reports done=false when the group must be written one append at a
// time instead (commitEach), where savepoints isolate a bad append: the
// statement failed (e.g. a duplicate id), or an erasure began between the
// fence and the lock (the statement fences again, under the lock).
func (d *DB) commitBatch(ctx context.Context, group []*groupWrite) (done bool, err error) {
	live, next, err := d.admit(ctx, group)
	if err != nil || len(live) == 0 {
		return true, err
	}
	if d.beforeInsert != nil {
		d.beforeInsert()
	}
	for try := 1; ; try++ {
		stored, err := d.insertAt(ctx, d.db, live, next)
		if err != nil || stored {
			return fallback(err)
		}
		if try == optimisticTries {
			break
		}
		if err := d.db.QueryRowContext(ctx, `SELECT next FROM ledger_next`).Scan(&next); err != nil {
			return true, fmt.Errorf("sqlstore: append consent events: %w", err)
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	defer tx.Rollback()
	if next, err = d.lockNext(ctx, tx); err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: lock ledger: %w", err)
	}
	stored, err := d.insertAt(ctx, tx, live, next)
	if err != nil {
		return fallback(err)
	}
	if !stored {
		return false, nil // under the lock, only a begun erasure stops it
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("sqlstore: append consent events: commit: %w", err)
	}
	return true, nil
}

// optimisticTries is how often a group reads the next index and races for
// it before it takes the ledger lock first.
const optimisticTries = 3

// fallback turns insertAt's error into commitBatch's answer: an append
// refused by the database or found invalid is retried one append at a
// time; any other failure (the connection, a timeout) fails the group, as
// its outcome may be unknown.
func fallback(err error) (bool, error) {
	var refused interface{ SQLState() string }
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &refused), likeness.ErrorCode(err) != "":
		return false, nil
	default:
		return true, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
}

// admit fails the appends whose caller gave up or whose subject's erasure
// has begun, returns the others, and reads the next ledger index, in one
// query for the group.
func (d *DB) admit(ctx context.Context, group []*groupWrite) ([]*groupWrite, int64, error) {
	var subjects []string
	for _, w := range group {
		for _, ev := range w.append.evs {
			if ev.Type != likeness.Erasure {
				subjects = append(subjects, ev.SubjectID)
			}
		}
	}
	var next int64
	var ids string
	if err := d.db.QueryRowContext(ctx, `SELECT next, COALESCE((SELECT string_agg(subject_id, ',') FROM erasures
		WHERE subject_id = ANY($1)), '') FROM ledger_next`, subjects).Scan(&next, &ids); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: append consent events: %w", err)
	}
	erasing := map[string]bool{}
	for id := range strings.SplitSeq(ids, ",") {
		erasing[id] = true
	}
	var live []*groupWrite
	for _, w := range group {
		if w.err = w.ctx.Err(); w.err != nil {
			continue
		}
		for _, ev := range w.append.evs {
			if ev.Type != likeness.Erasure && erasing[ev.SubjectID] {
				w.err = likeness.Errorf(likeness.EGONE, "this person's data is being erased; nothing more can be recorded about them")
				break
			}
		}
		if w.err == nil {
			live = append(live, w)
		}
	}
	return live, next, nil
}

// insertAt stores the appends from ledger index next on with insertBatch,
// and reports whether it did: it stores nothing if next is no longer the
// ledger's next index or a subject's erasure has begun.
func (d *DB) insertAt(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, live []*groupWrite, next int64) (bool, error) {
	args, audit, n, err := batchRows(live, next)
	if err != nil {
		return false, err
	}
	var stored int64
	err = q.QueryRowContext(ctx, insertBatch, append(append(args, n, next, ChangeChannel), audit...)...).Scan(&stored)
	return err == nil && stored == n, err
}

// insertBatch takes n ledger indexes from $33 on ($32 = n) and stores a
// group's events, validation queue rows, outbox messages and the audit rows
// of the API calls that made them ($35–$48), each table's
// rows as parallel arrays (see batchRows), and announces the change, all or
// nothing. It stores nothing if the ledger's next index is no longer $33 or
// an event is about a subject whose erasure has begun. Those checks read
// the database as of the statement's start, which is enough: an erasure
// records its start before it appends its own event, and that event would
// have moved the next index.
const insertBatch = `WITH n AS (
	UPDATE ledger_next SET next = next + $32 WHERE next = $33 AND NOT EXISTS (
		SELECT 1 FROM erasures e JOIN unnest($3::text[], $5::text[]) AS v(subject_id, type) ON e.subject_id = v.subject_id
		WHERE v.type <> 'erasure')
	RETURNING next
), ev AS (
	INSERT INTO consent_events (` + eventCols + `)
	SELECT v.* FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
		$8::text[], $9::text[], $10::text[], $11::bigint[], $12::bytea[], $13::bytea[], $14::text[], $15::text[], $16::boolean[])
		AS v(` + eventCols + `)
	WHERE EXISTS (SELECT 1 FROM n)
	RETURNING 1
), va AS (
	INSERT INTO validations (event_id, idx, subject_id, purpose, method, collector, created_us, due_us, state)
	SELECT * FROM unnest($17::text[], $18::bigint[], $19::text[], $20::text[], $21::text[], $22::text[], $23::bigint[],
		$24::bigint[], $25::text[])
	WHERE EXISTS (SELECT 1 FROM n)
), ob AS (
	INSERT INTO outbox_messages (id, type, subject_id, sink, data, created_us)
	SELECT * FROM unnest($26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::bigint[])
	WHERE EXISTS (SELECT 1 FROM n)
	ON CONFLICT (id) DO NOTHING
), au AS (
	INSERT INTO access_log (id, time_us, action, key_id, role, subject_id, asset_id, purpose, recipient, country, allow, reasons, operator, reason)
	SELECT * FROM unnest($35::text[], $36::bigint[], $37::text[], $38::text[], $39::text[], $40::text[], $41::text[], $42::text[],
		$43::text[], $44::text[], $45::boolean[], $46::text[], $47::text[], $48::text[])
	WHERE EXISTS (SELECT 1 FROM n)
)
SELECT (SELECT count(*) FROM ev) + 0 * (SELECT count(pg_notify($34, 'consent')) FROM n)`

// batchRows gives the appends their indexes from base on, in group order,
// and returns insertBatch's first arguments and its audit arguments, one
// array per column, and the number of events.
func batchRows(live []*groupWrite, base int64) ([]any, []any, int64, error) {
	var e eventArrays
	var v validationArrays
	var o outboxArrays
	var a auditArrays
	next := base
	for _, w := range live {
		if w.audit != nil {
			a.add(w.audit.Entry())
		}
		r := w.append
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
					return nil, nil, 0, err
				}
				o.add(m)
			}
			next++
		}
	}
	return append(append(e.args(), v.args()...), o.args()...), a.args(), next - base, nil
}

type eventArrays struct {
	idx, version, us                                                       []int64
	id, subject, purpose, typ, method, sha, lang, collector, valid, refers []string
	sealed, leaf                                                           [][]byte
	imported                                                               []bool
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

// auditArrays are the access-log rows of the API calls whose appends the
// batch stores (the columns of insertAccess), committed with them.
type auditArrays struct {
	us                                                                                   []int64
	id, action, key, role, subject, asset, purpose, recipient, country, reasons, op, why []string
	allow                                                                                []bool
}

func (a *auditArrays) add(e *likeness.AccessEntry) {
	a.id, a.us, a.action = append(a.id, e.ID), append(a.us, likeness.Micros(e.Time)), append(a.action, e.Action)
	a.key, a.role, a.subject = append(a.key, e.KeyID), append(a.role, string(e.Role)), append(a.subject, e.SubjectID)
	a.asset, a.purpose, a.recipient = append(a.asset, e.AssetID), append(a.purpose, e.Purpose), append(a.recipient, e.Recipient)
	a.country, a.allow = append(a.country, e.Country), append(a.allow, e.Allow)
	a.reasons, a.op, a.why = append(a.reasons, strings.Join(e.Reasons, ",")), append(a.op, e.Operator), append(a.why, e.Reason)
}

func (a *auditArrays) args() []any {
	return []any{a.id, a.us, a.action, a.key, a.role, a.subject, a.asset, a.purpose, a.recipient, a.country,
		a.allow, a.reasons, a.op, a.why}
}
