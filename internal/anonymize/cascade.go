package anonymize

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"sync/atomic"
)

// facefinder is pigo's face cascade (MIT; see NOTICE).
//
//go:embed facefinder
var facefinder []byte

// cascade is pigo's face classifier (a cascade of pixel-comparison decision
// trees, Markuš et al., "Object detection with pixel intensity comparisons
// organized in decision trees", 2013), evaluated here rather than by pigo's
// RunCascade so that one window can be tested at any orientation, mirrored
// or not, through a precomputed table of pixel offsets: pigo recomputes
// every sample position for every window, clamps rotated samples against
// the row count only (out of range on a wide image) and quantizes angles to
// 1/32 of a turn.
type cascade struct {
	depth  int       // comparisons per tree
	leaves int       // 1 << depth
	codes  []int8    // per tree, per node 1..leaves-1: row1, col1, row2, col2 in 1/256 of the window
	pred   []float32 // per tree, per leaf
	thr    []float32 // per tree: reject when the running sum is at or below it

	turns sync.Map // pose → []int32, see turned
}

var (
	faceOnce    sync.Once
	faceCascade *cascade
	faceErr     error
)

func faceClassifier() (*cascade, error) {
	faceOnce.Do(func() { faceCascade, faceErr = parseCascade(facefinder) })
	return faceCascade, faceErr
}

// parseCascade reads pigo's binary cascade format: 8 bytes skipped, the
// tree depth and count (little-endian uint32), then per tree the node codes
// (4 signed bytes per inner node), the leaf predictions and the threshold
// (little-endian float32).
func parseCascade(b []byte) (*cascade, error) {
	bad := errors.New("anonymize: malformed face cascade")
	if len(b) < 16 {
		return nil, bad
	}
	depth := int(binary.LittleEndian.Uint32(b[8:]))
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if depth < 1 || depth > maxDepth || n < 1 {
		return nil, bad
	}
	leaves := 1 << depth
	per := 4*(leaves-1) + 4*leaves + 4
	if len(b) < 16+n*per {
		return nil, bad
	}
	c := &cascade{depth: depth, leaves: leaves, codes: make([]int8, 0, n*4*leaves),
		pred: make([]float32, 0, n*leaves), thr: make([]float32, 0, n)}
	pos := 16
	for range n {
		c.codes = append(c.codes, 0, 0, 0, 0) // node 0 is unused
		for _, v := range b[pos : pos+4*(leaves-1)] {
			c.codes = append(c.codes, int8(v))
		}
		pos += 4 * (leaves - 1)
		for range leaves {
			c.pred = append(c.pred, math.Float32frombits(binary.LittleEndian.Uint32(b[pos:])))
			pos += 4
		}
		c.thr = append(c.thr, math.Float32frombits(binary.LittleEndian.Uint32(b[pos:])))
		pos += 4
	}
	return c, nil
}

func (c *cascade) trees() int { return len(c.thr) }

// pose is one way a face can lie in the image: turned by angle (radians,
// counter-clockwise as displayed) and mirrored left to right or not.
type pose struct {
	angle  float64
	mirror bool
}

// window is the cascade compiled for one window size and pose over one
// image stride: each comparison becomes two offsets from the window's
// centre pixel, so a tree costs six pairs of loads and no arithmetic.
//
// Windows are compiled once per process and shared (see windowCache): a
// dataset's images mostly share a few sizes, and compiling every window
// afresh for each image took about a quarter of the search's time. Trees
// are compiled sixteen at a time on first use, because most windows are
// rejected by the first few; a compiled chunk is never changed again, so
// readers need no lock.
type window struct {
	c      *cascade
	size   int
	stride int
	turned []int32      // the cascade's points turned as the window is (see cascade.turned)
	reach  int          // how far from the centre any comparison reaches, in pixels
	cache  *windowCache // where it is kept, if shared

	// lazy, for the second look's windows (used once) where they do not
	// run in runTreesSized, is its worker's memory (see lazyWindow): such
	// a window compiles a tree only when windows reach it, node by node as
	// windows reach them (see walkLazy), or the whole tree once sixteen
	// windows do. The second look's windows score a few dozen positions
	// each, which reach a small part of the deeper trees.
	lazy *lazyScratch

	mu     sync.Mutex
	chunks []atomic.Pointer[chunk]
}

