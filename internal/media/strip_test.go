package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"golang.org/x/image/webp"
)

// marker stands for what must never survive stripping: a camera serial, a
// name, a place.
const marker = "SN-MARKER-4711"

// testImage is a small picture with edges and gradients, odd-sized so that
// chroma subsampling has partial blocks.
func testImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) * 4), 255})
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// segment builds a JPEG marker segment.
func segment(m byte, payload string) string {
	return string([]byte{0xFF, m, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}) + payload
}

// splice inserts segments right after SOI.
func splice(jpg []byte, segs ...string) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, strings.Join(segs, "")...)
	return append(out, jpg[2:]...)
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte // little-endian value; patched later for IFD pointers
}

// tiff lays out little-endian IFDs one after another, each followed by its
// out-of-line values. Entries with tag 0x8769 (Exif IFD) and 0x8825 (GPS IFD)
// are pointed at ifds[1] and ifds[2].
func tiff(ifds ...[]ifdEntry) []byte {
	le := binary.LittleEndian
	size := func(es []ifdEntry) int {
		n := 2 + 12*len(es) + 4
		for _, e := range es {
			if len(e.data) > 4 {
				n += len(e.data) + len(e.data)&1
			}
		}
		return n
	}
	offs := []int{8}
	for _, es := range ifds {
		offs = append(offs, offs[len(offs)-1]+size(es))
	}
	b := []byte("II*\x00\x08\x00\x00\x00")
	for i, es := range ifds {
		b = le.AppendUint16(b, uint16(len(es)))
		extra := offs[i] + 2 + 12*len(es) + 4
		var out []byte
		for _, e := range es {
			switch e.tag {
			case 0x8769:
				e.data = le.AppendUint32(nil, uint32(offs[1]))
			case 0x8825:
				e.data = le.AppendUint32(nil, uint32(offs[2]))
			}
			b = le.AppendUint16(b, e.tag)
			b = le.AppendUint16(b, e.typ)
			b = le.AppendUint32(b, e.count)
			if len(e.data) <= 4 {
				b = append(b, e.data...)
				b = append(b, make([]byte, 4-len(e.data))...)
				continue
			}
			b = le.AppendUint32(b, uint32(extra+len(out)))
			out = append(out, e.data...)
			if len(e.data)&1 == 1 {
				out = append(out, 0)
			}
		}
		b = le.AppendUint32(b, 0) // no next IFD
		b = append(b, out...)
	}
	return b
}

func rationals(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// exifTIFF is a camera's EXIF: make, time, serial number and a GPS fix.
func exifTIFF(orientation uint16) []byte {
	ascii := func(s string) []byte { return append([]byte(s), 0) }
	ifd0 := []ifdEntry{{0x010F, 2, 6, ascii("Canon")}}
	if orientation != 0 {
		ifd0 = append(ifd0, ifdEntry{0x0112, 3, 1, binary.LittleEndian.AppendUint16(nil, orientation)})
	}
	ifd0 = append(ifd0, ifdEntry{0x8769, 4, 1, nil}, ifdEntry{0x8825, 4, 1, nil})
	exifIFD := []ifdEntry{
		{0x9003, 2, 20, ascii("2024:05:01 10:00:00")},
		{0xA431, 2, uint32(len(marker) + 1), ascii(marker)}, // BodySerialNumber
	}
	gps := []ifdEntry{
		{0x0001, 2, 2, ascii("N")},
		{0x0002, 5, 3, rationals(52, 1, 31, 1, 1234, 100)},
		{0x0003, 2, 2, ascii("E")},
		{0x0004, 5, 3, rationals(13, 1, 24, 1, 5678, 100)},
	}
	return tiff(ifd0, exifIFD, gps)
}

var (
	exifAPP1 = segment(0xE1, "Exif\x00\x00"+string(exifTIFF(0)))
	xmpAPP1  = segment(0xE1, "http://ns.adobe.com/xap/1.0/\x00"+
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`+
		`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N" exif:BodySerialNumber="`+marker+`"/>`+
		`</rdf:RDF></x:xmpmeta>`)
	iccAPP2   = segment(0xE2, "ICC_PROFILE\x00\x01\x01"+strings.Repeat("\x00", 128)+"desc "+marker)
	photoshop = segment(0xED, "Photoshop 3.0\x008BIM\x04\x04\x00\x00"+marker)
	comment   = segment(0xFE, "taken by "+marker)
)

func stripJPEGBytes(t testing.TB, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := StripJPEG(&out, bytes.NewReader(in)); err != nil {
		t.Fatalf("StripJPEG: %v", err)
	}
	return out.Bytes()
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	m, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

func samePixels(t testing.TB, got, want image.Image) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, a1 := got.At(x, y).RGBA()
			r2, g2, b2, a2 := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got.At(x, y), want.At(x, y))
			}
		}
	}
}

