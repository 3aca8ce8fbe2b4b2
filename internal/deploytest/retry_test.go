package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyedPost sends a JSON POST with an Idempotency-Key and returns the
// status, the Retry-After header and the body; transport errors are 0.
func keyedPost(url, token, key string, body []byte) (int, string, []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), b
}

// TestGrantsRetriedAcrossAPostgresRestartAreRecordedOnce runs grants with
// Idempotency-Keys from several clients while PostgreSQL restarts, each
// client retrying a failed grant under the same key until it is
// acknowledged. No answer may be a 500, and every acknowledged grant is in
// the ledger exactly once. It is one scenario from start to finish;
// splitting it would hide the order.
func TestGrantsRetriedAcrossAPostgresRestartAreRecordedOnce(t *testing.T) {
	pg := PrivatePostgres(t)
	dir := t.TempDir()
	r := Start(t, Options{DB: pg.URL(), DataDir: dir}, 60*time.Second)
	admin := r.AdminKey()
	ctx := context.Background()
	_, nb, err := Do(ctx, "GET", r.URL+"/v1/notices/current?lang=en", admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	var notice struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	json.Unmarshal(nb, &notice)
	grant, _ := json.Marshal(map[string]any{"purposes": []string{"ai-training"}, "notice_version": notice.Version,
		"notice_sha256": notice.SHA256, "method": "checkbox", "language": "en"})

	const workers = 4
	subjects := make([]string, workers)
	for i := range subjects {
		st, b, err := Do(ctx, "POST", r.URL+"/v1/subjects", admin, []byte(fmt.Sprintf(`{"external_id":"restart-%d","jurisdiction":"DE","locale":"en"}`, i)))
		var s struct{ ID string }
		if err != nil || st != 201 || json.Unmarshal(b, &s) != nil {
			t.Fatalf("create subject: %d %s %v", st, b, err)
		}
		subjects[i] = s.ID
	}

	var acked, retried, unavailable atomic.Int64
	var stop atomic.Bool
	acks := make([]int, workers)
	deadline := time.Now().Add(40 * time.Second)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			url := r.URL + "/v1/subjects/" + subjects[i] + "/consents"
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("restart-%d-%d", i, n)
				for try := 0; ; try++ {
					st, retryAfter, b := keyedPost(url, admin, key, grant)
					if st == http.StatusCreated {
						acks[i]++
						acked.Add(1)
						if try > 0 {
							retried.Add(1)
						}
						break
					}
					switch {
					case st == http.StatusInternalServerError:
						t.Errorf("grant answered 500 during the restart: %s", b)
						return
					case st == http.StatusServiceUnavailable && retryAfter == "":
						t.Errorf("503 without Retry-After: %s", b)
					case st == http.StatusServiceUnavailable:
						unavailable.Add(1)
					case st != 0 && st != http.StatusConflict:
						t.Errorf("grant answered %d: %s", st, b)
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("grant %s not acknowledged by the deadline (last %d %s)", key, st, b)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	waitFor := func(n int64) {
		for acked.Load() < n && time.Now().Before(deadline) && !t.Failed() {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(20)
	if err := pg.Restart(1500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(acked.Load() + 20)
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		t.Logf("replica output:\n%s", r.Output())
		return
	}
	t.Logf("%d grants acknowledged, %d after retries, %d answers 503", acked.Load(), retried.Load(), unavailable.Load())

	for i, sub := range subjects {
		var consents struct{ History []json.RawMessage }
		st, b, err := Do(ctx, "GET", r.URL+"/v1/subjects/"+sub+"/consents", admin, nil)
		if err != nil || st != 200 || json.Unmarshal(b, &consents) != nil {
			t.Fatalf("read consents: %d %s %v", st, b, err)
		}
		if len(consents.History) != acks[i] {
			t.Errorf("client %d: %d grants acknowledged, %d events in the ledger", i, acks[i], len(consents.History))
		}
	}
	if retried.Load() == 0 {
		t.Log("no grant needed a retry: the restart fell between requests")
	}
}