// chunkTrees is how many trees are compiled at a time.
const chunkTrees = 16

// maxDepth is the deepest tree a cascade may have for the fixed-size node
// tables below; pigo's face cascade has depth 6.
const maxDepth = 6

// chunk holds the compiled comparisons of chunkTrees trees: per tree, per
// node 1..63, two offsets (node 0 is unused).
type chunk [chunkTrees][2 << maxDepth]int32

type windowKey struct {
	size, stride int
	angle        float64
	mirror       bool
}

// windowCache is a process-wide cache of shared windows. It is emptied when
// it holds more than maxChunks chunks (8 KiB each), so images of ever new
// sizes cannot grow it without bound; windows in use stay valid.
type windowCache struct {
	sync.Mutex
	m      map[windowKey]*window
	chunks int
}

// gridWindows holds the first pass's windows and checkWindows those of the
// search through each blurred face (see faceIn): apart, so that the
// latter's sizes never empty the cache every image's first pass reuses.
// The second look (see refine) keeps none: its windows are too many.
var gridWindows, checkWindows windowCache

const maxChunks = 8192

// window returns the cascade compiled for windows of size pixels in pose p
// on an image of the given stride. With a cache, it is the process-wide one
// kept there (compiled by whoever needs a tree first); without, a window of
// its own (for tests).
func (c *cascade) window(size, stride int, p pose, cache *windowCache) *window {
	k := windowKey{size, stride, p.angle, p.mirror}
	if cache != nil {
		cache.Lock()
		defer cache.Unlock()
		if w := cache.m[k]; w != nil {
			return w
		}
		if cache.m == nil || cache.chunks > maxChunks {
			cache.m, cache.chunks = map[windowKey]*window{}, 0
		}
	}
	w := &window{c: c, size: size, stride: stride, turned: c.turned(p),
		chunks: make([]atomic.Pointer[chunk], (c.trees()+chunkTrees-1)/chunkTrees)}
	w.reach = reachOf(size, p.angle)
	if cache != nil {
		w.cache = cache
		cache.m[k] = w
	}
	return w
}

// offset is the compiled comparison point n of tree t (node n/2, first or
// second point as n is even or odd): its offset from the window's centre
// pixel. The turned point's row and column, in 1/256 of the window with
// turnBits more bits, times the window's size, shifted right, are floored
// to whole pixels: integer arithmetic, no conversion.
func (w *window) offset(t, n int) int32 {
	per := 2 << w.c.depth
	r, c := w.turned[t*2*per+n], w.turned[t*2*per+per+n]
	sz := int64(w.size)
	return int32((int64(r)*sz)>>(8+turnBits))*int32(w.stride) + int32((int64(c)*sz)>>(8+turnBits))
}

// maxTurnedSize is the largest window runTreesSized may score: a turned
// point (at most 181·2^turnBits) times its size must fit in 32 bits.
const maxTurnedSize = 180

// turnBits is the fraction bits of a turned point below 1/256 of a window:
// rounded to 1/2^24 of a window, a point is placed wrongly by a pixel only
// within a few millionths of a pixel of a pixel's edge.
const turnBits = 16

// turned returns the cascade's comparison points turned (and mirrored) as
// in pose p: per tree, the rows of its points n in 0..2<<depth-1 (0 and 1
// unused), then their columns, in 1/2^(8+turnBits) of the window. Each
// pose's table is computed once per process (480 KiB; the search uses at
// most 36 turns, each mirrored or not), since turning the points afresh
// for every window was most of the cost of compiling one.
func (c *cascade) turned(p pose) []int32 {
	if t, ok := c.turns.Load(p); ok {
		return t.([]int32)
	}
	cos, sin := math.Cos(p.angle), math.Sin(p.angle)
	per := 2 << c.depth
	out := make([]int32, 2*per*c.trees())
	for t := range c.trees() {
		codes := c.codes[t*4*c.leaves:]
		for n := 2; n < per; n++ {
			r, cc := float64(codes[2*n]), float64(codes[2*n+1])
			if p.mirror {
				cc = -cc
			}
			// Image rows grow downwards: a counter-clockwise turn of the
			// face as displayed maps (row, col) so.
			out[t*2*per+n] = int32(math.Round((cos*r - sin*cc) * (1 << turnBits)))
			out[t*2*per+per+n] = int32(math.Round((sin*r + cos*cc) * (1 << turnBits)))
		}
	}
	t, _ := c.turns.LoadOrStore(p, out)
	return t.([]int32)
}

