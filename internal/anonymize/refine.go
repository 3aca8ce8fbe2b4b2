package anonymize

import (
	"image"
	"math"
	"sort"
)

// The search's grid (see Search.Faces) misses real faces that the cascade
// itself accepts: on face-api's sample photographs, faces a strong
// independent detector finds at a score of 0.77–0.99 were passed by one grid
// window, or by none, while the cascade accepts them at hundreds of
// positions a few pixels, a few per cent of size or ten degrees away. What
// the grid does see there is windows that pass half of the cascade or more.
//
// So every such place is looked at a second time, densely: the first pass's
// deep windows are grouped into candidates, and around each candidate that
// no face found already settles (see settled: the grid's, or one the second
// look found around a larger candidate; see inWaves) the cascade is run
// again at a third of the
// grid's step, at half its size step (on one ladder of sizes, see
// sizeLadder) and at 10° and 20° either side of the
// candidate's pose, on the candidate's level of the pyramid and on the one
// at twice its resolution (where the profile of a face half hidden by a
// hand, missed on the first, was found). What that finds is a face like any
// other (and is blurred like one); a candidate it does not confirm is left
// alone. The first pass
// is untouched: the faces it finds are found exactly as before, and refine
// only adds.

// deepTrees is how many trees a grid window must pass to make its place a
// candidate: half the cascade. On the sample photographs a third let in
// three times the candidates for no face more; seven tenths lost one of the
// faces the grid missed.
func deepTrees(c *cascade) int { return c.trees() / 2 }

// refineScore is the summed score from which a refined cluster is a face:
// a quarter of the grid's (minScore). The second look only searches where
// the grid's windows passed half the cascade, and there it fails closed: a
// place the whole cascade accepts a few times is blurred. At the grid's
// threshold it left three of 207 faces the independent detector finds in
// the six photographs, at six widths, turned and filling 1024×1024, visible
// (a profile at 896 and 1024 pixels wide, a face cut by the frame's edge);
// at half of it, one; at a quarter, none
// (TestEveryFaceIsCoveredInTheBudgetsFrames, LIKENESS_FACE_SWEEP=1). The
// price is more blurred boxes where there is no face: on 61 such frames
// the covered share of the image rose from 53% to 64% on average (a one-off
// measurement), and an image whose faces are all refined still goes to
// review (see Report).
const refineScore = 1

// refine searches densely around every candidate (grouped deep windows)
// that faces do not settle (see settled) and returns the faces it finds
// there, but for those that lie in a face known already.
func refine(c *cascade, levels []level, minFace int, faces []Face, deep []detection) []Face {
	byScale := map[int]level{}
	for _, l := range levels {
		byScale[l.scale] = l
	}
	return inWaves(candidates(deep), faces, func(wave []detection) []detection {
		return lookAround(c, byScale, minFace, wave)
	})
}

// inWaves searches around cands (largest first) with search, in waves, and
// returns the faces the windows it accepts make (see cluster, at
// refineScore), marked Refined, but for those that lie in a face known
// already. A wave takes every candidate that neither faces nor the faces
// the waves before found settle (see settled) and that overlaps no other
// of the wave; the rest wait for a later wave. Settled candidates are not
// searched. Windows whose cluster falls short of refineScore are kept for
// the next wave's clusters, so that windows around two overlapping
// candidates add up as when every candidate was searched at once; a face
// once found stays as found.
//
// On the group photographs filling 1024×1024, most candidates lie in what
// a larger candidate's search found and blurred; searching each of them
// (as the second look did, all in one batch) was three fifths of its work
// (docs/BENCHMARKS.md, "tenth look"). Each wave still sends its
// candidates' windows down the cascade together.
func inWaves(cands []detection, faces []Face, search func(wave []detection) []detection) []Face {
	known := append([]Face(nil), faces...)
	var out []Face
	var weak []detection // windows of clusters short of refineScore
	for {
		var wave, later []detection
		var taken []image.Rectangle
		for _, d := range cands {
			e := d.extent()
			switch {
			case settled(e, known):
			case overlapsAny(e, taken):
				later = append(later, d)
			default:
				wave, taken = append(wave, d), append(taken, e)
			}
		}
		if len(wave) == 0 {
			return out
		}
		var found []Face
		found, weak = clusterRest(append(weak, search(wave)...), refineScore)
		for _, f := range found {
			if !covered(f.Box, known) && !holds(f.Box, known) {
				f.Refined = true
				out = append(out, f)
			}
		}
		known = append(known[:len(faces)], out...)
		cands = later
	}
}

// overlapsAny reports whether r overlaps one of rs.
func overlapsAny(r image.Rectangle, rs []image.Rectangle) bool {
	for _, o := range rs {
		if r.Overlaps(o) {
			return true
		}
	}
	return false
}

