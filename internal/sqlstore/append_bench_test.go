package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
)

// BenchmarkAppendsOneVsTwoHandles measures ledger appends per second on
// PostgreSQL without HTTP or replicas around them: one store handle (one
// group committer) with 8 appending goroutines, then two handles on the
// same database with 8 each, as two replicas append. Each append is one
// grant. It reports both rates and their ratio. Run it once:
//
//	LIKENESS_TEST_POSTGRES_URL=… go test -run x -bench AppendsOneVsTwoHandles -benchtime 1x ./internal/sqlstore
func BenchmarkAppendsOneVsTwoHandles(b *testing.B) {
	storetest.NeedPostgres(b)
	dsn := storetest.Postgres(b)
	a, c := open(b, dsn), open(b, dsn)
	defer a.Close()
	defer c.Close()
	sub := storetest.NewSubject(b, a, "bench")
	const workers = 8
	phase := 5 * time.Second
	one := appendLoad(b, []*sqlstore.DB{a}, sub.ID, workers, phase)
	two := appendLoad(b, []*sqlstore.DB{a, c}, sub.ID, workers, phase)
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("one handle %.0f appends/s, two handles %.0f appends/s (%.2fx), %d goroutines per handle, %s per phase; load average %s",
		one, two, two/one, workers, phase, strings.TrimSpace(string(load)))
	b.ReportMetric(one, "appends/s-one")
	b.ReportMetric(two, "appends/s-two")
	b.ReportMetric(two/one, "ratio")
}

func appendLoad(b *testing.B, dbs []*sqlstore.DB, sub string, workers int, d time.Duration) float64 {
	b.Helper()
	var n atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, db := range dbs {
		for range workers {
			wg.Go(func() {
				for time.Now().Before(stop) {
					ev := &likeness.ConsentEvent{ID: likeness.NewID("evt"), SubjectID: sub, Purpose: "p", Type: likeness.Grant,
						Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: "ab", Language: "en", Collector: "bench", Time: time.Now()}
					if err := db.AppendEvents(context.Background(), []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
						failed.CompareAndSwap(nil, fmt.Errorf("append: %w", err))
						return
					}
					n.Add(1)
				}
			})
		}
	}
	began := time.Now()
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return float64(n.Load()) / time.Since(began).Seconds()
}
