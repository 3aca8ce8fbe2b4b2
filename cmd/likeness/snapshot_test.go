package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/likenesstest"
)

// serveOn starts `likeness serve` on a deployment's files and returns it
// with what it logged; the test closes it (closing twice is harmless).
func serveOn(t *testing.T, f deploymentFiles, args ...string) (*Main, *likenesstest.Buffer) {
	t.Helper()
	var stdout, stderr likenesstest.Buffer
	m := NewMain(false, &stdout, &stderr)
	if err := m.ParseFlags(append(append(f.flags(), "--addr", "127.0.0.1:0"), args...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() { m.Close() })
	return m, &stderr
}

// snapshotWorld is a deployment that served once and wrote its snapshot
// at shutdown: kept and dropped hold a consent each, dropped's is later
// withdrawn by the test.
type snapshotWorld struct {
	files         deploymentFiles
	kept, dropped string
	snapshot      string
}

func newSnapshotWorld(t *testing.T, backend string) snapshotWorld {
	t.Helper()
	w := snapshotWorld{files: deploymentFiles{dir: t.TempDir(), db: backendDSN(t, backend)}}
	if w.files.db == "" {
		w.files.db = "sqlite:" + filepath.Join(w.files.dir, "likeness.db")
	}
	w.snapshot = filepath.Join(w.files.dir, "decision.snapshot")
	m, log := serveOn(t, w.files)
	w.kept, w.dropped = newSubject(t, m.d, "kept"), newSubject(t, m.d, "dropped")
	grantOne(t, m.d, w.kept, "voice-transcription", likeness.Checkbox, nil)
	grantOne(t, m.d, w.dropped, "voice-transcription", likeness.Checkbox, nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "wrote the decision snapshot at shutdown") {
		t.Fatalf("no snapshot written at shutdown:\n%s", log)
	}
	return w
}

// allows asks the running replica's engine, as the decision route does.
func allows(t *testing.T, m *Main, subjectID string) bool {
	t.Helper()
	d, err := m.d.consent.Decide(&likeness.DecisionRequest{SubjectID: subjectID, Purpose: "voice-transcription", Category: "voice"})
	if err != nil {
		t.Fatal(err)
	}
	return d.Allow
}

// loadedFrom reads the start-up log line saying how the index was loaded.
func loadedFrom(t *testing.T, log string) (fromSnapshot bool) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="loaded the decision index"`) {
			return strings.Contains(line, "from_snapshot=true")
		}
	}
	t.Fatalf("no load line in the log:\n%s", log)
	return false
}

func forBothBackends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, backend := range backendNames {
		t.Run(backend, func(t *testing.T) {
			needBackend(t, backend)
			fn(t, backend)
		})
	}
}

func TestRestartFromAStaleSnapshotAppliesTheTail(t *testing.T) {
	forBothBackends(t, func(t *testing.T, backend string) {
		w := newSnapshotWorld(t, backend)
		// After the snapshot: a withdrawal, a new subject with a grant,
		// written by a command that does not rewrite the snapshot.
		d := openDeployment(t, w.files)
		withdrawOne(t, d, w.dropped, "voice-transcription")
		late := newSubject(t, d, "late")
		grantOne(t, d, late, "voice-transcription", likeness.Checkbox, nil)
		quiet := newSubject(t, d, "quiet") // created after the snapshot, no consent yet
		d.Close()

		m, log := serveOn(t, w.files)
		if !loadedFrom(t, log.String()) || !strings.Contains(log.String(), "tail_events=2") {
			t.Fatalf("want a load from the snapshot with a tail of 2 events:\n%s", log)
		}
		if !allows(t, m, w.kept) || !allows(t, m, late) {
			t.Fatal("a consent given before or after the snapshot does not allow")
		}
		if allows(t, m, w.dropped) {
			t.Fatal("a withdrawal made after the snapshot was taken still allows")
		}
		if !m.d.engine.HasSubject(quiet) {
			t.Fatal("a subject created after the snapshot, without consent, is unknown after the restart")
		}
		if got, want := m.d.ledger.Tree().Size(), uint64(4); got != want {
			t.Fatalf("ledger tree at %d after the tail, want %d", got, want)
		}
	})
}

func TestCorruptSnapshotIsDetectedAndEverythingLoadsFromTheDatabase(t *testing.T) {
	forBothBackends(t, func(t *testing.T, backend string) {
		w := newSnapshotWorld(t, backend)
		d := openDeployment(t, w.files)
		withdrawOne(t, d, w.dropped, "voice-transcription")
		d.Close()
		b, err := os.ReadFile(w.snapshot)
		if err != nil {
			t.Fatal(err)
		}
		// One byte in the header, one in the ledger tree, one in the index.
		header := 106 + int(binary.LittleEndian.Uint16(b[104:]))
		for _, at := range []int{20, header + 12, len(b) - 40} {
			flipped := append([]byte(nil), b...)
			flipped[at] ^= 0x01
			if err := os.WriteFile(w.snapshot, flipped, 0o600); err != nil {
				t.Fatal(err)
			}
			m, log := serveOn(t, w.files, "--snapshot-every", "1h")
			if loadedFrom(t, log.String()) || !strings.Contains(log.String(), "not using the decision snapshot") || !strings.Contains(log.String(), "checksum mismatch") {
				t.Fatalf("byte %d flipped: the snapshot was used or the log does not say why not:\n%s", at, log)
			}
			if !allows(t, m, w.kept) || allows(t, m, w.dropped) {
				t.Fatalf("byte %d flipped: decisions after the full load are wrong", at)
			}
			m.Close() // writes a good snapshot again
			if err := os.WriteFile(w.snapshot, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestServeAfterARestoreWithoutTheLedgerCounterLeavesNoGap restores the
// ledger's events from a backup but not its next index: serve says so at
// start and the next grant takes the restored ledger's size as its index.
func TestServeAfterARestoreWithoutTheLedgerCounterLeavesNoGap(t *testing.T) {
	forBothBackends(t, func(t *testing.T, backend string) {
		w := newSnapshotWorld(t, backend)
		d := openDeployment(t, w.files)
		if _, err := d.store.SQL().Exec(`DELETE FROM consent_events WHERE idx >= 1`); err != nil {
			t.Fatal(err)
		}
		d.Close()
		m, log := serveOn(t, w.files)
		var warned bool
		for _, line := range strings.Split(log.String(), "\n") {
			warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, "the ledger's next index was ahead") &&
				strings.Contains(line, "(restored from a backup?)") && strings.Contains(line, "by=1")
		}
		if !warned {
			t.Fatalf("no warning that the ledger's next index was lowered by 1:\n%s", log)
		}
		if ev := grantOne(t, m.d, w.kept, "ai-training", likeness.Checkbox, nil); ev.LedgerIndex != 1 {
			t.Fatalf("the first grant after the restore took index %d, want 1", ev.LedgerIndex)
		}
	})
}

// TestAOneOffCommandAfterARestoreSaysItLoweredTheLedgerCounter: whichever
// command first opens the database after a restore lowers the counter, so
// `likeness migrate`, run first, says so too, and serve then finds nothing
// to lower.
func TestAOneOffCommandAfterARestoreSaysItLoweredTheLedgerCounter(t *testing.T) {
	w := newSnapshotWorld(t, "sqlite")
	d := openDeployment(t, w.files)
	if _, err := d.store.SQL().Exec(`DELETE FROM consent_events WHERE idx >= 1`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), append([]string{"migrate"}, w.files.flags()...), &out, &errb); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, errb.String())
	}
	if msg := errb.String(); !strings.Contains(msg, "level=WARN") || !strings.Contains(msg, "the ledger's next index was ahead") ||
		!strings.Contains(msg, "by=1") {
		t.Fatalf("migrate after a restore did not say it lowered the ledger's next index by 1:\n%s", msg)
	}
	m, log := serveOn(t, w.files)
	defer m.Close()
	if strings.Contains(log.String(), "the ledger's next index was ahead") {
		t.Fatalf("serve lowered the ledger's next index again:\n%s", log)
	}
}

func TestSnapshotAheadOfTheDatabaseIsRejected(t *testing.T) {
	forBothBackends(t, func(t *testing.T, backend string) {
		w := newSnapshotWorld(t, backend)
		taken, err := os.ReadFile(w.snapshot)
		if err != nil {
			t.Fatal(err)
		}
		// The database goes back to a backup taken before the second
		// grant: the snapshot holds an event the ledger no longer has. A
		// backup holds the ledger's next index as it was then, too.
		d := openDeployment(t, w.files)
		for _, q := range []string{`DELETE FROM consent_events WHERE idx >= 1`, `UPDATE ledger_next SET next = 1`} {
			if _, err := d.store.SQL().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
		m, log := serveOn(t, w.files)
		if loadedFrom(t, log.String()) || !strings.Contains(log.String(), "but the database holds 1 events (restored from a backup?)") {
			t.Fatalf("a snapshot ahead of the database was used, or the log does not say why not:\n%s", log)
		}
		if !allows(t, m, w.kept) || allows(t, m, w.dropped) {
			t.Fatal("decisions after the full load do not follow the restored database")
		}
		m.Close()

		// The restored database then grows past the snapshot's revision
		// with other events: the two ledgers differ from index 1 on.
		if err := os.WriteFile(w.snapshot, taken, 0o600); err != nil {
			t.Fatal(err)
		}
		d = openDeployment(t, w.files)
		other := newSubject(t, d, "other")
		grantOne(t, d, other, "voice-transcription", likeness.Checkbox, nil)
		grantOne(t, d, other, "ai-training", likeness.Checkbox, nil)
		d.Close()
		m, log = serveOn(t, w.files)
		if loadedFrom(t, log.String()) || !strings.Contains(log.String(), "differs from the snapshot's at index 1") {
			t.Fatalf("a snapshot of another history was used, or the log does not say why not:\n%s", log)
		}
		if !allows(t, m, w.kept) || allows(t, m, w.dropped) || !allows(t, m, other) {
			t.Fatal("decisions after the full load do not follow the database")
		}
	})
}

func TestSnapshotOfAnotherDeploymentOrPolicyIsNotUsed(t *testing.T) {
	a := newSnapshotWorld(t, "sqlite")
	b := newSnapshotWorld(t, "sqlite")
	snap, err := os.ReadFile(a.snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.snapshot, snap, 0o600); err != nil {
		t.Fatal(err)
	}
	m, log := serveOn(t, b.files)
	if loadedFrom(t, log.String()) || !strings.Contains(log.String(), "another deployment") {
		t.Fatalf("another deployment's snapshot was used, or the log does not say why not:\n%s", log)
	}
	if !allows(t, m, b.kept) || allows(t, m, a.kept) {
		t.Fatal("decisions after the full load are not this deployment's")
	}
	m.Close()
	m, log = serveOn(t, b.files, "--policy", filepath.Join("..", "..", "policy", "example.yaml"))
	if loadedFrom(t, log.String()) || !strings.Contains(log.String(), "another policy") {
		t.Fatalf("a snapshot taken under another policy was used, or the log does not say why not:\n%s", log)
	}
}
