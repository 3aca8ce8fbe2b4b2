package anonymize

import (
	"image/jpeg"
	"math"
	"os"
	"testing"

	"github.com/disintegration/imaging"
)

// scoreOne is the cascade as written in the paper, one window at a time:
// the reference the batched scorer must agree with exactly.
func scoreOne(w *window, pix []uint8, at int) float32 {
	c := w.c
	var sum float32
	for t := range c.trees() {
		offs := &w.compile(t / chunkTrees)[t%chunkTrees]
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
			return -1
		}
	}
	return sum - c.thr[c.trees()-1]
}

// TestBatchedScoringAgreesWithOneWindowAtATime checks that the batched,
// interleaved scorer accepts exactly the windows, with exactly the scores,
// that the plain one-window-at-a-time cascade does, in every pose and size
// of the search, so that making it fast changed nothing it finds.
func TestBatchedScoringAgreesWithOneWindowAtATime(t *testing.T) {
	f, err := os.Open("testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	img := imaging.Resize(src, 96, 120, imaging.Lanczos) // a face of about 52 pixels
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	g := grayscale(img)
	accepted := 0
	for _, p := range append((Search{}).poses(), pose{angle: 0, mirror: true}) {
		for size := defaultMinFace; size <= 80; size = nextSize(size) {
			w := c.window(size, b.Dx(), p, nil)
			for y := w.reach; y < b.Dy()-w.reach; y++ {
				var bt batch
				bt.reset()
				for x := w.reach; x < b.Dx()-w.reach; x++ {
					bt.add(y*b.Dx() + x)
				}
				w.run(g, &bt, c.trees())
				got := map[int]float32{}
				for j, a := range bt.at {
					got[int(a)-y*b.Dx()] = bt.sum[j]
				}
				for x := w.reach; x < b.Dx()-w.reach; x++ {
					want := scoreOne(w, g, y*b.Dx()+x)
					q, ok := got[x]
					switch {
					case want > 0 && !ok:
						t.Fatalf("pose %.0f° size %d at (%d, %d): one at a time accepts (%.3f), batched rejects",
							p.angle*180/math.Pi, size, x, y, want)
					case want <= 0 && ok:
						t.Fatalf("pose %.0f° size %d at (%d, %d): batched accepts (%.3f), one at a time rejects",
							p.angle*180/math.Pi, size, x, y, q)
					case ok && q != want:
						t.Fatalf("pose %.0f° size %d at (%d, %d): batched scores %v, one at a time %v",
							p.angle*180/math.Pi, size, x, y, q, want)
					case ok:
						accepted++
					}
				}
			}
		}
	}
	if accepted == 0 {
		t.Fatal("no window accepted at all: the comparison proves nothing")
	}
	t.Logf("%d windows accepted by both", accepted)
}