// lookAround runs the dense search around each of cands (see level.around)
// and returns every window the whole cascade accepts there.
func lookAround(c *cascade, byScale map[int]level, minFace int, cands []detection) []detection {
	// The dense search around each candidate, as blocks of positions (a
	// window and a square of centres), in the order of the candidates.
	var blocks []block
	for _, d := range cands {
		blocks = byScale[d.scale].around(d, minFace, blocks)
		if l, ok := byScale[d.scale/2]; ok {
			blocks = l.around(d, minFace, blocks)
		}
	}
	// Windows of one turn on one level go down the cascade together,
	// whatever their sizes, where the vector walk computes each window's
	// offsets from its own size (see runTreesSized): grouped so, the
	// vectors stay full. Within a turn they go by size, so that its
	// windows come in runs of one size, which runTreesSized scores with
	// that size's offsets in registers. The rest run a window (a size and
	// a turn) at a time, candidates near each other sharing it: each is
	// compiled once for all the positions it scores.
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].size < blocks[j].size })
	turns := map[turn]*turnWindows{}
	plan := map[probe][]int{}
	var keys []probe
	for _, bl := range blocks {
		l := byScale[bl.scale]
		if !sized(c, l, bl.probe) {
			if _, ok := plan[bl.probe]; !ok {
				keys = append(keys, bl.probe)
			}
			plan[bl.probe] = appendCentres(plan[bl.probe], bl, l.stride)
			continue
		}
		ends := [2]int{bl.y0*l.stride + bl.x0, bl.y1*l.stride + bl.x1}
		checkReach(reachOf(bl.size, float64(bl.deg)*math.Pi/180), l.stride, l.pix, ends[:])
		tk := turn{bl.scale, bl.deg}
		tw := turns[tk]
		if tw == nil {
			tw = &turnWindows{turn: tk}
			turns[tk] = tw
		}
		n := len(tw.at)
		tw.at = appendCentres(tw.at, bl, l.stride)
		for range len(tw.at) - n {
			tw.size = append(tw.size, int32(bl.size))
		}
	}
	var found []detection
	if len(turns) > 0 {
		tws := make([]*turnWindows, 0, len(turns))
		for _, tw := range turns {
			tws = append(tws, tw)
		}
		// Largest first, so that no worker is left with a large one at the
		// end.
		sort.Slice(tws, func(i, j int) bool {
			if a, b := len(tws[i].at), len(tws[j].at); a != b {
				return a > b
			}
			return tws[i].turn.less(tws[j].turn)
		})
		inParallel(tws, func() (func(*turnWindows), func()) {
			var mine []detection
			return func(tw *turnWindows) {
					mine = byScale[tw.scale].probeSized(c, tw, mine)
				}, func() {
					found = append(found, mine...)
				}
		})
	}
	// By turn, then size: windows of one turn share the table of turned
	// points their nodes are compiled from (see cascade.turned), which stays
	// in cache from one to the next.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.deg != b.deg {
			return a.deg < b.deg
		}
		if a.size != b.size {
			return a.size < b.size
		}
		return a.scale < b.scale
	})
	inParallel(keys, func() (func(probe), func()) {
		var mine []detection
		b := batch{second: true}
		var s lazyScratch
		return func(k probe) {
				mine = byScale[k.scale].probe(c, k, plan[k], &b, &s, mine)
			}, func() {
				found = append(found, mine...)
			}
	})
	return found
}

// probe is one window of the second look: a size and a turn (degrees) on the
// pyramid level of the given scale.
type probe struct{ scale, size, deg int }

// probe runs the window k at the positions at (pixel indices of l, repeats
// kept: they weigh in the clusters as they did when each candidate was
// searched on its own) and appends what it accepts to out.
//
// It serves where runTreesSized and runTreesSizedAVX2 do not (see sized):
// without AVX-512 or AVX2, and for windows too large for their arithmetic.
// A window here scores a few dozen positions yet runs deep, and is used
// once: it is a lazy window (see cascade.lazyWindow) in the worker's memory
// s, and nothing of it is kept (kept, the six group photographs needed
// 28,000 to 76,000 chunks of 8 KiB).
func (l level) probe(c *cascade, k probe, at []int, b *batch, s *lazyScratch, out []detection) []detection {
	a := float64(k.deg) * math.Pi / 180
	win := c.lazyWindow(k.size, l.stride, pose{angle: a}, s)
	b.reset()
	for _, p := range at {
		b.add(p)
	}
	win.run(l.pix, b, c.trees())
	win.release()
	for j, p := range b.at {
		x, y := l.centre(p)
		out = append(out, detection{x: x, y: y, size: float64(k.size * l.scale), angle: a, q: b.sum[j]})
	}
	return out
}

