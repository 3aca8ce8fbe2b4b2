package anonymize

// Suppress decides which cells of one table of counts (people per group)
// may not be published: every cell counting fewer than k people, and no
// other. (A cell of k or more is never hidden to protect a small one: that
// would take away exactly the figures an audit is for.) A table whose total
// is under k is suppressed whole. The result maps each suppressed cell to
// true.
func Suppress(counts map[string]int, k int) map[string]bool {
	out := map[string]bool{}
	total := 0
	for _, n := range counts {
		total += n
	}
	for g, n := range counts {
		if n < k || total < k {
			out[g] = true
		}
	}
	return out
}
