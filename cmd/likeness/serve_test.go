package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"likeness/internal/likenesstest"
)

func start(t *testing.T, demo bool, args ...string) (*Main, *likenesstest.Buffer) {
	t.Helper()
	var stdout, stderr likenesstest.Buffer
	m := NewMain(demo, &stdout, &stderr)
	if err := m.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v\n%s", err, stderr.String())
		}
		select {
		case err := <-m.Err():
			t.Errorf("the server stopped on its own: %v", err)
		default:
		}
	})
	return m, &stdout
}

func TestServeBootsTheRealProgramAndShutsDownCleanly(t *testing.T) {
	t.Setenv("LIKENESS_ADMIN_TOKEN", "serve-test-admin-token-0123456789")
	m, _ := start(t, false, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
	url := m.URL()
	if m.AdminKey() != "serve-test-admin-token-0123456789" {
		t.Fatalf("AdminKey = %q, want LIKENESS_ADMIN_TOKEN", m.AdminKey())
	}
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
	m, out := start(t, true, "--subjects", "12", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
	url, text := m.URL(), out.String()
	token := regexp.MustCompile(`lk_[A-Z0-9]+`).FindString(text)
	if token != m.AdminKey() {
		t.Fatalf("printed key %q, AdminKey %q", token, m.AdminKey())
	}
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

func TestTrustedProxiesAreAddressesOrPrefixes(t *testing.T) {
	m := NewMain(false, io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}); err != nil || len(m.Proxies) != 2 {
		t.Fatalf("two proxies: %v, %v", m.Proxies, err)
	}
	m = NewMain(false, io.Discard, io.Discard)
	err := m.ParseFlags([]string{"--trusted-proxies", "lb.example"})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `"lb.example"`) {
		t.Fatalf("a host name: %v, want a usage error naming it", err)
	}
}
