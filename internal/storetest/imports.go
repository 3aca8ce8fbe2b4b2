package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"likeness"
	"likeness/internal/ledgerlog"
)

func init() {
	tests = append(tests,
		Test{"InsertSubjectsKeepsThoseAlreadyStored", testInsertSubjects},
		Test{"ImportedLinesAreRecordedOnce", testImportedOnce},
		Test{"ImportRefusesSubjectsBeingErasedAlone", testImportFence},
	)
}

func testInsertSubjects(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	old := NewSubject(t, s, "old")
	mk := func(ext string) *likeness.Subject {
		return &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h-" + ext, Locale: "de", Jurisdiction: "US-IL",
			Guardian: ext == "minor", CreatedAt: t0}
	}
	subs := []*likeness.Subject{mk("a"), mk("old"), mk("minor")}
	out, created, err := s.InsertSubjects(ctx, subs, [][]byte{[]byte("wa"), []byte("w-old-2"), []byte("wm")})
	if err != nil {
		t.Fatal(err)
	}
	if !created[0] || created[1] || !created[2] {
		t.Fatalf("created = %v, want [true false true]", created)
	}
	if out[1].ID != old.ID || out[0].ID != subs[0].ID || !out[2].Guardian || !out[0].CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("InsertSubjects returned %+v %+v %+v", out[0], out[1], out[2])
	}
	if k, err := s.SubjectKey(ctx, old.ID); err != nil || string(k) != "wrapped-old" {
		t.Fatalf("the stored subject's key is %q, %v: the losing insert must not replace it", k, err)
	}
	if k, err := s.SubjectKey(ctx, subs[0].ID); err != nil || string(k) != "wa" {
		t.Fatalf("new subject's key = %q, %v", k, err)
	}
	if _, err := s.SubjectKey(ctx, subs[1].ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("the losing subject's key was stored: %v", err)
	}
	found, err := s.SubjectsByExternalHash(ctx, []string{"h-a", "h-old", "h-nobody", "h-minor"})
	if err != nil || len(found) != 3 || found["h-old"].ID != old.ID || found["h-a"].ID != subs[0].ID || found["h-nobody"] != nil {
		t.Fatalf("SubjectsByExternalHash = %v, %v", found, err)
	}
	// More hashes than one query's list holds.
	many := make([]string, 1200)
	for i := range many {
		many[i] = fmt.Sprintf("h-nobody-%d", i)
	}
	many[1100] = "h-a"
	if found, err := s.SubjectsByExternalHash(ctx, many); err != nil || len(found) != 1 || found["h-a"] == nil {
		t.Fatalf("SubjectsByExternalHash of 1200 hashes = %d found, %v", len(found), err)
	}
}

func importItem(line int64, content string, evs ...*likeness.ConsentEvent) *likeness.ImportItem {
	d := sha256.Sum256([]byte(content))
	for _, ev := range evs {
		ev.Imported = true
	}
	return &likeness.ImportItem{Mark: likeness.ImportMark{Key: d, Digest: d, Run: "imp_run1", Line: line}, Events: evs}
}

