package anonymize

import (
	"image"
	"image/draw"
	"math"

	pigo "github.com/esimov/pigo/core"
)

// halve averages 2×2 blocks of a w×h luma image stored in rows of stride
// bytes, giving a (w/2)×(h/2) one in rows of padStride(w/2) bytes.
func halve(g []uint8, w, h, stride int) []uint8 {
	w2, h2 := w/2, h/2
	s2 := padStride(w2)
	out := lumaBuf(s2 * h2)
	for y := range h2 {
		r0, r1 := g[2*y*stride:], g[(2*y+1)*stride:]
		o := out[y*s2 : y*s2+w2]
		for x := range o {
			o[x] = uint8((int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1]) + 2) / 4)
		}
	}
	return out
}

// lumaPad is how many bytes past its end every luma image of the search
// stays readable: runTree's gathers load four bytes for each pixel it
// compares, and runFirstTree loads 128 from a row's window's comparison
// point for that window and the fifteen after it.
const lumaPad = 128

// lumaBuf returns a luma image of n bytes, lumaPad more allocated.
func lumaBuf(n int) []uint8 { return make([]uint8, n, n+lumaPad) }

// grayscale converts img to 8-bit luma, with fast paths for the decoders'
// usual outputs.
func grayscale(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := lumaBuf(w * h)
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			copy(out[y*w:(y+1)*w], m.Y[m.YOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.Gray:
		for y := range h {
			copy(out[y*w:(y+1)*w], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.RGBA:
		rgbLuma(out, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), w, h)
	case *image.NRGBA: // what imaging's rotations and flips return
		rgbLuma(out, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), w, h)
	default:
		return pigo.RgbToGrayscale(img)
	}
	return out
}

// rgbLuma writes the luma of w×h four-byte pixels starting at pix[at] into
// out. Alpha is ignored: the images come from opaque photographs.
func rgbLuma(out, pix []uint8, stride, at, w, h int) {
	for y := range h {
		p := pix[at+y*stride : at+y*stride+4*w]
		o := out[y*w : (y+1)*w]
		for x := range o {
			r, g, bl := int(p[4*x]), int(p[4*x+1]), int(p[4*x+2])
			o[x] = uint8((19595*r + 38470*g + 7471*bl + 1<<15) >> 16)
		}
	}
}

// Report is what BlurFaces did to one image, for the dataset builder to
// decide whether the image may ship.
type Report struct {
	Faces    []Face // every face found, largest first
	Blurred  []Face // the faces covered (all, or all but the subject)
	Kept     *Face  // the subject left visible in bystander mode
	Refilled int    // covered faces the detector still found after the blur, filled flat instead

	// NeedsReview is true when coverage cannot be shown: no face was found
	// at all, or only by the second look (Face.Refined). An image category
	// holds people, so a photo in which the detector finds nobody is far
	// more likely a miss (a profile, a face under 24 pixels, an unusual
	// light) than a photo of no one; it goes to a person, not into the
	// dataset.
	NeedsReview bool
	Reason      string // why, when NeedsReview
}

// BlurFaces finds the faces in img (upright as displayed: see Upright) and
// covers them: every face (all) or every face but the largest (bystander
// mode). It returns the image to encode and a Report of what it found and
// covered. Each covered box is searched again afterwards; a face the
// detector still finds through the blur is filled with its mean colour.
//
// The bystander heuristic: the person who consented is the subject of their
// own photo and so, in practice, its largest face found by the first pass
// (a refined face, see Face.Refined, never is); everyone else is a
// bystander and is blurred. A photo whose subject is smaller than a
// bystander is mishandled by this rule; use blur_all where that matters.
func BlurFaces(img image.Image, all bool) (*image.RGBA, *Report, error) {
	faces, err := DetectFaces(img)
	if err != nil {
		return nil, nil, err
	}
	b := img.Bounds()
	out, ok := img.(*image.RGBA)
	if !ok {
		out = image.NewRGBA(b)
		if n, ok := img.(*image.NRGBA); ok && n.Opaque() {
			// Opaque, the two layouts hold the same bytes.
			for y := range b.Dy() {
				copy(out.Pix[y*out.Stride:y*out.Stride+4*b.Dx()], n.Pix[n.PixOffset(b.Min.X, b.Min.Y+y):])
			}
		} else {
			draw.Draw(out, b, img, b.Min, draw.Src)
		}
	}
	rep := &Report{Faces: faces, Blurred: faces}
	subject := -1 // the largest face of the first pass
	for i := range faces {
		if !faces[i].Refined {
			subject = i
			break
		}
	}
	if !all && subject >= 0 {
		rep.Kept = &faces[subject]
		rep.Blurred = append(append([]Face(nil), faces[:subject]...), faces[subject+1:]...)
	}
	for _, f := range rep.Blurred {
		r := cover(f, b)
		gaussianBlur(out, r, max(4, float64(r.Dx())/8))
		if still, err := faceIn(out, r, f); err != nil {
			return nil, nil, err
		} else if still {
			fillMean(out, r)
			rep.Refilled++
		}
	}
	if subject < 0 {
		// Faces found only by the second look are weaker evidence than
		// the grid's: an image with no other face still goes to a person.
		rep.NeedsReview, rep.Reason = true, "no face found"
		if len(faces) > 0 {
			rep.Reason = "only places the search was unsure of were found (and blurred)"
		}
	}
	return out, rep, nil
}

// cover is the area blurred for face f: its box padded by a fifth, since
// the cascade's square is tight on the inner face.
func cover(f Face, b image.Rectangle) image.Rectangle {
	return f.Box.Inset(-f.Box.Dx() / 5).Intersect(b)
}

// faceIn reports whether the detector still finds a face the size of f
// around r in img.
func faceIn(img *image.RGBA, r image.Rectangle, f Face) (bool, error) {
	side := min(f.Box.Dx(), f.Box.Dy())
	area := r.Inset(-side / 2).Intersect(img.Bounds())
	found, err := Search{MinFace: max(24, side/2), NoRefine: true}.Faces(img.SubImage(area))
	if err != nil {
		return false, err
	}
	for _, g := range found {
		if g.Box.Overlaps(r) {
			return true, nil
		}
	}
	return false, nil
}

// fillMean paints r with its mean colour.
func fillMean(img *image.RGBA, r image.Rectangle) {
	var sum [3]int
	n := r.Dx() * r.Dy()
	if n == 0 {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		p := img.Pix[img.PixOffset(r.Min.X, y):]
		for x := range r.Dx() {
			for c := range 3 {
				sum[c] += int(p[4*x+c])
			}
		}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		p := img.Pix[img.PixOffset(r.Min.X, y):]
		for x := range r.Dx() {
			for c := range 3 {
				p[4*x+c] = uint8(sum[c] / n)
			}
		}
	}
}

// gaussianBlur blurs the rectangle r of img in place with three box-blur
// passes in each direction, the standard close approximation of a Gaussian
// of standard deviation sigma (cost independent of sigma). A wide blur is
// computed on the area shrunk by f = sigma/4 (block means), where it is a
// blur of 4 pixels, and scaled back bilinearly: the block mean only widens
// it, and a blur that wide cannot be told apart from the full computation,
// at 1/f² of the cost (a face filling a 1024-pixel photograph took 60 ms
// at half resolution).
func gaussianBlur(img *image.RGBA, r image.Rectangle, sigma float64) {
	w, h := r.Dx(), r.Dy()
	if w < 4 || h < 4 {
		return
	}
	f := 1
	if sigma >= 8 {
		f = min(int(sigma/4), w/4, h/4)
	}
	bw, bh := w/f, h/f
	buf := make([]float32, 4*bw*bh)
	for y := range bh {
		o := buf[y*4*bw : (y+1)*4*bw]
		for dy := range f {
			row := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y*f+dy):]
			for x := range bw {
				px, s := row[4*x*f:4*(x+1)*f], o[4*x:4*x+3]
				for dx := range f {
					s[0] += float32(px[4*dx])
					s[1] += float32(px[4*dx+1])
					s[2] += float32(px[4*dx+2])
				}
			}
		}
		for i := range o {
			o[i] /= float32(f * f)
		}
	}
	tmp := make([]float32, max(bw, bh))
	col := make([]float32, 4*bh)
	for _, rad := range boxRadii(sigma / float64(f)) {
		for y := range bh {
			boxLine(buf[y*4*bw:(y+1)*4*bw], 4, 3, bw, rad, tmp)
		}
		for x := range bw {
			for y := range bh {
				copy(col[4*y:4*y+3], buf[(y*bw+x)*4:(y*bw+x)*4+3])
			}
			boxLine(col, 4, 3, bh, rad, tmp)
			for y := range bh {
				copy(buf[(y*bw+x)*4:(y*bw+x)*4+3], col[4*y:4*y+3])
			}
		}
	}
	// Where each output column and row falls between block centres: the
	// blocks either side (clamped at the edges) and the weight of the
	// second.
	type span struct {
		lo, hi int
		t      float32
	}
	spans := func(n, size int) []span {
		out := make([]span, n)
		for i := range out {
			fi := (float32(i)+0.5)/float32(f) - 0.5
			i0 := int(fi)
			if fi < 0 {
				i0 = -1
			}
			out[i] = span{min(size-1, max(0, i0)), min(size-1, max(0, i0+1)), fi - float32(i0)}
		}
		return out
	}
	xs, ys := spans(w, bw), spans(h, bh)
	// Each block row is interpolated along x once, for all the output rows
	// between it and the next (the same products as pixel by pixel).
	across := func(dst []float32, row int) {
		r := buf[row*4*bw:]
		for x, sx := range xs {
			a, b := r[4*sx.lo:4*sx.lo+3], r[4*sx.hi:4*sx.hi+3]
			for k := range 3 {
				dst[3*x+k] = a[k]*(1-sx.t) + b[k]*sx.t
			}
		}
	}
	top, bottom := make([]float32, 3*w), make([]float32, 3*w)
	have := [2]int{-1, -1}
	for y, sy := range ys {
		if have != [2]int{sy.lo, sy.hi} {
			across(top, sy.lo)
			across(bottom, sy.hi)
			have = [2]int{sy.lo, sy.hi}
		}
		ty := sy.t
		p := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):]
		for x := range w {
			q := p[4*x : 4*x+3]
			for k := range 3 {
				// A mean of bytes, never outside [0, 255]: rounded by
				// truncation, without a clamp.
				q[k] = uint8(top[3*x+k]*(1-ty) + bottom[3*x+k]*ty + 0.5)
			}
		}
	}
}

