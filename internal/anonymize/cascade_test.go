package anonymize

import (
	"image"
	"image/jpeg"
	"math"
	"os"
	"testing"

	"github.com/disintegration/imaging"
)

// scoreOne is the cascade as written in the paper, one window at a time:
// the reference the batched scorer must agree with exactly.
func scoreOne(w *window, pix []uint8, at int) float32 {
	sum, ok := scoreFrom(w, pix, at, 0, 0)
	if !ok {
		return -1
	}
	return sum - w.c.thr[w.c.trees()-1]
}

// sampleFace returns the sample portrait (testdata/face.jpg).
func sampleFace(t *testing.T) image.Image {
	t.Helper()
	f, err := os.Open("testdata/face.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// smallFace returns the cascade and the sample portrait, 96×120 pixels (a
// face of about 52), as the search's luma, with its bounds.
func smallFace(t *testing.T) (*cascade, []uint8, image.Rectangle) {
	t.Helper()
	img := imaging.Resize(sampleFace(t), 96, 120, imaging.Lanczos)
	c, err := faceClassifier()
	if err != nil {
		t.Fatal(err)
	}
	return c, grayscale(img), img.Bounds()
}

// TestBatchedScoringAgreesWithOneWindowAtATime checks that the batched,
// interleaved scorer accepts exactly the windows, with exactly the scores,
// that the plain one-window-at-a-time cascade does, in every pose and size
// of the search, so that making it fast changed nothing it finds.
func TestBatchedScoringAgreesWithOneWindowAtATime(t *testing.T) {
	c, g, b := smallFace(t)
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

// TestTheSecondLooksWindowsScoreAsSharedOnesDo: a lazy window (the second
// look's, compiled tree by tree as windows reach it, into chunks handed back
// by other windows, whose stale offsets must never be used) accepts exactly
// the windows, with exactly the scores, that the plain one-window-at-a-time
// cascade does — in the vector and in Go, for batches from one window to
// the whole image.
func TestTheSecondLooksWindowsScoreAsSharedOnesDo(t *testing.T) {
	c, g, b := smallFace(t)
	var s lazyScratch
	for range 40 { // chunks full of offsets no window of this image may use
		ch := new(chunk)
		for i := range ch {
			for n := range ch[i] {
				ch[i][n] = 1 << 30
			}
		}
		s.spare = append(s.spare, ch)
	}
	accepted := 0
	for _, vector := range []bool{true, false} {
		was := vectorWalk
		vectorWalk = vector && was
		for _, p := range []pose{{}, {angle: math.Pi / 6}, {angle: math.Pi}} {
			for _, size := range []int{24, 40, 52, 64} {
				ref := c.window(size, b.Dx(), p, nil)
				var all []int
				for y := ref.reach; y < b.Dy()-ref.reach; y++ {
					for x := ref.reach; x < b.Dx()-ref.reach; x++ {
						all = append(all, y*b.Dx()+x)
					}
				}
				for _, n := range []int{1, 3, 5, 17, 40, len(all)} {
					for from := 0; from+n <= len(all); from += max(n, len(all)/7) {
						lazy := c.lazyWindow(size, b.Dx(), p, &s)
						var bt batch
						for _, a := range all[from : from+n] {
							bt.add(a)
						}
						lazy.run(g, &bt, c.trees())
						lazy.release()
						got := map[int]float32{}
						for j, a := range bt.at {
							got[int(a)] = bt.sum[j]
						}
						for _, a := range all[from : from+n] {
							want := scoreOne(ref, g, a)
							q, ok := got[a]
							switch {
							case (want > 0) != ok || ok && q != want:
								t.Fatalf("vector %v, pose %.0f°, size %d, batch of %d, window %d: lazy %v (%.3f), one at a time %.3f",
									vector, p.angle*180/math.Pi, size, n, a, ok, q, want)
							case ok:
								accepted++
							}
						}
					}
				}
			}
		}
		vectorWalk = was
	}
	if accepted == 0 {
		t.Fatal("no window accepted at all: the comparison proves nothing")
	}
	t.Logf("%d windows accepted by both", accepted)
}
