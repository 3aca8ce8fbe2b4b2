package anonymize_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"os"
	"testing"
	"time"

	"github.com/disintegration/imaging"
	pigo "github.com/esimov/pigo/core"

	"likeness/internal/anonymize"
	"likeness/internal/media"
)

// refFace is the independent ground truth for face.jpg: pigo's own
// RunCascade, run exhaustively (every 5% of a window, sizes 5% apart) on
// the upright portrait. It returns the face's centre and side.
func refFace(t testing.TB, img image.Image) (cx, cy, side float64) {
	t.Helper()
	cascade, err := pigo.NewPigo().Unpack(facefinderBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	p := pigo.CascadeParams{MinSize: 20, MaxSize: min(b.Dx(), b.Dy()), ShiftFactor: 0.05, ScaleFactor: 1.05,
		ImageParams: pigo.ImageParams{Pixels: pigo.RgbToGrayscale(img), Rows: b.Dy(), Cols: b.Dx(), Dim: b.Dx()}}
	var best pigo.Detection
	for _, d := range cascade.ClusterDetections(cascade.RunCascade(p, 0), 0.2) {
		if d.Q > best.Q {
			best = d
		}
	}
	if best.Q < 5 {
		t.Fatal("the reference detector finds no face in the upright portrait")
	}
	return float64(best.Col), float64(best.Row), float64(best.Scale)
}

func facefinderBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("facefinder")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withOrientation inserts a minimal EXIF APP1 segment holding Orientation o
// after the SOI of a JPEG, as a phone writes it.
func withOrientation(j []byte, o byte) []byte {
	seg := []byte("\xff\xe1\x00\x22Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01" +
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	seg[4+6+8+2+9] = o
	return append(append(append([]byte{}, j[:2]...), seg...), j[2:]...)
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// box is an expected face: centre and side in the displayed image.
type box struct{ cx, cy, side float64 }

// inner is the middle of the face, inside it at any turn.
func (b box) inner() image.Rectangle {
	h := 0.3 * b.side
	return image.Rect(int(b.cx-h), int(b.cy-h), int(b.cx+h), int(b.cy+h))
}

// variant is an upload: its bytes, the image as displayed, and its faces.
type variant struct {
	name      string
	data      []byte
	displayed image.Image
	faces     []box
}

func variants(t *testing.T) []variant {
	src := loadFace(t)
	W, H := float64(src.Bounds().Dx()), float64(src.Bounds().Dy())
	cx, cy, side := refFace(t, src)
	up := box{cx, cy, side}
	var vs []variant
	// Turned a quarter at a time, displayed so (the face lies on its side).
	turns := []struct {
		img image.Image
		f   box
		tag byte // the orientation that shows it upright again
	}{
		{imaging.Rotate90(src), box{cy, W - 1 - cx, side}, 6},
		{imaging.Rotate180(src), box{W - 1 - cx, H - 1 - cy, side}, 3},
		{imaging.Rotate270(src), box{H - 1 - cy, cx, side}, 8},
	}
	for i, tr := range turns {
		j := encodeJPEG(t, tr.img)
		vs = append(vs, variant{fmt.Sprintf("turned %d°", 90*(i+1)), j, tr.img, []box{tr.f}},
			variant{fmt.Sprintf("stored turned %d° with orientation %d", 90*(i+1), tr.tag), withOrientation(j, tr.tag), src, []box{up}})
	}
	for _, deg := range []float64{25, -25} {
		img := imaging.Rotate(src, deg, color.White)
		a := deg * math.Pi / 180
		ncx, ncy := float64(img.Bounds().Dx())/2, float64(img.Bounds().Dy())/2
		dx, dy := cx-W/2, cy-H/2
		f := box{ncx + dx*math.Cos(a) + dy*math.Sin(a), ncy - dx*math.Sin(a) + dy*math.Cos(a), side}
		vs = append(vs, variant{fmt.Sprintf("tilted %+.0f°", deg), encodeJPEG(t, img), img, []box{f}})
	}
	m := imaging.FlipH(src)
	vs = append(vs, variant{"mirrored", encodeJPEG(t, m), m, []box{{W - 1 - cx, cy, side}}})
	mt := imaging.Rotate90(m)
	vs = append(vs, variant{"mirrored and turned", encodeJPEG(t, mt), mt, []box{{cy, cx, side}}})
	g, faces := group(src, up, 1400, 1000, []float64{200, 110, 64, 44, 32, 28, 26})
	vs = append(vs, variant{"group of seven from 200 to 26 px", encodeJPEG(t, g), g, faces})
	return vs
}

// group pastes copies of src onto a grey w×h canvas, scaled so that their
// face (f in src) has each of the given sides, and returns the canvas and
// the faces' boxes.
func group(src image.Image, f box, w, h int, sides []float64) (*image.RGBA, []box) {
	canvas := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.RGBA{128, 120, 110, 255}), image.Point{}, draw.Src)
	var faces []box
	x, y, rowH := 10, 10, 0
	for _, s := range sides {
		k := s / f.side
		img := imaging.Resize(src, int(float64(src.Bounds().Dx())*k), int(float64(src.Bounds().Dy())*k), imaging.Lanczos)
		if x+img.Bounds().Dx() > w {
			x, y, rowH = 10, y+rowH+10, 0
		}
		draw.Draw(canvas, img.Bounds().Add(image.Pt(x, y)), img, image.Point{}, draw.Src)
		faces = append(faces, box{float64(x) + f.cx*k, float64(y) + f.cy*k, s})
		x += img.Bounds().Dx() + 10
		rowH = max(rowH, img.Bounds().Dy())
	}
	return canvas, faces
}

// TestEveryFaceIsCoveredOrTheImageGoesToReview runs each variant through
// Image, as a dataset build does, and checks every face the independent
// reference marks: covered (its middle changed by a mean |Δ| of 6 or more)
// or the whole image held back for review.
func TestEveryFaceIsCoveredOrTheImageGoesToReview(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			out, mt, err := anonymize.Image(v.data, "image/jpeg", true)
			var review *anonymize.ReviewError
			if errors.As(err, &review) {
				out, mt = review.Data, review.MediaType
			} else if err != nil {
				t.Fatal(err)
			}
			if mt != "image/jpeg" || media.JPEGOrientation(out) != 1 {
				t.Errorf("output %s with orientation %d; want an upright JPEG", mt, media.JPEGOrientation(out))
			}
			dec, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if dec.Bounds().Size() != v.displayed.Bounds().Size() {
				t.Fatalf("output is %v, the image as displayed %v", dec.Bounds().Size(), v.displayed.Bounds().Size())
			}
			orig, got := toRGBA(v.displayed), toRGBA(dec)
			for _, f := range v.faces {
				d, _ := meanDiff(orig, got, f.inner(), func(int, int) bool { return true })
				switch {
				case d >= 6:
					t.Logf("face %.0f px at (%.0f, %.0f): covered, mean |Δ| %.1f", f.side, f.cx, f.cy, d)
				case review != nil:
					t.Logf("face %.0f px at (%.0f, %.0f): not covered (|Δ| %.1f), image held for review", f.side, f.cx, f.cy, d)
				default:
					t.Errorf("face %.0f px at (%.0f, %.0f) shipped visible: mean |Δ| %.1f", f.side, f.cx, f.cy, d)
				}
			}
		})
	}
}

