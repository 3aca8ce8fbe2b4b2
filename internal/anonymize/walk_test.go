package anonymize

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"testing"

	"github.com/disintegration/imaging"
)

// randomTree returns a tree of comparisons whose points lie within reach of
// a window's centre on an image of the given stride.
func randomTree(r *rand.Rand, stride, reach int) *[2 << maxDepth]int32 {
	var offs [2 << maxDepth]int32
	for n := 2; n < len(offs); n++ {
		offs[n] = int32((r.IntN(2*reach+1)-reach)*stride + r.IntN(2*reach+1) - reach)
	}
	return &offs
}

// BenchmarkTree runs one tree on 320 windows of a random image, in Go and
// with runTree, and on the first 313 with runTreeAVX2 (which needs room
// past its windows): each where the processor runs it.
func BenchmarkTree(b *testing.B) {
	c, err := faceClassifier()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const w, h, reach = 1024, 64, 24
	pix := randomLuma(r, w*h)
	offs := randomTree(r, w, reach)
	pred := make([]float32, 64)
	for i := range pred {
		pred[i] = r.Float32()
	}
	centres := make([]int32, 320)
	for j := range centres {
		centres[j] = int32(32*w + reach + 3*j)
	}
	at, sum, node := make([]int32, len(centres)), make([]float32, len(centres)), make([]int32, len(centres))
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			copy(at, centres)
			walk(offs, 6, pix, at, node)
			m := 0
			for j := range at {
				s := sum[j] + pred[node[j]-64]
				at[m], sum[m] = at[j], s
				if s > -1 {
					m++
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(at)), "ns/window")
	})
	if hasAVX2 {
		b.Run("avx2", func(b *testing.B) {
			for b.Loop() {
				copy(at, centres)
				runTreeAVX2(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at)-walkSlack, -1, halfTables)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(len(at)-walkSlack)), "ns/window")
		})
	}
	if !vectorTrees(c, pix) {
		return
	}
	b.Run("avx512", func(b *testing.B) {
		for b.Loop() {
			copy(at, centres)
			runTree(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at), -1)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(at)), "ns/window")
	})
}

// TestTheVectorWalkIsWhatItsGeneratorWrites guards against a hand edit of
// walk_amd64.s: go generate must reproduce it.
func TestTheVectorWalkIsWhatItsGeneratorWrites(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(gobin, "run", "./internal/walkgen", "-o", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("walk_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, have) {
		t.Error("walk_amd64.s differs from what internal/walkgen writes: run go generate in internal/anonymize")
	}
}

// TestAWindowReachingOutsideTheImageStopsTheSearch: the vector walk reads
// without bounds checks, so run refuses a window too near the edge.
func TestAWindowReachingOutsideTheImageStopsTheSearch(t *testing.T) {
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 128, 128
	pix := lumaBuf(w * h)
	win := c.window(40, w, pose{}, nil)
	for _, at := range []int{win.reach*w + win.reach, (h-1-win.reach)*w + w - 1 - win.reach} {
		var b batch
		b.add(at)
		win.run(pix, &b, c.trees()) // on the edge of what is allowed: no panic
	}
	for _, at := range []int{win.reach*w + win.reach - 1 - w, (h-win.reach)*w + w - win.reach} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("a window centred at pixel %d, whose comparisons reach past the image, was scored", at)
				}
			}()
			var b batch
			b.add(at)
			win.run(pix, &b, c.trees())
		}()
	}
	// A grid's rows (which run checks by their first and last windows)
	// starting a pixel too near the top left, or ending a row too near
	// the bottom.
	r := win.reach
	for _, g := range []struct{ first, dy, rows int }{
		{r*w + r - 1, 3 * w, (h - 2*r) / 3},
		{r*w + r, w, h - 2*r + 1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("grid rows from pixel %d, %d rows %d apart, reach past the image and were scored", g.first, g.rows, g.dy)
				}
			}()
			var b batch
			b.fillRows(g.first, 3, g.dy, 10, 0, g.rows)
			win.run(pix, &b, c.trees())
		}()
		if !firstTreeRows(c, pix, 3) {
			continue
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("grid rows from pixel %d, %d rows %d apart, reach past the image and had their first tree scored", g.first, g.rows, g.dy)
				}
			}()
			var b batch
			b.firstRows(win, pix, g.first, 3, g.dy, 10, 0, g.rows)
		}()
	}
}

