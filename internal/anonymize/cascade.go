package anonymize

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"math"
	"sync"
)

// facefinder is pigo's face cascade (MIT; see NOTICE).
//
//go:embed facefinder
var facefinder []byte

// cascade is pigo's face classifier (a cascade of pixel-comparison decision
// trees, Markuš et al., "Object detection with pixel intensity comparisons
// organized in decision trees", 2013), evaluated here rather than by pigo's
// RunCascade so that one window can be tested at any orientation, mirrored
// or not, through a precomputed table of pixel offsets: pigo recomputes
// every sample position for every window, clamps rotated samples against
// the row count only (out of range on a wide image) and quantizes angles to
// 1/32 of a turn.
type cascade struct {
	depth  int       // comparisons per tree
	leaves int       // 1 << depth
	codes  []int8    // per tree, per node 1..leaves-1: row1, col1, row2, col2 in 1/256 of the window
	pred   []float32 // per tree, per leaf
	thr    []float32 // per tree: reject when the running sum is at or below it
}

var (
	faceOnce    sync.Once
	faceCascade *cascade
	faceErr     error
)

func faceClassifier() (*cascade, error) {
	faceOnce.Do(func() { faceCascade, faceErr = parseCascade(facefinder) })
	return faceCascade, faceErr
}

// parseCascade reads pigo's binary cascade format: 8 bytes skipped, the
// tree depth and count (little-endian uint32), then per tree the node codes
// (4 signed bytes per inner node), the leaf predictions and the threshold
// (little-endian float32).
func parseCascade(b []byte) (*cascade, error) {
	bad := errors.New("anonymize: malformed face cascade")
	if len(b) < 16 {
		return nil, bad
	}
	depth := int(binary.LittleEndian.Uint32(b[8:]))
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if depth < 1 || depth > 10 || n < 1 {
		return nil, bad
	}
	leaves := 1 << depth
	per := 4*(leaves-1) + 4*leaves + 4
	if len(b) < 16+n*per {
		return nil, bad
	}
	c := &cascade{depth: depth, leaves: leaves, codes: make([]int8, 0, n*4*leaves),
		pred: make([]float32, 0, n*leaves), thr: make([]float32, 0, n)}
	pos := 16
	for range n {
		c.codes = append(c.codes, 0, 0, 0, 0) // node 0 is unused
		for _, v := range b[pos : pos+4*(leaves-1)] {
			c.codes = append(c.codes, int8(v))
		}
		pos += 4 * (leaves - 1)
		for range leaves {
			c.pred = append(c.pred, math.Float32frombits(binary.LittleEndian.Uint32(b[pos:])))
			pos += 4
		}
		c.thr = append(c.thr, math.Float32frombits(binary.LittleEndian.Uint32(b[pos:])))
		pos += 4
	}
	return c, nil
}

func (c *cascade) trees() int { return len(c.thr) }

// pose is one way a face can lie in the image: turned by angle (radians,
// counter-clockwise as displayed) and mirrored left to right or not.
type pose struct {
	angle  float64
	mirror bool
}

// window is the cascade compiled for one window size and pose over one
// image stride: each comparison becomes two offsets from the window's
// centre pixel. Trees are compiled on first use, because most windows are
// rejected by the first few.
type window struct {
	c      *cascade
	size   int
	stride int
	cos    float64
	sin    float64
	mirror bool
	offs   []int32 // per tree, per node: two offsets
	built  int     // trees compiled so far
	reach  int     // how far from the centre any comparison reaches, in pixels
}

func (c *cascade) window(size, stride int, p pose) *window {
	w := &window{c: c, size: size, stride: stride, cos: math.Cos(p.angle), sin: math.Sin(p.angle), mirror: p.mirror,
		offs: make([]int32, 0, c.trees()*2*c.leaves)}
	// Every code lies within ±128/256 of the window on both axes, so no
	// sample reaches further than the rotated half-diagonal.
	w.reach = int(math.Ceil(float64(size)/2*(math.Abs(w.cos)+math.Abs(w.sin)))) + 1
	return w
}

// compile extends the offset table to cover trees [0, n).
func (w *window) compile(n int) {
	s := float64(w.size) / 256
	for t := w.built; t < n; t++ {
		w.offs = append(w.offs, 0, 0) // node 0
		codes := w.c.codes[t*4*w.c.leaves:]
		for k := 1; k < w.c.leaves; k++ {
			for j := range 2 {
				r, cc := float64(codes[4*k+2*j]), float64(codes[4*k+2*j+1])
				if w.mirror {
					cc = -cc
				}
				// Image rows grow downwards: a counter-clockwise turn of the
				// face as displayed maps (row, col) so.
				dr := math.Floor((w.cos*r - w.sin*cc) * s)
				dc := math.Floor((w.sin*r + w.cos*cc) * s)
				w.offs = append(w.offs, int32(int(dr)*w.stride+int(dc)))
			}
		}
	}
	w.built = n
}

// score runs the cascade on the window centred at pixel index at of pix
// and returns its confidence, or a value ≤ 0 if it is rejected.
func (w *window) score(pix []uint8, at int) float32 {
	c := w.c
	n := c.leaves
	var out float32
	for t := range c.trees() {
		if t >= w.built {
			w.compile(min(c.trees(), max(2*w.built, 16)))
		}
		offs := w.offs[t*2*n : (t+1)*2*n]
		idx := 1
		for range c.depth {
			o := offs[2*idx : 2*idx+2]
			idx *= 2
			if pix[at+int(o[0])] <= pix[at+int(o[1])] {
				idx++
			}
		}
		out += c.pred[t*n+idx-n]
		if out <= c.thr[t] {
			return -1
		}
	}
	return out - c.thr[c.trees()-1]
}