func TestAnImageWithoutFacesNeedsReviewNeverPasses(t *testing.T) {
	blank := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(blank, blank.Bounds(), image.White, image.Point{}, draw.Src)
	ramp := image.NewGray(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			ramp.SetGray(x, y, color.Gray{uint8(x * 255 / 639)})
		}
	}
	for name, img := range map[string]image.Image{"blank": blank, "gradient": ramp} {
		for _, all := range []bool{true, false} {
			_, _, err := anonymize.Image(encodeJPEG(t, img), "image/jpeg", all)
			if !errors.Is(err, anonymize.ErrNeedsReview) {
				t.Errorf("%s image (all %v): %v; want ErrNeedsReview", name, all, err)
			}
			_, _, err = anonymize.Media("image", "image/jpeg", encodeJPEG(t, img), anonymize.Options{Faces: "blur_all"})
			if !errors.Is(err, anonymize.ErrNeedsReview) {
				t.Errorf("%s image through Media: %v; want ErrNeedsReview", name, err)
			}
		}
	}
}

// BenchmarkBlurFaces1024 searches a 1024×1024 group photo (faces from 200
// down to 26 pixels) in every pose and blurs what it finds.
func BenchmarkBlurFaces1024(b *testing.B) {
	src := loadFace(b)
	cx, cy, side := refFace(b, src)
	rgba, _ := group(src, box{cx, cy, side}, 1024, 1024, []float64{200, 110, 64, 44, 32, 28, 26})
	g := imaging.Clone(rgba) // not *image.RGBA, so BlurFaces works on a copy each time
	eachWalk(b, func(b *testing.B) {
		perImage(b, func(int) error {
			_, _, err := anonymize.BlurFaces(g, true)
			return err
		})
	})
}

// eachWalk runs the benchmark with every tree walk the processor runs
// (anonymize.Walks: "avx512", "avx2", "go"), in the same run.
func eachWalk(b *testing.B, bench func(b *testing.B)) {
	for _, w := range anonymize.Walks() {
		b.Run(w, func(b *testing.B) {
			defer anonymize.UseWalk(w)()
			bench(b)
		})
	}
}

