package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
	"likeness/ledger"
)

// run calls the CLI as the binary would and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// backendDSN returns the --db value for a backend: "" for SQLite (the CLI's
// default under --data-dir), or a fresh PostgreSQL database.
func backendDSN(t *testing.T, backend string) string {
	t.Helper()
	if backend == "postgres" {
		return storetest.Postgres(t)
	}
	return ""
}

var backendNames = []string{"sqlite", "postgres"}

// needBackend skips a whole backend's subtree with one line when it is
// PostgreSQL and no server is configured.
func needBackend(t *testing.T, backend string) {
	t.Helper()
	if backend == "postgres" && os.Getenv(storetest.PostgresEnv) == "" {
		storetest.Postgres(t) // skips, saying which variable to set
	}
}

// deploymentFiles names a deployment on disk: its data folder (key file,
// and the SQLite database unless db is a PostgreSQL URL) and its database.
type deploymentFiles struct {
	dir, db string
}

func (f deploymentFiles) flags() []string { return []string{"--data-dir", f.dir, "--db", f.db} }

// openDeployment opens (creating if needed) the deployment the way the CLI does.
func openDeployment(t *testing.T, f deploymentFiles) *deployment {
	t.Helper()
	c := &config{dataDir: f.dir, db: f.db}
	d, err := c.open(context.Background(), io.Discard, nil)
	if err != nil {
		t.Fatalf("open deployment: %v", err)
	}
	return d
}

// collectorCtx carries the actor a write is recorded under.
func collectorCtx() context.Context {
	return likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_test", Role: likeness.RoleCollector})
}

func grantOne(t *testing.T, d *deployment, sub, purpose string, method likeness.Method, evidence map[string]string) *likeness.ConsentEvent {
	t.Helper()
	n, err := d.notices.Notice("en")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := d.consent.Grant(collectorCtx(), &likeness.GrantRequest{SubjectID: sub, Purposes: []string{purpose},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: method, Language: "en", Evidence: evidence})
	if err != nil {
		t.Fatalf("grant %s to %s: %v", purpose, sub, err)
	}
	return evs[0]
}

func withdrawOne(t *testing.T, d *deployment, sub, purpose string) *likeness.ConsentEvent {
	t.Helper()
	ev, err := d.consent.Withdraw(collectorCtx(), &likeness.WithdrawRequest{SubjectID: sub, Purpose: purpose})
	if err != nil {
		t.Fatalf("withdraw %s of %s: %v", purpose, sub, err)
	}
	return ev
}

