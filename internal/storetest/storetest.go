// Package storetest is the conformance suite every likeness.Store backend
// must pass. Backends call Run from their own tests; PostgreSQL gives each
// test run a database of its own (see Postgres).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for creating test databases

	"likeness"
	"likeness/internal/ledgerlog"
)

// PostgresEnv names the variable that points tests at a PostgreSQL server.
const PostgresEnv = "LIKENESS_TEST_POSTGRES_URL"

// Postgres creates an empty database on the server named by
// LIKENESS_TEST_POSTGRES_URL, drops it when the test ends, and returns its
// URL. Without the variable the test is skipped with one clear line.
func Postgres(t testing.TB) string {
	t.Helper()
	NeedPostgres(t)
	base := os.Getenv(PostgresEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "likeness_t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("postgres: create test database (is %s reachable?): %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres: bad %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Test is one conformance test. Files of this package add theirs to
// tests in an init function, one file per capability.
type Test struct {
	Name string
	Fn   func(*testing.T, likeness.Store)
}

var tests = []Test{
	{"SettingsInitOnce", testSettingsInitOnce},
	{"NoticeVersionsAdvanceOnChangeOnly", testNoticeVersions},
	{"SubjectInsertIsIdempotentOnExternalHash", testSubjectIdempotent},
	{"AbsentRowsAreNotFound", testNotFound},
	{"RewrapReplacesEveryKey", testRewrap},
	{"EventsGetDenseLedgerIndexes", testEventsDense},
	{"ConcurrentAppendsKeepIndexesDense", testConcurrentAppends},
	{"StoredLeafHashCommitsToEvent", testLeafHash},
	{"LeafHashesReadARange", testLeafHashes},
	{"AFailingAppendFailsAloneAmongConcurrentOnes", testFailingAppendAlone},
	{"Checkpoints", testCheckpoints},
	{"APIKeysByHash", testAPIKeys},
}

// NeedPostgres skips t with one line when no PostgreSQL server is
// configured; call it before a loop of subtests so they skip once.
func NeedPostgres(t testing.TB) {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test)", PostgresEnv)
	}
}

// Run runs the conformance suite. open must return a new, empty store.
func Run(t *testing.T, open func(t *testing.T) likeness.Store) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.Fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC)

// NewSubject stores a subject with a fresh id and a dummy wrapped key.
func NewSubject(t testing.TB, s likeness.Store, ext string) *likeness.Subject {
	t.Helper()
	sub := &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h-" + ext, Locale: "de", Jurisdiction: "EU-DE", CreatedAt: t0}
	out, created, err := s.InsertSubject(context.Background(), sub, []byte("wrapped-"+ext))
	if err != nil || !created {
		t.Fatalf("InsertSubject: created=%v err=%v", created, err)
	}
	return out
}

func event(sub, purpose string, typ likeness.EventType, at time.Time) *likeness.ConsentEvent {
	return &likeness.ConsentEvent{
		ID: likeness.NewID("evt"), SubjectID: sub, Purpose: purpose, Type: typ,
		Method: likeness.Checkbox, NoticeVersion: 1, NoticeSHA256: "ab", Language: "en",
		Collector: "key_x", Time: at, Sealed: []byte{1, 2, 3},
	}
}