// TestGridRowsScoredFromTheFirstTreeOnAreScoredAsBefore checks a grid
// batch whose first tree runFirstTree scored (firstRows), then run took on
// from the second, against the same batch laid out by fillRows and run
// from the first: for windows of several sizes and poses on the sample
// portrait (where windows run deep), batches of one to many rows, and
// cascades cut after one, two, a few and all trees, with the deep
// windows recorded after the first tree, the second and half the
// cascade, the same windows must pass with the same sums and the same
// deep windows.
func TestGridRowsScoredFromTheFirstTreeOnAreScoredAsBefore(t *testing.T) {
	c := vectorCascade(t)
	img := portrait(t)
	b := img.Bounds()
	g := restride(grayscale(img), b.Dx(), b.Dy(), b.Dx())
	l := level{pix: g, w: b.Dx(), h: b.Dy(), stride: padStride(b.Dx())}
	checked := 0
	for _, size := range []int{24, 31, 46, 62} {
		for _, p := range []pose{{}, {angle: 0.5}, {angle: math.Pi / 2}, {angle: 2, mirror: true}} {
			step := max(1, size/7)
			if !firstTreeRows(c, l.pix, step) {
				t.Skip("no AVX-512 VBMI on this processor: the grid's first tree is gathered")
			}
			win := c.window(size, l.stride, p, nil)
			m := win.reach
			nx, ny := (l.w-2*m+step-1)/step, (l.h-2*m+step-1)/step
			first := m*l.stride + m
			for _, rows := range [][2]int{{0, 1}, {3, 6}, {0, ny}} {
				for _, trees := range []int{1, 2, 5, c.trees()} {
					for _, mark := range []int{1, 2, c.trees() / 2} {
						want, got := batch{mark: mark}, batch{mark: mark}
						want.fillRows(first, step, step*l.stride, nx, rows[0], rows[1])
						win.run(l.pix, &want, trees)
						got.firstRows(win, l.pix, first, step, step*l.stride, nx, rows[0], rows[1])
						win.run(l.pix, &got, trees)
						if !slices.Equal(got.at, want.at) || !slices.Equal(got.sum, want.sum) || !slices.Equal(got.deep, want.deep) {
							t.Fatalf("size %d, pose %v, rows %v, %d trees, mark %d: kept %d windows (%d deep), want %d (%d deep), or other sums",
								size, p, rows, trees, mark, len(got.at), len(got.deep), len(want.at), len(want.deep))
						}
						checked += len(want.at)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no window passed in any batch: the comparison checks nothing")
	}
}

// vectorCascade returns the cascade, or skips the test where there is no
// vector tree.
func vectorCascade(t *testing.T) *cascade {
	t.Helper()
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	if !vectorTrees(c, lumaBuf(1)) {
		t.Skip("no AVX-512 on this processor: run scores in Go")
	}
	return c
}

// randomLuma returns a luma image of n random pixels.
func randomLuma(r *rand.Rand, n int) []uint8 {
	pix := lumaBuf(n)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	return pix
}

// randomValue returns a source of random predictions, sums and
// thresholds: whole numbers from -1 to 1 (so that sums often equal a
// threshold), or any in [-1, 1).
func randomValue(r *rand.Rand, whole bool) func() float32 {
	return func() float32 {
		if whole {
			return float32(r.IntN(3) - 1)
		}
		return r.Float32()*2 - 1
	}
}

// randomTreeValues fills pred from value and returns a threshold: a whole
// number, or a value halved.
func randomTreeValues(value func() float32, whole bool, pred []float32) float32 {
	for i := range pred {
		pred[i] = value()
	}
	if whole {
		return value()
	}
	return value() / 2
}

// keptInGo is what one tree keeps of the windows centred at at with sums
// sum, walked and scored in Go: their centres and new sums.
func keptInGo(offs *[2 << maxDepth]int32, pix []uint8, pred []float32, thr float32, at []int32, sum []float32) ([]int32, []float32) {
	node := make([]int32, len(at))
	walk(offs, 6, pix, at, node)
	var keptAt []int32
	var keptSum []float32
	for j := range at {
		if s := sum[j] + pred[node[j]-64]; s > thr {
			keptAt, keptSum = append(keptAt, at[j]), append(keptSum, s)
		}
	}
	return keptAt, keptSum
}

// TestTheVectorTreeKeepsWhatTheScalarOneKeeps checks runTree and
// runTreeAVX2 (where the processor runs them) against walk and the scoring
// in Go on random images, trees, predictions and sums, for every batch
// length up to five vectors of sixteen (the last one partly masked); in
// every other batch the predictions, sums and threshold are whole numbers,
// so that many sums equal the threshold, which must not pass. The room
// past the windows holds centres far outside the image, which a lane not
// in use must not load; runTreeAVX2 may write into that room, never
// beyond it.
func TestTheVectorTreeKeepsWhatTheScalarOneKeeps(t *testing.T) {
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	const w, h, reach = 96, 80, 20
	pix := randomLuma(rand.New(rand.NewPCG(5, 6)), w*h)
	type treeWalk func(offs *[2 << maxDepth]int32, pred []float32, at []int32, sum []float32, thr float32) int
	var walks []struct {
		name string
		run  treeWalk
	}
	if vectorTrees(c, pix) {
		walks = append(walks, struct {
			name string
			run  treeWalk
		}{"runTree", func(offs *[2 << maxDepth]int32, pred []float32, at []int32, sum []float32, thr float32) int {
			return runTree(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at), thr)
		}})
	}
	if hasAVX2 {
		walks = append(walks, struct {
			name string
			run  treeWalk
		}{"runTreeAVX2", func(offs *[2 << maxDepth]int32, pred []float32, at []int32, sum []float32, thr float32) int {
			const guard = -7 // just past the room
			roomAt, roomSum := at[:len(at)+walkSlack+1], sum[:len(sum)+walkSlack+1]
			roomAt[len(roomAt)-1], roomSum[len(roomSum)-1] = guard, guard
			m := runTreeAVX2(offs, &pix[0], &pred[0], &at[0], &sum[0], len(at), thr, halfTables)
			if roomAt[len(roomAt)-1] != guard || roomSum[len(roomSum)-1] != guard {
				t.Fatalf("runTreeAVX2 wrote past the room it was given")
			}
			return m
		}})
	}
	if len(walks) == 0 {
		t.Skip("no AVX2 or AVX-512 on this processor: run scores in Go")
	}
	pred := make([]float32, 64)
	ties := 0
	for _, tw := range walks {
		r := rand.New(rand.NewPCG(7, 8)) // the same batches for every walk
		for n := 1; n <= 81; n++ {
			offs := randomTree(r, w, reach)
			whole := n%2 == 0
			value := randomValue(r, whole)
			thr := randomTreeValues(value, whole, pred)
			at, sum := make([]int32, n, n+walkSlack+1), make([]float32, n, n+walkSlack+1)
			for j := range at {
				at[j] = int32((reach+r.IntN(h-2*reach))*w + reach + r.IntN(w-2*reach))
				sum[j] = value() / 2
				if whole {
					sum[j] = value()
				}
			}
			for j := n; j < n+walkSlack; j++ {
				at[:cap(at)][j] = 1 << 30
			}
			wantAt, wantSum := keptInGo(offs, pix, pred, thr, at, sum)
			if whole {
				node := make([]int32, n)
				walk(offs, 6, pix, at, node)
				for j := range at {
					if sum[j]+pred[node[j]-64] == thr {
						ties++
					}
				}
			}
			m := tw.run(offs, pred, at, sum, thr)
			if !slices.Equal(at[:m], wantAt) || !slices.Equal(sum[:m], wantSum) {
				t.Fatalf("%s, %d windows: kept %v with sums %v, want %v with %v", tw.name, n, at[:m], sum[:m], wantAt, wantSum)
			}
		}
	}
	if ties == 0 {
		t.Fatal("no sum equalled the threshold: the test does not check that ties are dropped")
	}
}

// TestWindowsOfManySizesScoreAsEachAlone checks runTreesSized and
// runTreesSizedAVX2 (where the processor runs them), which run windows of
// many sizes in one turn together and compute their offsets as they go,
// against each window run alone through its size's compiled
// trees (window.offset): on the sample portrait (where windows run deep)
// and a random image, in several turns, from the first tree and from
// others, for batches of one window to several vectors (the last one
// partly masked), the same windows must pass, in order, with the same sums
// and sizes.
func TestWindowsOfManySizesScoreAsEachAlone(t *testing.T) {
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	type sizedWalk func(tree *int32, stride int32, pix *uint8, pred, thr *float32, trees int, at, size *int32, sum *float32, n int) int
	walks := map[string]sizedWalk{}
	if vectorTrees(c, lumaBuf(1)) {
		walks["runTreesSized"] = runTreesSized
	}
	if hasAVX2 {
		walks["runTreesSizedAVX2"] = func(tree *int32, stride int32, pix *uint8, pred, thr *float32, trees int, at, size *int32, sum *float32, n int) int {
			return runTreesSizedAVX2(tree, stride, pix, pred, thr, trees, at, size, sum, n, halfTables)
		}
	}
	if len(walks) == 0 {
		t.Skip("no AVX2 or AVX-512 on this processor: the second look runs in Go")
	}
	_, face, b := smallFace(t)
	r := rand.New(rand.NewPCG(13, 14))
	noise := randomLuma(r, b.Dx()*b.Dy())
	var many []int // sizes in runs shorter than a vector
	for s := 24; s <= 60; s++ {
		many = append(many, s)
	}
	kept := 0
	for _, sizes := range [][]int{{24, 27, 31, 40, 52, 64}, many} {
		for _, pix := range [][]uint8{face, noise} {
			for _, deg := range []int{0, 10, 30, 190, 350} {
				a := float64(deg) * math.Pi / 180
				turned := c.turned(pose{angle: a})
				for _, from := range []int{0, 1, 5, 100} {
					for _, n := range []int{1, 15, 16, 17, 47, 48, 49, 200, 500} {
						for _, bySize := range []bool{false, true} {
							at, size, sum := make([]int32, n, n+16), make([]int32, n, n+16), make([]float32, n, n+16)
							for j := range n {
								s := sizes[r.IntN(len(sizes))]
								reach := reachOf(s, a)
								at[j] = int32((reach+r.IntN(b.Dy()-2*reach))*b.Dx() + reach + r.IntN(b.Dx()-2*reach))
								size[j], sum[j] = int32(s), r.Float32()
							}
							if bySize {
								// Runs of one size, as refine hands them over:
								// triples of one size take the registers' path.
								sort.Sort(bySizes{at, size, sum})
							}
							var wantAt, wantSize []int32
							var wantSum []float32
							for j := range n {
								if q, ok := scoreFrom(c.window(int(size[j]), b.Dx(), pose{angle: a}, nil), pix, int(at[j]), sum[j], from); ok {
									wantAt, wantSize, wantSum = append(wantAt, at[j]), append(wantSize, size[j]), append(wantSum, q)
								}
							}
							for name, run := range walks {
								at, size, sum := append(make([]int32, 0, n+16), at...), append(make([]int32, 0, n+16), size...), append(make([]float32, 0, n+16), sum...)
								for j := n; j < n+16; j++ {
									at[:n+16][j] = 1 << 30 // far outside the image: a lane not in use must not load it
								}
								m := run(&turned[from*4*c.leaves], int32(b.Dx()), &pix[0], &c.pred[from*c.leaves],
									&c.thr[from], c.trees()-from, &at[0], &size[0], &sum[0], n)
								if !slices.Equal(at[:m], wantAt) || !slices.Equal(size[:m], wantSize) || !slices.Equal(sum[:m], wantSum) {
									t.Fatalf("%s, turn %d°, from tree %d, %d windows: kept %v (sizes %v), alone %v (sizes %v)", name, deg, from, n, at[:m], size[:m], wantAt, wantSize)
								}
								kept += m
							}
						}
					}
				}
			}
		}
	}
	if kept == 0 {
		t.Fatal("no window kept at all: the comparison proves nothing")
	}
	t.Logf("%d windows kept by a vector walk and alone", kept)
}

// scoreFrom runs the window of w centred at at, with the sum sum, down the
// trees from from on, one at a time as scoreOne does, and returns its sum
// and whether it passed them all.
func scoreFrom(w *window, pix []uint8, at int, sum float32, from int) (float32, bool) {
	c := w.c
	for t := from; t < c.trees(); t++ {
		offs := &w.compiled(t / chunkTrees)[t%chunkTrees]
		idx := 1
		for range c.depth {
			if pix[at+int(offs[2*idx])] <= pix[at+int(offs[2*idx+1])] {
				idx = 2*idx + 1
			} else {
				idx = 2 * idx
			}
		}
		sum += c.pred[t*c.leaves+idx-c.leaves]
		if sum <= c.thr[t] {
			return sum, false
		}
	}
	return sum, true
}

// bySizes sorts windows (centres, sizes and sums) by size.
type bySizes struct {
	at, size []int32
	sum      []float32
}

func (s bySizes) Len() int           { return len(s.at) }
func (s bySizes) Less(i, j int) bool { return s.size[i] < s.size[j] }
func (s bySizes) Swap(i, j int) {
	s.at[i], s.at[j] = s.at[j], s.at[i]
	s.size[i], s.size[j] = s.size[j], s.size[i]
	s.sum[i], s.sum[j] = s.sum[j], s.sum[i]
}

// TestTheRowTreeKeepsWhatTheGatheredOneKeeps checks runFirstTree, which
// scores a grid row's windows by byte permutes instead of gathers, against
// walk and the scoring in Go: every step it takes, rows of one window to
// several vectors (the last one partly masked) on random images, trees and
// predictions, from the image's first row and left edge to its last row
// and right edge, where its loads reach furthest past the pixels. The
// image ends with its padding at an unreadable page (on unix), so a read
// past the padding faults. In every other row the predictions and the
// threshold are whole numbers, so that many leaves equal the threshold,
// which must not pass; and nothing may be written past the windows kept.
func TestTheRowTreeKeepsWhatTheGatheredOneKeeps(t *testing.T) {
	c := vectorCascade(t)
	// Wide enough for three vectors of the widest step in a row.
	const w, h, reach = 1200, 90, 20
	pix := guardedLuma(t, w*h)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	if !firstTreeRows(c, pix, 1) {
		t.Skip("no AVX-512 VBMI on this processor: the grid's first tree is gathered")
	}
	pred := make([]float32, 64)
	ties, rows := 0, 0
	for step := 1; step <= maxRowStep; step++ {
		if !firstTreeRows(c, pix, step) {
			t.Fatalf("step %d: runFirstTree refused a step it takes", step)
		}
		most := (w-1-2*reach)/step + 1
		for k := range 40 {
			offs := randomTree(r, w, reach)
			whole := k%2 == 0
			thr := randomTreeValues(randomValue(r, whole), whole, pred)
			nx := 1 + r.IntN(most)
			if k < 4 {
				nx = most - k // whole rows and nearly whole rows
			}
			if k == 4 {
				nx = 48 // three vectors exactly
			}
			// The top left corner, the bottom right one, or anywhere.
			x, y := reach, reach
			switch {
			case k%3 == 1:
				// A last vector of one window, whose root compares the
				// image's last pixel: the loads reach furthest past it.
				nx = 1 + 16*r.IntN((most-1)/16+1)
				x, y = w-1-reach-(nx-1)*step, h-1-reach
				offs[3] = reach*w + reach
			case k%3 == 2:
				x = reach + r.IntN(w-2*reach-(nx-1)*step)
				y = reach + r.IntN(h-2*reach)
			}
			first := y*w + x
			row := make([]int32, nx)
			for j := range row {
				row[j] = int32(first + j*step)
			}
			wantAt, wantSum := keptInGo(offs, pix, pred, thr, row, make([]float32, nx))
			if whole {
				node := make([]int32, nx)
				walk(offs, 6, pix, row, node)
				for j := range row {
					if pred[node[j]-64] == thr {
						ties++
					}
				}
			}
			const poison = -3
			at, sum := make([]int32, nx+16), make([]float32, nx+16)
			for j := range at {
				at[j], sum[j] = poison, poison
			}
			m := runFirstTree(offs, &pix[0], &pred[0], &at[0], &sum[0], first, step, nx, &rowIndices[step], thr)
			if !slices.Equal(at[:m], wantAt) || !slices.Equal(sum[:m], wantSum) {
				t.Fatalf("step %d, %d windows from (%d, %d): kept %v with sums %v, want %v with %v", step, nx, x, y, at[:m], sum[:m], wantAt, wantSum)
			}
			for j := m; j < len(at); j++ {
				if at[j] != poison || sum[j] != poison {
					t.Fatalf("step %d, %d windows: wrote past the %d kept, at entry %d", step, nx, m, j)
				}
			}
			rows++
		}
	}
	if ties == 0 {
		t.Fatal("no leaf equalled the threshold: the test does not check that ties are dropped")
	}
	t.Logf("%d rows, %d windows on a leaf equal to the threshold", rows, ties)
}

// BenchmarkFirstTreeOfARow runs one tree on a row of 320 windows three
// pixels apart (the grid's step for its smallest windows), gathered
// (runTree) and permuted (runFirstTree), in the same run.
func BenchmarkFirstTreeOfARow(b *testing.B) {
	c, err := faceClassifier()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const w, h, reach, n, step = 1024, 64, 24, 320, 3
	pix := randomLuma(r, w*h)
	if !vectorTrees(c, pix) {
		b.Skip("no AVX-512 on this processor")
	}
	offs := randomTree(r, w, reach)
	pred := make([]float32, 64)
	for i := range pred {
		pred[i] = r.Float32()*2 - 1
	}
	first := 32*w + reach
	centres := make([]int32, n)
	for j := range centres {
		centres[j] = int32(first + step*j)
	}
	at, sum := make([]int32, n+16), make([]float32, n+16)
	b.Run("gathered", func(b *testing.B) {
		for b.Loop() {
			copy(at, centres)
			clear(sum)
			runTree(offs, &pix[0], &pred[0], &at[0], &sum[0], n, 0)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/window")
	})
	if !firstTreeRows(c, pix, step) {
		return
	}
	b.Run("permuted", func(b *testing.B) {
		for b.Loop() {
			runFirstTree(offs, &pix[0], &pred[0], &at[0], &sum[0], first, step, n, &rowIndices[step], 0)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/window")
	})
}

// portrait returns the sample portrait scaled to 320 pixels wide (a face of
// about 190).
func portrait(t *testing.T) image.Image {
	t.Helper()
	return imaging.Resize(sampleFace(t), 320, 0, imaging.Lanczos)
}
