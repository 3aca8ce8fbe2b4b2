package anonymize

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"
)

// Face is a detected face: the upright, axis-aligned box that holds it
// whatever its turn, the turn it was found at (degrees, counter-clockwise
// as displayed) and the detector's summed score.
type Face struct {
	Box   image.Rectangle
	Angle float64
	Score float32

	// Refined is true for a face the grid missed and the second, dense
	// look around a candidate found (see refine): it is covered like any
	// other, but is never taken for the subject in bystander mode.
	Refined bool
}

// Search is how thoroughly faces are looked for. The zero value is the
// default: every face of 24 pixels or more, at every turn in steps of 30°
// (twelve poses: upright, on either side and upside down, and each of those
// turned 30° and 60° further). The cascade finds a face turned up to about
// 25° from its pose (TestThePortraitIsFoundAtEveryTurnAndSize), so no turn
// is more than 15° from one; poses 0° and ±25° around each quarter, as
// before, left 20° gaps at the same cost and found fewer real faces.
//
// Mirrored faces need no poses of their own by default: the cascade was
// trained on mirrored examples too, and the tests show mirrored variants of
// the sample found in the unmirrored poses. Mirror runs them anyway.
type Search struct {
	MinFace int       // smallest face side in pixels; 0 means 24
	Tilts   []float64 // degrees around each quarter turn; nil means 0, 30, 60
	Mirror  bool      // also run the cascade mirrored (twice the work; see Faces)

	// NoRefine leaves out the second look at candidates (see refine): the
	// search around a covered face, and tests of the first pass alone.
	NoRefine bool
}

// maxLuma is the most pixels an image searched for faces may have: pixels
// are indexed in 32 bits in the search's batches and vector code.
const maxLuma = math.MaxInt32 - lumaPad

// ErrTooLarge is returned for an image with more pixels than the face
// search indexes (about two thousand million).
var ErrTooLarge = errors.New("anonymize: image too large")

// defaultMinFace is the smallest face searched for by default, in pixels.
const defaultMinFace = 24

// minScore is the summed detection score below which a cluster of
// detections is not taken for a face.
const minScore = 4

func (s Search) poses() []pose {
	tilts := s.Tilts
	if tilts == nil {
		tilts = []float64{0, 30, 60}
	}
	var ps []pose
	for q := range 4 {
		for _, t := range tilts {
			a := (float64(q)*90 + t) * math.Pi / 180
			ps = append(ps, pose{angle: a})
			if s.Mirror {
				ps = append(ps, pose{angle: a, mirror: true})
			}
		}
	}
	return ps
}

// DetectFaces finds faces in img (as displayed: apply any EXIF orientation
// first) with the default Search, largest first.
func DetectFaces(img image.Image) ([]Face, error) { return Search{}.Faces(img) }

// Faces finds faces in img, largest first.
//
// The search runs pigo's cascade over an image pyramid: each octave of face
// sizes is searched on the image halved as often as that octave allows, so
// the full-resolution image is only scanned for the smallest faces (24–48
// pixels) and each larger octave costs a quarter of the one below. Poses
// run in parallel, one goroutine per core. Nothing is skipped for speed:
// every window position (at a step of a seventh of the window, rounded
// down) and every size from MinFace up to the image's short side (15%
// apart) is tested in every pose.
//
// The cascade is sensitive to where its windows fall: on 1,584 crops of 22
// real faces (24–48 pixels, every 15°) this grid finds 76%; a step of a
// sixth finds 64%, sizes 19% apart 69%, eight poses 45° apart 62%, and a
// coarse grid refined where the first trees pass loses raw detections
// even after one tree. So the speed comes from scoring windows cheaply
// (see window.run), never from scoring fewer.
func (s Search) Faces(img image.Image) ([]Face, error) {
	c, err := faceClassifier()
	if err != nil {
		return nil, err
	}
	minFace := s.MinFace
	if minFace <= 0 {
		minFace = defaultMinFace
	}
	b := img.Bounds()
	if int64(padStride(b.Dx()))*int64(b.Dy()) > maxLuma {
		return nil, fmt.Errorf("%w: %d×%d pixels, more than the face search takes (%d)", ErrTooLarge, b.Dx(), b.Dy(), maxLuma)
	}
	levels := pyramid(grayscale(img), b.Dx(), b.Dy(), minFace)
	var raw, cands []detection
	inParallel(s.poses(), func() (func(pose), func()) {
		var mine, deep []detection
		return func(p pose) {
				for _, l := range levels {
					mine, deep = l.scan(c, p, minFace, mine, deep)
				}
			}, func() {
				raw, cands = append(raw, mine...), append(cands, deep...)
			}
	})
	faces := cluster(raw, minScore)
	if !s.NoRefine {
		faces = append(faces, refine(c, levels, minFace, faces, cands)...)
		sortLargestFirst(faces)
	}
	for i := range faces {
		faces[i].Box = faces[i].Box.Add(b.Min).Intersect(b)
	}
	return faces, nil
}