func testSettingsInitOnce(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	if _, err := s.Setting(ctx, "k"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Setting(absent) err = %v, want not_found", err)
	}
	v, err := s.InitSetting(ctx, "k", []byte("first"))
	if err != nil || string(v) != "first" {
		t.Fatalf("InitSetting = %q, %v", v, err)
	}
	v, err = s.InitSetting(ctx, "k", []byte("second"))
	if err != nil || string(v) != "first" {
		t.Fatalf("second InitSetting = %q, %v; want the first value kept", v, err)
	}
	if err := s.PutSetting(ctx, "k", []byte("third")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Setting(ctx, "k"); string(v) != "third" {
		t.Fatalf("after PutSetting = %q", v)
	}
}

func testNoticeVersions(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	if _, err := s.LatestNotice(ctx); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("LatestNotice on empty store: %v", err)
	}
	n1 := &likeness.NoticeVersion{CreatedAt: t0, PolicySHA256: "p1", Texts: map[string]string{"en": "a"},
		Material: map[string]string{"x": "m1", "y": "m2"}}
	v1, err := s.PublishNotice(ctx, n1)
	if err != nil || v1.Version != 1 {
		t.Fatalf("first publish: %+v %v", v1, err)
	}
	again, err := s.PublishNotice(ctx, n1)
	if err != nil || again.Version != 1 {
		t.Fatalf("republishing the same policy made version %d (%v), want 1", again.Version, err)
	}
	n2 := &likeness.NoticeVersion{CreatedAt: t0, PolicySHA256: "p2", Texts: map[string]string{"en": "b"},
		Material: map[string]string{"x": "m1", "y": "m2-changed"}}
	v2, err := s.PublishNotice(ctx, n2)
	if err != nil || v2.Version != 2 {
		t.Fatalf("second publish: %+v %v", v2, err)
	}
	if v2.MaterialSince["x"] != 1 || v2.MaterialSince["y"] != 2 {
		t.Fatalf("MaterialSince = %v, want x:1 (unchanged) y:2 (changed)", v2.MaterialSince)
	}
	latest, err := s.LatestNotice(ctx)
	if err != nil || latest.Version != 2 || latest.MaterialSince["y"] != 2 {
		t.Fatalf("LatestNotice = %+v, %v", latest, err)
	}
	old, err := s.Notice(ctx, 1)
	if err != nil || old.Texts["en"] != "a" {
		t.Fatalf("Notice(1) = %+v, %v", old, err)
	}
}

func testSubjectIdempotent(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "user-1")
	b, created, err := s.InsertSubject(ctx, &likeness.Subject{ID: likeness.NewID("sub"), ExternalHash: "h-user-1",
		Locale: "en", Jurisdiction: "US-CA", CreatedAt: t0}, []byte("other"))
	if err != nil || created || b.ID != a.ID {
		t.Fatalf("second insert with same hash: id=%s created=%v err=%v; want the first subject", b.ID, created, err)
	}
	got, err := s.Subject(ctx, a.ID)
	if err != nil || got.Jurisdiction != "EU-DE" || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("Subject = %+v, %v", got, err)
	}
	k, err := s.SubjectKey(ctx, a.ID)
	if err != nil || string(k) != "wrapped-user-1" {
		t.Fatalf("SubjectKey = %q, %v (the losing insert must not replace the key)", k, err)
	}
	byHash, err := s.SubjectByExternalHash(ctx, "h-user-1")
	if err != nil || byHash.ID != a.ID {
		t.Fatalf("SubjectByExternalHash = %v, %v", byHash, err)
	}
	n := 0
	s.ForEachSubject(ctx, func(*likeness.Subject) error { n++; return nil })
	if n != 1 {
		t.Fatalf("ForEachSubject saw %d subjects, want 1", n)
	}
	if got, err := s.SubjectsCreatedSince(ctx, t0); err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("SubjectsCreatedSince(creation) = %v, %v; want the subject", got, err)
	}
	if got, err := s.SubjectsCreatedSince(ctx, t0.Add(time.Second)); err != nil || len(got) != 0 {
		t.Fatalf("SubjectsCreatedSince(after creation) = %v, %v; want none", got, err)
	}
	if err := s.UpdateSubject(ctx, a.ID, "en", "US-CA", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if up, err := s.SubjectsUpdatedSince(ctx, t0.Add(time.Hour)); err != nil || len(up) != 1 || up[0].Jurisdiction != "US-CA" {
		t.Fatalf("SubjectsUpdatedSince = %v, %v", up, err)
	}
	if up, _ := s.SubjectsUpdatedSince(ctx, t0.Add(2*time.Hour)); len(up) != 0 {
		t.Fatalf("SubjectsUpdatedSince after the change = %v", up)
	}
	if got, _ := s.Subject(ctx, a.ID); got.Locale != "en" || got.Jurisdiction != "US-CA" || got.ExternalHash != "h-user-1" {
		t.Fatalf("after UpdateSubject: %+v", got)
	}
	if err := s.UpdateSubject(ctx, "sub_nope", "en", "GB", t0); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("UpdateSubject of an absent subject: %v", err)
	}
}