func mustNotContain(t testing.TB, b []byte, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			t.Errorf("output still contains %q", n)
		}
	}
}

func TestStripJPEGRemovesExifGPSXMPAndComments(t *testing.T) {
	orig := encodeJPEG(t, testImage(97, 61), 85)
	dirty := splice(orig, exifAPP1, xmpAPP1, iccAPP2, photoshop, comment)
	if !bytes.Contains(dirty, []byte(marker)) {
		t.Fatal("fixture lacks the marker")
	}
	samePixels(t, decode(t, dirty), decode(t, orig))

	out := stripJPEGBytes(t, dirty)
	mustNotContain(t, out, marker, "Exif\x00\x00", "http://ns.adobe.com/xap", "ICC_PROFILE", "Photoshop")
	samePixels(t, decode(t, out), decode(t, orig))
	// Go's encoder writes no metadata, so what remains is exactly its output.
	if !bytes.Equal(out, orig) {
		t.Errorf("stripped file (%d bytes) differs from the clean original (%d bytes)", len(out), len(orig))
	}
}

func TestStripJPEGKeepsOrientationOnly(t *testing.T) {
	orig := encodeJPEG(t, testImage(40, 30), 90)
	dirty := splice(orig, segment(0xE1, "Exif\x00\x00"+string(exifTIFF(6))), xmpAPP1)
	out := stripJPEGBytes(t, dirty)
	mustNotContain(t, out, marker, "Canon", "2024:05:01")
	i := bytes.Index(out, []byte("\xff\xe1"))
	if i < 0 {
		t.Fatal("no EXIF segment for the orientation")
	}
	n := int(binary.BigEndian.Uint16(out[i+2:]))
	if got := exifOrientation(out[i+4+6 : i+2+n]); got != 6 {
		t.Errorf("orientation = %d, want 6", got)
	}
	if len(out) != len(orig)+36 {
		t.Errorf("output is %d bytes, want the original plus a 36-byte EXIF segment (%d)", len(out), len(orig)+36)
	}
	samePixels(t, decode(t, out), decode(t, orig))
	if again := stripJPEGBytes(t, out); !bytes.Equal(again, out) {
		t.Error("stripping twice changes the file")
	}
}

func TestStripJPEGDropsTheJFIFThumbnailButKeepsJFIFAndAdobe(t *testing.T) {
	orig := encodeJPEG(t, testImage(33, 17), 75)
	jfif := segment(0xE0, "JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x02\x01"+"SECRET") // 2×1 RGB thumbnail
	jfxx := segment(0xE0, "JFXX\x00\x13"+marker)
	adobe := segment(0xEE, "Adobe\x00\x64\x00\x00\x00\x00\x01")
	out := stripJPEGBytes(t, splice(orig, jfif, jfxx, adobe, exifAPP1))
	mustNotContain(t, out, "SECRET", marker, "JFXX")
	want := splice(orig, segment(0xE0, "JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00"), adobe)
	if !bytes.Equal(out, want) {
		t.Errorf("got % x…, want % x…", out[:40], want[:40])
	}
	samePixels(t, decode(t, out), decode(t, orig))
}

func TestStripJPEGDropsDataAfterEOI(t *testing.T) {
	orig := encodeJPEG(t, testImage(16, 16), 80)
	// Phones append depth maps and second images, with their own EXIF.
	appended := splice(encodeJPEG(t, testImage(8, 8), 50), exifAPP1)
	out := stripJPEGBytes(t, append(append([]byte{}, orig...), appended...))
	if !bytes.Equal(out, orig) {
		t.Error("data after EOI survived")
	}
}