func newSubject(t *testing.T, d *deployment, ext string) string {
	t.Helper()
	sub, _, err := d.subjects.CreateSubject(context.Background(), ext, "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

// historyEvents is how many events buildHistory records; checkpoints are
// stored at sizes 4, 8 and 12.
const historyEvents = 12

// buildHistory creates a deployment on backend with three subjects and 12
// consent events (grants with and without sealed evidence, withdrawals) and
// stores signed checkpoints at sizes 4, 8 and 12, then closes it.
func buildHistory(t *testing.T, backend string) deploymentFiles {
	t.Helper()
	ctx := context.Background()
	f := deploymentFiles{dir: t.TempDir(), db: backendDSN(t, backend)}
	if f.db == "" {
		f.db = "sqlite:" + filepath.Join(f.dir, "likeness.db")
	}
	d := openDeployment(t, f)
	defer d.Close()
	svc := d
	s1, s2, s3 := newSubject(t, svc, "user-1"), newSubject(t, svc, "user-2"), newSubject(t, svc, "user-3")
	written := map[string]string{"signature": "sig-0001", "name": "Erika Mustermann"}
	steps := []func(){
		func() { grantOne(t, svc, s1, "ai-training", likeness.Checkbox, nil) },
		func() { grantOne(t, svc, s1, "profile-photo", likeness.Written, written) },
		func() { grantOne(t, svc, s2, "ai-training", likeness.Checkbox, nil) },
		func() { grantOne(t, svc, s2, "voice-transcription", likeness.Checkbox, nil) },
		func() { withdrawOne(t, svc, s1, "ai-training") },
		func() { grantOne(t, svc, s3, "profile-photo", likeness.Written, written) },
		func() { grantOne(t, svc, s3, "ai-training", likeness.Checkbox, nil) },
		func() { withdrawOne(t, svc, s2, "voice-transcription") },
		func() { grantOne(t, svc, s1, "ai-training", likeness.Checkbox, nil) },
		func() { withdrawOne(t, svc, s3, "profile-photo") },
		func() { grantOne(t, svc, s2, "voice-transcription", likeness.Checkbox, nil) },
		func() { grantOne(t, svc, s3, "voice-transcription", likeness.Checkbox, nil) },
	}
	for i, step := range steps {
		step()
		if (i+1)%4 == 0 {
			cp, _, err := d.ledger.Checkpoint(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != uint64(i+1) {
				t.Fatalf("checkpoint after event %d has size %d", i, cp.Size)
			}
		}
	}
	cps, err := d.store.Checkpoints(ctx)
	if err != nil || len(cps) != 3 {
		t.Fatalf("stored checkpoints: %d, %v; want 3", len(cps), err)
	}
	if n, err := d.store.LedgerSize(ctx); err != nil || n != historyEvents {
		t.Fatalf("ledger size %d, %v; want %d", n, err, historyEvents)
	}
	return f
}

// tamperDB is direct SQL access to a deployment's database, as an operator
// with database rights (and no signing key) has it.
type tamperDB struct {
	t     *testing.T
	store *sqlstore.DB
	db    *sql.DB
}

func openTamper(t *testing.T, f deploymentFiles) *tamperDB {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &tamperDB{t: t, store: store, db: store.SQL()}
}

// exec runs query written with ? placeholders.
func (x *tamperDB) exec(query string, args ...any) {
	x.t.Helper()
	query = x.store.Rebind(query)
	if _, err := x.db.Exec(query, args...); err != nil {
		x.t.Fatalf("%s: %v", query, err)
	}
}

// event reads the stored event at idx.
func (x *tamperDB) event(idx int64) *likeness.ConsentEvent {
	x.t.Helper()
	var out *likeness.ConsentEvent
	stop := errors.New("stop")
	err := x.store.ForEachEvent(context.Background(), idx, func(ev *likeness.ConsentEvent, _ [32]byte) error {
		out = ev
		return stop
	})
	if !errors.Is(err, stop) || out == nil || out.LedgerIndex != idx {
		x.t.Fatalf("read event %d: %v", idx, err)
	}
	return out
}

// leaf is the leaf hash a row for ev at idx must carry to check itself.
func leaf(ev *likeness.ConsentEvent, idx int64) []byte {
	h := ledger.LeafHash(ledger.FromConsent(ev, idx).LeafData())
	return h[:]
}

func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// insert stores ev as a row at idx with a self-consistent leaf hash.
func (x *tamperDB) insert(ev *likeness.ConsentEvent, idx int64) {
	x.t.Helper()
	x.exec(`INSERT INTO consent_events (idx, id, subject_id, purpose, type, method, notice_version, notice_sha256, language, collector, time_us, sealed, leaf_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		idx, ev.ID, ev.SubjectID, ev.Purpose, string(ev.Type), string(ev.Method), ev.NoticeVersion, ev.NoticeSHA256,
		ev.Language, ev.Collector, likeness.Micros(ev.Time), nullable(ev.Sealed), leaf(ev, idx))
}

// shift moves every row at or above from by delta, through a range no row
// uses so that the primary key never collides mid-update.
func (x *tamperDB) shift(from, delta int64) {
	x.exec(`UPDATE consent_events SET idx = idx + 1000000 WHERE idx >= ?`, from)
	x.exec(`UPDATE consent_events SET idx = idx - 1000000 + ? WHERE idx >= 1000000`, delta)
}

// checkpoint returns the stored signed checkpoint of size.
func (x *tamperDB) checkpoint(size int64) []byte {
	x.t.Helper()
	q := x.store.Rebind(`SELECT signed FROM checkpoints WHERE size = ?`)
	var b []byte
	if err := x.db.QueryRow(q, size).Scan(&b); err != nil {
		x.t.Fatalf("read checkpoint %d: %v", size, err)
	}
	return b
}

func TestLedgerVerifyPassesAnUntouchedHistory(t *testing.T) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			t.Parallel()
			f := buildHistory(t, backend)
			code, out, errOut := run(t, append([]string{"ledger", "verify"}, f.flags()...)...)
			if code != 0 || !strings.HasPrefix(out, "ledger ok: 12 events, 3 checkpoints, root ") {
				t.Fatalf("ledger verify = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}

			// The same with the public key as an auditor holds it (what
			// GET /v1/ledger/key serves) instead of the deployment's keys.
			d := openDeployment(t, f)
			vkey := d.ledger.Signer().VerifierKey()
			d.Close()
			keyFile := filepath.Join(t.TempDir(), "ledger.key")
			writeFile(t, keyFile, vkey+"\n")
			code, out, errOut = run(t, append([]string{"ledger", "verify", "--ledger-key", keyFile}, f.flags()...)...)
			if code != 0 || !strings.HasPrefix(out, "ledger ok: 12 events") {
				t.Fatalf("ledger verify --ledger-key = %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}

			// Another deployment's key (same name) vouches for no checkpoint.
			_, otherKey, err := ledger.GenerateKey(d.ledger.Signer().Name(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, keyFile, otherKey+"\n")
			code, out, _ = run(t, append([]string{"ledger", "verify", "--ledger-key", keyFile}, f.flags()...)...)
			if code != 1 || strings.Count(out, ": "+ledger.KindCheckpointSignature+": ") != 3 {
				t.Fatalf("ledger verify with another key = %d, want 1 with 3 checkpoint_signature problems\n%s", code, out)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// problem is one line `ledger verify` must print: "index N: kind: …".
type problem struct {
	index int64
	kind  string
}

// The history has events 0–11 and checkpoints of sizes 4, 8 and 12. Where a
// change leaves every row self-consistent, only the checkpoints can locate
// it: at the size of the last checkpoint the history still matches (4, for
// a change at 5 or 6). See ledger.Verify. The test is one table of
// tamperings over one shared history; its length is the table.
func TestLedgerVerifyNamesTheFirstTamperedIndex(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(x *tamperDB)
		firstBad int64 // -1: no index (the line is not printed)
		want     []problem
	}{
		{
			name: "purpose edited",
			tamper: func(x *tamperDB) {
				x.exec(`UPDATE consent_events SET purpose = 'x' WHERE idx = 5`)
			},
			firstBad: 5,
			want:     []problem{{5, ledger.KindEdited}, {5, ledger.KindCheckpointMismatch}},
		},
		{
			name: "purpose edited and leaf hash recomputed",
			tamper: func(x *tamperDB) {
				ev := x.event(5)
				ev.Purpose = "x"
				x.exec(`UPDATE consent_events SET purpose = ?, leaf_hash = ? WHERE idx = 5`, ev.Purpose, leaf(ev, 5))
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}},
		},
		{
			name: "withdrawal turned into a grant with leaf hash recomputed",
			tamper: func(x *tamperDB) {
				ev := x.event(9) // s3 withdraws profile-photo
				if ev.Type != likeness.Withdraw {
					x.t.Fatalf("event 9 is a %s", ev.Type)
				}
				ev.Type = likeness.Grant
				x.exec(`UPDATE consent_events SET type = ?, leaf_hash = ? WHERE idx = 9`, string(ev.Type), leaf(ev, 9))
			},
			firstBad: 8,
			want:     []problem{{8, ledger.KindCheckpointMismatch}},
		},
		{
			name: "row deleted right after a checkpoint",
			tamper: func(x *tamperDB) {
				x.exec(`DELETE FROM consent_events WHERE idx = 8`)
			},
			firstBad: 8,
			want:     []problem{{8, ledger.KindDeleted}, {11, ledger.KindTruncated}},
		},
		{
			name: "row deleted between checkpoints",
			tamper: func(x *tamperDB) {
				x.exec(`DELETE FROM consent_events WHERE idx = 5`)
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}, {5, ledger.KindDeleted}, {11, ledger.KindTruncated}},
		},
		{
			name: "row deleted and later rows renumbered and rehashed",
			tamper: func(x *tamperDB) {
				x.exec(`DELETE FROM consent_events WHERE idx = 5`)
				for i := int64(6); i < historyEvents; i++ {
					ev := x.event(i)
					x.exec(`UPDATE consent_events SET idx = ?, leaf_hash = ? WHERE idx = ?`, i-1, leaf(ev, i-1), i)
				}
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}, {11, ledger.KindTruncated}},
		},
		{
			name: "two rows swapped",
			tamper: func(x *tamperDB) {
				x.exec(`UPDATE consent_events SET idx = -1 WHERE idx = 5`)
				x.exec(`UPDATE consent_events SET idx = 5 WHERE idx = 6`)
				x.exec(`UPDATE consent_events SET idx = 6 WHERE idx = -1`)
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}, {5, ledger.KindEdited}, {6, ledger.KindEdited}},
		},
		{
			name: "two rows swapped at a checkpoint boundary",
			tamper: func(x *tamperDB) {
				x.exec(`UPDATE consent_events SET idx = -1 WHERE idx = 8`)
				x.exec(`UPDATE consent_events SET idx = 8 WHERE idx = 9`)
				x.exec(`UPDATE consent_events SET idx = 9 WHERE idx = -1`)
			},
			firstBad: 8,
			want:     []problem{{8, ledger.KindEdited}, {8, ledger.KindCheckpointMismatch}, {9, ledger.KindEdited}},
		},
		{
			name: "row inserted",
			tamper: func(x *tamperDB) {
				forged := x.event(5)
				forged.ID, forged.Type = "evt_forged", likeness.Grant
				x.shift(6, 1)
				x.insert(forged, 6)
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}, {7, ledger.KindEdited}},
		},
		{
			name: "row inserted and later rows rehashed",
			tamper: func(x *tamperDB) {
				forged := x.event(5)
				forged.ID, forged.Type = "evt_forged", likeness.Grant
				x.shift(6, 1)
				x.insert(forged, 6)
				for i := int64(7); i <= historyEvents; i++ {
					x.exec(`UPDATE consent_events SET leaf_hash = ? WHERE idx = ?`, leaf(x.event(i), i), i)
				}
			},
			firstBad: 4,
			want:     []problem{{4, ledger.KindCheckpointMismatch}},
		},
		{
			name: "tail truncated",
			tamper: func(x *tamperDB) {
				x.exec(`DELETE FROM consent_events WHERE idx >= 10`)
			},
			firstBad: 10,
			want:     []problem{{10, ledger.KindTruncated}},
		},
		{
			name: "checkpoint forged with another key",
			tamper: func(x *tamperDB) {
				old := x.checkpoint(8)
				name, _, _ := strings.Cut(string(old), "\n")
				skey, _, err := ledger.GenerateKey(name, rand.Reader)
				if err != nil {
					x.t.Fatal(err)
				}
				other, err := ledger.NewSignerFromNoteKey(skey)
				if err != nil {
					x.t.Fatal(err)
				}
				forged, err := other.SignCheckpoint(ledger.Checkpoint{Size: 8, Root: ledger.LeafHash([]byte("forged")), TimeMicros: likeness.Micros(time.Now())})
				if err != nil {
					x.t.Fatal(err)
				}
				x.exec(`UPDATE checkpoints SET signed = ? WHERE size = 8`, forged)
			},
			firstBad: -1,
			want:     []problem{{-1, ledger.KindCheckpointSignature}},
		},
		{
			name: "checkpoint root byte flipped",
			tamper: func(x *tamperDB) {
				cp := x.checkpoint(8)
				lines := bytes.SplitN(cp, []byte("\n"), 4) // origin, size, root, rest
				root := lines[2]
				if root[0] == 'A' {
					root[0] = 'B'
				} else {
					root[0] = 'A'
				}
				x.exec(`UPDATE checkpoints SET signed = ? WHERE size = 8`, bytes.Join(lines, []byte("\n")))
			},
			firstBad: -1,
			want:     []problem{{-1, ledger.KindCheckpointSignature}},
		},
	}
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					f := buildHistory(t, backend) // a fresh copy of the history for each case
					x := openTamper(t, f)
					tt.tamper(x)
					x.store.Close()

					code, out, errOut := run(t, append([]string{"ledger", "verify"}, f.flags()...)...)
					if code != 1 {
						t.Fatalf("ledger verify = %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
					}
					if !strings.HasPrefix(out, "ledger FAILED verification: ") || !strings.Contains(errOut, "the ledger was altered") {
						t.Errorf("output does not say the ledger failed\nstdout: %s\nstderr: %s", out, errOut)
					}
					if tt.firstBad >= 0 {
						if want := fmt.Sprintf("\nfirst bad index: %d\n", tt.firstBad); !strings.Contains(out, want) {
							t.Errorf("output lacks %q:\n%s", strings.TrimSpace(want), out)
						}
					} else if strings.Contains(out, "first bad index") {
						t.Errorf("output names a first bad index for a problem tied to no leaf:\n%s", out)
					}
					for _, p := range tt.want {
						if want := fmt.Sprintf("  index %d: %s: ", p.index, p.kind); !strings.Contains(out, want) {
							t.Errorf("output lacks %q:\n%s", want, out)
						}
					}
				})
			}
		})
	}
}
