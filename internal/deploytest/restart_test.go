package deploytest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// restartSubjects is how many seeded people the restart test loads:
// enough that a full load takes a noticeable time
// (LIKENESS_RESTART_SUBJECTS, default 20,000).
func restartSubjects() int {
	if n, err := strconv.Atoi(os.Getenv("LIKENESS_RESTART_SUBJECTS")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

// decisionTally counts what a starting replica answered.
type decisionTally struct {
	unavailable, denied, allowed, other atomic.Int64
	noRetryAfter                        atomic.Int64
	firstOther                          atomic.Value
}

func (d *decisionTally) String() string {
	return "503: " + strconv.FormatInt(d.unavailable.Load(), 10) + ", deny: " + strconv.FormatInt(d.denied.Load(), 10) +
		", allow: " + strconv.FormatInt(d.allowed.Load(), 10) + ", other: " + strconv.FormatInt(d.other.Load(), 10)
}

// hammer asks url for decision body from workers goroutines until stop
// is closed, tallying the answers.
func hammer(url, token string, body []byte, workers int, stop <-chan struct{}) *decisionTally {
	tally := &decisionTally{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/decisions", strings.NewReader(string(body)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					cancel()
					tally.other.Add(1)
					tally.firstOther.CompareAndSwap(nil, err.Error())
					continue
				}
				var d struct {
					Allow *bool `json:"allow"`
				}
				json.NewDecoder(res.Body).Decode(&d)
				res.Body.Close()
				cancel()
				switch {
				case res.StatusCode == 503:
					tally.unavailable.Add(1)
					if res.Header.Get("Retry-After") == "" {
						tally.noRetryAfter.Add(1)
					}
				case res.StatusCode == 200 && d.Allow != nil && *d.Allow:
					tally.allowed.Add(1)
				case res.StatusCode == 200 && d.Allow != nil:
					tally.denied.Add(1)
				default:
					tally.other.Add(1)
					tally.firstOther.CompareAndSwap(nil, "status "+strconv.Itoa(res.StatusCode))
				}
			}
		})
	}
	go func() { <-stop; wg.Wait() }()
	return tally
}

// TestRestartedReplicaAnswersNotReadyUntilCaughtUpAndNeverAllowsTooSoon
// restarts a replica of a deployment holding tens of thousands of people
// while decisions about a person whose withdrawal is the newest event (at
// the end of the history, or in the tail after the snapshot) hammer it.
// From the moment its port opens until it is ready, it may answer 503 or
// deny; it must never allow.
func TestRestartedReplicaAnswersNotReadyUntilCaughtUpAndNeverAllowsTooSoon(t *testing.T) {
	for _, fromSnapshot := range []bool{false, true} {
		name := "full load"
		if fromSnapshot {
			name = "snapshot and tail"
		}
		t.Run(name, func(t *testing.T) {
			restartUnderLoad(t, fromSnapshot)
		})
	}
}

func restartUnderLoad(t *testing.T, fromSnapshot bool) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "likeness.db")
	if os.Getenv(storetest.PostgresEnv) != "" {
		dsn = storetest.Postgres(t)
	}
	base := Options{DB: dsn, DataDir: dir, Env: []string{"LIKENESS_ADMIN_TOKEN=restart-admin-token-0123456789abcdef"}}
	withArgs := func(args ...string) Options { o := base; o.Args = args; return o }
	Start(t, base, time.Minute).Stop()
	n := restartSubjects()
	Seed(t, dsn, n, []string{"ai-training", "marketing-personalization", "voice-transcription"})

	// Replica A takes the writes; it writes no snapshot of its own.
	a := Start(t, withArgs("--snapshot", "off"), 5*time.Minute)
	c := &cluster{t: t, replicas: []*Replica{a}, admin: "restart-admin-token-0123456789abcdef"}
	var nv struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	c.call(0, "GET", "/v1/notices/current?lang=en", nil, 200, &nv, nil)
	c.notice = map[string]any{"notice_version": nv.Version, "notice_sha256": nv.SHA256}
	person := c.subject(0, "withdraws-later")

	bArgs := []string{"--snapshot", "off"}
	if fromSnapshot {
		// B loads once and writes its snapshot at shutdown, before the
		// withdrawal: the withdrawal is in the tail it reads at restart.
		bArgs = nil
		Start(t, withArgs(bArgs...), 5*time.Minute).Stop()
		if _, err := os.Stat(filepath.Join(dir, "decision.snapshot")); err != nil {
			t.Fatalf("replica B wrote no snapshot at shutdown: %v", err)
		}
	}
	c.withdraw(0, person)

	body, _ := json.Marshal(map[string]string{"subject_id": person, "purpose": "ai-training", "data_category": "image"})
	b := StartListening(t, withArgs(bArgs...), 5*time.Minute)
	stop := make(chan struct{})
	tally := hammer(b.URL, c.admin, body, 4, stop)
	b.WaitReady(t, 5*time.Minute)
	time.Sleep(500 * time.Millisecond) // and a little after
	close(stop)

	t.Logf("while starting and just after (%s): %s", map[bool]string{false: "full load", true: "snapshot"}[fromSnapshot], tally)
	for _, l := range strings.Split(b.Output(), "\n") {
		if strings.Contains(l, "loaded the decision") {
			t.Log(l)
		}
	}
	if tally.allowed.Load() > 0 {
		t.Fatalf("the restarting replica allowed a withdrawn person's data %d times (%s)\n%s", tally.allowed.Load(), tally, b.Output())
	}
	if tally.noRetryAfter.Load() > 0 {
		t.Fatalf("%d of its 503 answers had no Retry-After", tally.noRetryAfter.Load())
	}
	if tally.other.Load() > 0 {
		t.Fatalf("answers other than 503 or a decision: %s (first: %v)", tally, tally.firstOther.Load())
	}
	if !fromSnapshot && tally.unavailable.Load() == 0 {
		t.Fatalf("no 503 while loading %d people: the test did not reach the loading phase (%s)", n, tally)
	}
	if !strings.Contains(b.Output(), "from_snapshot="+strconv.FormatBool(fromSnapshot)) {
		t.Fatalf("replica B did not load as this case expects:\n%s", b.Output())
	}
	// Once ready it answers from the whole state: the seeded people's
	// consents allow, the withdrawn person's does not.
	c.replicas = append(c.replicas, b)
	for i := 0; i < 400; i += len(seedJurisdictions) { // people in EU-DE
		if SeedGranted(i, 0) {
			var d struct {
				Allow   bool
				Reasons []string
			}
			c.call(1, "POST", "/v1/decisions", map[string]string{"subject_id": SeedSubjectID(i), "purpose": "ai-training", "data_category": "image"}, 200, &d, nil)
			if !d.Allow {
				t.Fatalf("seeded person %d's consent does not allow on the restarted replica: %v", i, d.Reasons)
			}
		}
	}
	var d struct{ Allow bool }
	c.call(1, "POST", "/v1/decisions", map[string]string{"subject_id": person, "purpose": "ai-training", "data_category": "image"}, 200, &d, nil)
	if d.Allow {
		t.Fatal("the withdrawn person's consent allows on the restarted replica")
	}
}
