package anonymize

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTheSecondLookPlansEveryPositionAroundACandidate checks around's
// blocks against the positions the second look is documented to search,
// enumerated one by one: for each of five sizes (on the ladder, none below
// the smallest face, none twice) and five turns, every centre within the
// grid's step of the candidate's at a third of that step whose window
// lies in the level, in rows from the top. Candidates are drawn anywhere
// on levels of several sizes, many near an edge or a corner, where the
// blocks are clipped.
func TestTheSecondLookPlansEveryPositionAroundACandidate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	type window struct {
		probe
		at int
	}
	clipped := 0
	for n := range 2000 {
		w, h := 40+r.IntN(400), 40+r.IntN(400)
		l := level{w: w, h: h, stride: padStride(w), scale: 1 << r.IntN(3)}
		f := float64(l.scale)
		size := 24 + r.Float64()*float64(min(w, h)-24)
		d := detection{
			x: r.Float64() * float64(w) * f, y: r.Float64() * float64(h) * f,
			size: size * f, angle: float64(30*r.IntN(12)) * math.Pi / 180,
		}
		if n%4 == 0 { // at a corner
			d.x, d.y = float64(r.IntN(8))*f, float64(h-r.IntN(8))*f
		}
		minFace := 24 + 8*r.IntN(2)

		var want []window
		cx, cy := int(d.x/f), int(d.y/f)
		s := int(math.Round(d.size / f))
		deg := int(math.Round(d.angle * 180 / math.Pi))
		half := max(1, s*3/40)
		last := 0
		for _, sz := range []int{s - 2*half, s - half, s, s + half, s + 2*half} {
			if sz = onLadder(sz); sz < minFace || sz == last {
				continue
			}
			last = sz
			rr := max(1, sz/7)
			step := max(1, rr/3)
			for turn := -20; turn <= 20; turn += 10 {
				k := probe{l.scale, sz, (deg + turn + 360) % 360}
				m := reachOf(sz, float64(k.deg)*math.Pi/180)
				for y := cy - rr; y <= cy+rr; y += step {
					for x := cx - rr; x <= cx+rr; x += step {
						if y >= m && y < h-m && x >= m && x < w-m {
							want = append(want, window{k, y*l.stride + x})
						} else {
							clipped++
						}
					}
				}
			}
		}
		var got []window
		for _, bl := range l.around(d, minFace, nil) {
			for _, a := range appendCentres[int](nil, bl, l.stride) {
				got = append(got, window{bl.probe, a})
			}
			ends := appendCentres[int32](nil, bl, l.stride)
			if len(ends) == 0 || int(ends[0]) != bl.y0*l.stride+bl.x0 || int(ends[len(ends)-1]) != bl.y1*l.stride+bl.x1 {
				t.Fatalf("block %+v: its corners are not its first and last positions", bl)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("candidate %+v on a %d×%d level of scale %d: planned %d windows, want %d, or others", d, w, h, l.scale, len(got), len(want))
		}
	}
	if clipped == 0 {
		t.Fatal("no position fell outside a level: the test does not check the clipping")
	}
}

