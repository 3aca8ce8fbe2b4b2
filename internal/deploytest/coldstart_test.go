package deploytest

import (
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// FivePurposes is a policy with five purposes, for deployments seeded with
// many people (see Seed).
func FivePurposes() string {
	return filepath.Join(moduleRoot(), "internal", "deploytest", "testdata", "five-purposes.yaml")
}

var fivePurposes = []string{"ai-training", "marketing-personalization", "voice-transcription", "headshots", "voice-assistant"}

// coldStartSubjects is how many people BenchmarkColdStart loads:
// LIKENESS_COLDSTART_SUBJECTS, default 100,000 (the budget is stated at
// 1,000,000; seeding that many takes minutes the first time, then the
// seeded database is kept in the temporary folder between runs).
func coldStartSubjects() int {
	if n, err := strconv.Atoi(os.Getenv("LIKENESS_COLDSTART_SUBJECTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkColdStart measures a whole `likeness serve` process from exec to
// its /readyz answering 200, on SQLite and PostgreSQL, with and without a
// decision snapshot, and its resident memory once ready above that of a
// process serving an empty database (bytes per grant). The operating
// system's file cache is warm (the database was just copied or cloned).
//
//	go test -run x -bench ColdStart -benchtime 1x -timeout 60m ./internal/deploytest
//	LIKENESS_COLDSTART_SUBJECTS=1000000 go test -run x -bench ColdStart -benchtime 1x -timeout 120m ./internal/deploytest
func BenchmarkColdStart(b *testing.B) {
	n := coldStartSubjects()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			if backend == "postgres" {
				storetest.NeedPostgres(b)
			}
			world := seededWorld(b, backend, n)
			empty := emptyRSS(b, backend)
			for _, snap := range []bool{false, true} {
				b.Run(fmt.Sprintf("snapshot=%v", snap), func(b *testing.B) {
					var took time.Duration
					var rss int64
					for b.Loop() {
						run := world.copy(b, snap)
						args := []string{"--policy", FivePurposes()}
						if !snap {
							args = append(args, "--snapshot", "off")
						}
						began := time.Now()
						r := Start(b, Options{DB: run.dsn, DataDir: run.dir, Args: args}, 30*time.Minute)
						took += time.Since(began)
						rss += r.RSS(b)
						r.Stop()
						run.drop()
					}
					k := float64(b.N)
					b.ReportMetric(took.Seconds()/k, "s-to-ready")
					b.ReportMetric(float64(rss)/k/(1<<20), "MiB-rss")
					b.ReportMetric((float64(rss)/k-float64(empty))/float64(world.grants), "B/grant")
					b.ReportMetric(float64(world.grants), "grants")
				})
			}
		})
	}
}

// emptyRSS is the resident memory of a ready process serving an empty
// deployment with the same policy.
func emptyRSS(b *testing.B, backend string) int64 {
	b.Helper()
	dir := b.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "likeness.db")
	if backend == "postgres" {
		dsn = storetest.Postgres(b)
	}
	r := Start(b, Options{DB: dsn, DataDir: dir, Args: []string{"--policy", FivePurposes()}}, time.Minute)
	defer r.Stop()
	return r.RSS(b)
}

// seeded is a deployment of n seeded people kept between runs: a data
// folder (key file; the SQLite database) and, for PostgreSQL, a template
// database, plus the decision snapshot a replica wrote for it.
type seeded struct {
	backend  string
	dir      string // the kept data folder
	template string // PostgreSQL: the kept database's name
	grants   int64
}

// seededWorld returns the kept deployment of n people on backend, seeding
// it first if it is not there yet.
func seededWorld(b *testing.B, backend string, n int) seeded {
	b.Helper()
	const version = "v1"
	w := seeded{backend: backend, dir: filepath.Join(os.TempDir(), "likeness-seeded", fmt.Sprintf("%s-%d-%s", backend, n, version))}
	if backend == "postgres" {
		w.template = fmt.Sprintf("likeness_seeded_%d_%s", n, version)
	}
	if g, err := os.ReadFile(filepath.Join(w.dir, "ok")); err == nil {
		w.grants, _ = strconv.ParseInt(string(g), 10, 64)
		return w
	}
	b.Logf("seeding %d people on %s into %s (once; kept for later runs)", n, backend, w.dir)
	os.RemoveAll(w.dir)
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		b.Fatal(err)
	}
	dsn := "sqlite:" + filepath.Join(w.dir, "likeness.db")
	if backend == "postgres" {
		admin := adminDB(b)
		admin.Exec("DROP DATABASE IF EXISTS " + w.template + " WITH (FORCE)")
		if _, err := admin.Exec("CREATE DATABASE " + w.template); err != nil {
			b.Fatal(err)
		}
		admin.Close()
		dsn = pgURL(b, w.template)
	}
	opts := Options{DB: dsn, DataDir: w.dir, Args: []string{"--policy", FivePurposes()}}
	Start(b, opts, time.Minute).Stop()
	began := time.Now()
	w.grants = Seed(b, dsn, n, fivePurposes)
	b.Logf("seeded %d people, %d grants in %s", n, w.grants, time.Since(began).Round(time.Second))
	// A replica loads it all once and writes its snapshot at shutdown.
	os.Remove(filepath.Join(w.dir, "decision.snapshot"))
	Start(b, opts, 60*time.Minute).Stop()
	if _, err := os.Stat(filepath.Join(w.dir, "decision.snapshot")); err != nil {
		b.Fatalf("no snapshot after the first load: %v", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "ok"), []byte(strconv.FormatInt(w.grants, 10)), 0o600); err != nil {
		b.Fatal(err)
	}
	return w
}

// run is one fresh copy of a seeded deployment.
type run struct {
	dir, dsn string
	drop     func()
}

// copy makes a fresh copy of w to start a replica on: the data folder's
// files (the snapshot only if snap), and a clone of the template database.
func (w seeded) copy(b *testing.B, snap bool) run {
	b.Helper()
	r := run{dir: b.TempDir(), drop: func() {}}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "ok" || e.Name() == "decision.snapshot" && !snap {
			continue
		}
		copyFile(b, filepath.Join(w.dir, e.Name()), filepath.Join(r.dir, e.Name()))
	}
	r.dsn = "sqlite:" + filepath.Join(r.dir, "likeness.db")
	if w.backend == "postgres" {
		name := fmt.Sprintf("likeness_run_%d", time.Now().UnixNano())
		admin := adminDB(b)
		defer admin.Close()
		if _, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + w.template); err != nil {
			b.Fatal(err)
		}
		r.dsn = pgURL(b, name)
		r.drop = func() {
			a := adminDB(b)
			defer a.Close()
			a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		}
	}
	return r
}

func copyFile(b *testing.B, from, to string) {
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

// RSS returns the replica's resident set size in bytes (Linux).
func (r *Replica) RSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the replica's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}
