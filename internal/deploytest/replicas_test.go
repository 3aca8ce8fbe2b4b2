package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// cluster is a deployment of several serve replicas on one database.
type cluster struct {
	t        testing.TB
	replicas []*Replica
	admin    string
	notice   map[string]any
	dir      string // the data folder the replicas share
}

// startCluster starts n replicas on PostgreSQL when LIKENESS_TEST_POSTGRES_URL
// is set (else on a shared SQLite file), the first with extra args.
func startCluster(t testing.TB, n int, dsn string, args ...[]string) *cluster {
	t.Helper()
	dir := t.TempDir()
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(dir, "likeness.db")
		if os.Getenv(storetest.PostgresEnv) != "" {
			dsn = storetest.Postgres(t)
		}
	}
	c := &cluster{t: t, dir: dir}
	for i := range n {
		opts := Options{DB: dsn, DataDir: dir}
		if i < len(args) {
			opts.Args = args[i]
		}
		c.replicas = append(c.replicas, Start(t, opts, 60*time.Second))
	}
	c.admin = c.replicas[0].AdminKey()
	if c.admin == "" {
		t.Fatalf("the first replica printed no admin key:\n%s", c.replicas[0].Output())
	}
	var nv struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	c.call(0, "GET", "/v1/notices/current?lang=en", nil, 200, &nv, nil)
	c.notice = map[string]any{"notice_version": nv.Version, "notice_sha256": nv.SHA256}
	return c
}

// until calls cond every 20 ms until it reports done, and fails the test
// with what cond said last if it has not by deadline.
func until(t testing.TB, deadline time.Time, cond func() (done bool, last string)) {
	t.Helper()
	for {
		done, last := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends a request with body as JSON to replica i, checks the status and
// decodes the body into out; hdr, if set, receives the response headers.
func (c *cluster) call(i int, method, path string, body any, want int, out any, hdr *http.Header) {
	c.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	c.send(i, method, path, "application/json", b, want, out, hdr)
}

// send is call with a body of the given content type, as it is.
func (c *cluster) send(i int, method, path, contentType string, body []byte, want int, out any, hdr *http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.replicas[i].URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.admin)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s on replica %d: %v", method, path, i+1, err)
	}
	defer res.Body.Close()
	var raw json.RawMessage
	json.NewDecoder(res.Body).Decode(&raw)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s on replica %d: %d %s, want %d", method, path, i+1, res.StatusCode, raw, want)
	}
	if out != nil {
		json.Unmarshal(raw, out)
	}
	if hdr != nil {
		*hdr = res.Header
	}
}

// subject creates a person with consent to ai-training, on replica i.
func (c *cluster) subject(i int, ext string) string {
	c.t.Helper()
	var s struct{ ID string }
	c.call(i, "POST", "/v1/subjects", map[string]string{"external_id": ext, "jurisdiction": "EU-DE"}, 201, &s, nil)
	c.grant(i, s.ID)
	return s.ID
}

func (c *cluster) grant(i int, sub string) int64 {
	c.t.Helper()
	g := map[string]any{"purposes": []string{"ai-training"}, "method": "checkbox", "language": "en"}
	for k, v := range c.notice {
		g[k] = v
	}
	var out struct{ Revision int64 }
	c.call(i, "POST", "/v1/subjects/"+sub+"/consents", g, 201, &out, nil)
	return out.Revision
}

// withdraw withdraws on replica i and returns the revision from the header.
func (c *cluster) withdraw(i int, sub string) int64 {
	c.t.Helper()
	var h http.Header
	var out struct{ Revision int64 }
	c.call(i, "POST", "/v1/subjects/"+sub+"/consents/ai-training/withdraw", nil, 201, &out, &h)
	rev, err := strconv.ParseInt(h.Get("Likeness-Revision"), 10, 64)
	if err != nil || rev != out.Revision || rev <= 0 {
		c.t.Fatalf("withdrawal answered revision header %q and body %d", h.Get("Likeness-Revision"), out.Revision)
	}
	return rev
}

