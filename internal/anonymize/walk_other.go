//go:build !amd64

package anonymize

// walk sends each window centred at at[j] down the tree whose comparisons
// are offs and writes the leaf it reaches to node[j].
func walk(offs *[2 << maxDepth]int32, depth int, pix []uint8, at, node []int32) {
	walkGo(offs, depth, pix, at, node)
}