// TestTheSecondLookSearchesEveryCandidateNoFaceSettles runs inWaves on
// random candidates with a search that accepts one window, the candidate's
// own, at some of them, and checks what it promises, with the geometry
// worked out here: no two candidates of a wave overlap; each is searched
// at most once; one that is not searched lies wholly in a face's blurred
// box (the box padded by a fifth), or four fifths in a face, or holds a
// face; every window accepted ends in a face returned or known; and no
// face returned lies in a face of the grid.
func TestTheSecondLookSearchesEveryCandidateNoFaceSettles(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	area := func(b image.Rectangle) int { return b.Dx() * b.Dy() }
	skipped, waves := 0, 0
	for range 300 {
		var cands []detection
		for range 1 + r.IntN(60) {
			cands = append(cands, detection{
				x: r.Float64() * 1024, y: r.Float64() * 1024,
				size: 24 + r.Float64()*300, angle: float64(30*r.IntN(12)) * math.Pi / 180,
			})
		}
		slices.SortFunc(cands, func(a, b detection) int {
			if largerFirst(a, b) {
				return -1
			}
			return 1
		})
		var grid []Face
		for range r.IntN(3) {
			grid = append(grid, Face{Box: cands[r.IntN(len(cands))].extent()})
		}
		accepts := map[detection]bool{}
		for _, d := range cands {
			accepts[d] = r.IntN(3) == 0
		}
		searched := map[detection]int{}
		var accepted []detection
		out := inWaves(slices.Clone(cands), grid, func(wave []detection) []detection {
			waves++
			var found []detection
			for i, d := range wave {
				searched[d]++
				for _, e := range wave[:i] {
					if d.extent().Overlaps(e.extent()) {
						t.Fatalf("candidates %+v and %+v overlap in one wave", d, e)
					}
				}
				if accepts[d] {
					w := d
					w.q = refineScore
					found, accepted = append(found, w), append(accepted, w)
				}
			}
			return found
		})
		all := append(slices.Clone(grid), out...)
		for _, d := range cands {
			if n := searched[d]; n > 1 {
				t.Fatalf("candidate %+v searched %d times", d, n)
			} else if n == 1 {
				continue
			}
			skipped++
			e := d.extent()
			var pads []image.Rectangle
			ok := false
			for _, f := range all {
				pads = append(pads, f.Box.Inset(-f.Box.Dx()/5))
				in := e.Intersect(f.Box)
				ok = ok || 5*area(in) >= 4*area(e) ||
					5*area(f.Box.Intersect(e)) >= 4*area(f.Box) && 2*e.Dx() <= 3*f.Box.Dx()
			}
			ok = ok || inUnion(e, pads)
			if !ok {
				t.Fatalf("candidate %+v (%v) not searched, and no face settles it: %v", d, e, all)
			}
		}
		for _, w := range accepted {
			x, y := image.Pt(int(w.x), int(w.y)), false
			for _, f := range all {
				y = y || x.In(f.Box)
			}
			if !y {
				t.Fatalf("window %+v accepted, but no face returned or known holds it", w)
			}
		}
		for _, f := range out {
			if !f.Refined {
				t.Fatalf("face %v returned without Refined", f)
			}
			for _, g := range grid {
				if in := f.Box.Intersect(g.Box); 5*area(in) >= 4*area(f.Box) {
					t.Fatalf("face %v returned though it lies in the grid's face %v", f, g)
				}
			}
		}
	}
	if skipped == 0 || waves <= 300 {
		t.Fatalf("%d candidates skipped in %d waves: the test checks no settling and no deferral", skipped, waves)
	}
}

// inUnion reports whether every pixel of r lies in one of rs, cell by cell
// of the grid that the rectangles' edges draw over r.
func inUnion(r image.Rectangle, rs []image.Rectangle) bool {
	xs, ys := []int{r.Min.X, r.Max.X}, []int{r.Min.Y, r.Max.Y}
	for _, b := range rs {
		xs, ys = append(xs, b.Min.X, b.Max.X), append(ys, b.Min.Y, b.Max.Y)
	}
	slices.Sort(xs)
	slices.Sort(ys)
	for i := 1; i < len(xs); i++ {
		for j := 1; j < len(ys); j++ {
			cell := image.Rect(xs[i-1], ys[j-1], xs[i], ys[j]).Intersect(r)
			if cell.Empty() {
				continue
			}
			held := false
			for _, b := range rs {
				held = held || cell.In(b)
			}
			if !held {
				return false
			}
		}
	}
	return true
}

// TestWindowsOfTwoWavesAddUp: two overlapping candidates go to two waves;
// the search accepts one window at each, on one face, each scoring short
// of refineScore, together reaching it. The face is found, as it was when
// every candidate was searched in one batch.
func TestWindowsOfTwoWavesAddUp(t *testing.T) {
	a := detection{x: 500, y: 500, size: 120}
	b := detection{x: 505, y: 500, size: 100}
	waves := 0
	out := inWaves([]detection{a, b}, nil, func(wave []detection) []detection {
		waves++
		var found []detection
		for range wave {
			w := detection{x: 502, y: 500, size: 110, q: 0.6 * refineScore}
			found = append(found, w)
		}
		return found
	})
	if waves != 2 {
		t.Fatalf("%d waves, want 2 (the candidates overlap)", waves)
	}
	if len(out) != 1 || !image.Pt(502, 500).In(out[0].Box) {
		t.Fatalf("faces %v, want one around (502, 500) from the two waves' windows", out)
	}
}
