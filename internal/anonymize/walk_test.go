package anonymize

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
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
}
