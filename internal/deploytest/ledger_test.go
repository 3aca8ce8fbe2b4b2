package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"likeness/internal/storetest"
)

// TestLedgerVerifiesAfterTwoReplicasGrantConcurrently has two replicas on
// one PostgreSQL database take grants at the same time, each storing its own
// checkpoints (forced through GET /v1/ledger/checkpoint while the load runs),
// then runs `likeness ledger verify`: the stored history and every stored
// checkpoint must verify, whatever the interleaving of the two replicas.
func TestLedgerVerifiesAfterTwoReplicasGrantConcurrently(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip("two-replica ledger test skipped: it needs PostgreSQL (" + storetest.PostgresEnv + ")")
	}
	dsn := storetest.Postgres(t)
	c := startCluster(t, 2, dsn)
	subs := []string{c.subject(0, "ledger-a"), c.subject(1, "ledger-b")}
	const rounds = 40
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			for i := range rounds {
				c.grant(r, subs[(r+i)%2])
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
}

// ledgerKeyFile saves the deployment's verifier key (GET /v1/ledger/key).
func (c *cluster) ledgerKeyFile(t *testing.T) string {
	t.Helper()
	code, body, err := Do(t.Context(), "GET", c.replicas[0].URL+"/v1/ledger/key", c.admin, nil)
	if err != nil || code != 200 {
		t.Fatalf("ledger key: %d %v", code, err)
	}
	p := t.TempDir() + "/ledger.key"
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(p)
}
