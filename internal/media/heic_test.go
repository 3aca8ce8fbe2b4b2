package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// heicFixture is a HEIC with an image item, an EXIF item holding a GPS fix
// and a serial, and an XMP item.
type heicFixture struct {
	file            []byte
	image           []byte // the hvc1 item's bytes
	exif, xmp       []byte // the metadata items' bytes
	exifInfe, xmpIn []byte // their infe boxes
}

const xmpPacket = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.5N" tiff:Model="` + marker + `"/></rdf:RDF></x:xmpmeta>`

// heic builds the fixture. layout is "mdat" (every item in mdat, iloc v1,
// infe v2), "idat" (metadata in the meta box's idat, construction method
// 1) or "v2" (iloc v2 and infe v3 with 32-bit item IDs, 8-byte offsets
// and a base offset).
func heic(layout string) heicFixture {
	image := testSamples(700)
	exif := append([]byte("\x00\x00\x00\x06Exif\x00\x00"), exifTIFF(6)...)
	xmp := []byte(xmpPacket)

	wide := layout == "v2"
	id := func(v int) []byte {
		if wide {
			return u32(v)
		}
		return u16(v)
	}
	infe := func(n int, typ, contentType string) []byte {
		if wide {
			return fullBox("infe", 3, u32(n), u16(0), []byte(typ), []byte("\x00"), []byte(contentType))
		}
		return fullBox("infe", 2, u16(n), u16(0), []byte(typ), []byte("\x00"), []byte(contentType))
	}
	exifInfe := infe(2, "Exif", "")
	xmpInfe := infe(3, "mime", "application/rdf+xml\x00")
	// entries are (item, construction method, offset, length).
	iloc := func(entries [][4]int) []byte {
		version, body := byte(1), []byte{0x44, 0x00} // 4-byte offsets and lengths
		if wide {
			version, body = 2, []byte{0x84, 0x40} // 8-byte offsets, 4-byte lengths and base
		}
		body = append(body, id(len(entries))...)
		for _, e := range entries {
			body = append(body, id(e[0])...)
			body = append(body, u16(e[1])...) // construction method
			body = append(body, u16(0)...)    // this file
			if wide {
				body = append(body, u32(e[2]/2)...) // base offset
				body = append(body, u16(1)...)
				body = binary.BigEndian.AppendUint64(body, uint64(e[2]-e[2]/2))
			} else {
				body = append(body, u16(1)...)
				body = append(body, u32(e[2])...)
			}
			body = append(body, u32(e[3])...)
		}
		return fullBox("iloc", version, body)
	}
	build := func(mdatStart int) []byte {
		var entries [][4]int
		var idat []byte
		mdat := bytes.Clone(image)
		entries = append(entries, [4]int{1, 0, mdatStart, len(image)})
		if layout == "idat" {
			entries = append(entries, [4]int{2, 1, 0, len(exif)}, [4]int{3, 1, len(exif), len(xmp)})
			idat = isoBox("idat", exif, xmp)
		} else {
			entries = append(entries, [4]int{2, 0, mdatStart + len(mdat), len(exif)})
			mdat = append(mdat, exif...)
			entries = append(entries, [4]int{3, 0, mdatStart + len(mdat), len(xmp)})
			mdat = append(mdat, xmp...)
		}
		meta := fullBox("meta", 0,
			fullBox("hdlr", 0, u32(0), []byte("pict"), make([]byte, 12), []byte{0}),
			fullBox("pitm", 0, id(1)),
			fullBox("iinf", 0, u16(3), infe(1, "hvc1", ""), exifInfe, xmpInfe),
			iloc(entries),
			isoBox("iref", u32(0)),
			idat)
		ftyp := isoBox("ftyp", []byte("heic\x00\x00\x00\x00mif1heic"))
		return bytes.Join([][]byte{ftyp, meta, isoBox("mdat", mdat)}, nil)
	}
	probe := build(0)
	start := len(probe) - (len(image) + 8)
	if layout != "idat" {
		start -= len(exif) + len(xmp)
	}
	return heicFixture{file: build(start + 8), image: image, exif: exif, xmp: xmp, exifInfe: exifInfe, xmpIn: xmpInfe}
}