// level is one image of the pyramid: 8-bit luma at 1/scale of the original,
// w×h pixels in rows of stride bytes.
//
// Rows are padded to a multiple of 64 bytes, so that images of nearby widths
// share a stride and with it the compiled windows (which are compiled per
// stride; see window): a dataset's photographs vary in width by a few
// pixels, and compiling afresh for each costs more than scanning a small
// one. No window reaches into the padding.
type level struct {
	pix       []uint8
	w, h      int
	stride    int
	scale     int
	maxWindow int // largest window searched here
}

// padStride is the row length a level of width w is stored with.
func padStride(w int) int { return (w + 63) &^ 63 }

func pyramid(g []uint8, w, h, minFace int) []level {
	var out []level
	g, stride := restride(g, w, h, w), padStride(w)
	for f := 1; ; f *= 2 {
		l := level{pix: g, w: w, h: h, stride: stride, scale: f, maxWindow: 2*minFace - 1}
		if min(w/2, h/2) < minFace {
			l.maxWindow = min(w, h) // the top: every size that fits
			return append(out, l)
		}
		out = append(out, l)
		g, w, h, stride = halve(g, w, h, stride), w/2, h/2, padStride(w/2)
	}
}

// restride copies a w×h image stored in rows of from bytes into rows of
// padStride(w) bytes.
func restride(g []uint8, w, h, from int) []uint8 {
	to := padStride(w)
	if to == from && cap(g)-len(g) >= lumaPad {
		return g
	}
	out := lumaBuf(to * h)
	for y := range h {
		copy(out[y*to:y*to+w], g[y*from:y*from+w])
	}
	return out
}

// detection is one window the cascade accepted, in full-resolution pixels.
type detection struct {
	x, y, size float64 // centre and window side
	angle      float64
	q          float32
	scale      int // the pyramid level's (candidates only)
}

// nextSize is the window after size: about 15% larger, at least 2 pixels.
func nextSize(size int) int { return size + max(2, size*3/20) }

// centre is where the window centred at pixel a of l is centred in the
// original image.
func (l level) centre(a int32) (x, y float64) {
	f := float64(l.scale)
	return (float64(int(a)%l.stride) + 0.5) * f, (float64(int(a)/l.stride) + 0.5) * f
}

// rowsPerBatch is how many rows of the grid are scored together: enough
// that after the first trees, which reject most windows, the batch still
// fills the vector walk's sixteen lanes for many trees. Sixteen rows, as
// before, took 0.061 s per group photograph, 128 rows 0.052
// (BenchmarkSearchGroupPhotos1024/first-pass/avx512, then named vector;
// docs/BENCHMARKS.md, "fourth pass").
const rowsPerBatch = 128

