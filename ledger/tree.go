package ledger

import (
	"errors"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Tree is an in-memory Merkle tree of leaf hashes. It keeps the hash of
// perfect subtrees, by level, so roots and proofs for any size up to Size
// are assembled from stored nodes rather than recomputed (O(log n) per
// call). A tree from NewTree keeps every node, about 64 bytes per leaf; a
// lean tree (NewLeanTree) keeps the nodes of its recent leaves and, for
// older ones, only those at level 8 and above (a quarter byte per leaf),
// reading older leaf hashes back from storage when a proof needs them. A
// Tree is safe for concurrent use.
type Tree struct {
	mu sync.RWMutex
	// levels[l][i] is the root of leaves [(base[l]+i)<<l, (base[l]+i+1)<<l).
	// base is zero except below leanLevel in a lean tree, whose older
	// nodes are dropped.
	levels [][][32]byte
	base   []uint64
	rng    *compact.Range // compact range [0, size), for appending
	lean   *leanSource    // nil: every node is kept
}

// NewTree returns an empty tree that keeps every node.
func NewTree() *Tree {
	return &Tree{rng: rangeFactory.NewEmptyRange(0)}
}

// Append adds a leaf hash and returns its index.
func (t *Tree) Append(leafHash [32]byte) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	index := t.rng.End()
	// Append only fails on a corrupted range, which this type never builds.
	if err := t.rng.Append(leafHash[:], t.visit); err != nil {
		panic("ledger: tree append: " + err.Error())
	}
	if t.lean != nil && t.rng.End()%t.lean.block() == 0 {
		t.trim()
	}
	return index
}

// visit stores each new perfect-subtree node; compact.Range reports them in
// order, so each lands at the end of its level.
func (t *Tree) visit(id compact.NodeID, hash []byte) {
	for uint(len(t.levels)) <= id.Level {
		t.levels = append(t.levels, nil)
		t.base = append(t.base, 0)
	}
	t.levels[id.Level] = append(t.levels[id.Level], [32]byte(hash))
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rng.End()
}

// LeafHash returns the leaf hash at index. A lean tree may read it from
// storage (and fails if storage does not answer or does not match).
func (t *Tree) LeafHash(index uint64) ([32]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if index >= t.rng.End() {
		return [32]byte{}, fmt.Errorf("ledger: leaf %d out of range (tree size %d)", index, t.rng.End())
	}
	return t.node(compact.NodeID{Level: 0, Index: index}, nil)
}

// Root returns the root hash of the tree's first size leaves; size 0 gives
// the RFC 6962 empty root.
func (t *Tree) Root(size uint64) ([32]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size > t.rng.End() {
		return [32]byte{}, fmt.Errorf("ledger: root at size %d beyond tree size %d", size, t.rng.End())
	}
	if size == 0 {
		return [32]byte(rfc6962.DefaultHasher.EmptyRoot()), nil
	}
	hs, err := t.hashes(compact.RangeNodes(0, size, nil))
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: root at size %d: %w", size, err)
	}
	r, err := rangeFactory.NewRange(0, size, hs)
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: root at size %d: %w", size, err)
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: root at size %d: %w", size, err)
	}
	return [32]byte(root), nil
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size.
func (t *Tree) InclusionProof(index, size uint64) ([][32]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size > t.rng.End() {
		return nil, fmt.Errorf("ledger: inclusion proof at size %d beyond tree size %d", size, t.rng.End())
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof: %w", err)
	}
	return t.rehash(nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes from and to.
func (t *Tree) ConsistencyProof(from, to uint64) ([][32]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if to > t.rng.End() {
		return nil, fmt.Errorf("ledger: consistency proof to size %d beyond tree size %d", to, t.rng.End())
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("ledger: consistency proof: %w", err)
	}
	return t.rehash(nodes)
}

// hashes looks up stored perfect-subtree nodes. The caller holds t.mu and
// guarantees every node lies within the tree.
func (t *Tree) hashes(ids []compact.NodeID) ([][]byte, error) {
	buf := make([][32]byte, len(ids))
	out := make([][]byte, len(ids))
	var blocks map[uint64][][][32]byte // older blocks read back, for a lean tree
	if t.lean != nil {
		blocks = map[uint64][][][32]byte{}
	}
	for i, id := range ids {
		h, err := t.node(id, blocks)
		if err != nil {
			return nil, err
		}
		buf[i] = h
		out[i] = buf[i][:]
	}
	return out, nil
}

// node returns a stored node, or for a lean tree one rebuilt from its
// block's leaves (cached in blocks for the rest of one call). The caller
// holds t.mu.
func (t *Tree) node(id compact.NodeID, blocks map[uint64][][][32]byte) ([32]byte, error) {
	if id.Index >= t.base[id.Level] {
		return t.levels[id.Level][id.Index-t.base[id.Level]], nil
	}
	return t.lean.node(t, id, blocks)
}

func (t *Tree) rehash(nodes proof.Nodes) ([][32]byte, error) {
	stored, err := t.hashes(nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("ledger: build proof: %w", err)
	}
	hs, err := nodes.Rehash(stored, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("ledger: build proof: %w", err)
	}
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = [32]byte(h)
	}
	return out, nil
}

// ErrProof is wrapped by the errors of VerifyInclusion and VerifyConsistency
// when a proof does not lead to the expected root.
var ErrProof = errors.New("proof does not verify")

// VerifyInclusion checks that proof shows leafHash at index in the tree of
// the given size with the given root.
func VerifyInclusion(index, size uint64, leafHash [32]byte, proofNodes [][32]byte, root [32]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], slices32(proofNodes), root[:]); err != nil {
		return fmt.Errorf("ledger: inclusion of leaf %d in tree of size %d: %w: %v", index, size, ErrProof, err)
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of size from with root1
// is a prefix of the tree of size to with root2.
func VerifyConsistency(from, to uint64, proofNodes [][32]byte, root1, root2 [32]byte) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, slices32(proofNodes), root1[:], root2[:]); err != nil {
		return fmt.Errorf("ledger: consistency of size %d with size %d: %w: %v", from, to, ErrProof, err)
	}
	return nil
}

func slices32(hs [][32]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