// boxRadii gives three box radii whose successive blurs approximate a
// Gaussian of standard deviation sigma (Kovesi, "Fast almost-Gaussian
// filtering", 2010).
func boxRadii(sigma float64) [3]int {
	const n = 3
	wIdeal := math.Sqrt(12*sigma*sigma/n + 1)
	wl := int(wIdeal)
	if wl%2 == 0 {
		wl--
	}
	wu := wl + 2
	mIdeal := (12*sigma*sigma - n*float64(wl*wl) - 4*n*float64(wl) - 3*n) / (-4*float64(wl) - 4)
	m := int(mIdeal + 0.5)
	var out [3]int
	for i := range n {
		if i < m {
			out[i] = (wl - 1) / 2
		} else {
			out[i] = (wu - 1) / 2
		}
	}
	return out
}

// boxLine box-blurs the first blur of the ch interleaved channels of n
// pixels in line, in place, with edges clamped.
func boxLine(line []float32, ch, blur, n, rad int, tmp []float32) {
	if rad <= 0 {
		return
	}
	inv := 1 / float32(2*rad+1)
	at := func(i int) int { return min(n-1, max(0, i)) }
	for c := range blur {
		var acc float32
		for i := -rad; i <= rad; i++ {
			acc += line[at(i)*ch+c]
		}
		for i := range n {
			tmp[i] = acc * inv
			acc += line[at(i+rad+1)*ch+c] - line[at(i-rad)*ch+c]
		}
		for i := range n {
			line[i*ch+c] = tmp[i]
		}
	}
}
