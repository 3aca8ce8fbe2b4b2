package ledger

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
)

type storedEvent struct {
	event Event
	hash  [32]byte
}

// sliceSource is history kept in memory, standing in for storage.
type sliceSource struct {
	events      []storedEvent
	checkpoints [][]byte
}

func (s *sliceSource) Events(ctx context.Context, fn func(Event, [32]byte) error) error {
	for _, se := range s.events {
		if err := fn(se.event, se.hash); err != nil {
			return err
		}
	}
	return nil
}

func (s *sliceSource) Checkpoints(ctx context.Context) ([][]byte, error) {
	return s.checkpoints, nil
}

// history builds n honest events with a checkpoint every `every` events
// (and at n), signed by s.
func history(t testing.TB, s *Signer, n, every int) *sliceSource {
	t.Helper()
	src := &sliceSource{}
	tree := NewTree()
	for i := range uint64(n) {
		e := testEvent(i)
		h := LeafHash(e.LeafData())
		src.events = append(src.events, storedEvent{e, h})
		tree.Append(h)
		if size := i + 1; size%uint64(every) == 0 || size == uint64(n) {
			root, _ := tree.Root(size)
			cp, err := s.SignCheckpoint(Checkpoint{Size: size, Root: root, TimeMicros: t0 + int64(size)})
			if err != nil {
				t.Fatal(err)
			}
			src.checkpoints = append(src.checkpoints, cp)
		}
	}
	// Storage returns checkpoints in any order.
	slices.Reverse(src.checkpoints)
	return src
}

func TestVerifyPassesACleanHistory(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	src := history(t, s, 40, 10)
	r, err := Verify(context.Background(), src, s.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.FirstBadIndex != -1 || r.Events != 40 || r.Checkpoints != 4 {
		t.Fatalf("report = %+v, want a clean one", r)
	}
	want, _ := s.Verifier().OpenCheckpoint(src.checkpoints[0])
	if r.Root != want.Root {
		t.Errorf("Root = %x, want the newest checkpoint's %x", r.Root, want.Root)
	}
	empty, err := Verify(context.Background(), &sliceSource{}, s.Verifier())
	if err != nil || !empty.OK() || empty.Events != 0 {
		t.Errorf("empty history: %+v, %v", empty, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	other := testSigner(t, "likeness.example", "b")

	tests := []struct {
		name     string
		tamper   func(src *sliceSource)
		kind     string
		index    int64 // of the problem of that kind
		firstBad int64
	}{
		{"purpose edited", func(src *sliceSource) {
			src.events[25].event.Purpose = "marketing"
		}, KindEdited, 25, 25},
		{"purpose edited and leaf hash recomputed", func(src *sliceSource) {
			src.events[25].event.Purpose = "marketing"
			src.events[25].hash = LeafHash(src.events[25].event.LeafData())
		}, KindCheckpointMismatch, 20, 20},
		{"event deleted", func(src *sliceSource) {
			src.events = slices.Delete(src.events, 20, 21)
		}, KindDeleted, 20, 20},
		{"event deleted between checkpoints", func(src *sliceSource) {
			src.events = slices.Delete(src.events, 25, 26)
		}, KindDeleted, 25, 20},
		{"two events swapped", func(src *sliceSource) {
			src.events[20], src.events[21] = src.events[21], src.events[20]
		}, KindReordered, 20, 20},
		{"event inserted", func(src *sliceSource) {
			e := testEvent(20)
			e.Type, e.ID = TypeGrant, "forged"
			src.events = slices.Insert(src.events, 21, storedEvent{e, LeafHash(e.LeafData())})
		}, KindInserted, 20, 20},
		{"event inserted with later events renumbered", func(src *sliceSource) {
			e := testEvent(20)
			e.ID = "forged"
			src.events = slices.Insert(src.events, 20, storedEvent{e, [32]byte{}})
			for i := 20; i < len(src.events); i++ {
				src.events[i].event.Index = uint64(i)
				src.events[i].hash = LeafHash(src.events[i].event.LeafData())
			}
		}, KindCheckpointMismatch, 20, 20},
		{"tail truncated", func(src *sliceSource) {
			src.events = src.events[:35]
		}, KindTruncated, 35, 35},
		{"checkpoint forged with another key", func(src *sliceSource) {
			root := LeafHash([]byte("forged"))
			src.checkpoints[1], _ = other.SignCheckpoint(Checkpoint{Size: 30, Root: root, TimeMicros: t0 + 30})
		}, KindCheckpointSignature, -1, -1},
		{"checkpoint root edited", func(src *sliceSource) {
			src.checkpoints[1] = bytes.Replace(src.checkpoints[1], []byte("\n30\n"), []byte("\n31\n"), 1)
		}, KindCheckpointSignature, -1, -1},
		{"false checkpoint signed with the real key", func(src *sliceSource) {
			cp, _ := s.SignCheckpoint(Checkpoint{Size: 30, Root: LeafHash([]byte("forged")), TimeMicros: t0 + 31})
			src.checkpoints = append(src.checkpoints, cp)
		}, KindCheckpointInconsistent, -1, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := history(t, s, 40, 10)
			tt.tamper(src)
			r, err := Verify(context.Background(), src, s.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() {
				t.Fatal("Verify found nothing")
			}
			if p := problemOf(r.Problems, tt.kind, tt.index); p.Kind == "" {
				t.Errorf("no %s problem at %d in %+v", tt.kind, tt.index, r.Problems)
			}
			if r.FirstBadIndex != tt.firstBad {
				t.Errorf("FirstBadIndex = %d, want %d; problems %+v", r.FirstBadIndex, tt.firstBad, r.Problems)
			}
		})
	}
}

func problemOf(ps []Problem, kind string, index int64) Problem {
	for _, p := range ps {
		if p.Kind == kind && p.Index == index {
			return p
		}
	}
	return Problem{}
}

func TestVerifyReportsSourceErrors(t *testing.T) {
	s := testSigner(t, "likeness.example", "a")
	boom := errors.New("disk on fire")
	_, err := Verify(context.Background(), failingSource{boom}, s.Verifier())
	if !errors.Is(err, boom) {
		t.Errorf("Verify = %v, want the source's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, history(t, s, 5, 5), s.Verifier()); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context = %v", err)
	}
}

type failingSource struct{ err error }

func (f failingSource) Events(context.Context, func(Event, [32]byte) error) error { return f.err }
func (f failingSource) Checkpoints(context.Context) ([][]byte, error)             { return nil, nil }

func BenchmarkVerify1M(b *testing.B) {
	s := testSigner(b, "likeness.example", "a")
	src := history(b, s, 1_000_000, 10_000)
	b.ResetTimer()
	for b.Loop() {
		r, err := Verify(context.Background(), src, s.Verifier())
		if err != nil {
			b.Fatal(err)
		}
		if !r.OK() {
			b.Fatalf("problems: %+v", r.Problems[:1])
		}
	}
}