// decide asks replica i; minRev 0 sends no token. It returns the status and
// whether the answer allowed.
func (c *cluster) decide(ctx context.Context, i int, sub string, minRev int64) (int, bool, []string, error) {
	body := fmt.Sprintf(`{"subject_id":%q,"purpose":"ai-training","data_category":"image"`, sub)
	if minRev > 0 {
		body += fmt.Sprintf(`,"min_revision":%d`, minRev)
	}
	code, raw, err := Do(ctx, "POST", c.replicas[i].URL+"/v1/decisions", c.admin, []byte(body+"}"))
	var d struct {
		Allow   bool     `json:"allow"`
		Reasons []string `json:"reasons"`
	}
	json.Unmarshal(raw, &d)
	return code, d.Allow, d.Reasons, err
}

// TestWithdrawalWithItsRevisionNeverAllowsOnAnyReplica withdraws on one
// replica and at once asks every replica, carrying the withdrawal's
// revision: no answer may allow, however far behind a replica is.
func TestWithdrawalWithItsRevisionNeverAllowsOnAnyReplica(t *testing.T) {
	c := startCluster(t, 3, "")
	trials := 400
	if testing.Short() {
		trials = 60
	}
	if v, err := strconv.Atoi(os.Getenv("LIKENESS_REPLICA_TRIALS")); err == nil {
		trials = v
	}
	const workers = 4
	subs := make([]string, workers)
	for w := range workers {
		subs[w] = c.subject(w%3, fmt.Sprint("token-", w))
	}
	var mu sync.Mutex
	var wrong []string
	asked, unavailable := 0, 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := w; n < trials; n += workers {
				writer := n % 3
				c.grant(writer, subs[w])
				rev := c.withdraw(writer, subs[w])
				for r := range 3 {
					code, allow, reasons, err := c.decide(context.Background(), r, subs[w], rev)
					mu.Lock()
					asked++
					switch {
					case err != nil:
						wrong = append(wrong, fmt.Sprintf("trial %d replica %d: %v", n, r+1, err))
					case code == 503:
						unavailable++
					case code != 200 || allow || !slices.Contains(reasons, "withdrawn"):
						wrong = append(wrong, fmt.Sprintf("trial %d: replica %d answered %d allow=%v %v after the withdrawal at revision %d on replica %d", n, r+1, code, allow, reasons, rev, writer+1))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d decisions carrying a withdrawal's revision over %d trials; %d answered 503 (replica behind), none allowed", asked, trials, unavailable)
	if len(wrong) > 0 {
		t.Fatalf("%d wrong answers, first: %s", len(wrong), wrong[0])
	}
}

// TestReplicaCutOffFromTheDatabaseStopsAllowingAndNeverHangs partitions one
// replica from the database (a proxy that swallows its traffic) while
// another records a withdrawal: within its staleness bound the cut-off
// replica must stop allowing, and no answer may take longer than a second.
// It is one scenario from start to finish; splitting it would hide the order.
func TestReplicaCutOffFromTheDatabaseStopsAllowingAndNeverHangs(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip("partition test skipped: it needs PostgreSQL (" + storetest.PostgresEnv + ")")
	}
	dsn := storetest.Postgres(t)
	u := strings.TrimPrefix(strings.SplitN(dsn, "@", 2)[1], "")
	host := u[:strings.Index(u, "/")]
	proxy := NewProxy(t, host)
	viaProxy := strings.Replace(dsn, "@"+host+"/", "@"+proxy.Addr+"/", 1)

	const staleness = time.Second
	dir := t.TempDir()
	a := Start(t, Options{DB: dsn, DataDir: dir}, 60*time.Second)
	b := Start(t, Options{DB: viaProxy, DataDir: dir, Args: []string{"--max-staleness", staleness.String()}}, 60*time.Second)
	c := &cluster{t: t, replicas: []*Replica{a, b}, admin: a.AdminKey()}
	var nv struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	c.call(0, "GET", "/v1/notices/current?lang=en", nil, 200, &nv, nil)
	c.notice = map[string]any{"notice_version": nv.Version, "notice_sha256": nv.SHA256}
	sub := c.subject(0, "partitioned")
	until(t, time.Now().Add(10*time.Second), func() (bool, string) { // b learns of the grant, and its key cache is warm
		_, allow, _, _ := c.decide(context.Background(), 1, sub, 0)
		return allow, "replica b never allowed the granted purpose"
	})

	proxy.Cut()
	cutAt := time.Now()
	c.withdraw(0, sub)
	var allowsAfterBound, answers int
	var slowest time.Duration
	for time.Since(cutAt) < 3*staleness {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		code, allow, reasons, err := c.decide(ctx, 1, sub, 0)
		took := time.Since(start)
		cancel()
		slowest = max(slowest, took)
		if err != nil {
			t.Fatalf("decision on the cut-off replica after %s: %v (took %s)", time.Since(cutAt), err, took)
		}
		answers++
		// The bound counts from the replica's last catch-up, which is at
		// most one poll before the cut.
		if code != 200 && code != 503 {
			t.Errorf("the cut-off replica answered %d %v", code, reasons)
		}
		if allow && start.Sub(cutAt) > staleness+300*time.Millisecond {
			allowsAfterBound++
			t.Errorf("allowed %s after the cut (bound %s): %d %v", start.Sub(cutAt), staleness, code, reasons)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if slowest > time.Second {
		t.Errorf("slowest decision on the cut-off replica took %s; it must not hang", slowest)
	}
	// Past the bound it refuses: a deny with replica_stale while its cached
	// keys still serve, then 503 once it cannot check revocations either.
	code, _, reasons, _ := c.decide(context.Background(), 1, sub, 0)
	if !(code == 200 && slices.Contains(reasons, "replica_stale") || code == 503) {
		t.Errorf("past the bound the cut-off replica answered %d %v, want a deny with replica_stale or 503", code, reasons)
	}
	if res, err := http.Get(b.URL + "/readyz"); err != nil || res.StatusCode != 503 {
		t.Errorf("/readyz of the cut-off replica: %v %v, want 503", res, err)
	}
	t.Logf("%d answers in %s after the cut, slowest %s", answers, 3*staleness, slowest)

	proxy.Restore()
	until(t, time.Now().Add(15*time.Second), func() (bool, string) {
		code, _, reasons, _ := c.decide(context.Background(), 1, sub, 0)
		return code == 200 && slices.Contains(reasons, "withdrawn"),
			fmt.Sprintf("after the partition healed the replica still answers %d %v", code, reasons)
	})
}

// BenchmarkWithdrawalLagOnFollowers measures, without a consistency token,
// how long after a withdrawal is acknowledged by one replica the two others
// first deny: the push path (PostgreSQL notifications) against polling.
// It reports the median and p99 lag in milliseconds.
//
//	LIKENESS_TEST_POSTGRES_URL=… go test -run x -bench WithdrawalLag -benchtime 200x ./internal/deploytest
func BenchmarkWithdrawalLagOnFollowers(b *testing.B) {
	c := startCluster(b, 3, "")
	sub := c.subject(0, "lag")
	var lags []time.Duration
	b.ResetTimer()
	for n := range b.N {
		writer := n % 3
		c.grant(writer, sub)
		// Wait until every replica allows again, so each trial starts fresh.
		for r := range 3 {
			for {
				if _, allow, _, _ := c.decide(context.Background(), r, sub, 0); allow {
					break
				}
			}
		}
		c.withdraw(writer, sub)
		acked := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for r := range 3 {
			if r == writer {
				continue
			}
			wg.Go(func() {
				for {
					if _, allow, _, err := c.decide(context.Background(), r, sub, 0); err == nil && !allow {
						mu.Lock()
						lags = append(lags, time.Since(acked))
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
}