func testImportedOnce(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a"), NewSubject(t, s, "b")
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{event(a.ID, "p", likeness.Grant, t0)}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	old := t0.Add(-400 * 24 * time.Hour)
	items := []*likeness.ImportItem{
		importItem(1, "line a", event(a.ID, "p", likeness.Grant, old), event(a.ID, "p", likeness.Withdraw, old.Add(time.Hour))),
		importItem(2, "line b", event(b.ID, "q", likeness.Grant, old)),
		importItem(3, "person only"),
	}
	if err := s.AppendImported(ctx, items, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if it.Err != nil || it.Existing != nil {
			t.Fatalf("item %d: Err %v, Existing %v", i, it.Err, it.Existing)
		}
	}
	if got := items[0].Events[1].LedgerIndex; got != 2 || items[1].Events[0].LedgerIndex != 3 {
		t.Fatalf("imported events got indexes %d and %d, want 2 and 3 after the one live event", got, items[1].Events[0].LedgerIndex)
	}
	if n, _ := s.LedgerSize(ctx); n != 4 {
		t.Fatalf("ledger size %d, want 4", n)
	}
	stored, err := s.Event(ctx, items[0].Events[0].ID)
	if err != nil || !stored.Imported || !stored.Time.Equal(old.Truncate(time.Microsecond)) {
		t.Fatalf("stored imported event = %+v, %v: it must keep Imported and its original time", stored, err)
	}
	if live, _ := s.SubjectEvents(ctx, a.ID); len(live) != 3 || live[0].Imported {
		t.Fatalf("subject a's events: %d, first imported %v; want 3, the live one not imported", len(live), live[0].Imported)
	}
	checkLeaves(t, s, 4)

	// The same lines again, and a new one: only the new one is stored.
	again := []*likeness.ImportItem{
		importItem(1, "line a", event(a.ID, "p", likeness.Grant, old)),
		importItem(4, "line c", event(b.ID, "p", likeness.Withdraw, old)),
		importItem(3, "person only"),
	}
	again[2].Mark.Run = "imp_run2"
	if err := s.AppendImported(ctx, again, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if m := again[0].Existing; m == nil || m.Run != "imp_run1" || m.Line != 1 || m.Digest != items[0].Mark.Digest || m.At.IsZero() {
		t.Fatalf("a line stored before: Existing = %+v, want the first run's mark", m)
	}
	if again[2].Existing == nil || again[1].Existing != nil || again[1].Events[0].LedgerIndex != 4 {
		t.Fatalf("Existing = %v, %v; new line at index %d", again[1].Existing, again[2].Existing, again[1].Events[0].LedgerIndex)
	}
	if n, _ := s.LedgerSize(ctx); n != 5 {
		t.Fatalf("ledger size %d after importing again, want 5: nothing recorded twice", n)
	}
	marks, err := s.ImportMarks(ctx, [][32]byte{items[0].Mark.Key, again[1].Mark.Key, sha256.Sum256([]byte("never"))})
	if err != nil || len(marks) != 2 || marks[again[1].Mark.Key].Line != 4 {
		t.Fatalf("ImportMarks = %v, %v", marks, err)
	}
	checkLeaves(t, s, 5)
	checkImportedMessages(t, s, 4, 1)
}

// checkLeaves checks every stored leaf hash is the ledger's hash of its row.
func checkLeaves(t *testing.T, s likeness.Store, want int) {
	t.Helper()
	n := 0
	err := s.ForEachEvent(context.Background(), 0, func(ev *likeness.ConsentEvent, h [32]byte) error {
		if ledgerlog.LeafHash(ev, ev.LedgerIndex) != h {
			return fmt.Errorf("leaf %d does not match its row", ev.LedgerIndex)
		}
		n++
		return nil
	})
	if err != nil || n != want {
		t.Fatalf("ledger: %d events, %v; want %d matching", n, err, want)
	}
}

// checkImportedMessages checks that the imported events were reported to
// downstream systems, marked imported and stamped when recorded.
func checkImportedMessages(t *testing.T, s likeness.Store, imported, live int) {
	t.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), "test", time.Now().Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		var data likeness.ConsentMessageData
		if err := json.Unmarshal(d.Message.Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Imported {
			n++
			if time.Since(d.Message.CreatedAt) > time.Hour || data.Time.After(t0) {
				t.Errorf("imported message created %v about an event of %v: want created now, about the original time", d.Message.CreatedAt, data.Time)
			}
		}
	}
	if n != imported || len(ds) != imported+live {
		t.Fatalf("%d messages, %d imported; want %d and %d", len(ds), n, imported+live, imported)
	}
}

func testImportFence(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a, b := NewSubject(t, s, "a"), NewSubject(t, s, "b")
	if _, err := s.BeginErasure(ctx, b.ID, t0); err != nil {
		t.Fatal(err)
	}
	items := []*likeness.ImportItem{
		importItem(1, "a", event(a.ID, "p", likeness.Grant, t0)),
		importItem(2, "b", event(b.ID, "p", likeness.Grant, t0)),
	}
	if err := s.AppendImported(ctx, items, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if items[0].Err != nil || likeness.ErrorCode(items[1].Err) != likeness.EGONE {
		t.Fatalf("errors = %v, %v; want nil and gone", items[0].Err, items[1].Err)
	}
	if m, _ := s.ImportMarks(ctx, [][32]byte{items[1].Mark.Key}); len(m) != 0 {
		t.Fatal("the refused line was marked imported: importing it later would skip it")
	}
	if evs, _ := s.SubjectEvents(ctx, b.ID); len(evs) != 0 {
		t.Fatalf("%d events recorded about a person being erased", len(evs))
	}
	if n, _ := s.LedgerSize(ctx); n != 1 {
		t.Fatalf("ledger size %d, want 1", n)
	}
}
