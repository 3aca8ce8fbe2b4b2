package deploytest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// BenchmarkGrantsOneVsTwoReplicas measures durable grants per second on
// PostgreSQL through real `serve` processes: first one replica alone, then,
// on the same database in the same run, two replicas, each loaded by the
// same number of clients (real HTTP POSTs of one-purpose grants to people
// created beforehand, each client with people of its own). It reports
// grants/s of each phase and their ratio. The load generator, PostgreSQL
// and the replicas share the machine's cores. Run it once:
//
//	LIKENESS_TEST_POSTGRES_URL=… go test -run x -bench GrantsOneVsTwoReplicas -benchtime 1x ./internal/deploytest
//
// LIKENESS_BENCH_SECONDS sets each phase's length (default 10).
func BenchmarkGrantsOneVsTwoReplicas(b *testing.B) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		b.Skip("replica throughput benchmark skipped: it needs PostgreSQL (" + storetest.PostgresEnv + ")")
	}
	const clients = 8 // per replica
	phase := 10 * time.Second
	if s := os.Getenv("LIKENESS_BENCH_SECONDS"); s != "" {
		fmt.Sscan(s, &phase)
		phase *= time.Second
	}
	dsn := storetest.Postgres(b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c := startCluster(b, 1, dsn)
	subs := make([][]string, 2*clients)
	for k := range subs {
		for j := range 4 {
			subs[k] = append(subs[k], c.subject(0, fmt.Sprintf("load-%d-%d", k, j)))
		}
	}
	b.ResetTimer()
	one, refusedOne := c.grantLoad(b, db, 1, clients, subs, phase)
	b.StopTimer()
	c.replicas = append(c.replicas, Start(b, Options{DB: dsn, DataDir: c.dir}, 60*time.Second))
	b.StartTimer()
	two, refusedTwo := c.grantLoad(b, db, 2, clients, subs, phase)
	b.StopTimer()
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("one replica %.0f grants/s, two replicas %.0f grants/s (%.2fx), %d clients per replica, %s per phase; load average %s",
		one, two, two/one, clients, phase, strings.TrimSpace(string(load)))
	b.ReportMetric(one, "grants/s-one")
	b.ReportMetric(two, "grants/s-two")
	b.ReportMetric(two/one, "ratio")
	b.ReportMetric(float64(refusedOne+refusedTwo), "not-201")
}

// grantLoad runs clients per replica on the first n replicas for d after a
// warm-up of a second, and returns the grants acknowledged (201) per second
// and how many answers were anything else. A transport error fails the
// benchmark.
func (c *cluster) grantLoad(b *testing.B, db *sql.DB, n, clients int, subs [][]string, d time.Duration) (float64, int64) {
	b.Helper()
	g := map[string]any{"purposes": []string{"ai-training"}, "method": "checkbox", "language": "en"}
	for k, v := range c.notice {
		g[k] = v
	}
	body, _ := json.Marshal(g)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * clients}}
	defer hc.CloseIdleConnections()
	var counting atomic.Bool
	var done, refused atomic.Int64
	var failure, answer atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for r := range n {
		for k := range clients {
			own := subs[r*clients+k]
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					url := c.replicas[r].URL + "/v1/subjects/" + own[i%len(own)] + "/consents"
					ok, err := c.post(ctx, hc, url, body)
					if err != nil {
						if ctx.Err() == nil {
							failure.CompareAndSwap(nil, err)
							cancel()
						}
						return
					}
					switch {
					case !counting.Load():
					case ok == "":
						done.Add(1)
					default:
						refused.Add(1)
						answer.CompareAndSwap(nil, ok)
					}
				}
			})
		}
	}
	time.Sleep(time.Second)
	u := startUsage(db, c.replicas[:n])
	counting.Store(true)
	began := time.Now()
	time.Sleep(d)
	counting.Store(false)
	took := time.Since(began)
	b.Logf("%d replica(s): %s", n, u.end(done.Load()))
	cancel()
	wg.Wait()
	if err, ok := failure.Load().(error); ok {
		b.Fatal(err)
	}
	if a, ok := answer.Load().(string); ok {
		b.Logf("%d of %d grants on %d replica(s) not acknowledged, first: %s", refused.Load(), refused.Load()+done.Load(), n, a)
	}
	return float64(done.Load()) / took.Seconds(), refused.Load()
}

// post sends one grant and returns "" on 201, else the status and body.
func (c *cluster) post(ctx context.Context, hc *http.Client, url string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 {
		return fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(raw)), nil
	}
	return "", nil
}
