package anonymize_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"likeness/internal/anonymize"
	"likeness/internal/media"
)

// orientationTIFF is a little-endian TIFF structure whose IFD0 holds
// EXIF Orientation o after another tag, as cameras write it.
func orientationTIFF(o uint16) []byte {
	t := []byte("II*\x00\x08\x00\x00\x00")
	t = binary.LittleEndian.AppendUint16(t, 2)
	t = append(t, 0x0F, 0x01, 2, 0, 4, 0, 0, 0, 'A', 'c', 'm', 0) // Make "Acm"
	t = append(t, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), 0, 0, 0)
	return append(t, 0, 0, 0, 0)
}

// withEXIf inserts an eXIf chunk holding orientation o after a PNG's IHDR.
func withEXIf(p []byte, o uint16) []byte {
	const at = 8 + 8 + 13 + 4
	data := orientationTIFF(o)
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, "eXIf"...), data...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	return append(append(append([]byte{}, p[:at]...), c...), p[at:]...)
}

// withWebPEXIF wraps a simple WebP (one VP8L chunk) of w×h pixels in the
// extended format with an EXIF chunk holding orientation o.
func withWebPEXIF(simple []byte, w, h int, o uint16) []byte {
	chunk := func(fourcc string, data []byte) []byte {
		b := binary.LittleEndian.AppendUint32([]byte(fourcc), uint32(len(data)))
		b = append(b, data...)
		if len(data)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	vp8x := []byte{0x08, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), 0, byte(h - 1), byte((h - 1) >> 8), 0}
	body := append([]byte("WEBP"), chunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...)
	body = append(body, chunk("EXIF", orientationTIFF(o))...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// stored is what the vault keeps of an upload: the file stripped of its
// metadata but for the orientation.
func stored(t *testing.T, data []byte, mediaType string) []byte {
	t.Helper()
	typ, err := media.Sniff(data)
	if err != nil || typ.MIME != mediaType {
		t.Fatalf("sniffed %+v, %v; want %s", typ, err, mediaType)
	}
	var buf bytes.Buffer
	if err := media.Strip(&buf, bytes.NewReader(data), typ); err != nil {
		t.Fatalf("strip %s: %v", mediaType, err)
	}
	return buf.Bytes()
}

// A PNG stored on its side with an eXIf orientation is searched, blurred
// and written as it is displayed, with no orientation left: the face is
// covered where a display shows it.
func TestAPNGStoredTurnedIsBlurredUpright(t *testing.T) {
	src := loadFace(t)
	cx, cy, side := refFace(t, src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, imaging.Rotate90(src)); err != nil { // on its side
		t.Fatal(err)
	}
	data := stored(t, withEXIf(buf.Bytes(), 6), "image/png") // 6: turn 90° clockwise to show
	if o := media.Orientation("image/png", data); o != 6 {
		t.Fatalf("the stored PNG has orientation %d, want 6 kept", o)
	}
	out, mt, err := anonymize.Image(data, "image/png", true)
	if err != nil {
		t.Fatal(err)
	}
	if mt != "image/png" || media.Orientation(mt, out) != 1 {
		t.Errorf("output %s with orientation %d; want an upright PNG", mt, media.Orientation(mt, out))
	}
	dec, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Bounds().Size() != src.Bounds().Size() {
		t.Fatalf("output is %v, the image as displayed %v", dec.Bounds().Size(), src.Bounds().Size())
	}
	if d, _ := meanDiff(toRGBA(src), toRGBA(dec), box{cx, cy, side}.inner(), func(int, int) bool { return true }); d < 6 {
		t.Errorf("the face shipped visible where it is displayed: mean |Δ| %.1f", d)
	}
}

// A WebP's EXIF orientation is applied too. The picture (a gopher) has no
// face, so it goes to review; what the reviewer sees is turned as
// displayed.
func TestAWebPStoredTurnedIsSearchedUpright(t *testing.T) {
	simple, err := os.ReadFile("../media/testdata/gopher-doc.1bpp.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 75, 100
	for _, c := range []struct {
		o    uint16
		want image.Point
	}{{1, image.Pt(w, h)}, {6, image.Pt(h, w)}, {8, image.Pt(h, w)}, {3, image.Pt(w, h)}} {
		data := stored(t, withWebPEXIF(simple, w, h, c.o), "image/webp")
		_, _, err := anonymize.Image(data, "image/webp", true)
		var review *anonymize.ReviewError
		if !errors.As(err, &review) {
			t.Fatalf("orientation %d: err = %v, want it held for review", c.o, err)
		}
		dec, err := png.Decode(bytes.NewReader(review.Data))
		if err != nil {
			t.Fatal(err)
		}
		if got := dec.Bounds().Size(); got != c.want {
			t.Errorf("orientation %d: searched and written %v, displayed %v", c.o, got, c.want)
		}
	}
}
