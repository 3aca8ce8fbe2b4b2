package anonymize

import "sync/atomic"

// Walks names the tree walks that run on this processor, fastest first:
// "avx512" (runTree), "avx2" (runTreeAVX2) and "go" (walk).
func Walks() []string {
	var out []string
	if hasAVX512 {
		out = append(out, "avx512")
	}
	if hasAVX2 {
		out = append(out, "avx2")
	}
	return append(out, "go")
}

// UseWalk makes the search walk trees as name says (one of Walks) and
// returns a function that restores the walk chosen for the processor, for
// tests and benchmarks that compare them.
func UseWalk(name string) (restore func()) {
	vec, half := vectorWalk, halfWalk
	vectorWalk = name == "avx512" && hasAVX512
	halfWalk = name == "avx2" && hasAVX2
	return func() { vectorWalk, halfWalk = vec, half }
}

// hasAVX512 is whether runTree runs here at all.
var hasAVX512 = vectorWalk

// CountWindowTrees makes the search count, per tree, the windows it sends
// down it on the grid and in the second look (Go walk only; see
// treeCounts), until the returned function stops it and gives the counts.
func CountWindowTrees() (stop func() (grid, second []int64)) {
	c, err := faceClassifier()
	if err != nil {
		panic(err)
	}
	w := &windowTrees{grid: make([]atomic.Int64, c.trees()), second: make([]atomic.Int64, c.trees())}
	treeCounts.Store(w)
	return func() (grid, second []int64) {
		treeCounts.Store(nil)
		for i := range w.grid {
			grid, second = append(grid, w.grid[i].Load()), append(second, w.second[i].Load())
		}
		return grid, second
	}
}