// scan runs the cascade in pose p over every window of l from minFace to
// l.maxWindow and appends what it accepts to out, and the windows that pass
// the first half of the cascade to deep (with no score).
func (l level) scan(c *cascade, p pose, minFace int, out, deep []detection) ([]detection, []detection) {
	b := batch{mark: deepTrees(c)}
	f := float64(l.scale)
	for size := minFace; size <= l.maxWindow; size = nextSize(size) {
		cache := &gridWindows
		if minFace != defaultMinFace {
			cache = &checkWindows
		}
		win := c.window(size, l.stride, p, cache)
		step := max(1, size/7)
		m := win.reach
		if l.w <= 2*m || l.h <= 2*m {
			continue
		}
		nx, ny := (l.w-2*m+step-1)/step, (l.h-2*m+step-1)/step // grid x = m, m+step, … < l.w-m
		emit := func() {
			for j, a := range b.at {
				x, y := l.centre(a)
				out = append(out, detection{x: x, y: y, size: float64(size) * f, angle: p.angle, q: b.sum[j]})
			}
			for _, a := range b.deep {
				x, y := l.centre(a)
				deep = append(deep, detection{x: x, y: y, size: float64(size) * f, angle: p.angle, scale: l.scale})
			}
		}
		// Many rows at once, so that the batch stays long enough for the
		// vector walk through the trees most windows pass.
		for gy := 0; gy < ny; gy += rowsPerBatch {
			if firstTreeRows(c, l.pix, step) {
				b.firstRows(win, l.pix, m*l.stride+m, step, step*l.stride, nx, gy, min(ny, gy+rowsPerBatch))
			} else {
				b.fillRows(m*l.stride+m, step, step*l.stride, nx, gy, min(ny, gy+rowsPerBatch))
			}
			win.run(l.pix, &b, c.trees())
			emit()
		}
	}
	return out, deep
}

// cluster merges overlapping detections (intersection over union of their
// squares above 0.3) into faces, strongest first, and keeps those whose
// summed score reaches minScore. A face's box holds the square of the
// score-weighted mean detection, turned as the strongest one.
func cluster(raw []detection, minScore float32) []Face {
	faces, _ := clusterRest(raw, minScore)
	return faces
}

// clusterRest is cluster, also returning the detections of the clusters
// that fell short of minScore.
func clusterRest(raw []detection, minScore float32) (faces []Face, rest []detection) {
	// A total order, so that the result does not depend on which worker
	// handed in its detections first.
	sort.Slice(raw, func(i, j int) bool {
		if a, b := raw[i], raw[j]; a.q != b.q {
			return a.q > b.q
		}
		return largerFirst(raw[i], raw[j])
	})
	used := make([]bool, len(raw))
	var members []int
	for i, d := range raw {
		if used[i] {
			continue
		}
		var q float32
		m := detection{angle: d.angle}
		members = members[:0]
		for j := i; j < len(raw); j++ {
			if used[j] || iou(d, raw[j]) <= 0.3 {
				continue
			}
			used[j] = true
			members = append(members, j)
			e := raw[j]
			q += e.q
			w := float64(e.q)
			m.x, m.y, m.size = m.x+w*e.x, m.y+w*e.y, m.size+w*e.size
		}
		if q >= minScore {
			m.x, m.y, m.size = m.x/float64(q), m.y/float64(q), m.size/float64(q)
			faces = append(faces, Face{Box: m.extent(), Angle: math.Round(d.angle * 180 / math.Pi), Score: q})
			continue
		}
		for _, j := range members {
			rest = append(rest, raw[j])
		}
	}
	sortLargestFirst(faces)
	return faces, rest
}

func sortLargestFirst(faces []Face) {
	sort.SliceStable(faces, func(i, j int) bool {
		return faces[i].Box.Dx()*faces[i].Box.Dy() > faces[j].Box.Dx()*faces[j].Box.Dy()
	})
}

// extent is the upright box around the detection's turned square.
func (d detection) extent() image.Rectangle {
	a := d.angle
	h := d.size / 2 * (math.Abs(math.Cos(a)) + math.Abs(math.Sin(a)))
	return image.Rect(int(math.Floor(d.x-h)), int(math.Floor(d.y-h)), int(math.Ceil(d.x+h)), int(math.Ceil(d.y+h)))
}

func iou(a, b detection) float64 {
	ov := func(c1, s1, c2, s2 float64) float64 {
		return math.Max(0, math.Min(c1+s1/2, c2+s2/2)-math.Max(c1-s1/2, c2-s2/2))
	}
	i := ov(a.x, a.size, b.x, b.size) * ov(a.y, a.size, b.y, b.size)
	return i / (a.size*a.size + b.size*b.size - i)
}

// largerFirst orders detections by size, largest first, then by pose and
// place: a total order, so results never depend on which worker finished
// first.
func largerFirst(a, b detection) bool {
	switch {
	case a.size != b.size:
		return a.size > b.size
	case a.angle != b.angle:
		return a.angle < b.angle
	case a.y != b.y:
		return a.y < b.y
	}
	return a.x < b.x
}
