package ledger

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// Source is stored history, as Verify reads it. Implementations are the
// storage adapters; Verify calls each method once.
type Source interface {
	// Events calls fn for each stored event in ascending index order (the
	// order storage keeps them in), with the leaf hash stored beside it. It
	// stops and returns fn's error if fn fails.
	Events(ctx context.Context, fn func(e Event, storedLeafHash [32]byte) error) error
	// Checkpoints returns every stored signed checkpoint, in any order.
	Checkpoints(ctx context.Context) ([][]byte, error)
}

// Problem kinds reported by Verify.
const (
	KindEdited                 = "edited"                  // event content no longer matches its stored leaf hash
	KindDeleted                = "deleted"                 // an index is missing
	KindInserted               = "inserted"                // an index appears twice
	KindReordered              = "reordered"               // an index appears after a later one
	KindCheckpointSignature    = "checkpoint_signature"    // a stored checkpoint is not validly signed by the key
	KindCheckpointMismatch     = "checkpoint_mismatch"     // the history no longer has a checkpoint's root
	KindCheckpointInconsistent = "checkpoint_inconsistent" // two good checkpoints contradict each other
	KindTruncated              = "truncated"               // checkpoints cover events no longer stored
)

// Problem is one finding of Verify. Index is the leaf index where the
// problem is located, or -1 when it is not tied to a leaf (a checkpoint that
// fails its signature, or two checkpoints that contradict each other).
type Problem struct {
	Index  int64
	Kind   string
	Detail string
}

// Report is the outcome of Verify.
type Report struct {
	Events      uint64   // events read
	Checkpoints int      // checkpoints read
	Root        [32]byte // root of the tree rebuilt from the events as stored
	Problems    []Problem
	// FirstBadIndex is the lowest Index among Problems, or -1 if no problem
	// is tied to a leaf. Events below it are intact as far as the
	// checkpoints can show.
	FirstBadIndex int64
}

// OK reports whether the history verified with no problem at all.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify replays a stored history and checks it against its checkpoints.
//
// Events are walked in the order Source gives them. Each must carry the next
// index: a gap is reported as "deleted" (or "reordered" if the missing index
// turns up later), a repeated index as "inserted". Each event's leaf hash is
// recomputed, in each leaf version (ResolveVersion); if none gives the stored
// one the event was "edited". The
// recomputed hashes, in stored order, form a tree, and every checkpoint must
// be signed by v ("checkpoint_signature"), cover no more events than are
// stored ("truncated", at the number of events read) and have the tree's
// root at its size ("checkpoint_mismatch"). A mismatch is located at the size
// of the last good checkpoint before it, or exactly, when the stored leaf
// hashes still produce the checkpoint's root, at the first event whose
// content no longer matches them.
//
// Verify returns an error only when the Source fails or ctx ends; tampering
// is reported in the Report. It holds about 64 bytes per event in memory.
// It is kept as one function because it is the verification sequence read
// top to bottom: open the checkpoints, replay the events, compare the roots,
// order the findings.
func Verify(ctx context.Context, src Source, v *Verifier) (*Report, error) {
	signed, err := src.Checkpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: read checkpoints: %w", err)
	}
	r := &Report{Checkpoints: len(signed), FirstBadIndex: -1}
	var opened []Checkpoint
	for i, s := range signed {
		c, err := v.OpenCheckpoint(s)
		if err != nil {
			detail := fmt.Sprintf("stored checkpoint #%d: %v", i, err)
			if u, ok := unverifiedCheckpoint(s); ok {
				detail = fmt.Sprintf("stored checkpoint #%d (claims size %d): %v", i, u.Size, err)
			}
			r.Problems = append(r.Problems, Problem{Index: -1, Kind: KindCheckpointSignature, Detail: detail})
			continue
		}
		opened = append(opened, c)
	}
	slices.SortStableFunc(opened, func(a, b Checkpoint) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), cmp.Compare(a.TimeMicros, b.TimeMicros))
	})

	w := walker{tree: NewTree(), edited: map[uint64][32]byte{}}
	if err := src.Events(ctx, func(e Event, stored [32]byte) error {
		return w.event(ctx, e, stored)
	}); err != nil {
		return nil, fmt.Errorf("ledger: verify: read events: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	for _, s := range w.missing {
		detail := fmt.Sprintf("event %d is missing", s.from)
		if s.to-s.from > 1 {
			detail = fmt.Sprintf("events %d to %d are missing", s.from, s.to-1)
		}
		w.problem(s.from, KindDeleted, detail)
	}
	r.Problems = append(r.Problems, w.problems...)
	r.Events = w.pos
	root, err := w.tree.Root(w.pos)
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	r.Root = root

	storedRoots := w.storedRoots(opened)
	// good and below are the largest size, and the largest smaller size, of
	// a checkpoint the history matched.
	var good, below uint64
	var beyond []Checkpoint
	for i, c := range opened {
		if i > 0 {
			p := opened[i-1]
			if p.Size == c.Size && p.Root != c.Root {
				r.Problems = append(r.Problems, Problem{Index: -1, Kind: KindCheckpointInconsistent,
					Detail: fmt.Sprintf("two checkpoints of size %d have different roots", c.Size)})
			}
			if p.Size < c.Size && p.TimeMicros > c.TimeMicros {
				r.Problems = append(r.Problems, Problem{Index: -1, Kind: KindCheckpointInconsistent,
					Detail: fmt.Sprintf("checkpoint of size %d is dated before the one of size %d", c.Size, p.Size)})
			}
		}
		if c.Size > w.pos {
			beyond = append(beyond, c)
			continue
		}
		root, err := w.tree.Root(c.Size)
		if err != nil {
			return nil, fmt.Errorf("ledger: verify: %w", err)
		}
		if root == c.Root {
			if c.Size > good {
				good, below = c.Size, good
			}
			continue
		}
		lo := good
		if lo == c.Size {
			lo = below
		}
		at := lo
		detail := fmt.Sprintf("history diverges from the checkpoint of size %d at or after index %d", c.Size, lo)
		if sr, ok := storedRoots[c.Size]; ok && sr == c.Root {
			if p, ok := w.firstEdited(lo, c.Size); ok {
				at = p
				detail = fmt.Sprintf("stored leaf hashes match the checkpoint of size %d; event content differs from index %d", c.Size, p)
			}
		}
		r.Problems = append(r.Problems, Problem{Index: int64(at), Kind: KindCheckpointMismatch, Detail: detail})
	}
	if len(beyond) > 0 {
		last := beyond[len(beyond)-1]
		r.Problems = append(r.Problems, Problem{Index: int64(w.pos), Kind: KindTruncated,
			Detail: fmt.Sprintf("%d checkpoint(s) cover up to %d events but %d are stored", len(beyond), last.Size, w.pos)})
	}

	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(b.Index>>63, a.Index>>63), cmp.Compare(a.Index, b.Index))
	})
	for _, p := range r.Problems {
		if p.Index >= 0 && (r.FirstBadIndex < 0 || p.Index < r.FirstBadIndex) {
			r.FirstBadIndex = p.Index
		}
	}
	return r, nil
}

