package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// traffic is a client of three replicas that records every unexpected answer.
type traffic struct {
	ctx     context.Context
	urls    []string
	admin   string
	notice  map[string]any
	calls   atomic.Int64
	mu      sync.Mutex
	failure []string
}

func (tr *traffic) do(replica int, method, path string, body any, want int) []byte {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	tr.calls.Add(1)
	code, out, err := Do(tr.ctx, method, tr.urls[replica%len(tr.urls)]+path, tr.admin, b)
	if err != nil || code != want {
		tr.mu.Lock()
		tr.failure = append(tr.failure, fmt.Sprintf("%s %s on replica %d: %d %s %v", method, path, replica%len(tr.urls)+1, code, out, err))
		tr.mu.Unlock()
		return nil
	}
	return out
}

// round creates a subject on one replica, grants on the next, decides on
// the third and reads the consents back on the first; it returns the id.
func (tr *traffic) round(i int, ext string) string {
	var s struct{ ID string }
	if json.Unmarshal(tr.do(i, "POST", "/v1/subjects", map[string]string{"external_id": ext, "jurisdiction": "EU-DE"}, 201), &s) != nil || s.ID == "" {
		return ""
	}
	grant := map[string]any{"purposes": []string{"ai-training"}, "method": "checkbox", "language": "en"}
	for k, v := range tr.notice {
		grant[k] = v
	}
	tr.do(i+1, "POST", "/v1/subjects/"+s.ID+"/consents", grant, 201)
	tr.do(i+2, "POST", "/v1/decisions", map[string]any{"subject_id": s.ID, "purpose": "ai-training", "data_category": "image"}, 200)
	tr.readConsents(i, s.ID)
	return s.ID
}

// readConsents opens the subject's evidence, which needs their data key.
func (tr *traffic) readConsents(i int, id string) {
	tr.do(i, "GET", "/v1/subjects/"+id+"/consents", nil, 200)
}

func (tr *traffic) failures() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.failure...)
}

// TestKeyRotationWhileThreeReplicasServe rotates the key-encryption key with
// `likeness keys rotate`, run as its own process, while three replicas
// sharing the key file serve traffic, then retires the old version: no
// request may fail, and old and new subjects keep working on every replica.
// It is one scenario from start to finish; splitting it would hide the order.
func TestKeyRotationWhileThreeReplicasServe(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "likeness.db")
	if os.Getenv(storetest.PostgresEnv) != "" {
		db = storetest.Postgres(t)
	} else {
		t.Log("on a shared SQLite file: " + storetest.PostgresEnv + " is not set")
	}
	opts := Options{DB: db, DataDir: dir}
	first := Start(t, opts, 60*time.Second)
	admin := first.AdminKey()
	if admin == "" {
		t.Fatalf("first replica printed no admin key:\n%s", first.Output())
	}
	replicas := []*Replica{first, Start(t, opts, 60*time.Second), Start(t, opts, 60*time.Second)}
	tr := &traffic{ctx: context.Background(), admin: admin}
	for _, r := range replicas {
		tr.urls = append(tr.urls, r.URL)
	}
	var n struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	if err := json.Unmarshal(tr.do(0, "GET", "/v1/notices/current?lang=en", nil, 200), &n); err != nil {
		t.Fatalf("notice: %v %v", err, tr.failures())
	}
	tr.notice = map[string]any{"notice_version": n.Version, "notice_sha256": n.SHA256}
	var old []string
	for i := range 6 {
		old = append(old, tr.round(i, fmt.Sprint("before-", i)))
	}
	if f := tr.failures(); len(f) > 0 {
		t.Fatalf("before the rotation: %v", f)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tr.round(g+i, fmt.Sprintf("during-%d-%d", g, i))
				tr.readConsents(g+i+1, old[i%len(old)])
			}
		})
	}
	keysCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(Binary(t), append(append([]string{"keys"}, args[0], "--db", db, "--data-dir", dir), args[1:]...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("likeness keys %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	time.Sleep(500 * time.Millisecond) // traffic before the rotation starts
	t.Log(strings.TrimSpace(keysCmd("rotate")))
	t.Log(strings.TrimSpace(keysCmd("retire", "local-1")))
	time.Sleep(time.Second) // and traffic after the old version is gone
	close(stop)
	wg.Wait()
	if f := tr.failures(); len(f) > 0 {
		t.Fatalf("%d of %d requests failed during rotation and retirement; first: %s", len(f), tr.calls.Load(), f[0])
	}
	t.Logf("%d requests, none failed", tr.calls.Load())

	for i := range replicas {
		for _, id := range old {
			tr.readConsents(i, id)
		}
		tr.round(i, fmt.Sprint("after-", i))
	}
	if f := tr.failures(); len(f) > 0 {
		t.Fatalf("after retiring local-1: %v", f)
	}
}