// lazyScratch is a worker's memory for the second look's windows: chunks
// handed back by windows it is done with (their offsets stale), and, for
// the window in use, bit i of nodes[t] set once node i of tree t is
// compiled.
type lazyScratch struct {
	spare []*chunk
	nodes []uint64
}

// lazyWindow returns a window of its own in pose p that compiles a tree
// only when windows reach it, into s's memory; release it when done.
func (c *cascade) lazyWindow(size, stride int, p pose, s *lazyScratch) *window {
	w := c.window(size, stride, p, nil)
	if cap(s.nodes) < c.trees() {
		s.nodes = make([]uint64, c.trees())
	}
	s.nodes = s.nodes[:c.trees()]
	clear(s.nodes)
	w.lazy = s
	return w
}

// release hands a lazy window's compiled chunks back to its worker's
// spares.
func (w *window) release() {
	for i := range w.chunks {
		if ch := w.chunks[i].Swap(nil); ch != nil {
			w.lazy.spare = append(w.lazy.spare, ch)
		}
	}
}

// reachOf is how far from its centre a window of size pixels turned by
// angle samples, at most: every code lies within ±128/256 of the window on
// both axes, so no sample reaches further than the rotated half-diagonal.
func reachOf(size int, angle float64) int {
	return int(math.Ceil(float64(size)/2*(math.Abs(math.Cos(angle))+math.Abs(math.Sin(angle))))) + 1
}

// compiled returns chunk i, compiling it first if no one has yet.
func (w *window) compiled(i int) *chunk {
	if ch := w.chunks[i].Load(); ch != nil {
		return ch
	}
	return w.compile(i)
}

// compile returns chunk i, compiling it if no one has yet.
func (w *window) compile(i int) *chunk {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch := w.chunks[i].Load(); ch != nil {
		return ch
	}
	var ch *chunk
	if w.lazy != nil && len(w.lazy.spare) > 0 {
		n := len(w.lazy.spare)
		ch, w.lazy.spare = w.lazy.spare[n-1], w.lazy.spare[:n-1]
	} else {
		ch = new(chunk)
	}
	// A lazy window's trees are compiled as windows reach them (see run).
	for t := i * chunkTrees; w.lazy == nil && t < min(w.c.trees(), (i+1)*chunkTrees); t++ {
		offs := &ch[t-i*chunkTrees]
		for n := 2; n < 2*w.c.leaves; n++ {
			offs[n] = w.offset(t, n)
		}
	}
	w.chunks[i].Store(ch)
	if w.cache != nil {
		w.cache.Lock()
		w.cache.chunks++
		w.cache.Unlock()
	}
	return ch
}

// batch is a set of windows scored together: their centre pixel indices
// (which also name them: the caller knows its image's stride), running sums
// and current tree nodes. Reset it with reset and fill it with add or
// fillRows; run compacts it to the windows still live.
type batch struct {
	at   []int32
	sum  []float32
	node []int32

	// mark, when above zero, asks run to record in deep the centres of the
	// windows still live after mark trees: the windows that looked like a
	// face for a good part of the cascade (see Search.Faces, candidates).
	mark int
	deep []int32

	// rising is whether at rises from first to last (as fillRows leaves
	// it), so that the first and last windows bound the rest.
	rising bool

	// second is whether the batch is the second look's (see refine), for
	// treeCounts.
	second bool

	// scored is how many of the cascade's trees the windows of at have
	// passed already, their sums in sum (see firstRows): run goes on from
	// the next.
	scored int
}

func (b *batch) reset() { b.at, b.deep, b.rising, b.scored = b.at[:0], b.deep[:0], false, 0 }

func (b *batch) add(at int) { b.at, b.rising = append(b.at, int32(at)), false }

