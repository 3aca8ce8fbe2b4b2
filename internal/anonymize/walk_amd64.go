package anonymize

//go:generate go run ./internal/walkgen -o walk_amd64.s

import "golang.org/x/sys/cpu"

// vectorWalk is whether walk16 may run: it needs AVX-512 (F).
var vectorWalk = cpu.X86.HasAVX512F

// walk16 is walkGo for trees of depth 6 and n windows, n a multiple of
// 16, sixteen at a time in AVX-512 registers (walk_amd64.s). pix must be
// readable for 3 bytes past any pixel a comparison reaches (see lumaBuf).
//
//go:noescape
func walk16(offs *[2 << maxDepth]int32, pix *uint8, at, node *int32, n int)

// walk sends each window centred at at[j] down the tree whose comparisons
// are offs and writes the leaf it reaches to node[j] (as a node number,
// leaves counting from 1<<depth).
//
// A batch's last windows, fewer than sixteen, go down as a vector of their
// own, the first repeated to fill it, when there are enough of them for the
// vector to be cheaper: the scalar walk costs about a quarter of a vector
// per window.
func walk(offs *[2 << maxDepth]int32, depth int, pix []uint8, at, node []int32) {
	if !vectorWalk || depth != 6 || cap(pix)-len(pix) < lumaPad || len(at) < minVector {
		walkGo(offs, depth, pix, at, node)
		return
	}
	node = node[:len(at)]
	n := len(at) &^ 15
	if n > 0 {
		walk16(offs, &pix[0], &at[0], &node[0], n)
	}
	rest := len(at) - n
	if rest < minVector {
		walkGo(offs, depth, pix, at[n:], node[n:])
		return
	}
	var a, l [16]int32
	for j := range a {
		a[j] = at[n]
	}
	copy(a[:], at[n:])
	walk16(offs, &pix[0], &a[0], &l[0], 16)
	copy(node[n:], l[:rest])
}

// minVector is the fewest windows worth a vector of sixteen.
const minVector = 4