// candidates groups deep windows that overlap (intersection over union
// above 0.3) and returns, per group, the mean window (at the pose, and on
// the level, of its first member), largest first.
func candidates(deep []detection) []detection {
	// Larger windows first, so that a group's first member, whose level
	// and pose it keeps, is its largest.
	sort.Slice(deep, func(i, j int) bool { return largerFirst(deep[i], deep[j]) })
	used := make([]bool, len(deep))
	var out []detection
	for i, d := range deep {
		if used[i] {
			continue
		}
		m, n := d, 0.0
		m.x, m.y = 0, 0
		for j := i; j < len(deep); j++ {
			if used[j] || iou(d, deep[j]) <= 0.3 {
				continue
			}
			used[j] = true
			m.x, m.y, n = m.x+deep[j].x, m.y+deep[j].y, n+1
		}
		m.x, m.y = m.x/n, m.y/n
		out = append(out, m)
	}
	return out
}

// settled reports whether the area r (a candidate's window) needs no
// search of its own: it lies wholly in what is blurred for faces (their
// boxes as cover pads them, one or several together), or mostly in one
// face itself (see covered: a window there looks at that face), or it
// holds one (see holds). A face found there would be blurred already.
func settled(r image.Rectangle, faces []Face) bool {
	if covered(r, faces) || holds(r, faces) {
		return true
	}
	// What of r no face's blurred box holds yet.
	left := []image.Rectangle{r}
	for _, f := range faces {
		b := f.Box.Inset(-f.Box.Dx() / 5)
		var next []image.Rectangle
		for _, p := range left {
			next = appendOutside(next, p, b)
		}
		if left = next; len(left) == 0 {
			return true
		}
	}
	return false
}

// appendOutside appends to out the parts of r outside b (none, r itself,
// or up to four rectangles).
func appendOutside(out []image.Rectangle, r, b image.Rectangle) []image.Rectangle {
	in := r.Intersect(b)
	if in.Empty() {
		return append(out, r)
	}
	if in.Min.Y > r.Min.Y {
		out = append(out, image.Rect(r.Min.X, r.Min.Y, r.Max.X, in.Min.Y))
	}
	if in.Max.Y < r.Max.Y {
		out = append(out, image.Rect(r.Min.X, in.Max.Y, r.Max.X, r.Max.Y))
	}
	if in.Min.X > r.Min.X {
		out = append(out, image.Rect(r.Min.X, in.Min.Y, in.Min.X, in.Max.Y))
	}
	if in.Max.X < r.Max.X {
		out = append(out, image.Rect(in.Max.X, in.Min.Y, r.Max.X, in.Max.Y))
	}
	return out
}

// covered reports whether most of r (four fifths or more) lies in one of
// faces: a window there looks at a face already found.
func covered(r image.Rectangle, faces []Face) bool {
	area := r.Dx() * r.Dy()
	for _, f := range faces {
		in := r.Intersect(f.Box)
		if 5*in.Dx()*in.Dy() >= 4*area {
			return true
		}
	}
	return false
}

// around plans the dense search around candidate d on l (the level d was
// found on, or the one at twice its resolution): centres within the grid's
// step of d's at a third of that step, sizes 7.5% and 15% either side (each
// the nearest on sizeLadder), turns of 10° and 20° either side of d's
// pose. It appends the blocks of positions to blocks.
func (l level) around(d detection, minFace int, blocks []block) []block {
	f := float64(l.scale)
	cx, cy := int(d.x/f), int(d.y/f)
	s := int(math.Round(d.size / f))
	deg := int(math.Round(d.angle * 180 / math.Pi))
	half := max(1, s*3/40)
	last := 0
	for _, size := range []int{s - 2*half, s - half, s, s + half, s + 2*half} {
		if size = onLadder(size); size < minFace || size == last {
			continue
		}
		last = size
		r := max(1, size/7)
		step := max(1, r/3)
		for turn := -20; turn <= 20; turn += 10 {
			k := probe{l.scale, size, (deg + turn + 360) % 360}
			m := reachOf(size, float64(k.deg)*math.Pi/180)
			// The centres cx-r, cx-r+step, … up to cx+r that lie at
			// least m from every edge, and likewise in y.
			x0, x1 := firstOnGrid(cx-r, step, m), min(cx+r, l.w-m-1)
			y0, y1 := firstOnGrid(cy-r, step, m), min(cy+r, l.h-m-1)
			if x0 <= x1 && y0 <= y1 {
				x1, y1 = x0+(x1-x0)/step*step, y0+(y1-y0)/step*step
				blocks = append(blocks, block{k, x0, x1, y0, y1, step})
			}
		}
	}
	return blocks
}

