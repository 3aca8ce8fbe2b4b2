package storetest

import (
	"context"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"PortalSessionRoundTripsUntilEnded", testPortalSessionRoundTrip},
		Test{"ErasureEndsEveryPortalSession", testPortalSessionErasure},
		Test{"AnEndedConsoleSessionStaysEndedUntilItsCookieExpires", testEndedSession},
	)
}

func newPortalSession(sub string) *likeness.PortalSession {
	return &likeness.PortalSession{ID: likeness.NewLinkID(), SubjectID: sub, OpenedBy: "portal_link:0011223344556677",
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
}

func testPortalSessionRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	ps := newPortalSession(likeness.NewID("sub"))
	if err := s.CreatePortalSession(ctx, ps); err != nil {
		t.Fatal(err)
	}
	got, err := s.PortalSession(ctx, ps.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ps.ID || got.SubjectID != ps.SubjectID || got.OpenedBy != ps.OpenedBy ||
		!got.CreatedAt.Equal(ps.CreatedAt) || !got.ExpiresAt.Equal(ps.ExpiresAt) {
		t.Fatalf("PortalSession = %+v, want %+v", got, ps)
	}
	if _, err := s.PortalSession(ctx, string(likeness.SessionHash(ps.ID))); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("PortalSession(hash of id) err = %v, want not_found", err)
	}
	// A session created later drops those that expired before it.
	later := newPortalSession(ps.SubjectID)
	later.CreatedAt, later.ExpiresAt = ps.ExpiresAt, ps.ExpiresAt.Add(time.Hour)
	if err := s.CreatePortalSession(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PortalSession(ctx, ps.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("expired session kept: err = %v", err)
	}
	for range 2 {
		if err := s.EndPortalSession(ctx, later.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PortalSession(ctx, later.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("ended session: err = %v, want not_found", err)
	}
}

func testPortalSessionErasure(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "portal-erasure")
	other := NewSubject(t, s, "portal-erasure-other")
	a, b, c := newPortalSession(sub.ID), newPortalSession(sub.ID), newPortalSession(other.ID)
	for _, ps := range []*likeness.PortalSession{a, b, c} {
		if err := s.CreatePortalSession(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.BeginErasure(ctx, sub.ID, t0); err != nil {
		t.Fatal(err)
	}
	for _, ps := range []*likeness.PortalSession{a, b} {
		if _, err := s.PortalSession(ctx, ps.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Fatalf("session of an erased subject: err = %v, want not_found", err)
		}
	}
	if _, err := s.PortalSession(ctx, c.ID); err != nil {
		t.Fatalf("another subject's session ended: %v", err)
	}
	if n, err := s.EndSubjectPortalSessions(ctx, other.ID); err != nil || n != 1 {
		t.Fatalf("EndSubjectPortalSessions = %d, %v; want 1", n, err)
	}
}

func testEndedSession(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	ended := func(id string) bool {
		t.Helper()
		ok, err := s.SessionEnded(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if ended("op-a") {
		t.Fatal("a session never ended reads as ended")
	}
	if err := s.EndSession(ctx, "op-a", t0.Add(30*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, "op-a", t0.Add(30*time.Minute), t0); err != nil {
		t.Fatalf("ending a session twice: %v", err)
	}
	if !ended("op-a") || ended("op-b") {
		t.Fatal("only the session ended reads as ended")
	}
	// Ending another once op-a's cookie has expired may drop op-a's row;
	// until then it stays.
	if err := s.EndSession(ctx, "op-b", t0.Add(time.Hour), t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !ended("op-a") || !ended("op-b") {
		t.Fatal("an ended session was forgotten before its cookie expired")
	}
	if err := s.EndSession(ctx, "", t0, t0); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("a session with no id: %v, want invalid", err)
	}
}
