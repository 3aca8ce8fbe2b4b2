package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
	"likeness/ledger"
)

// TestVerdictReceiptsAndTheLedgerVerifyWithTheCLI: a consent held for a
// reviewer, approved for one person and rejected for another through the
// API; `likeness receipt verify` accepts each verdict's receipt offline,
// `likeness ledger verify` the history, and a history whose pending mark
// was removed (leaf hash recomputed, so only the checkpoint can tell) fails.
func TestVerdictReceiptsAndTheLedgerVerifyWithTheCLI(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			ctx := context.Background()
			dir := t.TempDir()
			dsn := backendDSN(t, backend)
			if dsn == "" {
				dsn = "sqlite:" + filepath.Join(dir, "likeness.db")
			}
			d := likenesstest.New(t, likenesstest.Options{Dir: dir, DSN: dsn, Policy: likenesstest.ValidatingPolicy(t)})
			a := &api{t: t, ledger: d.Ledger, tokens: map[likeness.Role]string{}}
			a.srv = httptest.NewServer(httpapi.New(d.APIConfig()))
			t.Cleanup(a.srv.Close)
			for _, r := range []likeness.Role{likeness.RoleCollector, likeness.RoleAuditor, likeness.RoleAdmin} {
				_, tok, err := httpapi.CreateAPIKey(ctx, d.Store, string(r), r, d.Clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				a.tokens[r] = tok
			}
			path := func(name string) string { return filepath.Join(dir, name) }
			writeFile(t, path("ledger.key"), string(a.must(200, likeness.RoleAuditor, "GET", "/v1/ledger/key", nil)))

			var pendingIDs []string
			for i, verdict := range []string{"approve", "reject"} {
				sub := a.subject([]string{"cli-val-yes", "cli-val-no"}[i])
				var g struct {
					Events []struct{ ID, Validation string } `json:"events"`
				}
				if err := json.Unmarshal(a.grant(sub, "ai-training"), &g); err != nil || g.Events[0].Validation != "pending" {
					t.Fatalf("grant: %+v, %v", g, err)
				}
				pendingIDs = append(pendingIDs, g.Events[0].ID)
				body := a.must(201, likeness.RoleAdmin, "POST", "/v1/validations/"+g.Events[0].ID, map[string]string{"decision": verdict, "reason": "checked"})
				writeFile(t, path(verdict+".json"), string(body))
				want := map[string]string{"approve": "validated", "reject": "validation_rejected"}[verdict]
				code, out, errOut := run(t, "receipt", "verify", path(verdict+".json"), "--key", path("ledger.key"))
				if code != 0 || !strings.HasPrefix(out, `receipt ok: `+want+` of "ai-training" by subject `+sub) {
					t.Fatalf("receipt verify %s = %d\nstdout: %s\nstderr: %s", verdict, code, out, errOut)
				}
			}
			if _, _, err := d.Ledger.Checkpoint(ctx, true); err != nil {
				t.Fatal(err)
			}
			f := deploymentFiles{dir: dir, db: dsn}
			if code, out, errOut := run(t, append([]string{"ledger", "verify"}, f.flags()...)...); code != 0 || !strings.HasPrefix(out, "ledger ok: 4 events") {
				t.Fatalf("ledger verify = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}

			// Whoever edits the database to make the rejected consent count
			// from the start is caught.
			x := openTamper(t, f)
			ev := x.event(2)
			if ev.ID != pendingIDs[1] || ev.Validation != likeness.ValidationPending {
				t.Fatalf("event 2 is %+v", ev)
			}
			ev.Validation = ""
			x.exec(`UPDATE consent_events SET validation = '', leaf_hash = ? WHERE idx = 2`, leaf(ev, 2))
			code, out, _ := run(t, append([]string{"ledger", "verify"}, f.flags()...)...)
			if code != 1 || !strings.Contains(out, ledger.KindCheckpointMismatch) {
				t.Fatalf("ledger verify after the pending mark was removed = %d\n%s", code, out)
			}
		})
	}
}
