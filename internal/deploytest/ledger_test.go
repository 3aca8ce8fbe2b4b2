package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"likeness/internal/storetest"
	"likeness/ledger"
)

// TestLedgerVerifiesAfterTwoReplicasGrantConcurrently has two replicas on
// one PostgreSQL database take grants at the same time, each storing its own
// checkpoints (forced through GET /v1/ledger/checkpoint while the load runs),
// then runs `likeness ledger verify`: the stored history and every stored
// checkpoint must verify, whatever the interleaving of the two replicas.
// Every receipt either replica handed out must then verify against the last
// checkpoint, served by the other replica, through a consistency proof.
func TestLedgerVerifiesAfterTwoReplicasGrantConcurrently(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip("two-replica ledger test skipped: it needs PostgreSQL (" + storetest.PostgresEnv + ")")
	}
	dsn := storetest.Postgres(t)
	c := startCluster(t, 2, dsn)
	subs := []string{c.subject(0, "ledger-a"), c.subject(1, "ledger-b")}
	const rounds = 40
	var wg sync.WaitGroup
	receipts := make([][]string, 2) // per replica
	for r := range 2 {
		wg.Go(func() {
			for i := range rounds {
				receipts[r] = append(receipts[r], c.grantReceipts(r, subs[(r+i)%2])...)
				if i%5 == 0 {
					c.call(r, "GET", "/v1/ledger/checkpoint", nil, 200, nil, nil)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(1100 * time.Millisecond) // past checkpointEvery, so the last ones store
	for r := range 2 {
		c.call(r, "GET", "/v1/ledger/checkpoint", nil, 200, nil, nil)
	}
	cmd := exec.Command(Binary(t), "ledger", "verify", "--db", dsn, "--data-dir", t.TempDir(), "--ledger-key", c.ledgerKeyFile(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ledger verify after %d concurrent grants on two replicas: %v\n%s", 2*rounds, err, out)
	}
	t.Logf("%s", out)

	v, err := ledger.NewVerifier(c.ledgerKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		other := 1 - r
		cp := c.raw(t, other, "/v1/ledger/checkpoint")
		last, err := v.OpenCheckpoint(cp)
		if err != nil {
			t.Fatalf("checkpoint of replica %d: %v", other+1, err)
		}
		if len(receipts[r]) != rounds {
			t.Fatalf("replica %d handed out %d receipts for %d grants", r+1, len(receipts[r]), rounds)
		}
		for _, jws := range receipts[r] {
			claims, err := v.VerifyReceipt(jws)
			if err != nil {
				t.Fatalf("receipt of replica %d: %v", r+1, err)
			}
			var proof struct{ Proof []string }
			if err := json.Unmarshal(c.raw(t, other, fmt.Sprintf("/v1/ledger/consistency?from=%d&to=%d", claims.Ledger.Size, last.Size)), &proof); err != nil {
				t.Fatal(err)
			}
			hashes, err := ledger.DecodeHashes(proof.Proof)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.VerifyReceiptAgainst(jws, cp, hashes); err != nil {
				t.Errorf("receipt of replica %d (index %d) against replica %d's checkpoint of size %d: %v",
					r+1, claims.Ledger.Index, other+1, last.Size, err)
			}
		}
	}
}

// grantReceipts grants on replica i and returns the receipts it handed out.
func (c *cluster) grantReceipts(i int, sub string) []string {
	c.t.Helper()
	g := map[string]any{"purposes": []string{"ai-training"}, "method": "checkbox", "language": "en"}
	for k, v := range c.notice {
		g[k] = v
	}
	var out struct{ Receipts []string }
	c.call(i, "POST", "/v1/subjects/"+sub+"/consents", g, 201, &out, nil)
	return out.Receipts
}

// raw GETs path on replica i and returns the body as it came.
func (c *cluster) raw(t *testing.T, i int, path string) []byte {
	t.Helper()
	code, body, err := Do(t.Context(), "GET", c.replicas[i].URL+path, c.admin, nil)
	if err != nil || code != 200 {
		t.Fatalf("GET %s on replica %d: %d %v %s", path, i+1, code, err, body)
	}
	return body
}

// ledgerKey is the deployment's verifier key (GET /v1/ledger/key).
func (c *cluster) ledgerKey(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(string(c.raw(t, 0, "/v1/ledger/key")))
}

// ledgerKeyFile saves the deployment's verifier key to a file.
func (c *cluster) ledgerKeyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ledger.key")
	if err := os.WriteFile(p, []byte(c.ledgerKey(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