func TestStripJPEGKeepsProgressiveAndRestartScans(t *testing.T) {
	// Restart markers inside scan data and fill bytes before markers.
	orig := encodeJPEG(t, testImage(24, 24), 80)
	sos := bytes.Index(orig, []byte{0xFF, 0xDA})
	withFill := append(append(append([]byte{}, orig[:sos]...), 0xFF, 0xFF), orig[sos:]...)
	out := stripJPEGBytes(t, withFill)
	if !bytes.Equal(out, orig) {
		t.Error("fill bytes before a marker were not dropped cleanly")
	}
}

func TestStripJPEGRefusesMalformedInput(t *testing.T) {
	orig := encodeJPEG(t, testImage(64, 48), 85)
	dirty := splice(orig, exifAPP1)
	sos := bytes.Index(orig, []byte{0xFF, 0xDA})
	tests := map[string][]byte{
		"empty":                    nil,
		"one byte":                 orig[:1],
		"only SOI":                 orig[:2],
		"cut in a marker":          orig[:3],
		"cut in a segment":         orig[:10],
		"cut in the EXIF":          dirty[:len(exifAPP1)/2],
		"cut in scan data":         orig[:len(orig)/2],
		"no EOI":                   orig[:len(orig)-2],
		"half an EOI":              orig[:len(orig)-1],
		"not a JPEG":               []byte("GIF89a......"),
		"png":                      headPNG,
		"data between segments":    splice(orig, "junk"),
		"segment length below two": splice(orig, "\xff\xe1\x00\x01"),
		"second SOI":               splice(orig, "\xff\xd8"),
		"EOI before image":         []byte("\xff\xd8\xff\xd9"),
		"scan before frame":        append([]byte("\xff\xd8"), orig[sos:]...),
		"unknown marker":           splice(orig, segment(0xF7, "abc")),
		"restart outside scan":     splice(orig, "\xff\xd0"),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			err := StripJPEG(io.Discard, bytes.NewReader(in))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestStripReportsIOFailuresAsTheirOwn(t *testing.T) {
	jpg := encodeJPEG(t, testImage(300, 300), 95)
	pngFile := encodePNG(t, testImage(300, 300))
	for name, strip := range map[string]func(io.Writer, io.Reader) error{"jpeg": StripJPEG, "png": StripPNG} {
		in := jpg
		if name == "png" {
			in = pngFile
		}
		t.Run(name+" write", func(t *testing.T) {
			err := strip(&failingWriter{after: 100}, bytes.NewReader(in))
			if err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("err = %v, want the write error", err)
			}
		})
		t.Run(name+" read", func(t *testing.T) {
			src := io.MultiReader(bytes.NewReader(in[:len(in)/2]), iotest.ErrReader(errors.New("connection reset")))
			err := strip(io.Discard, src)
			if err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "connection reset") {
				t.Errorf("err = %v, want the read error", err)
			}
		})
	}
}

// PNG

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func chunk(typ, data string) string {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return string(binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE([]byte(typ+data))))
}

// afterIHDR inserts chunks after the PNG signature and IHDR.
func afterIHDR(p []byte, chunks ...string) []byte {
	const at = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:at]...)
	out = append(out, strings.Join(chunks, "")...)
	return append(out, p[at:]...)
}

func TestStripPNGRemovesTextExifAndTime(t *testing.T) {
	orig := encodePNG(t, testImage(45, 23))
	phys := chunk("pHYs", "\x00\x00\x0b\x13\x00\x00\x0b\x13\x01")
	dirty := afterIHDR(orig,
		chunk("tEXt", "Author\x00"+marker),
		chunk("zTXt", "Comment\x00\x00x\x9c"+marker),
		chunk("iTXt", "XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>"+marker+"</x:xmpmeta>"),
		chunk("eXIf", string(exifTIFF(0))),
		chunk("tIME", "\x07\xe8\x05\x01\x0a\x00\x00"),
		phys,
	)
	samePixels(t, decode(t, dirty), decode(t, orig))

	var out bytes.Buffer
	if err := StripPNG(&out, bytes.NewReader(dirty)); err != nil {
		t.Fatalf("StripPNG: %v", err)
	}
	mustNotContain(t, out.Bytes(), marker, "tEXt", "zTXt", "iTXt", "eXIf", "tIME")
	if want := afterIHDR(orig, phys); !bytes.Equal(out.Bytes(), want) {
		t.Error("output is not the original with only pHYs added")
	}
	samePixels(t, decode(t, out.Bytes()), decode(t, orig))
}