// fillRows makes b the windows of grid rows [from, to) of a grid nx wide
// whose first window is centred at first, dx apart along a row and dy
// between rows.
func (b *batch) fillRows(first, dx, dy, nx, from, to int) {
	n := (to - from) * nx
	if cap(b.at) < n+walkSlack { // the room runTreeAVX2 needs, so run need not copy
		b.at = make([]int32, n, n+walkSlack)
	}
	b.at = b.at[:n]
	for y := from; y < to; y++ {
		row := b.at[(y-from)*nx : (y-from+1)*nx]
		a := int32(first + y*dy)
		for x := range row {
			row[x] = a
			a += int32(dx)
		}
	}
	b.deep = b.deep[:0]
	// Whether each row's last window lies before the next row's first.
	b.rising = dx > 0 && (nx-1)*dx < dy
	b.scored = 0
}

// maxRowStep is the largest grid step runFirstTree takes: sixteen windows
// a step apart must compare pixels within 128 bytes of the first one's.
const maxRowStep = 8

// rowIndices are runFirstTree's byte permutes, per step: 0, step, 2·step,
// … for sixteen windows.
var rowIndices = func() (t [maxRowStep + 1][64]byte) {
	for s := 1; s <= maxRowStep; s++ {
		for k := range 16 {
			t[s][k] = byte(k * s)
		}
	}
	return t
}()

// firstRows leaves in b the windows of rows [from, to) of a grid (as
// fillRows lays them out) that pass w's first tree, with their sums, by
// runFirstTree a row at a time; the caller checks firstTreeRows(c, pix,
// dx). run then goes on from the second tree.
func (b *batch) firstRows(w *window, pix []uint8, first, dx, dy, nx, from, to int) {
	n := (to - from) * nx
	if cap(b.at) < n+vectorRoom {
		b.at = make([]int32, 0, n+vectorRoom)
	}
	if cap(b.sum) < n+vectorRoom {
		b.sum = make([]float32, 0, n+vectorRoom)
	}
	ends := [2]int32{int32(first + from*dy), int32(first + (to-1)*dy + (nx-1)*dx)}
	w.inBounds(pix, ends[:])
	ch, c := w.compiled(0), w.c
	at, sum := b.at[:n+vectorRoom], b.sum[:n+vectorRoom]
	m := 0
	for y := from; y < to; y++ {
		m += runFirstTree(&ch[0], &pix[0], &c.pred[0], &at[m], &sum[m], first+y*dy, dx, nx, &rowIndices[dx], c.thr[0])
	}
	b.at, b.sum = at[:m], sum[:m]
	b.deep = b.deep[:0]
	b.rising = true
	b.scored = 1
}

// run runs trees [0, trees) of the cascade on the windows of b and leaves
// in b only those that pass every one, with their sums; after the whole
// cascade, their confidence (the sum less the last threshold). With b.mark
// set, it records in b.deep the windows live after that many trees.
//
// Every live window goes down the same tree together: evaluated one window
// at a time, a tree is a chain of dependent loads (node → offset → pixel →
// next node) that leaves the processor waiting. With AVX-512 a tree is one
// vector pass over the batch (runTree), with AVX2 too (runTreeAVX2, eight
// windows to a vector); in Go, eight windows go down together (see walk),
// and the comparison's outcome, and whether a
// window survives a tree, are written without a branch (the compiler emits
// a conditional set): which way they go is a coin toss no predictor learns.
func (w *window) run(pix []uint8, b *batch, trees int) {
	c := w.c
	depth, leaves := c.depth, c.leaves
	vec := vectorTrees(c, pix) && len(b.at) >= minVector
	half := !vec && halfTrees(c, pix) && len(b.at) >= minVector
	if half && cap(b.at) < len(b.at)+walkSlack {
		b.at = append(make([]int32, 0, len(b.at)+walkSlack), b.at...)
	}
	at := b.at
	if cap(b.sum) < len(at)+walkSlack {
		sum := make([]float32, len(at), len(at)+walkSlack)
		if b.scored > 0 {
			copy(sum, b.sum[:len(at)])
		}
		b.sum = sum
	}
	if cap(b.node) < len(at) {
		b.node = make([]int32, len(at))
	}
	sum, node := b.sum[:len(at)], b.node[:len(at)]
	if b.scored == 0 {
		clear(sum)
	} else if b.scored == b.mark { // marked among the trees passed already
		b.deep = append(b.deep, at...)
	}
	if b.rising && len(at) > 0 {
		ends := [2]int32{at[0], at[len(at)-1]}
		w.inBounds(pix, ends[:])
	} else {
		w.inBounds(pix, at)
	}
	counts := treeCounts.Load()
	for t := b.scored; t < trees && len(at) > 0; t++ {
		if counts != nil {
			counts.add(b.second, t, len(at))
		}
		pred, thr := c.pred[t*leaves:(t+1)*leaves], c.thr[t]
		vec = vec && len(at) >= minVector
		half = half && len(at) >= minVector
		offs := &w.compiled(t / chunkTrees)[t%chunkTrees]
		lazy := w.lazy != nil && len(at) < wholeTree && w.lazy.nodes[t] != wholeNodes
		if w.lazy != nil && !lazy {
			w.compileTree(t, offs)
		}
		var m int
		switch {
		case vec && !lazy:
			m = runTree(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at), thr)
		case half && !lazy:
			m = runTreeAVX2(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at), thr, halfTables)
		default:
			node = node[:len(at)]
			if lazy {
				w.walkLazy(t, offs, pix, at, node)
			} else {
				walk(offs, depth, pix, at, node)
			}
			sum = sum[:len(at)]
			for j := range at {
				s := sum[j] + pred[(int(node[j])-leaves)&(leaves-1)]
				at[m], sum[m] = at[j], s
				if s > thr {
					m++
				}
			}
		}
		at = at[:m]
		if t+1 == b.mark {
			b.deep = append(b.deep, at...)
		}
	}
	w.finish(b, at, sum[:len(at)], trees)
}

