package snapshot_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"likeness/internal/deploytest"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
	"likeness/policy"
)

// loadSubjects is how many people BenchmarkLoad loads
// (LIKENESS_LOAD_SUBJECTS, default 100,000).
func loadSubjects() int {
	if n, err := strconv.Atoi(os.Getenv("LIKENESS_LOAD_SUBJECTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkLoad builds a deployment in process on a copy of a seeded
// database (deploytest.SeededDeployment) and loads its decision index, from
// the database or from the snapshot: the load alone, without the process
// around it, for profiles.
//
//	go test -run '^$' -bench Load -benchtime 1x -cpuprofile cpu.out ./internal/snapshot
func BenchmarkLoad(b *testing.B) {
	n := loadSubjects()
	pol, err := policy.Load(deploytest.FivePurposes())
	if err != nil {
		b.Fatal(err)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			if backend == "postgres" {
				storetest.NeedPostgres(b)
			}
			world := deploytest.SeededDeployment(b, backend, n)
			for _, snap := range []bool{false, true} {
				b.Run("snapshot="+strconv.FormatBool(snap), func(b *testing.B) {
					var took time.Duration
					for b.Loop() {
						b.StopTimer()
						run := world.Copy(b, snap)
						o := likenesstest.Options{Dir: run.Dir, DSN: run.DSN, Policy: pol}
						if snap {
							o.Snapshot = filepath.Join(run.Dir, "decision.snapshot")
						}
						b.StartTimer()
						began := time.Now()
						d := likenesstest.New(b, o)
						took += time.Since(began)
						b.StopTimer()
						if _, grants := d.Engine.Stats(); int64(grants) != world.Grants {
							b.Fatalf("loaded %d grants, want %d", grants, world.Grants)
						}
						d.Store.Close()
						run.Drop()
						b.StartTimer()
					}
					b.ReportMetric(took.Seconds()/float64(b.N), "s-to-load")
				})
			}
		})
	}
}
