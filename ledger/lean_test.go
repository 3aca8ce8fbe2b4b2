package ledger

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// storedLeaves is a LeafSource over leaves kept in a slice, as a database
// keeps them; reads counts the calls.
type storedLeaves struct {
	mu     sync.Mutex
	leaves [][32]byte
	reads  int
	edit   map[uint64][32]byte // leaves the "storage" answers differently
}

func (s *storedLeaves) add(h [32]byte) {
	s.mu.Lock()
	s.leaves = append(s.leaves, h)
	s.mu.Unlock()
}

func (s *storedLeaves) read(from, to uint64) ([][32]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if to > uint64(len(s.leaves)) {
		to = uint64(len(s.leaves))
	}
	out := append([][32]byte(nil), s.leaves[from:to]...)
	for i := range out {
		if h, ok := s.edit[from+uint64(i)]; ok {
			out[i] = h
		}
	}
	return out, nil
}

// buildLean returns a lean tree with small blocks (4 leaves, 2 kept), its
// storage and the reference tree, all with n equal leaves.
func buildLean(t testing.TB, n uint64) (*Tree, *storedLeaves, *testonly.Tree) {
	t.Helper()
	src := &storedLeaves{}
	ours, ref := newLeanTree(src.read, 2, 2), testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		h := leafFor(i)
		src.add(h)
		if got := ours.Append(h); got != i {
			t.Fatalf("Append returned index %d, want %d", got, i)
		}
		ref.Append(h[:])
	}
	return ours, src, ref
}

func TestLeanTreeAgreesWithMerkleAtEverySmallSize(t *testing.T) {
	ours, src, ref := buildLean(t, 70)
	if held := len(ours.levels[0]); held > 16 {
		t.Fatalf("lean tree holds %d leaves of 70, want at most 4 blocks of 4", held)
	}
	for size := uint64(0); size <= 70; size++ {
		var indices, froms []uint64
		for i := range size {
			indices = append(indices, i)
		}
		for f := uint64(0); f <= size; f++ {
			froms = append(froms, f)
		}
		checkSize(t, ours, ref, size, indices, froms)
	}
	if src.reads == 0 {
		t.Fatal("no proof read older leaves back from storage: the test does not reach the lean path")
	}
	for i := range uint64(70) {
		if h, err := ours.LeafHash(i); err != nil || h != leafFor(i) {
			t.Fatalf("LeafHash(%d) = %x, %v", i, h, err)
		}
	}
}

func TestLeanTreeAgreesWithMerkleAtRandomSizes(t *testing.T) {
	const n = 5000
	src := &storedLeaves{}
	ours, ref := NewLeanTree(src.read), testonly.New(rfc6962.DefaultHasher)
	for i := range uint64(n) {
		h := leafFor(i)
		src.add(h)
		ours.Append(h)
		ref.Append(h[:])
	}
	if held := len(ours.levels[0]); held > 2*keepBlocks<<leanLevel {
		t.Fatalf("lean tree holds %d leaves", held)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		size := 1 + rng.Uint64N(n)
		checkSize(t, ours, ref, size, []uint64{rng.Uint64N(size), 0, size - 1}, []uint64{rng.Uint64N(size + 1), 1, size})
	}
}

func TestLeanTreeRefusesChangedStorage(t *testing.T) {
	ours, src, _ := buildLean(t, 64)
	src.edit = map[uint64][32]byte{5: leafFor(999)}
	if _, err := ours.InclusionProof(4, 64); err == nil {
		t.Fatal("an inclusion proof was built over a leaf storage changed")
	}
	if _, err := ours.LeafHash(5); err == nil {
		t.Fatal("LeafHash returned a leaf storage changed")
	}
	// A proof that needs no changed block still works.
	if _, err := ours.InclusionProof(40, 64); err != nil {
		t.Fatal(err)
	}
}

func TestTreeStateRebuildsTheSameTree(t *testing.T) {
	const n = 1100
	full, ref := buildTrees(t, n)
	for _, size := range []uint64{0, 1, 5, 255, 256, 257, 300, 1024, 1099, 1100} {
		var buf bytes.Buffer
		if err := full.WriteState(&buf, size); err != nil {
			t.Fatal(err)
		}
		src := &storedLeaves{}
		for i := range uint64(n) {
			src.add(leafFor(i))
		}
		got, err := ReadLeanTree(&buf, src.read)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got.Size() != size {
			t.Fatalf("rebuilt size %d, want %d", got.Size(), size)
		}
		want, _ := full.Root(size)
		if root, err := got.Root(size); err != nil || root != want {
			t.Fatalf("size %d: rebuilt root %x, %v; want %x", size, root, err, want)
		}
		// It grows on as the original did.
		for i := size; i < n; i++ {
			got.Append(leafFor(i))
		}
		for _, s := range []uint64{size, n} {
			if s == 0 {
				continue
			}
			checkSize(t, got, ref, s, []uint64{0, s / 2, s - 1}, []uint64{1, s / 2, s})
		}
	}
}

func TestReadLeanTreeRefusesWhatIsNotAState(t *testing.T) {
	full, _ := buildTrees(t, 300)
	var buf bytes.Buffer
	if err := full.WriteState(&buf, 300); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for _, in := range [][]byte{nil, b[:5], b[:len(b)-1], append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, b[8:]...)} {
		if _, err := ReadLeanTree(bytes.NewReader(in), nil); !errors.Is(err, ErrTreeState) {
			t.Errorf("ReadLeanTree(%d bytes) = %v, want ErrTreeState", len(in), err)
		}
	}
}

func TestLeanTreeIsSafeForConcurrentUse(t *testing.T) {
	src := &storedLeaves{}
	tr := newLeanTree(src.read, 2, 2)
	src.add(leafFor(0))
	tr.Append(leafFor(0))
	appendWhileProving(t, tr, func(i uint64) {
		src.add(leafFor(i))
		tr.Append(leafFor(i))
	}, 3)
}

func BenchmarkLeanInclusionProofOfAnOldLeaf(b *testing.B) {
	const n = 1 << 20
	src := &storedLeaves{}
	tr := NewLeanTree(src.read)
	for i := range uint64(n) {
		src.add(leafFor(i))
		tr.Append(leafFor(i))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for b.Loop() {
		if _, err := tr.InclusionProof(rng.Uint64N(n/2), n); err != nil {
			b.Fatal(err)
		}
	}
}