// finish leaves in b the windows at that passed trees trees, with their
// sums; after the whole cascade, each one's confidence: its sum less the
// last threshold.
func (w *window) finish(b *batch, at []int32, sum []float32, trees int) {
	b.at, b.sum = at, sum
	if trees == w.c.trees() {
		last := w.c.thr[trees-1]
		for j := range b.sum {
			b.sum[j] -= last
		}
	}
}

// inBounds panics unless every comparison of the windows centred at at
// lies in pix: the vector walk loads without bounds checks, so a window
// placed too near the edge must stop the search rather than read past it.
func (w *window) inBounds(pix []uint8, at []int32) { checkReach(w.reach, w.stride, pix, at) }

// checkReach panics unless every comparison of windows reaching reach
// pixels from their centres at at, on an image of the given stride, lies
// in pix.
func checkReach[T int | int32](reach, stride int, pix []uint8, at []T) {
	if len(at) == 0 {
		return
	}
	lo, hi := at[0], at[0]
	for _, a := range at {
		lo, hi = min(lo, a), max(hi, a)
	}
	r := int64(reach)*int64(stride) + int64(reach)
	if int64(lo)-r < 0 || int64(hi)+r >= int64(min(len(pix), maxLuma)) {
		panic("anonymize: a window reaches outside the image")
	}
}

// walk sends each window centred at at[j] down the tree whose
// comparisons are offs and writes the leaf it reaches to node[j] (as a node
// number, leaves counting from 1<<depth), in Go: where there is no vector
// tree (see runTree), and for batches of fewer than minVector windows.
// Eight windows go down together, their paths held in registers, so that
// the processor always has independent loads to issue: eight took a tree
// from 13.4 to 11.6 ns per window against four, and the group
// photographs' first pass from 0.155 to 0.135 s (BenchmarkTree/go,
// BenchmarkSearchGroupPhotos1024/first-pass/go; docs/BENCHMARKS.md, fifth
// pass).
func walk(offs *[2 << maxDepth]int32, depth int, pix []uint8, at, node []int32) {
	const mask = 2<<maxDepth - 1
	step := func(i int32, a int32) int32 {
		p := pix[a+offs[(2*i)&mask]]
		q := pix[a+offs[(2*i+1)&mask]]
		bit := int32(0)
		if p <= q {
			bit = 1
		}
		return 2*i + bit
	}
	node = node[:len(at)]
	j := 0
	for ; j+8 <= len(at); j += 8 {
		a0, a1, a2, a3, a4, a5, a6, a7 := at[j], at[j+1], at[j+2], at[j+3], at[j+4], at[j+5], at[j+6], at[j+7]
		i0, i1, i2, i3, i4, i5, i6, i7 := int32(1), int32(1), int32(1), int32(1), int32(1), int32(1), int32(1), int32(1)
		for range depth {
			i0, i1, i2, i3 = step(i0, a0), step(i1, a1), step(i2, a2), step(i3, a3)
			i4, i5, i6, i7 = step(i4, a4), step(i5, a5), step(i6, a6), step(i7, a7)
		}
		node[j], node[j+1], node[j+2], node[j+3] = i0, i1, i2, i3
		node[j+4], node[j+5], node[j+6], node[j+7] = i4, i5, i6, i7
	}
	for ; j+4 <= len(at); j += 4 {
		a0, a1, a2, a3 := at[j], at[j+1], at[j+2], at[j+3]
		i0, i1, i2, i3 := int32(1), int32(1), int32(1), int32(1)
		for range depth {
			i0, i1, i2, i3 = step(i0, a0), step(i1, a1), step(i2, a2), step(i3, a3)
		}
		node[j], node[j+1], node[j+2], node[j+3] = i0, i1, i2, i3
	}
	for ; j < len(at); j++ {
		i := int32(1)
		for range depth {
			i = step(i, at[j])
		}
		node[j] = i
	}
}

