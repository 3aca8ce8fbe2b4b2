// Package deploytest runs a real likeness deployment for tests: the
// `likeness` binary built once per test process, and several `serve`
// replicas started as separate processes on one database, sharing one data
// folder (key file and blobs), the way an operator runs them behind a load
// balancer. Tests use it to check that a promise holds on every replica, not
// only on the process that made the write.
package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness/internal/likenesstest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a `likeness` binary built from this tree for
// the current test process (once; later calls reuse it).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "likeness-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "likeness")
		cmd := exec.Command("go", "build", "-o", binPath, "likeness/cmd/likeness")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build likeness: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// moduleRoot is the folder holding go.mod, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ExamplePolicy is the path of the example policy shipped with the policy package.
func ExamplePolicy() string { return filepath.Join(moduleRoot(), "policy", "example.yaml") }

// Replica is one running `likeness serve` process.
type Replica struct {
	URL  string
	cmd  *exec.Cmd
	out  *likenesstest.Buffer
	done chan struct{}
}

// Output returns what the process has written so far (stdout and stderr).
func (r *Replica) Output() string { return r.out.String() }

// Kill stops the process at once (SIGKILL) and waits for it.
func (r *Replica) Kill() {
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
	}
	<-r.done
}

// Stop stops the process the way an operator does (SIGINT: it finishes
// what it is doing and writes its snapshot) and waits for it, killing it
// after five minutes (a snapshot of a million people on a busy machine).
func (r *Replica) Stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-r.done:
	case <-time.After(5 * time.Minute):
		r.Kill()
	}
}

// Options describe how to start a replica.
type Options struct {
	DB      string   // --db
	DataDir string   // --data-dir, shared by replicas of one deployment
	Env     []string // extra environment, e.g. LIKENESS_ADMIN_TOKEN=…
	Args    []string // extra flags after `serve`
}

var listening = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)

// Start launches `likeness serve` with opts, waits until it is ready (its
// /readyz answers 200: index loaded, caught up with the database), and
// stops it when the test ends. It fails the test if the process exits
// first or is not ready within timeout.
func Start(t testing.TB, opts Options, timeout time.Duration) *Replica {
	t.Helper()
	r, err := StartErr(t, opts, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// StartErr is Start returning the failure instead of failing the test, for
// tests that start many replicas at once and count the outcomes.
func StartErr(t testing.TB, opts Options, timeout time.Duration) (*Replica, error) {
	return start(t, opts, timeout, "/readyz")
}

// StartListening launches `likeness serve` like Start but returns as soon as
// its /healthz answers, which it does while the index is still loading:
// for tests of what a starting replica answers.
func StartListening(t testing.TB, opts Options, timeout time.Duration) *Replica {
	t.Helper()
	r, err := start(t, opts, timeout, "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func start(t testing.TB, opts Options, timeout time.Duration, until string) (*Replica, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", opts.DB, "--data-dir", opts.DataDir,
		"--policy", ExamplePolicy()}, opts.Args...)
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	out := &likenesstest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Replica{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		if cmd.Process != nil {
			cmd.Process.Signal(os.Interrupt)
		}
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.Kill()
		}
	})
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return nil, fmt.Errorf("likeness serve exited before listening:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		m := listening.FindStringSubmatch(out.String())
		if m == nil {
			continue
		}
		r.URL = m[1]
		if res, err := http.Get(r.URL + until); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return r, nil
			}
		}
	}
	r.Kill()
	return nil, fmt.Errorf("likeness serve did not answer %s with 200 within %s:\n%s", until, timeout, out.String())
}

// WaitReady waits until the replica's /readyz answers 200, or fails the
// test after timeout.
func (r *Replica) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if res, err := http.Get(r.URL + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-r.done:
			t.Fatalf("likeness serve exited before it was ready:\n%s", r.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("likeness serve was not ready within %s:\n%s", timeout, r.Output())
}

// AdminKey returns the admin key a replica printed at first start, or "".
func (r *Replica) AdminKey() string {
	sc := bufio.NewScanner(strings.NewReader(r.Output()))
	for sc.Scan() {
		if f := strings.TrimSpace(sc.Text()); strings.HasPrefix(f, "lk_") {
			return f
		}
	}
	return ""
}

// Do sends a request with a bearer token and a JSON body (nil for none) and
// returns the status and body.
func Do(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}