func testNotFound(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Subject"] = s.Subject(ctx, "sub_nope")
	_, checks["SubjectByExternalHash"] = s.SubjectByExternalHash(ctx, "nope")
	_, checks["SubjectKey"] = s.SubjectKey(ctx, "sub_nope")
	_, checks["Event"] = s.Event(ctx, "evt_nope")
	_, checks["Notice"] = s.Notice(ctx, 7)
	_, _, checks["LatestCheckpoint"] = s.LatestCheckpoint(ctx)
	_, checks["APIKeyByHash"] = s.APIKeyByHash(ctx, []byte("nope"))
	for name, err := range checks {
		if likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Errorf("%s on an absent row: err = %v, want code not_found", name, err)
		}
	}
}

func testRewrap(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		ids = append(ids, NewSubject(t, s, fmt.Sprint("u", i)).ID)
	}
	n, err := s.RewrapSubjectKeys(ctx, func(id string, w []byte) ([]byte, error) {
		return append([]byte("v2:"), w...), nil
	})
	if err != nil || n != 7 {
		t.Fatalf("RewrapSubjectKeys = %d, %v; want 7", n, err)
	}
	for _, id := range ids {
		k, _ := s.SubjectKey(ctx, id)
		if !bytes.HasPrefix(k, []byte("v2:wrapped-")) {
			t.Fatalf("key of %s = %q, not rewrapped", id, k)
		}
	}
}

func testEventsDense(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	b := NewSubject(t, s, "b")
	batch := []*likeness.ConsentEvent{event(a.ID, "p1", likeness.Grant, t0), event(a.ID, "p2", likeness.Grant, t0)}
	if err := s.AppendEvents(ctx, batch, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if batch[0].LedgerIndex != 0 || batch[1].LedgerIndex != 1 {
		t.Fatalf("indexes %d,%d; want 0,1", batch[0].LedgerIndex, batch[1].LedgerIndex)
	}
	w := event(b.ID, "p1", likeness.Withdraw, t0.Add(time.Hour))
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{w}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	if w.LedgerIndex != 2 {
		t.Fatalf("third event index %d, want 2", w.LedgerIndex)
	}
	// A batch with a duplicate id fails whole: nothing of it is stored.
	dup := event(a.ID, "p3", likeness.Grant, t0)
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{dup, {ID: batch[0].ID, SubjectID: a.ID, Type: likeness.Grant, Time: t0}}, ledgerlog.LeafHash); err == nil {
		t.Fatal("appending a duplicate event id succeeded")
	}
	if size, _ := s.LedgerSize(ctx); size != 3 {
		t.Fatalf("LedgerSize after a failed batch = %d, want 3 (no partial state)", size)
	}
	hist, err := s.SubjectEvents(ctx, a.ID)
	if err != nil || len(hist) != 2 || hist[0].Purpose != "p1" || hist[1].Purpose != "p2" {
		t.Fatalf("SubjectEvents(a) = %v, %v", hist, err)
	}
	got, err := s.Event(ctx, w.ID)
	if err != nil || got.Type != likeness.Withdraw || got.SubjectID != b.ID || !got.Time.Equal(w.Time) ||
		!bytes.Equal(got.Sealed, []byte{1, 2, 3}) || got.Collector != "key_x" {
		t.Fatalf("Event = %+v, %v", got, err)
	}
	var seen []int64
	s.ForEachEvent(ctx, 1, func(ev *likeness.ConsentEvent, _ [32]byte) error {
		seen = append(seen, ev.LedgerIndex)
		return nil
	})
	if fmt.Sprint(seen) != "[1 2]" {
		t.Fatalf("ForEachEvent(from 1) saw %v", seen)
	}
}

func testConcurrentAppends(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- s.AppendEvents(ctx, []*likeness.ConsentEvent{event(a.ID, "p", likeness.Grant, t0)}, ledgerlog.LeafHash)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := int64(0)
	s.ForEachEvent(ctx, 0, func(ev *likeness.ConsentEvent, _ [32]byte) error {
		if ev.LedgerIndex != want {
			t.Fatalf("index %d where %d expected: ledger has a gap or duplicate", ev.LedgerIndex, want)
		}
		want++
		return nil
	})
	if want != writers*each {
		t.Fatalf("%d events stored, want %d", want, writers*each)
	}
}

func testLeafHash(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	ev := event(a.ID, "p1", likeness.Grant, t0)
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{ev}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	s.ForEachEvent(ctx, 0, func(got *likeness.ConsentEvent, h [32]byte) error {
		if want := ledgerlog.LeafHash(got, got.LedgerIndex); h != want {
			t.Fatalf("stored leaf hash does not match the event read back")
		}
		return nil
	})
}