func TestStripPNGRefusesMalformedInput(t *testing.T) {
	orig := encodePNG(t, testImage(20, 20))
	badCRC := append([]byte{}, orig...)
	badCRC[len(badCRC)-20] ^= 1 // inside IDAT
	tests := map[string][]byte{
		"empty":        nil,
		"signature":    orig[:8],
		"cut header":   orig[:12],
		"cut IHDR":     orig[:20],
		"no IEND":      orig[:len(orig)-12],
		"cut IEND":     orig[:len(orig)-2],
		"bad CRC":      badCRC,
		"not a PNG":    headJPEG,
		"IHDR not 1st": append([]byte("\x89PNG\r\n\x1a\n"), chunk("IDAT", "x")...),
		"bad type":     afterIHDR(orig, chunk("t\x00Xt", "")),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := StripPNG(io.Discard, bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// WebP

// webp1x1 is a real 1×1 lossless WebP (the one Modernizr probes with).
const webp1x1 = "RIFF\x1a\x00\x00\x00WEBPVP8L\r\x00\x00\x00/\x00\x00\x00\x10\a\x10\x11\x11\x88\x88\xfe\a\x00"

func riffChunk(fourcc string, data []byte) []byte {
	b := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)&1 == 1 {
		b = append(b, 0)
	}
	return b
}

// extendedWebP wraps a simple WebP's image chunk in VP8X with EXIF and XMP.
func extendedWebP(t testing.TB, simple []byte) []byte {
	t.Helper()
	return orientedWebP(t, simple, exifTIFF(0))
}

// orientedWebP is extendedWebP with exif as the EXIF chunk's payload.
func orientedWebP(t testing.TB, simple, exif []byte) []byte {
	t.Helper()
	cfg, err := webp.DecodeConfig(bytes.NewReader(simple))
	if err != nil {
		t.Fatal(err)
	}
	vp8x := []byte{vp8xEXIF | vp8xXMP | 0x10, 0, 0, 0}
	vp8x = append(vp8x, byte(cfg.Width-1), byte((cfg.Width-1)>>8), byte((cfg.Width-1)>>16))
	vp8x = append(vp8x, byte(cfg.Height-1), byte((cfg.Height-1)>>8), byte((cfg.Height-1)>>16))
	body := []byte("WEBP")
	body = append(body, riffChunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...)
	body = append(body, riffChunk("EXIF", exif)...)
	body = append(body, riffChunk("XMP ", []byte(`<x:xmpmeta>`+marker+`</x:xmpmeta>!`))...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestStripWebPRemovesExifAndXMP(t *testing.T) {
	gopher, err := os.ReadFile("testdata/gopher-doc.1bpp.lossless.webp") // from golang.org/x/image
	if err != nil {
		t.Fatal(err)
	}
	for name, simple := range map[string][]byte{"1x1": []byte(webp1x1), "gopher": gopher} {
		t.Run(name, func(t *testing.T) {
			want, err := webp.Decode(bytes.NewReader(simple))
			if err != nil {
				t.Fatal(err)
			}
			dirty := extendedWebP(t, simple)
			if m, err := webp.Decode(bytes.NewReader(dirty)); err != nil {
				t.Fatalf("fixture does not decode: %v", err)
			} else {
				samePixels(t, m, want)
			}

			var buf bytes.Buffer
			if err := StripWebP(&buf, bytes.NewReader(dirty)); err != nil {
				t.Fatalf("StripWebP: %v", err)
			}
			out := buf.Bytes()
			mustNotContain(t, out, marker, "EXIF", "XMP ", "Canon")
			if size := binary.LittleEndian.Uint32(out[4:]); int(size) != len(out)-8 {
				t.Errorf("RIFF size %d, file is %d bytes", size, len(out))
			}
			if string(out[12:16]) != "VP8X" || out[20]&(vp8xEXIF|vp8xXMP) != 0 || out[20]&0x10 == 0 {
				t.Errorf("VP8X flags = %#x, want EXIF and XMP cleared, alpha kept", out[20])
			}
			m, err := webp.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("stripped file does not decode: %v", err)
			}
			samePixels(t, m, want)
		})
	}
}

func TestStripWebPRefusesMalformedInput(t *testing.T) {
	good := extendedWebP(t, []byte(webp1x1))
	tests := map[string][]byte{
		"empty":           nil,
		"cut header":      good[:8],
		"cut body":        good[:len(good)-10],
		"not webp":        headWAV,
		"tiny RIFF size":  []byte("RIFF\x04\x00\x00\x00WEBP"),
		"bad chunk size":  []byte("RIFF\x14\x00\x00\x00WEBPVP8L\xff\x00\x00\x00abcd"),
		"first not image": append([]byte("RIFF\x0e\x00\x00\x00WEBP"), riffChunk("EXIF", []byte("ab"))...),
		"no image":        append([]byte("RIFF\x16\x00\x00\x00WEBP"), riffChunk("VP8X", make([]byte, 10))...),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := StripWebP(io.Discard, bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestStripDispatchesOnType(t *testing.T) {
	jpg := splice(encodeJPEG(t, testImage(10, 10), 80), exifAPP1)
	var out bytes.Buffer
	if err := Strip(&out, bytes.NewReader(jpg), typeJPEG); err != nil {
		t.Fatal(err)
	}
	mustNotContain(t, out.Bytes(), marker)

	out.Reset()
	if err := Strip(&out, bytes.NewReader(headOpus), typeOGG); err != nil || !bytes.Equal(out.Bytes(), headOpus) {
		t.Errorf("Ogg not copied unchanged: %v", err)
	}
}

// Fuzzing and benchmarks

func FuzzStripJPEG(f *testing.F) {
	orig := encodeJPEG(f, testImage(16, 16), 75)
	f.Add(orig)
	f.Add(splice(orig, exifAPP1, xmpAPP1, comment))
	f.Add(splice(orig, segment(0xE1, "Exif\x00\x00"+string(exifTIFF(3)))))
	f.Add(orig[:len(orig)/2])
	f.Fuzz(func(t *testing.T, in []byte) { fuzzStrip(t, StripJPEG, in) })
}

// fuzzStrip checks that strip never panics, refuses bad input only as
// ErrMalformed, and that what it emits strips to itself.
func fuzzStrip(t *testing.T, strip func(io.Writer, io.Reader) error, in []byte) {
	var out bytes.Buffer
	if err := strip(&out, bytes.NewReader(in)); err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("a bytes.Reader source gave a non-input error: %v", err)
		}
		return
	}
	var again bytes.Buffer
	if err := strip(&again, bytes.NewReader(out.Bytes())); err != nil {
		t.Fatalf("stripped output is refused: %v", err)
	}
	if !bytes.Equal(again.Bytes(), out.Bytes()) {
		t.Fatal("stripping is not idempotent")
	}
}

func FuzzStripPNG(f *testing.F) {
	orig := encodePNG(f, testImage(8, 8))
	f.Add(orig)
	f.Add(afterIHDR(orig, chunk("tEXt", "Author\x00"+marker), chunk("tIME", "\x07\xe8\x05\x01\x0a\x00\x00")))
	f.Add(afterIHDR(orig, chunk("eXIf", string(exifTIFF(6)))))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzStrip(t, StripPNG, in) })
}

func FuzzStripWebP(f *testing.F) {
	f.Add([]byte(webp1x1))
	f.Add(extendedWebP(f, []byte(webp1x1)))
	f.Add(orientedWebP(f, []byte(webp1x1), exifTIFF(6)))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzStrip(t, StripWebP, in) })
}

