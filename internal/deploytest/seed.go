package deploytest

import (
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
)

// SeedGranted reports whether seeded subject i consented to the k-th of
// the purposes Seed was given: about 60 % of pairs, chosen by a hash so a
// test can ask about any of them.
func SeedGranted(i, k int) bool { return mix(uint64(i)<<3|uint64(k))%10 < 6 }

// SeedSubjectID is the id of seeded subject i, shaped like
// likeness.NewID("sub").
func SeedSubjectID(i int) string { return seedID("sub", uint64(i)) }

var seedJurisdictions = []string{"EU-DE", "EU-FR", "GB", "US-CA", "US-IL", "EU-NL", "EU-DE", "CH"}

// Seed adds n subjects to a deployment's database and grants each of them
// about 60 % of purposes (see SeedGranted), straight through SQL in
// large transactions (COPY on PostgreSQL), with the leaf hashes the ledger
// log would store, so a test can hold a million people without the API.
// The deployment must have started once (settings, keys and notices
// exist). Seeded subjects have no data key: they can be decided about, not
// written for. It returns the number of consent events added.
func Seed(t testing.TB, dsn string, n int, purposes []string) int64 {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	nv, err := store.LatestNotice(ctx)
	if err != nil {
		t.Fatalf("seed: the deployment has no notice yet (start a replica once first): %v", err)
	}
	next, err := store.LedgerSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-24 * time.Hour).UTC()
	s := seeder{db: store.SQL(), postgres: store.Dialect() == "postgres", purposes: purposes,
		notice: nv.Version, sha: nv.Texts["en"], base: base, next: next}
	const batch = 50_000
	var events int64
	for from := 0; from < n; from += batch {
		k, err := s.batch(ctx, from, min(from+batch, n))
		if err != nil {
			t.Fatalf("seed subjects %d…: %v", from, err)
		}
		events += k
	}
	return events
}

type seeder struct {
	db       *sql.DB
	postgres bool
	purposes []string
	notice   int64
	sha      string
	base     time.Time
	next     int64 // next ledger index
}

// batch seeds subjects [from, to) and their events in one transaction.
func (s *seeder) batch(ctx context.Context, from, to int) (int64, error) {
	var subjects, events [][]any
	for i := from; i < to; i++ {
		id := SeedSubjectID(i)
		at := likeness.Micros(s.base.Add(time.Duration(i) * time.Millisecond))
		subjects = append(subjects, []any{id, fmt.Sprintf("seed-%d", i), "en", seedJurisdictions[i%len(seedJurisdictions)], false, at, int64(0), at})
		for k, purpose := range s.purposes {
			if !SeedGranted(i, k) {
				continue
			}
			ev := &likeness.ConsentEvent{ID: seedID("evt", uint64(s.next)), SubjectID: id, Purpose: purpose, Type: likeness.Grant,
				Method: likeness.Checkbox, NoticeVersion: s.notice, NoticeSHA256: s.sha, Language: "en", Collector: "seed",
				Time: likeness.FromMicros(at), LedgerIndex: s.next}
			h := ledgerlog.LeafHash(ev, s.next)
			events = append(events, []any{s.next, ev.ID, id, purpose, string(ev.Type), string(ev.Method), s.notice, s.sha, "en", "seed", at, nil, h[:]})
			s.next++
		}
	}
	subjectCols := []string{"id", "external_hash", "locale", "jurisdiction", "guardian", "created_us", "erased_us", "updated_us"}
	eventCols := []string{"idx", "id", "subject_id", "purpose", "type", "method", "notice_version", "notice_sha256", "language", "collector", "time_us", "sealed", "leaf_hash"}
	if s.postgres {
		return int64(len(events)), s.copy(ctx, subjects, subjectCols, events, eventCols)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, t := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{{"subjects", subjectCols, subjects}, {"consent_events", eventCols, events}} {
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+t.table+" ("+strings.Join(t.cols, ", ")+") VALUES (?"+strings.Repeat(", ?", len(t.cols)-1)+")")
		if err != nil {
			return 0, err
		}
		for _, r := range t.rows {
			if _, err := stmt.ExecContext(ctx, r...); err != nil {
				stmt.Close()
				return 0, err
			}
		}
		stmt.Close()
	}
	return int64(len(events)), tx.Commit()
}

// copy writes both tables with PostgreSQL's COPY, in one transaction.
func (s *seeder) copy(ctx context.Context, subjects [][]any, subjectCols []string, events [][]any, eventCols []string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"subjects"}, subjectCols, pgx.CopyFromRows(subjects)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"consent_events"}, eventCols, pgx.CopyFromRows(events)); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// seedID is a deterministic id shaped like likeness.NewID(prefix).
func seedID(prefix string, n uint64) string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], mix(n^0x5eed))
	binary.LittleEndian.PutUint64(raw[8:], mix(n^0x9e3779b97f4a7c15))
	return prefix + "_" + idEnc.EncodeToString(raw[:])
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
