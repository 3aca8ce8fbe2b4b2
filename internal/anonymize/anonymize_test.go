package anonymize_test

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"likeness/internal/anonymize"
)

// face.jpg is pigo's MIT-licensed sample portrait (see NOTICE).
func loadFace(t testing.TB) image.Image {
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

func toRGBA(img image.Image) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

// meanDiff is the mean absolute difference per channel of a and b over the
// pixels of r for which in reports true.
func meanDiff(a, b *image.RGBA, r image.Rectangle, in func(x, y int) bool) (float64, int) {
	sum, n := 0.0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if !in(x, y) {
				continue
			}
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			for c := range 3 {
				sum += math.Abs(float64(pa[c]) - float64(pb[c]))
			}
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(3*n), n
}

func inAny(rs []image.Rectangle, x, y int) bool {
	for _, r := range rs {
		if image.Pt(x, y).In(r) {
			return true
		}
	}
	return false
}

func TestFacesAreFoundAndBlurredAndTheRestIsKept(t *testing.T) {
	orig := toRGBA(loadFace(t))
	faces, err := anonymize.DetectFaces(orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) == 0 {
		t.Fatal("no face found in the sample portrait")
	}
	out, rep, err := anonymize.BlurFaces(toRGBA(orig), true)
	if err != nil || len(rep.Blurred) != len(faces) || rep.NeedsReview {
		t.Fatalf("BlurFaces: %+v, %v", rep, err)
	}
	var boxes, far []image.Rectangle
	for _, f := range faces {
		boxes = append(boxes, f.Box)
		far = append(far, f.Box.Inset(-f.Box.Dx()/4)) // beyond the padded, blurred area
	}
	inside, n := meanDiff(orig, out, orig.Bounds(), func(x, y int) bool { return inAny(boxes, x, y) })
	outside, m := meanDiff(orig, out, orig.Bounds(), func(x, y int) bool { return !inAny(far, x, y) })
	t.Logf("%d face(s), first %v; inside mean |Δ| = %.1f over %d px, far outside %.2f over %d px", len(faces), faces[0].Box, inside, n, outside, m)
	if inside < 8 {
		t.Errorf("pixels inside the face box changed by %.1f on average; want a heavy blur (≥ 8)", inside)
	}
	if m == 0 || outside != 0 {
		t.Errorf("pixels far from any face changed by %.2f on average (over %d px); want untouched", outside, m)
	}
	// Through the encoder as well: the faces change a lot, the rest only by JPEG noise.
	var src bytes.Buffer
	jpeg.Encode(&src, orig, &jpeg.Options{Quality: 95})
	enc, mt, err := anonymize.Image(src.Bytes(), "image/jpeg", true)
	if err != nil || mt != "image/jpeg" {
		t.Fatalf("Image: %s, %v", mt, err)
	}
	dec, err := jpeg.Decode(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	insideEnc, _ := meanDiff(orig, toRGBA(dec), orig.Bounds(), func(x, y int) bool { return inAny(boxes, x, y) })
	outsideEnc, _ := meanDiff(orig, toRGBA(dec), orig.Bounds(), func(x, y int) bool { return !inAny(far, x, y) })
	if insideEnc < 8 || outsideEnc > 3 {
		t.Errorf("encoded: inside |Δ| %.1f (want ≥ 8), far outside %.2f (want ≤ 3)", insideEnc, outsideEnc)
	}
}

func TestBystandersAreBlurredAndTheLargestFaceIsKept(t *testing.T) {
	face := loadFace(t)
	canvas := image.NewRGBA(image.Rect(0, 0, 900, 560))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	big := imaging.Resize(face, 400, 500, imaging.Linear)
	small := imaging.Resize(face, 192, 240, imaging.Linear)
	draw.Draw(canvas, big.Bounds().Add(image.Pt(20, 30)), big, image.Point{}, draw.Src)
	draw.Draw(canvas, small.Bounds().Add(image.Pt(620, 150)), small, image.Point{}, draw.Src)
	orig := toRGBA(canvas)
	faces, err := anonymize.DetectFaces(orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) < 2 {
		t.Fatalf("found %d faces, want the subject and the bystander", len(faces))
	}
	out, rep, err := anonymize.BlurFaces(toRGBA(orig), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Blurred) != len(faces)-1 || rep.Kept == nil || rep.NeedsReview {
		t.Fatalf("blurred %d of %d faces, want all but the largest (%+v)", len(rep.Blurred), len(faces), rep)
	}
	subject, bystander := faces[0].Box, faces[1].Box
	if subject.Min.X > 450 || bystander.Min.X < 450 {
		t.Fatalf("largest face %v should be the big portrait on the left, bystander %v on the right", subject, bystander)
	}
	dSubject, _ := meanDiff(orig, out, subject, func(x, y int) bool { return !bystander.Inset(-bystander.Dx() / 2).Overlaps(image.Rect(x, y, x+1, y+1)) })
	dBystander, _ := meanDiff(orig, out, bystander, func(int, int) bool { return true })
	t.Logf("subject %v |Δ| %.2f, bystander %v |Δ| %.1f", subject, dSubject, bystander, dBystander)
	if dSubject != 0 || dBystander < 8 {
		t.Errorf("subject changed by %.2f (want 0), bystander by %.1f (want ≥ 8)", dSubject, dBystander)
	}
}

func readSpeech(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelopeDistance is the mean, over frames where the original has speech,
// of the RMS difference in dB between the two signals' LPC envelopes.
func envelopeDistance(a, b []float64, rate int) float64 {
	win := rate / 50
	sum, n := 0.0, 0
	ra := 0.0
	for _, v := range a {
		ra += v * v
	}
	thr := ra / float64(len(a)) * 0.1
	for s := 0; s+win <= len(a); s += win / 2 {
		e := 0.0
		for _, v := range a[s : s+win] {
			e += v * v
		}
		if e/float64(win) < thr {
			continue
		}
		ea := anonymize.LPCEnvelope(hann(a[s:s+win]), 20, 128)
		eb := anonymize.LPCEnvelope(hann(b[s:s+win]), 20, 128)
		if ea == nil || eb == nil {
			continue
		}
		// Compare shapes: remove each envelope's mean level first.
		ma, mb := mean(ea), mean(eb)
		d := 0.0
		for i := range ea {
			x := (ea[i] - ma) - (eb[i] - mb)
			d += x * x
		}
		sum += math.Sqrt(d / float64(len(ea)))
		n++
	}
	return sum / float64(n)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func hann(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * (0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(x))))
	}
	return out
}

func rmsDB(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return 10 * math.Log10(s/float64(len(x)))
}

func TestMcAdamsMovesTheSpectralEnvelopeAndKeepsDurationAndLoudness(t *testing.T) {
	in := readSpeech(t)
	out, err := anonymize.Voice(in, testSpeaker)
	if err != nil {
		t.Fatal(err)
	}
	a, err := anonymize.DecodeWAV(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := anonymize.DecodeWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	x, y := a.Channels[0], b.Channels[0]
	if len(y) != len(x) || b.Rate != a.Rate || len(b.Channels) != 1 {
		t.Fatalf("duration or format changed: %d samples at %d Hz → %d at %d Hz", len(x), a.Rate, len(y), b.Rate)
	}
	if d := math.Abs(rmsDB(x) - rmsDB(y)); d > 3 {
		t.Errorf("loudness moved by %.2f dB; want within 3 dB", d)
	}
	moved := envelopeDistance(x, y, a.Rate)
	// Control: α = 1 leaves every pole where it was, so the same pipeline
	// must reproduce the envelope; the measure is not just noise.
	same := envelopeDistance(x, anonymize.McAdams{Alpha: 1}.Anonymize(x, a.Rate), a.Rate)
	t.Logf("%.2f s of speech; LPC envelope distance %.2f dB (%+v) vs %.2f dB (α = 1)", float64(len(x))/float64(a.Rate), moved, testSpeaker.Params(), same)
	if moved < 4 || same > 1 || moved < 4*same {
		t.Errorf("envelope distance %.2f dB disguised and %.2f dB with α = 1; want ≥ 4 dB and a clear gap", moved, same)
	}
}

func TestUnsupportedMediaIsRefusedNotPassedThrough(t *testing.T) {
	o := anonymize.Options{Faces: "blur_all", Voice: "mcadams"}
	if _, _, err := anonymize.Media("voice", "audio/mpeg", []byte("ID3…"), o); err == nil {
		t.Error("MP3 voice was let through without anonymization")
	}
	if _, _, err := anonymize.Media("image", "image/heic", []byte("…"), o); err == nil {
		t.Error("HEIC image was let through without face blurring")
	}
	if err := anonymize.CanAnonymize("biometric_template", o); err == nil {
		t.Error("a biometric template was accepted for an anonymized dataset")
	}
}

func TestSuppressHidesOnlyCellsBelowK(t *testing.T) {
	for _, c := range []struct {
		counts map[string]int
		want   []string
	}{
		{map[string]int{"a": 10, "b": 8, "c": 6}, nil},
		{map[string]int{"a": 10, "b": 8, "c": 2}, []string{"c"}}, // 8 ≥ k = 5 stays
		{map[string]int{"a": 10, "b": 5, "c": 4}, []string{"c"}}, // exactly k stays
		{map[string]int{"a": 10, "b": 8, "c": 3, "d": 4}, []string{"c", "d"}},
		{map[string]int{"a": 10, "b": 0}, []string{"b"}},
		{map[string]int{"a": 3, "b": 1}, []string{"a", "b"}},
	} {
		got := anonymize.Suppress(c.counts, 5)
		if len(got) != len(c.want) {
			t.Errorf("Suppress(%v) = %v, want %v", c.counts, got, c.want)
			continue
		}
		for _, g := range c.want {
			if !got[g] {
				t.Errorf("Suppress(%v) = %v, want %v", c.counts, got, c.want)
			}
		}
	}
}

// BenchmarkImage1024 anonymizes a 1024×1024 JPEG with a face (decode,
// detect, blur every face, encode).
func BenchmarkImage1024(b *testing.B) {
	face := imaging.Resize(loadFace(b), 480, 600, imaging.Linear)
	canvas := image.NewRGBA(image.Rect(0, 0, 1024, 1024))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(canvas, face.Bounds().Add(image.Pt(260, 200)), face, image.Point{}, draw.Src)
	var src bytes.Buffer
	jpeg.Encode(&src, canvas, &jpeg.Options{Quality: 90})
	b.SetBytes(int64(src.Len()))
	for b.Loop() {
		if _, _, err := anonymize.Image(src.Bytes(), "image/jpeg", true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkVoice anonymizes the 5.7 s speech clip (16 kHz mono).
func BenchmarkVoice(b *testing.B) {
	in := readSpeech(b)
	pcm, _ := anonymize.DecodeWAV(in)
	seconds := float64(len(pcm.Channels[0])) / float64(pcm.Rate)
	for b.Loop() {
		if _, err := anonymize.Voice(in, testSpeaker); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(seconds*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}
