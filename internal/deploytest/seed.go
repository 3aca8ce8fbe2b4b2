package deploytest

import (
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
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
		subjects = append(subjects, []any{id, fmt.Sprintf("seed-%d", i), "en", seedJurisdictions[i%len(seedJurisdictions)], false, at, int64(0), int64(0)})
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

// FivePurposes is a policy with five purposes, for deployments seeded with
// many people (see Seed); FivePurposeIDs are its purposes.
func FivePurposes() string {
	return filepath.Join(moduleRoot(), "internal", "deploytest", "testdata", "five-purposes.yaml")
}

// FivePurposeIDs are the purposes of FivePurposes.
var FivePurposeIDs = []string{"ai-training", "marketing-personalization", "voice-transcription", "headshots", "voice-assistant"}

// Seeded is a deployment of many seeded people under FivePurposes, kept in
// the temporary folder between runs: a data folder (key file; the SQLite
// database), for PostgreSQL a template database, and the decision snapshot
// a replica wrote after loading it.
type Seeded struct {
	backend  string
	dir      string // the kept data folder
	template string // PostgreSQL: the kept database's name
	Grants   int64
}

// SeededDeployment returns the kept deployment of n people on backend
// ("sqlite" or "postgres", which needs LIKENESS_TEST_POSTGRES_URL),
// seeding it first if it is not there yet (minutes at a million people).
func SeededDeployment(b testing.TB, backend string, n int) Seeded {
	b.Helper()
	const version = "v1"
	w := Seeded{backend: backend, dir: filepath.Join(os.TempDir(), "likeness-seeded", fmt.Sprintf("%s-%d-%s", backend, n, version))}
	if backend == "postgres" {
		w.template = fmt.Sprintf("likeness_seeded_%d_%s", n, version)
	}
	dsn := "sqlite:" + filepath.Join(w.dir, "likeness.db")
	if backend == "postgres" {
		dsn = pgURL(b, w.template)
	}
	if g, err := os.ReadFile(filepath.Join(w.dir, "ok")); err == nil {
		w.Grants, _ = strconv.ParseInt(string(g), 10, 64)
		// Migrations added since it was seeded run once here, not in
		// every measured start.
		store, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		store.Close()
		return w
	}
	opts := Options{DB: dsn, DataDir: w.dir, Args: []string{"--policy", FivePurposes()}}
	if g, err := os.ReadFile(filepath.Join(w.dir, "seeded")); err == nil {
		w.Grants, _ = strconv.ParseInt(string(g), 10, 64)
	} else {
		w.Grants = w.seed(b, opts, n)
	}
	// A replica loads it all once and writes its snapshot at shutdown.
	os.Remove(filepath.Join(w.dir, "decision.snapshot"))
	Start(b, opts, 60*time.Minute).Stop()
	if _, err := os.Stat(filepath.Join(w.dir, "decision.snapshot")); err != nil {
		b.Fatalf("no snapshot after the first load: %v", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "ok"), []byte(strconv.FormatInt(w.Grants, 10)), 0o600); err != nil {
		b.Fatal(err)
	}
	return w
}

// seed creates w's deployment afresh and seeds n people into it.
func (w Seeded) seed(b testing.TB, opts Options, n int) int64 {
	b.Helper()
	b.Logf("seeding %d people on %s into %s (once; kept for later runs)", n, w.backend, w.dir)
	os.RemoveAll(w.dir)
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if w.backend == "postgres" {
		admin := adminDB(b)
		admin.Exec("DROP DATABASE IF EXISTS " + w.template + " WITH (FORCE)")
		if _, err := admin.Exec("CREATE DATABASE " + w.template); err != nil {
			b.Fatal(err)
		}
		admin.Close()
	}
	Start(b, opts, time.Minute).Stop()
	began := time.Now()
	grants := Seed(b, opts.DB, n, FivePurposeIDs)
	b.Logf("seeded %d people, %d grants in %s", n, grants, time.Since(began).Round(time.Second))
	if err := os.WriteFile(filepath.Join(w.dir, "seeded"), []byte(strconv.FormatInt(grants, 10)), 0o600); err != nil {
		b.Fatal(err)
	}
	return grants
}

// Run is one fresh copy of a seeded deployment: its data folder and
// database; Drop removes a PostgreSQL copy.
type Run struct {
	Dir, DSN string
	Drop     func()
}

// Copy makes a fresh copy of w to start a replica on: the data folder's
// files (the snapshot only if snap), and a clone of the template database.
func (w Seeded) Copy(b testing.TB, snap bool) Run {
	b.Helper()
	r := Run{Dir: b.TempDir(), Drop: func() {}}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "ok" || e.Name() == "seeded" || e.Name() == "decision.snapshot" && !snap {
			continue
		}
		copyFile(b, filepath.Join(w.dir, e.Name()), filepath.Join(r.Dir, e.Name()))
	}
	// The blob store comes along: it holds the marker that tells a replica
	// it shares the deployment's store (blob.CheckShared).
	if err := os.CopyFS(filepath.Join(r.Dir, "blobs"), os.DirFS(filepath.Join(w.dir, "blobs"))); err != nil {
		b.Fatalf("copy the seeded blob store: %v", err)
	}
	r.DSN = "sqlite:" + filepath.Join(r.Dir, "likeness.db")
	if w.backend == "postgres" {
		name := fmt.Sprintf("likeness_run_%d", time.Now().UnixNano())
		admin := adminDB(b)
		defer admin.Close()
		if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + w.template); err != nil {
			b.Fatal(err)
		}
		r.DSN = pgURL(b, name)
		r.Drop = func() {
			a := adminDB(b)
			defer a.Close()
			a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		}
	}
	return r
}

func copyFile(b testing.TB, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

func adminDB(b testing.TB) *sql.DB {
	b.Helper()
	db, err := sql.Open("pgx", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func pgURL(b testing.TB, name string) string {
	b.Helper()
	u, err := url.Parse(os.Getenv(storetest.PostgresEnv))
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
