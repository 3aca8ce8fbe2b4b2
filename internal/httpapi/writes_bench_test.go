package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
)

// writeClients is how many clients the HTTP write budgets are measured with.
const writeClients = 16

// writeOps is how many writes each phase of BenchmarkWritesHTTP makes.
const writeOps = 6000

// BenchmarkWritesHTTP measures durable writes through the API on SQLite and
// the same grants in-process, in one run, so their ratio is a like-for-like
// figure: per iteration, writeOps grants by the consent service from 4 and
// from 16 goroutines, writeOps grants POSTed by 16 HTTP clients (keep-alive,
// audit row included), and writeOps subjects created by 16 HTTP clients.
// It reports each rate, the HTTP p50 latencies and the HTTP/in-process
// ratio at 16 clients, and fails if the audit log does not hold exactly one
// row per HTTP write. Run it with -benchtime=1x.
func BenchmarkWritesHTTP(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, "")
		w := newWriteLoad(b, e, 1000)
		b.StartTimer()

		in4 := w.run(4, writeOps, w.grantInProcess)
		in16 := w.run(writeClients, writeOps, w.grantInProcess)
		before := w.auditRows()
		grants := w.run(writeClients, writeOps, w.grantHTTP)
		subs := w.run(writeClients, writeOps, w.createHTTP)

		b.StopTimer()
		if got := w.auditRows() - before; got != 2*writeOps {
			b.Fatalf("audit log gained %d rows for %d HTTP writes", got, 2*writeOps)
		}
		b.ReportMetric(in4.rate, "inproc4-grants/s")
		b.ReportMetric(in4.batch, "inproc4-grants/sync")
		b.ReportMetric(grants.batch, "http16-grants/sync")
		b.ReportMetric(in16.rate, "inproc16-grants/s")
		b.ReportMetric(grants.rate, "http16-grants/s")
		b.ReportMetric(grants.p50.Seconds()*1000, "http16-grant-p50-ms")
		b.ReportMetric(grants.rate/in16.rate, "http/inproc16")
		b.ReportMetric(subs.rate, "http16-subjects/s")
		b.ReportMetric(subs.p50.Seconds()*1000, "http16-subject-p50-ms")
		b.StartTimer()
	}
}

// writeLoad drives grants and subject creations against one env.
type writeLoad struct {
	b        testing.TB
	e        *env
	client   *http.Client
	subjects []string
	purposes []string
	req      likeness.GrantRequest
	body     []byte // the grant's JSON body, purposes aside
	next     atomic.Int64
}

func newWriteLoad(b testing.TB, e *env, n int) *writeLoad {
	b.Helper()
	ctx := context.Background()
	w := &writeLoad{b: b, e: e, purposes: e.d.Notices.Policy().PurposeIDs}
	for i := range n {
		sub, _, err := e.d.Subjects.CreateSubject(ctx, fmt.Sprint("load-", i), "en", "EU-DE")
		if err != nil {
			b.Fatal(err)
		}
		w.subjects = append(w.subjects, sub.ID)
	}
	note, err := e.d.Notices.Notice("en")
	if err != nil {
		b.Fatal(err)
	}
	w.req = likeness.GrantRequest{NoticeVersion: note.Version, NoticeSHA256: note.SHA256, Method: likeness.Checkbox, Language: "en"}
	w.body = fmt.Appendf(nil, `"notice_version":%d,"notice_sha256":%q,"method":"checkbox","language":"en"}`, note.Version, note.SHA256)
	// One kept-alive connection per client, as a real client pool holds.
	w.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.Cleanup(w.client.CloseIdleConnections)
	// The first call loads the API key cache, so that its load is not timed
	// with the writes.
	if err := w.post("/v1/subjects", []byte(`{"external_id":"warm-up","jurisdiction":"EU-DE"}`), http.StatusCreated); err != nil {
		b.Fatal(err)
	}
	return w
}

// pair is op i's subject and purpose: ops cycle over subjects, then
// purposes (a second round over a pair is a renewal, the same write).
func (w *writeLoad) pair(i int) (string, string) {
	return w.subjects[i%len(w.subjects)], w.purposes[(i/len(w.subjects))%len(w.purposes)]
}

func (w *writeLoad) grantInProcess(i int) error {
	req := w.req
	sub, purpose := w.pair(i)
	req.SubjectID, req.Purposes = sub, []string{purpose}
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "bench", Role: likeness.RoleCollector})
	_, err := w.e.svc.Grant(ctx, &req)
	return err
}

func (w *writeLoad) grantHTTP(i int) error {
	sub, purpose := w.pair(i)
	body := append([]byte(`{"purposes":["`+purpose+`"],`), w.body...)
	return w.post("/v1/subjects/"+sub+"/consents", body, http.StatusCreated)
}

func (w *writeLoad) createHTTP(i int) error {
	body := fmt.Appendf(nil, `{"external_id":"http-%d-%d","jurisdiction":"EU-DE","locale":"en"}`, time.Now().UnixNano(), i)
	return w.post("/v1/subjects", body, http.StatusCreated)
}

func (w *writeLoad) post(path string, body []byte, want int) error {
	req, err := http.NewRequest("POST", w.e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.e.tokens[likeness.RoleCollector])
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, got)
	}
	return nil
}

// auditRows counts the access log's rows.
func (w *writeLoad) auditRows() int {
	w.b.Helper()
	rows, err := w.e.store.RecentAccess(context.Background(), 1<<30)
	if err != nil {
		w.b.Fatal(err)
	}
	return len(rows)
}

// phase is one measured burst of writes.
type phase struct {
	rate  float64 // ops per second
	p50   time.Duration
	batch float64 // group-committed writes per transaction (per disk sync)
}

// run makes n ops from clients goroutines and returns their rate and
// median latency.
func (w *writeLoad) run(clients, n int, op func(int) error) phase {
	w.b.Helper()
	groups, writes := w.e.store.GroupCommits()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n || failed.Load() != nil {
					return
				}
				t := time.Now()
				if err := op(int(w.next.Add(1) - 1)); err != nil {
					failed.Store(err)
					return
				}
				lat[k] = time.Since(t)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if err := failed.Load(); err != nil {
		w.b.Fatal(err)
	}
	slices.Sort(lat)
	g, wr := w.e.store.GroupCommits()
	return phase{rate: float64(n) / el.Seconds(), p50: lat[n/2], batch: float64(wr-writes) / float64(max(1, g-groups))}
}