// perImage runs do once per iteration of b (n counting them) and reports
// per image as reportImages does.
func perImage(b *testing.B, do func(n int) error) {
	cpu := userCPU()
	for n := 0; b.Loop(); n++ {
		if err := do(n); err != nil {
			b.Fatal(err)
		}
	}
	reportImages(b, userCPU()-cpu)
}

// reportImages reports images per second of wall time and, as the machine
// is shared, the user CPU per image and the images per CPU second (with
// -cpu 1, what one core does).
func reportImages(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	if cpu > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/image")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "images/cpu-s")
	}
}

// BenchmarkBlurFacesPhoto1024 does the same on a photograph filling the
// frame (the sample portrait scaled up to 1024×1024), where no region is
// flat: the group picture's plain background is cheap to reject.
func BenchmarkBlurFacesPhoto1024(b *testing.B) {
	img := imaging.Clone(imaging.Fill(loadFace(b), 1024, 1024, imaging.Center, imaging.Lanczos))
	eachWalk(b, func(b *testing.B) {
		perImage(b, func(int) error {
			_, _, err := anonymize.BlurFaces(img, true)
			return err
		})
	})
}

// TestThePortraitIsFoundAtEveryTurnAndSize turns the sample portrait in
// steps of 15° (halfway between the search's poses, 30° apart, and on them)
// at the smallest face size promised, 24 pixels, and twice that (the next
// octave of the search's pyramid), and checks the
// search finds it each time: the guard that a faster search still covers
// every turn.
func TestThePortraitIsFoundAtEveryTurnAndSize(t *testing.T) {
	src := loadFace(t)
	cx, cy, side := refFace(t, src)
	grey := color.RGBA{128, 120, 110, 255}
	for _, s := range []float64{24, 48} {
		k := s / side
		small := imaging.Resize(src, int(float64(src.Bounds().Dx())*k), int(float64(src.Bounds().Dy())*k), imaging.Lanczos)
		for deg := 0.0; deg < 360; deg += 15 {
			img := imaging.Rotate(small, deg, grey)
			canvas := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx()+40, img.Bounds().Dy()+40))
			draw.Draw(canvas, canvas.Bounds(), image.NewUniform(grey), image.Point{}, draw.Src)
			draw.Draw(canvas, img.Bounds().Add(image.Pt(20, 20)), img, image.Point{}, draw.Src)
			// Where the face's centre went: imaging.Rotate turns
			// counter-clockwise about the middle and grows the canvas.
			a := deg * math.Pi / 180
			dx, dy := (cx-float64(src.Bounds().Dx())/2)*k, (cy-float64(src.Bounds().Dy())/2)*k
			fx := 20 + float64(img.Bounds().Dx())/2 + dx*math.Cos(a) + dy*math.Sin(a)
			fy := 20 + float64(img.Bounds().Dy())/2 - dx*math.Sin(a) + dy*math.Cos(a)
			faces, err := anonymize.DetectFaces(canvas)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range faces {
				found = found || image.Pt(int(fx), int(fy)).In(f.Box)
			}
			if !found {
				t.Errorf("face of %.0f px turned %.0f°: not found (found %v)", s, deg, faces)
			}
		}
	}
}

// huge is an image with more pixels than the face search indexes; its
// pixels are never read.
type huge struct{}

func (huge) ColorModel() color.Model { return color.GrayModel }
func (huge) Bounds() image.Rectangle { return image.Rect(0, 0, 65536, 32768) }
func (huge) At(int, int) color.Color { return color.Gray{} }

// TestAnImageTooLargeToSearchIsRefused: pixels are indexed in 32 bits in
// the search, so an image of 2^31 pixels or more is refused with an error
// (and so goes nowhere), not searched with indexes that wrap.
func TestAnImageTooLargeToSearchIsRefused(t *testing.T) {
	faces, err := anonymize.DetectFaces(huge{})
	if !errors.Is(err, anonymize.ErrTooLarge) || faces != nil {
		t.Fatalf("DetectFaces of 65536×32768 pixels: %v, %v; want ErrTooLarge", faces, err)
	}
}

// TestAnImageDeclaringTooManyPixelsIsRefusedBeforeDecoding: a small JPEG
// whose header declares 65000×65000 pixels is refused from its header, not
// decoded into gigabytes.
func TestAnImageDeclaringTooManyPixelsIsRefusedBeforeDecoding(t *testing.T) {
	data := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	sof := bytes.Index(data, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no baseline frame header in the test JPEG")
	}
	// After the marker: length (2 bytes), precision (1), height (2), width (2).
	binary.BigEndian.PutUint16(data[sof+5:], 65000)
	binary.BigEndian.PutUint16(data[sof+7:], 65000)
	_, _, err := anonymize.Image(data, "image/jpeg", true)
	if !errors.Is(err, anonymize.ErrTooLarge) {
		t.Fatalf("a JPEG declaring 65000×65000 pixels: %v; want ErrTooLarge", err)
	}
}