func TestStripHEICErasesExifAndXMPItems(t *testing.T) {
	for _, layout := range []string{"mdat", "idat", "v2"} {
		t.Run(layout, func(t *testing.T) {
			f := heic(layout)
			for _, s := range []string{marker, "Canon", "GPSLatitude"} {
				if !bytes.Contains(f.file, []byte(s)) {
					t.Fatalf("fixture lacks %q", s)
				}
			}
			var buf bytes.Buffer
			if err := StripHEIC(&buf, bytes.NewReader(f.file)); err != nil {
				t.Fatalf("StripHEIC: %v", err)
			}
			out := buf.Bytes()
			mustNotContain(t, out, marker, "Canon", "GPSLatitude", "Exif\x00\x00")

			want := bytes.Clone(f.file)
			for _, item := range [][]byte{f.exif, f.xmp} {
				i := bytes.Index(f.file, item)
				clear(want[i : i+len(item)])
			}
			for _, infe := range [][]byte{f.exifInfe, f.xmpIn} {
				i := bytes.Index(f.file, infe)
				typeOff := i + 12 + 2 + 2
				if layout == "v2" {
					typeOff += 2
				}
				copy(want[typeOff:], "skip")
			}
			if !bytes.Equal(out, want) {
				t.Fatal("output is not the input with the EXIF and XMP bytes zeroed and their items typed skip")
			}
			if i := bytes.Index(f.file, f.image); !bytes.Equal(out[i:i+len(f.image)], f.image) {
				t.Error("the image item is not copied unchanged")
			}
			var again bytes.Buffer
			if err := StripHEIC(&again, bytes.NewReader(out)); err != nil || !bytes.Equal(again.Bytes(), out) {
				t.Errorf("stripping the output changes it (err %v)", err)
			}
			if !Rewrites(typeHEIC) {
				t.Error("Rewrites(image/heic) = false")
			}
			buf.Reset()
			if err := Strip(&buf, bytes.NewReader(f.file), typeHEIC); err != nil || !bytes.Equal(buf.Bytes(), out) {
				t.Errorf("Strip does not dispatch to StripHEIC: %v", err)
			}
		})
	}
}

func TestStripHEICRefusesMalformedInput(t *testing.T) {
	f := heic("mdat")
	metaAt := bytes.Index(f.file, []byte("meta")) - 4
	ilocAt := bytes.Index(f.file, []byte("iloc")) - 4
	patch := func(at int, b string) []byte {
		c := bytes.Clone(f.file)
		copy(c[at:], b)
		return c
	}
	// The EXIF item is the second iloc entry: 16 bytes of iloc header,
	// then 16 bytes per v1 entry with one extent.
	exifEntry := ilocAt + 16 + 16
	tests := map[string][]byte{
		"empty":                 nil,
		"no meta box":           isoBox("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")),
		"cut short":             f.file[:len(f.file)-5],
		"meta without header":   append(isoBox("ftyp", []byte("heic")), isoBox("meta", []byte("\x00\x00"))...),
		"iloc version 3":        patch(ilocAt+8, "\x03"),
		"iloc field size 3":     patch(ilocAt+12, "\x34"),
		"iloc cut short":        patch(ilocAt+14, "\x00\x09"),
		"exif beyond the file":  patch(exifEntry+8, "\x7f\x00\x00\x00"),
		"exif length zero":      patch(exifEntry+12, "\x00\x00\x00\x00"),
		"exif built from items": patch(exifEntry+2, "\x00\x02"),
		"exif in missing idat":  patch(exifEntry+2, "\x00\x01"),
		"infe cut":              append(isoBox("ftyp", []byte("heic")), fullBox("meta", 0, fullBox("iinf", 0, u16(1), fullBox("infe", 2, u16(2))))...),
		"meta beyond the file":  patch(metaAt, "\x01\x00\x00\x00"),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			err := StripHEIC(io.Discard, bytes.NewReader(in))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			t.Log(err)
		})
	}
}

func FuzzStripHEIC(f *testing.F) {
	for _, layout := range []string{"mdat", "idat", "v2"} {
		f.Add(heic(layout).file)
	}
	f.Fuzz(func(t *testing.T, in []byte) { fuzzStrip(t, StripHEIC, in) })
}
