package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"likeness/internal/storetest"
)

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
// process serving an empty database (bytes per grant), and the processor
// time the process used until ready (less noisy than the wall time on a
// shared machine). The operating system's file cache is warm (the database
// was just copied or cloned).
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
			world := SeededDeployment(b, backend, n)
			empty := emptyRSS(b, backend)
			for _, snap := range []bool{false, true} {
				b.Run(fmt.Sprintf("snapshot=%v", snap), func(b *testing.B) {
					var took, cpu time.Duration
					var rss int64
					for b.Loop() {
						run := world.Copy(b, snap)
						args := []string{"--policy", FivePurposes()}
						if !snap {
							args = append(args, "--snapshot", "off")
						}
						began := time.Now()
						r := Start(b, Options{DB: run.DSN, DataDir: run.Dir, Args: args}, 30*time.Minute)
						took += time.Since(began)
						cpu += r.CPU(b)
						rss += r.RSS(b)
						r.Stop()
						run.Drop()
					}
					k := float64(b.N)
					b.ReportMetric(took.Seconds()/k, "s-to-ready")
					b.ReportMetric(cpu.Seconds()/k, "cpu-s-to-ready")
					b.ReportMetric(float64(rss)/k/(1<<20), "MiB-rss")
					b.ReportMetric((float64(rss)/k-float64(empty))/float64(world.Grants), "B/grant")
					b.ReportMetric(float64(world.Grants), "grants")
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

// CPU returns the processor time the replica has used so far, user and
// system (Linux, at the kernel's 100 ticks a second).
func (r *Replica) CPU(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the replica's processor time: %v", err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc stat: %v %v", err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
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
