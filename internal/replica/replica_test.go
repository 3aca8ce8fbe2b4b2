package replica

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNotReadyUntilTheFirstCatchUp(t *testing.T) {
	tr := New(time.Second, nil)
	if tr.Ready() || !tr.Stale() {
		t.Fatal("a replica that never caught up reports ready")
	}
	tr.CaughtUp(5, time.Now())
	if !tr.Ready() || tr.Revision() != 5 {
		t.Fatalf("after catching up: ready %v, revision %d", tr.Ready(), tr.Revision())
	}
}

func TestStaleOnceTheBoundPassesWithoutACatchUp(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := New(time.Second, func() time.Time { return now })
	tr.CaughtUp(1, now)
	now = now.Add(999 * time.Millisecond)
	if tr.Stale() {
		t.Fatal("stale within the bound")
	}
	now = now.Add(2 * time.Millisecond)
	if !tr.Stale() {
		t.Fatal("not stale past the bound")
	}
	tr.CaughtUp(1, now)
	if tr.Stale() {
		t.Fatal("still stale after a fresh catch-up")
	}
}

func TestRevisionsNeverGoBack(t *testing.T) {
	tr := New(time.Second, nil)
	tr.Applied(10)
	tr.CaughtUp(7, time.Now())
	if tr.Revision() != 10 {
		t.Fatalf("revision went back to %d", tr.Revision())
	}
}

func TestWaitForReturnsWhenTheRevisionArrives(t *testing.T) {
	tr := New(time.Second, nil)
	tr.CaughtUp(1, time.Now())
	go func() {
		time.Sleep(5 * time.Millisecond)
		tr.Applied(2)
		tr.Applied(3)
	}()
	if err := tr.WaitFor(context.Background(), 3, 5*time.Second); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
}

func TestWaitForGivesUpWithErrBehind(t *testing.T) {
	tr := New(time.Second, nil)
	tr.CaughtUp(1, time.Now())
	if err := tr.WaitFor(context.Background(), 2, 10*time.Millisecond); !errors.Is(err, ErrBehind) {
		t.Fatalf("WaitFor a revision that never comes: %v, want ErrBehind", err)
	}
	if err := tr.WaitFor(context.Background(), 1, 0); err != nil {
		t.Fatalf("WaitFor an applied revision: %v", err)
	}
}
