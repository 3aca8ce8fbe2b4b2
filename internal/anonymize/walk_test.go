package anonymize

import (
	"math/rand/v2"
	"slices"
	"testing"
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

// TestTheVectorWalkReachesTheSameLeavesAsTheScalarOne checks walk (with
// AVX-512 where the processor has it) against walkGo on random images,
// trees and window counts, on the last pixels of the image too, where the
// vector loads read into the padding.
func TestTheVectorWalkReachesTheSameLeavesAsTheScalarOne(t *testing.T) {
	if !vectorWalk {
		t.Log("no AVX-512 on this processor: walk is walkGo")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const w, h, reach = 96, 80, 20
	pix := lumaBuf(w * h)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	for round := range 400 {
		offs := randomTree(r, w, reach)
		n := round % 70
		at := make([]int32, n)
		for j := range at {
			at[j] = int32((reach+r.IntN(h-2*reach))*w + reach + r.IntN(w-2*reach))
			if j == 0 && round%2 == 0 {
				at[j] = int32((h-1-reach)*w + w - 1 - reach) // reaches the image's last pixel
			}
		}
		const depth = 6 // the vector walk's; other depths take walkGo
		want, got := make([]int32, n), make([]int32, n)
		walkGo(offs, depth, pix, at, want)
		walk(offs, depth, pix, at, got)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d, %d windows, depth %d: walk reached %v, walkGo %v", round, n, depth, got, want)
		}
	}
}

func BenchmarkWalk(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const w, h, reach = 1024, 64, 24
	pix := lumaBuf(w * h)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	offs := randomTree(r, w, reach)
	at := make([]int32, 320)
	for j := range at {
		at[j] = int32(32*w + reach + 3*j)
	}
	node := make([]int32, len(at))
	for _, f := range []struct {
		name string
		walk func(*[2 << maxDepth]int32, int, []uint8, []int32, []int32)
	}{{"go", walkGo}, {"dispatch", walk}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				f.walk(offs, 6, pix, at, node)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(at)), "ns/window")
		})
	}
}
