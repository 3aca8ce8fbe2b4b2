package consent_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
	"likeness/policy"
)

// benchSubjects is how many subjects the grant benchmarks cycle over.
const benchSubjects = 1000

// reportGroups reports the grants per group commit (per disk sync) since
// groups and writes were read.
func reportGroups(b *testing.B, g *grantBench, groups, writes int64) {
	n, w := g.store.GroupCommits()
	if n > groups {
		b.ReportMetric(float64(w-writes)/float64(n-groups), "writes/sync")
	}
}

// grantBench is a Service on a real SQLite file (WAL, synchronous=FULL, as
// sqlstore configures it) with benchSubjects subjects created.
type grantBench struct {
	svc      *consent.Service
	store    *sqlstore.DB
	ledger   *ledgerlog.Log
	subjects []string
	purposes []string
	req      likeness.GrantRequest
}

func newGrantBench(b *testing.B) *grantBench {
	b.Helper()
	d := newDeployment(b, policy.Example())
	ctx := context.Background()
	g := &grantBench{svc: d.Consent, store: d.Store, ledger: d.Ledger, purposes: d.Notices.Policy().PurposeIDs}
	for i := range benchSubjects {
		sub, _, err := d.Subjects.CreateSubject(ctx, fmt.Sprintf("bench-%d", i), "en", "EU-DE")
		if err != nil {
			b.Fatal(err)
		}
		g.subjects = append(g.subjects, sub.ID)
	}
	n, err := d.Notices.Notice("en")
	if err != nil {
		b.Fatal(err)
	}
	g.req = likeness.GrantRequest{NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}
	return g
}

// grant is op i: one durable grant of one purpose, ledger append included.
// Ops cycle over subjects, then purposes; a second round over the same
// pair is recorded as a renewal, which is the same write.
func (g *grantBench) grant(ctx context.Context, i int) error {
	req := g.req
	req.SubjectID = g.subjects[i%len(g.subjects)]
	req.Purposes = []string{g.purposes[(i/len(g.subjects))%len(g.purposes)]}
	_, err := g.svc.Grant(ctx, &req)
	return err
}

func reportGrants(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkGrantSQLite measures durable grants one after another.
func BenchmarkGrantSQLite(b *testing.B) {
	g := newGrantBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := g.grant(ctx, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportGrants(b)
	if size := g.ledger.Tree().Size(); size != uint64(i) {
		b.Fatalf("ledger has %d leaves after %d grants", size, i)
	}
}

// BenchmarkGrantSQLiteParallel measures durable grants from GOMAXPROCS
// goroutines at once, as concurrent API requests make them.
func BenchmarkGrantSQLiteParallel(b *testing.B) {
	g := newGrantBench(b)
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(16) // 32 concurrent clients on 2 cores: what group commit is for
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := g.grant(ctx, int(next.Add(1)-1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportGrants(b)
	if size := g.ledger.Tree().Size(); size != uint64(next.Load()) {
		b.Fatalf("ledger has %d leaves after %d grants", size, next.Load())
	}
}

// BenchmarkGrantSQLite4Clients measures durable grants from 4 goroutines,
// a handful of concurrent callers: the budget is 3,000 grants/s on SQLite
// on a 2-core machine (docs/BENCHMARKS.md, "Writes").
func BenchmarkGrantSQLite4Clients(b *testing.B) {
	g := newGrantBench(b)
	ctx := context.Background()
	var next atomic.Int64
	n := int64(b.N)
	groups, writes := g.store.GroupCommits()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if err := g.grant(ctx, int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportGrants(b)
	reportGroups(b, g, groups, writes)
	if size := g.ledger.Tree().Size(); size != uint64(b.N) {
		b.Fatalf("ledger has %d leaves after %d grants", size, b.N)
	}
}
