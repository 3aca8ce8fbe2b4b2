package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/ledgerlog"
	"likeness/internal/likenesstest"
	"likeness/ledger"
)

// api is the real HTTP API of a deployment, in process.
type api struct {
	t      *testing.T
	srv    *httptest.Server
	ledger *ledgerlog.Log
	tokens map[likeness.Role]string
}

func newAPI(t *testing.T, dsn string) *api {
	t.Helper()
	ctx := context.Background()
	d := likenesstest.New(t, likenesstest.Options{DSN: dsn})
	store := d.Store
	a := &api{t: t, ledger: d.Ledger, tokens: map[likeness.Role]string{}}
	cfg := d.APIConfig()
	cfg.Requests = d.Requests(t)
	a.srv = httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(a.srv.Close)
	for _, r := range []likeness.Role{likeness.RoleCollector, likeness.RoleAuditor} {
		_, tok, err := httpapi.CreateAPIKey(ctx, store, string(r), r, d.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[r] = tok
	}
	return a
}

// call sends body (as JSON, if not nil) as role and returns status and body.
func (a *api) call(role likeness.Role, method, path string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.tokens[role])
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (a *api) must(want int, role likeness.Role, method, path string, body any) []byte {
	a.t.Helper()
	status, b := a.call(role, method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return b
}

func (a *api) subject(ext string) string {
	a.t.Helper()
	b := a.must(201, likeness.RoleCollector, "POST", "/v1/subjects", map[string]string{"external_id": ext, "jurisdiction": "EU-DE", "locale": "en"})
	var s struct{ ID string }
	if err := json.Unmarshal(b, &s); err != nil || s.ID == "" {
		a.t.Fatalf("subject: %v %s", err, b)
	}
	return s.ID
}

// grant grants purposes over HTTP and returns the 201 body.
func (a *api) grant(sub string, purposes ...string) []byte {
	a.t.Helper()
	var n struct {
		Version int64  `json:"version"`
		SHA256  string `json:"sha256"`
	}
	if err := json.Unmarshal(a.must(200, likeness.RoleCollector, "GET", "/v1/notices/current?lang=en", nil), &n); err != nil {
		a.t.Fatal(err)
	}
	return a.must(201, likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents", map[string]any{
		"purposes": purposes, "notice_version": n.Version, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"})
}

// TestReceiptFromARunningServerVerifiesOffline takes the receipts a running
// server hands out and checks them with the CLI alone. It is one scenario
// from start to finish; splitting it would hide the order.
func TestReceiptFromARunningServerVerifiesOffline(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			t.Parallel()
			a := newAPI(t, backendDSN(t, backend))
			dir := t.TempDir()
			path := func(name string) string { return filepath.Join(dir, name) }

			sub := a.subject("user-1")
			body := a.grant(sub, "ai-training", "marketing-personalization")
			var g struct {
				Receipts []string `json:"receipts"`
			}
			if err := json.Unmarshal(body, &g); err != nil || len(g.Receipts) != 2 {
				t.Fatalf("grant body: %v, %s", err, body)
			}
			receipt := g.Receipts[0]
			writeFile(t, path("receipt.jws"), receipt+"\n")
			writeFile(t, path("grant.json"), string(body))
			quoted, _ := json.Marshal(receipt)
			writeFile(t, path("receipt.json"), string(quoted))
			writeFile(t, path("ledger.key"), string(a.must(200, likeness.RoleAuditor, "GET", "/v1/ledger/key", nil)))

			// The receipt alone, with only the public key.
			for _, file := range []string{"receipt.jws", "receipt.json"} {
				code, out, errOut := run(t, "receipt", "verify", path(file), "--key", path("ledger.key"))
				if code != 0 || !strings.HasPrefix(out, `receipt ok: grant of "ai-training" by subject `+sub+` at ledger index 0 (tree size 2)`) {
					t.Errorf("receipt verify %s = %d\nstdout: %s\nstderr: %s", file, code, out, errOut)
				}
			}
			// The grant's answer holds a receipt per purpose: each is checked.
			code, out, errOut := run(t, "receipt", "verify", path("grant.json"), "--key", path("ledger.key"))
			if code != 0 || !strings.HasPrefix(out, `receipt 1 of 2 ok: grant of "ai-training" by subject `+sub) ||
				!strings.Contains(out, `receipt 2 of 2 ok: grant of "marketing-personalization"`) {
				t.Errorf("receipt verify grant.json = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			// A forged second receipt fails the file, though the first is good.
			second := strings.Split(g.Receipts[1], ".")
			sig := []byte(second[2])
			if sig[0] == 'A' {
				sig[0] = 'B'
			} else {
				sig[0] = 'A'
			}
			forged, _ := json.Marshal(map[string]any{"receipts": []string{g.Receipts[0], second[0] + "." + second[1] + "." + string(sig)}})
			writeFile(t, path("forged-second.json"), string(forged))
			code, out, errOut = run(t, "receipt", "verify", path("forged-second.json"), "--key", path("ledger.key"))
			if code != 1 || !strings.Contains(out, "receipt 1 of 2 ok") || !strings.Contains(out, "receipt 2 of 2 does NOT verify") ||
				!strings.Contains(errOut, "1 of 2 receipts do NOT verify") {
				t.Errorf("receipt verify with the second receipt forged = %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			// A withdrawal's 201 body carries one "receipt".
			wbody := a.must(201, likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents/marketing-personalization/withdraw", nil)
			writeFile(t, path("withdraw.json"), string(wbody))
			if code, out, errOut := run(t, "receipt", "verify", path("withdraw.json"), "--key", path("ledger.key")); code != 0 ||
				!strings.HasPrefix(out, `receipt ok: withdraw of "marketing-personalization"`) {
				t.Errorf("receipt verify withdraw.json = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}

			// A later checkpoint, after more events, and the consistency
			// proof from the receipt's tree to it.
			for i := range 3 {
				a.grant(a.subject(fmt.Sprintf("user-%d", i+2)), "voice-transcription")
			}
			cp := a.must(200, likeness.RoleAuditor, "GET", "/v1/ledger/checkpoint", nil)
			writeFile(t, path("checkpoint.txt"), string(cp))
			v, err := ledger.NewVerifier(a.ledger.Signer().VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.VerifyReceipt(receipt)
			if err != nil {
				t.Fatal(err)
			}
			later, err := v.OpenCheckpoint(cp)
			if err != nil {
				t.Fatal(err)
			}
			if later.Size != 6 || claims.Ledger.Size != 2 {
				t.Fatalf("sizes: receipt %d, checkpoint %d; want 2 and 6", claims.Ledger.Size, later.Size)
			}
			cons := a.must(200, likeness.RoleAuditor, "GET", fmt.Sprintf("/v1/ledger/consistency?from=%d&to=%d", claims.Ledger.Size, later.Size), nil)
			writeFile(t, path("consistency.json"), string(cons))
			code, out, errOut = run(t, "receipt", "verify", path("receipt.jws"), "--key", path("ledger.key"),
				"--checkpoint", path("checkpoint.txt"), "--consistency", path("consistency.json"))
			if code != 0 || !strings.HasPrefix(out, "receipt ok: ") {
				t.Errorf("receipt verify --checkpoint --consistency = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}

			// Failures: exit 1 and say so.
			fails := map[string][]string{}
			fails["later checkpoint without the consistency proof"] = []string{path("receipt.jws"), "--key", path("ledger.key"), "--checkpoint", path("checkpoint.txt")}

			// One character of the payload flipped.
			parts := strings.Split(receipt, ".")
			p := []byte(parts[1])
			i := len(p) / 2
			if p[i] == 'A' {
				p[i] = 'B'
			} else {
				p[i] = 'A'
			}
			writeFile(t, path("flipped.jws"), parts[0]+"."+string(p)+"."+parts[2])
			fails["payload character flipped"] = []string{path("flipped.jws"), "--key", path("ledger.key")}

			// Another deployment's key, with the same ledger name.
			other := newAPI(t, "")
			writeFile(t, path("other.key"), string(other.must(200, likeness.RoleAuditor, "GET", "/v1/ledger/key", nil)))
			fails["another deployment's key"] = []string{path("receipt.jws"), "--key", path("other.key")}

			// A checkpoint of another deployment.
			other.grant(other.subject("user-1"), "ai-training")
			writeFile(t, path("other-checkpoint.txt"), string(other.must(200, likeness.RoleAuditor, "GET", "/v1/ledger/checkpoint", nil)))
			fails["another deployment's checkpoint"] = []string{path("receipt.jws"), "--key", path("ledger.key"), "--checkpoint", path("other-checkpoint.txt"), "--consistency", path("consistency.json")}

			for name, args := range fails {
				code, out, errOut := run(t, append([]string{"receipt", "verify"}, args...)...)
				if code != 1 || out != "" || !strings.Contains(errOut, "receipt does NOT verify") {
					t.Errorf("%s: receipt verify = %d, want 1\nstdout: %s\nstderr: %s", name, code, out, errOut)
				}
			}

			if code, _, errOut := run(t, "receipt", "verify", path("receipt.jws")); code != 2 {
				t.Errorf("receipt verify without --key = %d, want 2: %s", code, errOut)
			}
		})
	}
}
