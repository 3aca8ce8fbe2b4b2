package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// LeafSource reads the stored leaf hashes of leaves [from, to), in order.
// A lean tree calls it, holding its read lock, when a root, proof or leaf
// needs nodes of leaves it no longer keeps; it must be safe for concurrent
// use. What it returns is checked against the node the tree keeps above
// those leaves, so storage that was changed is refused, not believed.
type LeafSource func(from, to uint64) ([][32]byte, error)

const (
	// leanLevel: a lean tree keeps every node at this level and above, one
	// per 256 leaves and level, about a quarter byte per leaf in all.
	leanLevel = 8
	// keepBlocks: and every node below it over the most recent 16 to 32
	// blocks of 256 leaves, so receipts of recent events need no reads.
	keepBlocks = 16
)

// leanSource is what a lean tree knows beyond the nodes it keeps.
type leanSource struct {
	read  LeafSource
	level uint   // leanLevel, smaller in tests
	keep  uint64 // keepBlocks, smaller in tests
}

func (l *leanSource) block() uint64 { return 1 << l.level }

// NewLeanTree returns an empty tree that keeps only the nodes a lean tree
// keeps (see Tree) and reads older leaf hashes from src when it needs them.
func NewLeanTree(src LeafSource) *Tree {
	return newLeanTree(src, leanLevel, keepBlocks)
}

func newLeanTree(src LeafSource, level uint, keep uint64) *Tree {
	t := NewTree()
	t.lean = &leanSource{read: src, level: level, keep: keep}
	return t
}

// trim drops the nodes below the lean level over all but the most recent
// blocks, once twice as many are held as kept (so trimming costs O(1) per
// leaf). The caller holds the write lock, at a block boundary.
func (t *Tree) trim() {
	l, size := t.lean, t.rng.End()
	if size-t.base[0] <= 2*l.keep*l.block() {
		return
	}
	start := size - l.keep*l.block()
	for lv := uint(0); lv < l.level && lv < uint(len(t.levels)); lv++ {
		nb := start >> lv
		t.levels[lv] = append([][32]byte(nil), t.levels[lv][nb-t.base[lv]:]...)
		t.base[lv] = nb
	}
}

// node rebuilds a node below the lean level from its block's stored
// leaves, after checking that they hash to the node kept above them. The
// caller holds the tree's lock; blocks caches what one call has read.
func (l *leanSource) node(t *Tree, id compact.NodeID, blocks map[uint64][][][32]byte) ([32]byte, error) {
	shift := l.level - id.Level
	b := id.Index >> shift
	mini, ok := blocks[b]
	if !ok {
		from, to := b<<l.level, (b+1)<<l.level
		leaves, err := l.read(from, to)
		if err != nil {
			return [32]byte{}, fmt.Errorf("ledger: read leaves [%d, %d): %w", from, to, err)
		}
		if uint64(len(leaves)) != l.block() {
			return [32]byte{}, fmt.Errorf("ledger: read leaves [%d, %d): got %d", from, to, len(leaves))
		}
		mini = blockNodes(leaves, l.level)
		if mini[l.level][0] != t.levels[l.level][b] {
			return [32]byte{}, fmt.Errorf("ledger: stored leaves [%d, %d) do not hash to the tree's node over them: storage was changed", from, to)
		}
		if blocks != nil {
			blocks[b] = mini
		}
	}
	return mini[id.Level][id.Index-b<<shift], nil
}

// blockNodes returns every node over 1<<level leaves, by level.
func blockNodes(leaves [][32]byte, level uint) [][][32]byte {
	out := make([][][32]byte, level+1)
	out[0] = leaves
	for lv := uint(1); lv <= level; lv++ {
		prev := out[lv-1]
		cur := make([][32]byte, len(prev)/2)
		for i := range cur {
			cur[i] = [32]byte(rfc6962.DefaultHasher.HashChildren(prev[2*i][:], prev[2*i+1][:]))
		}
		out[lv] = cur
	}
	return out
}

