package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an output the running command and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `likeness args…` until the test ends and returns its base URL
// (from the "listening" log line) and its standard output.
func start(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("likeness %s exited %d after shutdown:\n%s", args[0], code, stderr.String())
		}
	})
	listening := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], &stdout
		}
		select {
		case code := <-done:
			t.Fatalf("likeness %s exited %d before listening:\n%s", args[0], code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("likeness %s did not start listening:\n%s", args[0], stderr.String())
	return "", nil
}

func TestServeBootsTheRealProgramAndShutsDownCleanly(t *testing.T) {
	t.Setenv("LIKENESS_ADMIN_TOKEN", "serve-test-admin-token-0123456789")
	url, _ := start(t, "serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
	res, err := http.Get(url + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	req, _ := http.NewRequest("POST", url+"/v1/subjects", strings.NewReader(`{"external_id":"u1","jurisdiction":"EU-DE"}`))
	req.Header.Set("Authorization", "Bearer serve-test-admin-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create subject with LIKENESS_ADMIN_TOKEN: %v %v", res, err)
	}
	res.Body.Close()
	for _, page := range []string{"/console/login", "/v1/retention-schedule"} {
		res, err := http.Get(url + page)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", page, res, err)
		}
		res.Body.Close()
	}
}

func TestDemoPrintsCurlLinesThatWork(t *testing.T) {
	t.Setenv("LIKENESS_ADMIN_TOKEN", "")
	url, out := start(t, "demo", "--subjects", "12", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
	text := out.String()
	token := regexp.MustCompile(`lk_[A-Z0-9]+`).FindString(text)
	body := regexp.MustCompile(`-d '(\{[^']*"data_category":"image"[^']*\})'`).FindStringSubmatch(text)
	if token == "" || body == nil || !strings.Contains(text, "likeness demo is running at "+url) {
		t.Fatalf("demo output lacks its key, URL or curl lines:\n%s", text)
	}
	req, _ := http.NewRequest("POST", url+"/v1/decisions", strings.NewReader(body[1]))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(got), `"allow":true`) {
		t.Fatalf("the demo's allow line: %d %s", res.StatusCode, got)
	}
}
