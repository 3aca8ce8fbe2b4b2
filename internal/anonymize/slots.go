package anonymize

import "math"

// slotCount is how many slots runSlots walks side by side.
const slotCount = 4

// slot is a group of at most sixteen windows of one probe of the second
// look (see refine) on their way down the cascade in runSlots. Its layout
// is the one internal/walkgen writes runSlots for
// (TestTheSlotIsLaidOutAsItsWalkReadsIt).
//
// The second look's probes score a few dozen positions each, and most of
// them run deep: one probe's windows fill one vector, and a tree walked by
// one vector is a chain of six dependent gathers that leaves the processor
// waiting. Four slots, of any probes, go down together instead.
type slot struct {
	at     [16]int32
	sum    [16]float32
	offs   [2 << maxDepth]int32 // runSlots' own: the current tree's offsets
	turned *int32               // the first tree's turned points (see cascade.turned)
	pred   *float32             // the first tree's leaf predictions
	thr    *float32             // the first tree's threshold
	pix    *uint8               // the level's luma
	n      int32                // windows live
	size   int32                // the probe's window size
	stride int32                // the level's
	tree   int32                // the next tree to run
	_      [16]byte
}

// slotWindows is what a slot's windows are: where they are drawn from and
// the probe's window.
type slotWindows struct {
	l      level
	size   int
	angle  float64
	turned []int32
}

// slots runs the second look's windows on one worker through runSlots: each
// probe's positions are cut into groups of sixteen, and whenever every
// slot holds one, they go down the cascade together until one is done.
type slots struct {
	c    *cascade
	s    [slotCount]slot
	of   [slotCount]slotWindows
	busy int         // slots in use: s[:busy]
	out  []detection // the windows that passed the whole cascade

	at  []int32   // a probe's positions, while there are more than a slot holds
	sum []float32 // their sums
}

// slotted reports whether the second look's probe k on l runs in slots:
// where the vector walk runs and the window is small enough for
// runSlots' arithmetic (see maxTurnedSize).
func slotted(c *cascade, l level, k probe) bool {
	return vectorTrees(c, l.pix) && k.size <= maxTurnedSize
}

// add queues probe k's positions at on l (pixel indices, repeats kept).
// It panics if a window there reaches outside the image (see inBounds).
func (r *slots) add(l level, k probe, at []int) {
	a := float64(k.deg) * math.Pi / 180
	checkReach(reachOf(k.size, a), l.stride, l.pix, at)
	c := r.c
	turned := c.turned(pose{angle: a})
	r.at = r.at[:0]
	for _, p := range at {
		r.at = append(r.at, int32(p))
	}
	r.sum = append(r.sum[:0], make([]float32, len(at))...)
	// More windows than a slot holds go down together, tree by tree, until
	// few enough are left.
	t, n := 0, len(at)
	for ; n > len(r.s[0].at) && t < c.trees(); t++ {
		n = runTreesTurned(&turned[t*4*c.leaves], int32(k.size), int32(l.stride), &l.pix[0],
			&c.pred[t*c.leaves], &c.thr[t], 1, &r.at[0], &r.sum[0], n)
	}
	of := slotWindows{l: l, size: k.size, angle: a, turned: turned}
	if t == c.trees() {
		r.found(of, r.at[:n], r.sum[:n])
		return
	}
	if n == 0 {
		return
	}
	s := &r.s[r.busy]
	*s = slot{turned: &turned[0], pred: &c.pred[0], thr: &c.thr[0], pix: &l.pix[0],
		n: int32(n), size: int32(k.size), stride: int32(l.stride), tree: int32(t)}
	copy(s.at[:], r.at[:n])
	copy(s.sum[:], r.sum[:n])
	r.of[r.busy] = of
	r.busy++
	if r.busy == slotCount {
		r.step()
	}
}

// step runs the slots until one is done and takes the done ones out.
func (r *slots) step() {
	runSlots(&r.s, r.c.trees())
	for i := 0; i < r.busy; {
		if s := &r.s[i]; s.n > 0 && int(s.tree) < r.c.trees() {
			i++
			continue
		}
		r.take(i)
	}
}

// take hands slot i's windows, if they passed the whole cascade, to
// r.out, and frees the slot.
func (r *slots) take(i int) {
	s := &r.s[i]
	if int(s.tree) == r.c.trees() {
		r.found(r.of[i], s.at[:s.n], s.sum[:s.n])
	}
	r.busy--
	r.s[i], r.of[i] = r.s[r.busy], r.of[r.busy]
}

// found appends the windows at, which passed the whole cascade with sums
// sum, to r.out.
func (r *slots) found(of slotWindows, at []int32, sum []float32) {
	last := r.c.thr[r.c.trees()-1]
	for j, p := range at {
		x, y := of.l.centre(p)
		r.out = append(r.out, detection{x: x, y: y, size: float64(of.size * of.l.scale), angle: of.angle, q: sum[j] - last})
	}
}

// drain runs the slots left (fewer than slotCount) to the end, one at a
// time.
func (r *slots) drain() {
	c := r.c
	for r.busy > 0 {
		s, of := &r.s[0], r.of[0]
		if t := int(s.tree); s.n > 0 && t < c.trees() {
			s.n = int32(runTreesTurned(&of.turned[t*4*c.leaves], s.size, s.stride, s.pix,
				&c.pred[t*c.leaves], &c.thr[t], c.trees()-t, &s.at[0], &s.sum[0], int(s.n)))
			s.tree = int32(c.trees())
		}
		r.take(0)
	}
}
