package anonymize

import (
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
// random candidates with a search that "finds" a face at some of them, and
// checks its promise: no two candidates of a wave overlap, each is
// searched at most once, and every candidate is either searched or settled
// (see settled) by the grid's faces and what the waves before its own
// found; and faces already known are not returned again.
func TestTheSecondLookSearchesEveryCandidateNoFaceSettles(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
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
			d := cands[r.IntN(len(cands))]
			grid = append(grid, Face{Box: d.extent()})
		}
		found := map[detection]bool{} // the candidates whose search finds a face
		for _, d := range cands {
			found[d] = r.IntN(3) == 0
		}
		searched := map[detection]int{}
		known := append([]Face(nil), grid...)
		var out []Face
		out = inWaves(slices.Clone(cands), grid, func(wave []detection) []Face {
			waves++
			for i, d := range wave {
				searched[d]++
				if settled(d.extent(), known) {
					t.Fatalf("candidate %+v searched, though a face known before its wave settles it", d)
				}
				for _, e := range wave[:i] {
					if d.extent().Overlaps(e.extent()) {
						t.Fatalf("candidates %+v and %+v overlap in one wave", d, e)
					}
				}
			}
			var faces []Face
			for _, d := range wave {
				if found[d] {
					faces = append(faces, Face{Box: d.extent().Inset(-int(d.size) / 10)})
				}
			}
			before := known
			for _, f := range faces { // those not known before the wave are kept
				if !covered(f.Box, before) && !holds(f.Box, before) {
					known = append(known, f)
				}
			}
			return faces
		})
		for _, d := range cands {
			switch n := searched[d]; {
			case n > 1:
				t.Fatalf("candidate %+v searched %d times", d, n)
			case n == 0 && !settled(d.extent(), known):
				t.Fatalf("candidate %+v neither searched nor settled by a face found", d)
			case n == 0:
				skipped++
			}
		}
		for _, f := range out {
			if !f.Refined {
				t.Fatalf("face %v returned without Refined", f)
			}
			if covered(f.Box, grid) {
				t.Fatalf("face %v returned though it lies in a face of the grid", f)
			}
		}
	}
	if skipped == 0 || waves <= 300 {
		t.Fatalf("%d candidates skipped in %d waves: the test checks no settling and no deferral", skipped, waves)
	}
}
