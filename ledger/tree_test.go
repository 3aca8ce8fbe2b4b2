package ledger

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

func leafFor(i uint64) [32]byte { return LeafHash(fmt.Appendf(nil, "leaf %d", i)) }

// buildTrees returns our tree and merkle's reference tree with n equal leaves.
func buildTrees(t testing.TB, n uint64) (*Tree, *testonly.Tree) {
	t.Helper()
	ours, ref := NewTree(), testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		h := leafFor(i)
		if got := ours.Append(h); got != i {
			t.Fatalf("Append returned index %d, want %d", got, i)
		}
		ref.Append(h[:])
	}
	return ours, ref
}

// checkSize compares roots and proofs at size against the reference tree and
// merkle's own verifiers.
func checkSize(t *testing.T, ours *Tree, ref *testonly.Tree, size uint64, indices, froms []uint64) {
	t.Helper()
	root, err := ours.Root(size)
	if err != nil {
		t.Fatalf("Root(%d): %v", size, err)
	}
	if want := ref.HashAt(size); !bytes.Equal(root[:], want) {
		t.Fatalf("Root(%d) = %x, want %x", size, root, want)
	}
	for _, i := range indices {
		p, err := ours.InclusionProof(i, size)
		if err != nil {
			t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
		}
		leaf := leafFor(i)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, leaf[:], slices32(p), root[:]); err != nil {
			t.Fatalf("merkle rejects InclusionProof(%d, %d): %v", i, size, err)
		}
		if err := VerifyInclusion(i, size, leaf, p, root); err != nil {
			t.Fatalf("VerifyInclusion(%d, %d): %v", i, size, err)
		}
		if err := VerifyInclusion(i, size, leafFor(i+1), p, root); err == nil {
			t.Fatalf("VerifyInclusion(%d, %d) accepted the wrong leaf", i, size)
		}
	}
	for _, from := range froms {
		p, err := ours.ConsistencyProof(from, size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", from, size, err)
		}
		old, _ := ours.Root(from)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, size, slices32(p), old[:], root[:]); err != nil {
			t.Fatalf("merkle rejects ConsistencyProof(%d, %d): %v", from, size, err)
		}
		if err := VerifyConsistency(from, size, p, old, root); err != nil {
			t.Fatalf("VerifyConsistency(%d, %d): %v", from, size, err)
		}
		if from > 0 && from < size {
			if err := VerifyConsistency(from, size, p, leafFor(size+7), root); err == nil {
				t.Fatalf("VerifyConsistency(%d, %d) accepted a wrong old root", from, size)
			}
		}
	}
}

func TestTreeAgreesWithMerkleAtEverySmallSize(t *testing.T) {
	ours, ref := buildTrees(t, 70)
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
}

func TestTreeAgreesWithMerkleAtRandomSizes(t *testing.T) {
	const n = 5000
	ours, ref := buildTrees(t, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		size := 1 + rng.Uint64N(n)
		checkSize(t, ours, ref, size, []uint64{rng.Uint64N(size), 0, size - 1}, []uint64{rng.Uint64N(size + 1), 1, size})
	}
}

func TestTreeRefusesOutOfRange(t *testing.T) {
	tr, _ := buildTrees(t, 5)
	if _, err := tr.Root(6); err == nil {
		t.Error("Root(6) of a 5-leaf tree succeeded")
	}
	if _, err := tr.InclusionProof(5, 5); err == nil {
		t.Error("InclusionProof(5, 5) succeeded")
	}
	if _, err := tr.InclusionProof(0, 6); err == nil {
		t.Error("InclusionProof(0, 6) succeeded")
	}
	if _, err := tr.ConsistencyProof(4, 3); err == nil {
		t.Error("ConsistencyProof(4, 3) succeeded")
	}
	if _, err := tr.ConsistencyProof(3, 6); err == nil {
		t.Error("ConsistencyProof(3, 6) succeeded")
	}
	empty, err := NewTree().Root(0)
	if err != nil || !bytes.Equal(empty[:], rfc6962.DefaultHasher.EmptyRoot()) {
		t.Errorf("Root(0) of empty tree = %x, %v; want the RFC 6962 empty root", empty, err)
	}
}

func TestTreeIsSafeForConcurrentUse(t *testing.T) {
	tr := NewTree()
	tr.Append(leafFor(0))
	appendWhileProving(t, tr, func(i uint64) { tr.Append(leafFor(i)) }, 2)
}

// appendWhileProving appends leaves 1 to 1,999 with add in one goroutine
// while four others prove and verify the inclusion of leaf size/at in tr
// at whatever size it has reached.
func appendWhileProving(t *testing.T, tr *Tree, add func(i uint64), at uint64) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i < 2000; i++ {
			add(i)
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 500 {
				size := tr.Size()
				root, err := tr.Root(size)
				if err != nil {
					t.Error(err)
					return
				}
				i := size / at
				p, err := tr.InclusionProof(i, size)
				if err != nil {
					t.Error(err)
					return
				}
				if err := VerifyInclusion(i, size, leafFor(i), p, root); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkInclusionProof(b *testing.B) {
	const n = 1 << 20
	tr := NewTree()
	for i := range uint64(n) {
		tr.Append(leafFor(i))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for b.Loop() {
		size := n - rng.Uint64N(1000)
		if _, err := tr.InclusionProof(rng.Uint64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}