func testLeafHashes(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	var evs []*likeness.ConsentEvent
	for range 5 {
		evs = append(evs, event(a.ID, "p1", likeness.Grant, t0))
	}
	if err := s.AppendEvents(ctx, evs, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want int64 }{{0, 5, 5}, {1, 3, 2}, {3, 9, 2}, {5, 9, 0}, {2, 2, 0}} {
		got, err := s.LeafHashes(ctx, c.from, c.to)
		if err != nil || int64(len(got)) != c.want {
			t.Fatalf("LeafHashes(%d, %d) = %d hashes, %v; want %d", c.from, c.to, len(got), err, c.want)
		}
		for i, h := range got {
			ev := evs[c.from+int64(i)]
			if h != ledgerlog.LeafHash(ev, ev.LedgerIndex) {
				t.Fatalf("LeafHashes(%d, %d)[%d] is not event %d's leaf hash", c.from, c.to, i, ev.LedgerIndex)
			}
		}
	}
}

func testCheckpoints(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		size   int64
		stored bool
	}{{1, true}, {3, true}, {3, false}, {2, false}} {
		signed := false
		ok, err := s.PutCheckpoint(ctx, c.size, func() ([]byte, error) { signed = true; return []byte(fmt.Sprint("cp", c.size)), nil })
		if err != nil || ok != c.stored || signed != c.stored {
			t.Fatalf("PutCheckpoint(%d) = %v, %v (signed %v); want stored %v: a checkpoint no larger than the largest stored must be refused unsigned", c.size, ok, err, signed, c.stored)
		}
	}
	all, err := s.Checkpoints(ctx)
	if err != nil || len(all) != 2 || string(all[0]) != "cp1" || string(all[1]) != "cp3" {
		t.Fatalf("Checkpoints = %q, %v", all, err)
	}
	size, b, err := s.LatestCheckpoint(ctx)
	if err != nil || size != 3 || string(b) != "cp3" {
		t.Fatalf("LatestCheckpoint = %d %q %v", size, b, err)
	}
}

func testAPIKeys(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	k := &likeness.APIKey{ID: likeness.NewID("key"), Name: "ci", Role: likeness.RolePipeline, Hash: []byte("hash-1"), CreatedAt: t0}
	if err := s.InsertAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByHash(ctx, []byte("hash-1"))
	if err != nil || got.ID != k.ID || got.Role != likeness.RolePipeline {
		t.Fatalf("APIKeyByHash = %+v, %v", got, err)
	}
	if err := s.InsertAPIKey(ctx, &likeness.APIKey{ID: likeness.NewID("key"), Hash: []byte("hash-1"), Role: likeness.RoleAdmin, CreatedAt: t0}); err == nil {
		t.Fatal("a second key with the same hash was accepted")
	}
	all, err := s.APIKeys(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("APIKeys = %v, %v", all, err)
	}
}

func testFailingAppendAlone(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	a := NewSubject(t, s, "a")
	first := event(a.ID, "p", likeness.Grant, t0)
	if err := s.AppendEvents(ctx, []*likeness.ConsentEvent{first}, ledgerlog.LeafHash); err != nil {
		t.Fatal(err)
	}
	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := event(a.ID, "p", likeness.Grant, t0)
			if i == n/2 {
				ev.ID = first.ID // a duplicate: this append must fail, and only it
			}
			errs[i] = s.AppendEvents(ctx, []*likeness.ConsentEvent{ev, event(a.ID, "q", likeness.Grant, t0)}, ledgerlog.LeafHash)
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if i != n/2 {
				t.Errorf("append %d failed: %v", i, err)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d appends failed, want exactly the duplicate", failed)
	}
	if size, _ := s.LedgerSize(ctx); size != 1+2*(n-1) {
		t.Fatalf("ledger size %d, want %d: a failed append left part of itself", size, 1+2*(n-1))
	}
	want := int64(0)
	s.ForEachEvent(ctx, 0, func(ev *likeness.ConsentEvent, _ [32]byte) error {
		if ev.LedgerIndex != want {
			t.Fatalf("gap at %d", want)
		}
		want++
		return nil
	})
}