// span is a half-open range of missing indices.
type span struct{ from, to uint64 }

// walker holds the state of Verify's pass over the events.
type walker struct {
	tree     *Tree
	pos      uint64 // events read so far
	expected uint64 // the index the next event should carry
	missing  []span
	edited   map[uint64][32]byte // position -> stored leaf hash, where content no longer matches
	problems []Problem
}

func (w *walker) problem(index uint64, kind, detail string) {
	w.problems = append(w.problems, Problem{Index: int64(min(index, math.MaxInt64)), Kind: kind, Detail: detail})
}

func (w *walker) event(ctx context.Context, e Event, stored [32]byte) error {
	if w.pos&0x3fff == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	switch {
	case e.Index == w.expected:
		w.expected++
	case e.Index > w.expected:
		w.missing = append(w.missing, span{w.expected, e.Index})
		w.expected = e.Index + 1
	case w.takeMissing(e.Index):
		w.problem(e.Index, KindReordered, fmt.Sprintf("event %d is stored after event %d", e.Index, w.expected-1))
	default:
		w.problem(e.Index, KindInserted, fmt.Sprintf("index %d appears again at position %d", e.Index, w.pos))
	}
	// A history written before leaf version 2 holds version-1 leaves of the
	// same fields: the stored hash names the version.
	h := stored
	if _, ok := e.ResolveVersion(stored); !ok {
		b, err := e.Leaf()
		if err != nil {
			b = nil // an unencodable event matches no stored hash
		}
		h = LeafHash(b)
		w.problem(e.Index, KindEdited, fmt.Sprintf("event %d no longer matches its stored leaf hash", e.Index))
		w.edited[w.pos] = stored
	}
	w.tree.Append(h)
	w.pos++
	return nil
}

// takeMissing removes index from the missing spans, reporting whether it was
// there.
func (w *walker) takeMissing(index uint64) bool {
	for i, s := range w.missing {
		if index < s.from || index >= s.to {
			continue
		}
		var repl []span
		if s.from < index {
			repl = append(repl, span{s.from, index})
		}
		if index+1 < s.to {
			repl = append(repl, span{index + 1, s.to})
		}
		w.missing = slices.Replace(w.missing, i, i+1, repl...)
		return true
	}
	return false
}

// firstEdited returns the lowest position in [from, to) whose content no
// longer matches its stored leaf hash.
func (w *walker) firstEdited(from, to uint64) (uint64, bool) {
	first, found := to, false
	for p := range w.edited {
		if p >= from && p < first {
			first, found = p, true
		}
	}
	return first, found
}

// storedRoots returns, for each checkpoint size within the history, the root
// of the tree of the stored (not recomputed) leaf hashes. It is only needed,
// and only computed, when some content no longer matches its stored hash.
func (w *walker) storedRoots(cps []Checkpoint) map[uint64][32]byte {
	if len(w.edited) == 0 {
		return nil
	}
	roots := make(map[uint64][32]byte)
	rng := rangeFactory.NewEmptyRange(0)
	var p uint64
	for _, c := range cps {
		if c.Size > w.pos {
			break
		}
		for ; p < c.Size; p++ {
			h, ok := w.edited[p]
			if !ok {
				h, _ = w.tree.LeafHash(p)
			}
			_ = rng.Append(h[:], nil) // cannot fail on a range built here
		}
		if c.Size == 0 {
			continue
		}
		root, _ := rng.GetRootHash(nil)
		roots[c.Size] = [32]byte(root)
	}
	return roots
}