// vectorRoom is the room runTreesSized and runFirstTree need past the
// windows and sums they keep: they store whole vectors of sixteen.
const vectorRoom = 16

// walkSlack is the room runTreeAVX2 needs past a batch's windows and sums:
// it loads and stores whole vectors of eight, the last reaching up to seven
// entries past the last window (TestTheVectorTreeKeepsWhatTheScalarOneKeeps).
const walkSlack = 7

// minVector is the fewest windows worth a vector walk (see runTree); the
// AVX2 walk, eight windows to a vector, takes the same (not measured
// apart).
// (For the second look's windows, whose trees must be compiled first, one
// window was measured too: no faster within the noise.)
const minVector = 4

// wholeTree is how many windows make a lazy window compile a whole tree
// and walk it as any other: compiling a node costs about what walking a
// window through it does, so a tree reached by that many windows is
// reached at most of its nodes.
const wholeTree = 16

// wholeNodes is the nodes of a whole tree of depth 6: bits 1 to 63.
const wholeNodes = ^uint64(1)

// compileTree compiles every node of tree t of a lazy window not compiled
// yet.
func (w *window) compileTree(t int, offs *[2 << maxDepth]int32) {
	done := w.lazy.nodes[t]
	if done == wholeNodes {
		return
	}
	for i := 1; i < w.c.leaves; i++ {
		if done&(1<<i) == 0 {
			offs[2*i], offs[2*i+1] = w.offset(t, 2*i), w.offset(t, 2*i+1)
		}
	}
	w.lazy.nodes[t] = wholeNodes
}

// walkLazy is walk for a lazy window: it compiles each node of tree t the
// first time a window reaches it.
func (w *window) walkLazy(t int, offs *[2 << maxDepth]int32, pix []uint8, at, node []int32) {
	done := w.lazy.nodes[t]
	for j, a := range at {
		i := int32(1)
		for range w.c.depth {
			if done&(1<<i) == 0 {
				offs[2*i], offs[2*i+1] = w.offset(t, int(2*i)), w.offset(t, int(2*i+1))
				done |= 1 << i
			}
			bit := int32(0)
			if pix[a+offs[2*i]] <= pix[a+offs[2*i+1]] {
				bit = 1
			}
			i = 2*i + bit
		}
		node[j] = i
	}
	w.lazy.nodes[t] = done
}

// treeCounts, when a benchmark sets it, counts for each tree how many
// windows run sends down it, on the grid and in the second look: where the
// search's work goes (docs/BENCHMARKS.md). The walks that run several trees
// in one call (runFirstTree, runTreesSized) are not counted, so it is read
// with the Go walk, which scores the same windows.
var treeCounts atomic.Pointer[windowTrees]

// windowTrees are per-tree window counts of the grid and the second look.
type windowTrees struct{ grid, second []atomic.Int64 }

func (w *windowTrees) add(second bool, tree, n int) {
	if second {
		w.second[tree].Add(int64(n))
	} else {
		w.grid[tree].Add(int64(n))
	}
}
