package anonymize

import "sort"

// Suppress decides which cells of one table of counts (people per group)
// may not be published: every cell counting fewer than k people, and, if
// that leaves exactly one cell hidden among others, the smallest published
// cell too, so the hidden one cannot be recovered from the total. The result
// maps each suppressed cell to true. A table whose total is under k is
// suppressed whole.
func Suppress(counts map[string]int, k int) map[string]bool {
	out := map[string]bool{}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total < k {
		for g := range counts {
			out[g] = true
		}
		return out
	}
	var shown []string
	for g, n := range counts {
		if n < k {
			out[g] = true
		} else {
			shown = append(shown, g)
		}
	}
	hiddenPeople := 0
	for g := range out {
		hiddenPeople += counts[g]
	}
	if len(out) > 0 && hiddenPeople > 0 && hiddenPeople < k && len(shown) > 0 {
		// The hidden cells' sum could be recovered from the total: hide
		// the smallest shown cell as well.
		sort.Slice(shown, func(i, j int) bool {
			if counts[shown[i]] != counts[shown[j]] {
				return counts[shown[i]] < counts[shown[j]]
			}
			return shown[i] < shown[j]
		})
		out[shown[0]] = true
	}
	return out
}