var (
	benchOnce sync.Once
	benchJPEG []byte
)

// bigJPEG is a ~2 MB photo-like JPEG with EXIF and XMP.
func bigJPEG(b *testing.B) []byte {
	benchOnce.Do(func() {
		m := testImage(1920, 1280)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range m.Pix {
			if i%4 != 3 {
				m.Pix[i] += uint8(rng.IntN(48))
			}
		}
		benchJPEG = splice(encodeJPEG(b, m, 95), exifAPP1, xmpAPP1, comment)
	})
	return benchJPEG
}

func BenchmarkStripJPEG(b *testing.B) {
	in := bigJPEG(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := StripJPEG(io.Discard, bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in))/1e6, "MB/file")
}

// Orientation

func TestStripPNGKeepsOrientationOnly(t *testing.T) {
	orig := encodePNG(t, testImage(30, 20))
	for o := range uint16(9) {
		dirty := afterIHDR(orig, chunk("tEXt", "Author\x00"+marker), chunk("eXIf", string(exifTIFF(o))))
		want := max(1, int(o))
		if got := PNGOrientation(dirty); got != want {
			t.Errorf("orientation %d read as %d before stripping", o, got)
		}
		var out bytes.Buffer
		if err := StripPNG(&out, bytes.NewReader(dirty)); err != nil {
			t.Fatalf("orientation %d: StripPNG: %v", o, err)
		}
		mustNotContain(t, out.Bytes(), marker, "Canon", "tEXt", "2024:05:01")
		if got := Orientation("image/png", out.Bytes()); got != want {
			t.Errorf("orientation %d read as %d after stripping", o, got)
		}
		if kept := bytes.Contains(out.Bytes(), []byte("eXIf")); kept != (o >= 2) {
			t.Errorf("orientation %d: an eXIf chunk kept: %v, want %v", o, kept, o >= 2)
		}
		samePixels(t, decode(t, out.Bytes()), decode(t, orig))
	}
	// A second eXIf is dropped whole, as is the first one's if broken.
	two := afterIHDR(orig, chunk("eXIf", string(exifTIFF(6))), chunk("eXIf", string(exifTIFF(3))))
	var out bytes.Buffer
	if err := StripPNG(&out, bytes.NewReader(two)); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out.Bytes(), []byte("eXIf")); n != 1 || PNGOrientation(out.Bytes()) != 6 {
		t.Errorf("two eXIf chunks: %d kept, orientation %d; want the first one's 6", n, PNGOrientation(out.Bytes()))
	}
	bad := afterIHDR(orig, chunk("eXIf", string(exifTIFF(6))))
	bad[8+8+13+4+8+20] ^= 1 // inside the eXIf data
	if err := StripPNG(io.Discard, bytes.NewReader(bad)); !errors.Is(err, ErrMalformed) {
		t.Errorf("an eXIf chunk failing its CRC: err = %v, want ErrMalformed", err)
	}
	if o := PNGOrientation(bad); o != 1 {
		t.Errorf("an eXIf chunk failing its CRC read as orientation %d, want 1", o)
	}
}