// firstOnGrid is the first of from, from+step, … at least lo.
func firstOnGrid(from, step, lo int) int {
	if from >= lo {
		return from
	}
	return from + (lo-from+step-1)/step*step
}

// block is a square of the second look's positions for one window: the
// centres x0, x0+step, … x1 in each row y0, y0+step, … y1 (pixels of the
// probe's level).
type block struct {
	probe
	x0, x1, y0, y1, step int
}

// appendCentres appends the centres of bl (pixel indices, rows of the
// given stride) to at, row by row.
func appendCentres[T int | int32](at []T, bl block, stride int) []T {
	for y := bl.y0; y <= bl.y1; y += bl.step {
		for x := bl.x0; x <= bl.x1; x += bl.step {
			at = append(at, T(y*stride+x))
		}
	}
	return at
}

// holds reports whether most of one of faces (four fifths or more) lies in
// r and r is at most half again as wide: a box drawn around a face found
// already, the same face seen larger. A face much smaller than r inside it
// is not taken for it: it may be a small face by a large one, or part of a
// larger face the grid missed (a false detection on a nose).
func holds(r image.Rectangle, faces []Face) bool {
	for _, f := range faces {
		in := r.Intersect(f.Box)
		if 5*in.Dx()*in.Dy() >= 4*f.Box.Dx()*f.Box.Dy() && 2*r.Dx() <= 3*f.Box.Dx() {
			return true
		}
	}
	return false
}

// turn is a turn (degrees) on the pyramid level of the given scale.
type turn struct{ scale, deg int }

func (a turn) less(b turn) bool {
	if a.deg != b.deg {
		return a.deg < b.deg
	}
	return a.scale < b.scale
}

// turnWindows are the second look's windows in one turn on one level: their
// centres (pixel indices) and sizes.
type turnWindows struct {
	turn
	at, size []int32
}

// sized reports whether probe k on l runs with others of its turn in
// runTreesSized (or runTreesSizedAVX2): where a vector walk runs and the
// window is small enough for its arithmetic (see maxTurnedSize).
func sized(c *cascade, l level, k probe) bool {
	return (vectorTrees(c, l.pix) || halfTrees(c, l.pix)) && k.size <= maxTurnedSize
}

// probeSized runs the windows of tw, all of one turn on l, down the whole
// cascade together (see runTreesSized) and appends what it accepts to out.
// Their comparisons must lie in the image (the caller checks).
func (l level) probeSized(c *cascade, tw *turnWindows, out []detection) []detection {
	a := float64(tw.deg) * math.Pi / 180
	turned := c.turned(pose{angle: a})
	n := len(tw.at)
	at := append(tw.at, make([]int32, vectorRoom)...)
	size := append(tw.size, make([]int32, vectorRoom)...)
	sum := make([]float32, n+vectorRoom)
	var m int
	if vectorTrees(c, l.pix) {
		m = runTreesSized(&turned[0], int32(l.stride), &l.pix[0], &c.pred[0], &c.thr[0], c.trees(),
			&at[0], &size[0], &sum[0], n)
	} else {
		m = runTreesSizedAVX2(&turned[0], int32(l.stride), &l.pix[0], &c.pred[0], &c.thr[0], c.trees(),
			&at[0], &size[0], &sum[0], n, halfTables)
	}
	last := c.thr[c.trees()-1]
	for j, p := range at[:m] {
		x, y := l.centre(p)
		out = append(out, detection{x: x, y: y, size: float64(int(size[j]) * l.scale), angle: a, q: sum[j] - last})
	}
	return out
}

// sizeLadder is the window sizes the second look searches at: about 7.5%
// apart, as its steps around a candidate are. Snapped to one ladder,
// nearby candidates of similar sizes share sizes, so that a turn's
// windows come in long runs of one size (see runTreesSized). On the
// group photographs that took about 3% off the whole search and left
// every face the independent detector finds covered
// (TestEveryFaceAnIndependentDetectorFindsIsCoveredOrTheImageGoesToReview).
var sizeLadder = func() []int {
	var out []int
	for f := float64(defaultMinFace); f < 4*maxTurnedSize; f *= 1.075 {
		if n := int(math.Round(f)); len(out) == 0 || n != out[len(out)-1] {
			out = append(out, n)
		}
	}
	return out
}()

// onLadder is the size of sizeLadder nearest size (the smaller of two as
// near), or size itself outside the ladder.
func onLadder(size int) int {
	i := sort.SearchInts(sizeLadder, size)
	switch {
	case i == 0 || i == len(sizeLadder):
		return size
	case size-sizeLadder[i-1] <= sizeLadder[i]-size:
		return sizeLadder[i-1]
	}
	return sizeLadder[i]
}