// ErrTreeState is wrapped by ReadLeanTree's errors for input that is not a
// tree state WriteState wrote.
var ErrTreeState = errors.New("ledger: not a tree state")

// maxStateSize bounds the size ReadLeanTree accepts, so a corrupt size
// cannot ask for an absurd allocation (2^40 leaves is far beyond any ledger).
const maxStateSize = 1 << 40

// WriteState writes what ReadLeanTree needs to rebuild a lean tree of the
// first size leaves (size ≤ Size) without reading them all: the size, the
// lean level, every node at that level and above, and the leaf hashes after
// the last whole block. It is about a quarter byte per leaf. The format
// carries no checksum: the caller's file does.
func (t *Tree) WriteState(w io.Writer, size uint64) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size > t.rng.End() {
		return fmt.Errorf("ledger: tree state at size %d beyond tree size %d", size, t.rng.End())
	}
	level := uint(leanLevel)
	if t.lean != nil {
		level = t.lean.level
	}
	var h [9]byte
	binary.LittleEndian.PutUint64(h[:], size)
	h[8] = byte(level)
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("ledger: write tree state: %w", err)
	}
	buf := make([]byte, 0, 32*1024)
	flush := func(force bool) error {
		if len(buf) > 0 && (force || len(buf)+32 > cap(buf)) {
			_, err := w.Write(buf)
			buf = buf[:0]
			return err
		}
		return nil
	}
	for lv := level; size>>lv > 0; lv++ {
		for _, n := range t.levels[lv][:size>>lv] {
			buf = append(buf, n[:]...)
			if err := flush(false); err != nil {
				return fmt.Errorf("ledger: write tree state: %w", err)
			}
		}
	}
	for i := size &^ (1<<level - 1); i < size; i++ {
		n, err := t.node(compact.NodeID{Level: 0, Index: i}, nil)
		if err != nil {
			return err
		}
		buf = append(buf, n[:]...)
		if err := flush(false); err != nil {
			return fmt.Errorf("ledger: write tree state: %w", err)
		}
	}
	if err := flush(true); err != nil {
		return fmt.Errorf("ledger: write tree state: %w", err)
	}
	return nil
}

// ReadLeanTree rebuilds a lean tree from what WriteState wrote, reading
// older leaves from src when a proof needs them (see NewLeanTree). It checks
// the shape, not the hashes: compare Root(Size()) with a root the caller
// trusts.
func ReadLeanTree(r io.Reader, src LeafSource) (*Tree, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTreeState, err)
	}
	size, level := binary.LittleEndian.Uint64(h[:]), uint(h[8])
	if size > maxStateSize || level == 0 || level > 16 {
		return nil, fmt.Errorf("%w: size %d, level %d", ErrTreeState, size, level)
	}
	t := newLeanTree(src, level, keepBlocks)
	start := size &^ (1<<level - 1)
	for lv := range level {
		t.levels = append(t.levels, nil)
		t.base = append(t.base, start>>lv)
	}
	read := func(n uint64) ([][32]byte, error) {
		out := make([][32]byte, n)
		for i := range out {
			if _, err := io.ReadFull(r, out[i][:]); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrTreeState, err)
			}
		}
		return out, nil
	}
	for lv := level; size>>lv > 0; lv++ {
		nodes, err := read(size >> lv)
		if err != nil {
			return nil, err
		}
		t.levels = append(t.levels, nodes)
		t.base = append(t.base, 0)
	}
	// The compact range up to the last whole block is made of nodes at
	// the lean level and above; the leaves after it are appended.
	ids := compact.RangeNodes(0, start, nil)
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		hs[i] = t.levels[id.Level][id.Index][:]
	}
	rng, err := rangeFactory.NewRange(0, start, hs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTreeState, err)
	}
	t.rng = rng
	tail, err := read(size - start)
	if err != nil {
		return nil, err
	}
	for _, leaf := range tail {
		if err := t.rng.Append(leaf[:], t.visit); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTreeState, err)
		}
	}
	return t, nil
}