func TestStripWebPKeepsOrientationOnly(t *testing.T) {
	pixels, err := webp.Decode(strings.NewReader(webp1x1))
	if err != nil {
		t.Fatal(err)
	}
	for o := range uint16(9) {
		for _, prefix := range []string{"", "Exif\x00\x00"} {
			dirty := orientedWebP(t, []byte(webp1x1), append([]byte(prefix), exifTIFF(o)...))
			want := max(1, int(o))
			if got := WebPOrientation(dirty); got != want {
				t.Errorf("orientation %d (prefix %q) read as %d before stripping", o, prefix, got)
			}
			var buf bytes.Buffer
			if err := StripWebP(&buf, bytes.NewReader(dirty)); err != nil {
				t.Fatalf("orientation %d: StripWebP: %v", o, err)
			}
			out := buf.Bytes()
			mustNotContain(t, out, marker, "Canon", "XMP ", "2024:05:01")
			if got := Orientation("image/webp", out); got != want {
				t.Errorf("orientation %d (prefix %q) read as %d after stripping", o, prefix, got)
			}
			if size := binary.LittleEndian.Uint32(out[4:]); int(size) != len(out)-8 {
				t.Errorf("orientation %d: RIFF size %d, file is %d bytes", o, size, len(out))
			}
			if flag := out[20]&vp8xEXIF != 0; flag != (o >= 2) || out[20]&vp8xXMP != 0 {
				t.Errorf("orientation %d: VP8X flags %#x, want EXIF set only for a turn, XMP cleared", o, out[20])
			}
			m, err := webp.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("orientation %d: stripped file does not decode: %v", o, err)
			}
			samePixels(t, m, pixels)
		}
	}
}

func TestOrientationOfOtherTypesAndGarbageIsUpright(t *testing.T) {
	for _, c := range []struct{ mediaType, data string }{
		{"image/png", "not a png"},
		{"image/png", "\x89PNG\r\n\x1a\n\x00\x00\x00\xffeXIf"}, // a chunk longer than the file
		{"image/webp", "RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\x00\x00"},
		{"image/jpeg", "not a jpeg"},
		{"image/heic", string(exifTIFF(6))},
		{"audio/wav", string(exifTIFF(6))},
	} {
		if o := Orientation(c.mediaType, []byte(c.data)); o != 1 {
			t.Errorf("%s %q: orientation %d, want 1", c.mediaType, c.data, o)
		}
	}
}
