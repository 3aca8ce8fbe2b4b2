package media_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"

	"likeness/internal/media"
)

// withOrientation inserts a minimal big-endian EXIF APP1 segment holding
// Orientation o after the SOI of a JPEG.
func withOrientation(j []byte, o byte) []byte {
	seg := []byte("\xff\xe1\x00\x22Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01" +
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	seg[4+6+8+2+9] = o
	return append(append(append([]byte{}, j[:2]...), seg...), j[2:]...)
}

func TestJPEGOrientationIsReadFromEXIFAndSurvivesStripping(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	if o := media.JPEGOrientation(buf.Bytes()); o != 1 {
		t.Errorf("no EXIF: orientation %d, want 1", o)
	}
	for o := byte(1); o <= 8; o++ {
		in := withOrientation(buf.Bytes(), o)
		if got := media.JPEGOrientation(in); got != int(o) {
			t.Errorf("orientation %d read as %d", o, got)
		}
		var out bytes.Buffer
		if err := media.StripJPEG(&out, bytes.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		if got := media.JPEGOrientation(out.Bytes()); got != int(o) {
			t.Errorf("orientation %d read as %d after stripping", o, got)
		}
	}
	if o := media.JPEGOrientation([]byte("not a jpeg")); o != 1 {
		t.Errorf("garbage: orientation %d, want 1", o)
	}
}
