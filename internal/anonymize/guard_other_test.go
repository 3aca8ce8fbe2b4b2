//go:build !unix

package anonymize

import "testing"

// guardedLuma returns a luma image of n bytes (without a guard page here).
func guardedLuma(t *testing.T, n int) []uint8 { return lumaBuf(n) }
