package storetest

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"IdempotencyKeyKeepsTheFirstAnswer", testIdempotencyFirstAnswer},
		Test{"IdempotencyKeyInFlightIsHeldUntilItsLease", testIdempotencyLease},
		Test{"ReleasedIdempotencyKeyIsFree", testIdempotencyRelease},
		Test{"IdempotencyKeysExpire", testIdempotencyExpiry},
		Test{"ConcurrentIdempotencyClaimsHaveOneWinner", testIdempotencyConcurrent},
		Test{"AnErasedPersonsKeptAnswersGoWithTheirKey", testIdempotencyErased},
	)
}

func newIdempotent(claim string, at time.Time) *likeness.IdempotentRequest {
	return &likeness.IdempotentRequest{Scope: "key_1 POST /v1/subjects/{id}/consents", Key: "k-abc",
		Claim: claim, CreatedAt: at, LeaseUntil: at.Add(time.Minute)}
}

func claimIdem(t *testing.T, s likeness.Store, r *likeness.IdempotentRequest, now time.Time) *likeness.IdempotentRequest {
	t.Helper()
	held, err := s.ClaimIdempotency(context.Background(), r, now, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func testIdempotencyFirstAnswer(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	first := newIdempotent("c1", t0)
	if held := claimIdem(t, s, first, t0); held != nil {
		t.Fatalf("a fresh key is held by %+v", held)
	}
	first.Done, first.Fingerprint, first.Status = true, "fp", 201
	first.Header, first.Body = []byte(`{"Content-Type":["application/json"]}`), []byte(`{"events":[]}`)
	if err := s.CompleteIdempotency(ctx, first); err != nil {
		t.Fatal(err)
	}
	held := claimIdem(t, s, newIdempotent("c2", t0.Add(time.Hour)), t0.Add(time.Hour))
	if held == nil || !held.Done || held.Claim != "c1" || held.Fingerprint != "fp" || held.Status != 201 ||
		!bytes.Equal(held.Header, first.Header) || !bytes.Equal(held.Body, first.Body) || !held.CreatedAt.Equal(t0) {
		t.Fatalf("retry sees %+v, want the first answer", held)
	}
	if err := s.CompleteIdempotency(ctx, newIdempotent("c2", t0)); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("completing a claim that lost: %v, want not found", err)
	}
	if err := s.ReleaseIdempotency(ctx, first.Scope, first.Key, "c1"); err != nil {
		t.Fatal(err)
	}
	if held := claimIdem(t, s, newIdempotent("c3", t0), t0); held == nil || !held.Done {
		t.Fatal("releasing a done record deleted it")
	}
	other := newIdempotent("c4", t0)
	other.Scope = "key_2 POST /v1/subjects/{id}/consents"
	if held := claimIdem(t, s, other, t0); held != nil {
		t.Fatal("the same key of another caller is held")
	}
}

func testIdempotencyLease(t *testing.T, s likeness.Store) {
	first := newIdempotent("c1", t0)
	claimIdem(t, s, first, t0)
	if held := claimIdem(t, s, newIdempotent("c2", t0), t0.Add(30*time.Second)); held == nil || held.Done || held.Claim != "c1" {
		t.Fatalf("in-flight key: %+v, want held by c1", held)
	}
	late := t0.Add(2 * time.Minute)
	if held := claimIdem(t, s, newIdempotent("c3", late), late); held != nil {
		t.Fatalf("a lapsed lease still holds the key: %+v", held)
	}
	if err := s.CompleteIdempotency(context.Background(), first); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("the claim taken over completed: %v", err)
	}
}

func testIdempotencyRelease(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	first := newIdempotent("c1", t0)
	claimIdem(t, s, first, t0)
	if err := s.ReleaseIdempotency(ctx, first.Scope, first.Key, "not-mine"); err != nil {
		t.Fatal(err)
	}
	if held := claimIdem(t, s, newIdempotent("c2", t0), t0); held == nil {
		t.Fatal("another token released the claim")
	}
	for range 2 {
		if err := s.ReleaseIdempotency(ctx, first.Scope, first.Key, "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if held := claimIdem(t, s, newIdempotent("c2", t0), t0); held != nil {
		t.Fatalf("released key still held: %+v", held)
	}
}

func testIdempotencyExpiry(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	first := newIdempotent("c1", t0)
	claimIdem(t, s, first, t0)
	first.Done, first.Status = true, 200
	if err := s.CompleteIdempotency(ctx, first); err != nil {
		t.Fatal(err)
	}
	day := t0.Add(25 * time.Hour)
	if held := claimIdem(t, s, newIdempotent("c2", day), day); held != nil {
		t.Fatalf("a key older than a day is still held: %+v", held)
	}
	old := newIdempotent("c3", t0)
	old.Key = "other"
	claimIdem(t, s, old, t0)
	n, err := s.SweepIdempotency(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("sweep removed %d (%v), want the one old record", n, err)
	}
	if held := claimIdem(t, s, newIdempotent("c4", day), day); held == nil || held.Claim != "c2" {
		t.Fatal("the sweep removed a fresh record")
	}
}

func testIdempotencyConcurrent(t *testing.T, s likeness.Store) {
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held, err := s.ClaimIdempotency(context.Background(), newIdempotent(string(rune('a'+i)), t0), t0, t0.Add(-time.Hour))
			if err != nil && likeness.ErrorCode(err) != likeness.ECONFLICT {
				t.Error(err)
			}
			if err == nil && held == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins.Load())
	}
}

// testIdempotencyErased: destroying a person's data key deletes the kept
// answers to writes about them, done or in flight, and no other.
func testIdempotencyErased(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	kept := func(claim, key, subject string, done bool) *likeness.IdempotentRequest {
		r := newIdempotent(claim, t0)
		r.Key, r.SubjectID = key, subject
		if held := claimIdem(t, s, r, t0); held != nil {
			t.Fatalf("a fresh key is held by %+v", held)
		}
		if done {
			r.Done, r.Fingerprint, r.Status, r.Body = true, "fp", 201, []byte("sealed")
			if err := s.CompleteIdempotency(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	kept("c1", "k-1", "sub_erased", true)
	kept("c2", "k-2", "sub_erased", false)
	kept("c3", "k-3", "sub_other", true)
	kept("c4", "k-4", "", true)
	if err := s.DestroySubjectKey(ctx, "sub_erased"); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k-1": false, "k-2": false, "k-3": true, "k-4": true} {
		r := newIdempotent("later", t0)
		r.Key = key
		held := claimIdem(t, s, r, t0.Add(time.Second))
		if (held != nil) != want {
			t.Errorf("key %s after the erasure: held %+v, want kept %v", key, held, want)
		}
		if held != nil && key == "k-3" && held.SubjectID != "sub_other" {
			t.Errorf("key %s: subject %q, want sub_other", key, held.SubjectID)
		}
	}
}
