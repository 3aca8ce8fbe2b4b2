package storetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"LinksRoundTripByID", testLinkRoundTrip},
		Test{"LinkIsUsedOnce", testLinkUsedOnce},
		Test{"ExpiredLinkIsGone", testLinkExpired},
		Test{"ConcurrentUseLinkHasOneWinner", testLinkConcurrentUse},
	)
}

func newLink(kind string, ttl time.Duration) *likeness.Link {
	return &likeness.Link{ID: likeness.NewLinkID(), Kind: kind, SubjectID: likeness.NewID("sub"),
		Purposes: []string{"ai-training", "voice-transcription"}, ReturnURL: "https://app.example/done",
		CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
}

func testLinkRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	l := newLink(likeness.LinkConsent, 30*time.Minute)
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := s.Link(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != l.ID || got.Kind != l.Kind || got.SubjectID != l.SubjectID || !slices.Equal(got.Purposes, l.Purposes) ||
		got.ReturnURL != l.ReturnURL || !got.CreatedAt.Equal(l.CreatedAt) || !got.ExpiresAt.Equal(l.ExpiresAt) || got.Used() {
		t.Fatalf("Link = %+v, want %+v", got, l)
	}
	if _, err := s.Link(ctx, likeness.NewLinkID()); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Link(unknown) err = %v, want not_found", err)
	}
	if _, err := s.UseLink(ctx, likeness.NewLinkID(), t0); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("UseLink(unknown) err = %v, want not_found", err)
	}
	// A link is found by its id only, never by its hash.
	if _, err := s.Link(ctx, string(likeness.LinkHash(l.ID))); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Link(hash of id) err = %v, want not_found", err)
	}
}

func testLinkUsedOnce(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	l := newLink(likeness.LinkPortal, 15*time.Minute)
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	got, err := s.UseLink(ctx, l.ID, at)
	if err != nil {
		t.Fatalf("first UseLink: %v", err)
	}
	if !got.UsedAt.Equal(at) || got.SubjectID != l.SubjectID {
		t.Fatalf("UseLink = %+v, want used at %v", got, at)
	}
	if _, err := s.UseLink(ctx, l.ID, at.Add(time.Second)); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("second UseLink err = %v, want conflict", err)
	}
	// Used stays used, even once it has also expired.
	if _, err := s.UseLink(ctx, l.ID, at.Add(time.Hour)); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("UseLink of a used, expired link err = %v, want conflict", err)
	}
	if got, err := s.Link(ctx, l.ID); err != nil || !got.UsedAt.Equal(at) {
		t.Fatalf("Link after use = %+v, %v", got, err)
	}
}

func testLinkExpired(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	l := newLink(likeness.LinkConsent, 30*time.Minute)
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseLink(ctx, l.ID, l.ExpiresAt); likeness.ErrorCode(err) != likeness.EGONE {
		t.Fatalf("UseLink at expiry err = %v, want gone", err)
	}
	if got, err := s.Link(ctx, l.ID); err != nil || got.Used() || !got.Expired(l.ExpiresAt) {
		t.Fatalf("Link after a refused use = %+v, %v; want unused and expired", got, err)
	}
}

func testLinkConcurrentUse(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	l := newLink(likeness.LinkPortal, 15*time.Minute)
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := s.UseLink(ctx, l.ID, t0.Add(time.Second))
			switch likeness.ErrorCode(err) {
			case "":
				wins.Add(1)
			case likeness.ECONFLICT:
				conflicts.Add(1)
			default:
				t.Errorf("UseLink: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 7 {
		t.Fatalf("%d uses succeeded and %d conflicted; want exactly 1 and 7", wins.Load(), conflicts.Load())
	}
}
