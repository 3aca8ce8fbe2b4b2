package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ISO base media boxes for tests.

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func isoBox(typ string, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(append(u32(8+len(body)), typ...), body...)
}

func fullBox(typ string, version byte, parts ...[]byte) []byte {
	return isoBox(typ, append([]byte{version, 0, 0, 0}, bytes.Join(parts, nil)...))
}

// largeBox is a box with a 64-bit size.
func largeBox(typ string, body []byte) []byte {
	b := append(u32(1), typ...)
	b = binary.BigEndian.AppendUint64(b, uint64(16+len(body)))
	return append(b, body...)
}

const gpsISO6709 = "+48.8584+002.2945/"

// qtText is a QuickTime user data text item: length, language, text.
func qtText(typ, text string) []byte {
	return isoBox(typ, u16(len(text)), u16(0x15c7), []byte(text))
}

// movieFixture is an MP4 with location, device and names in user data and
// metadata boxes, at the top level and deep in the movie.
type movieFixture struct {
	file     []byte
	scrubbed [][]byte // the boxes that must become free boxes of zeros
	samples  []byte   // mdat payload
}

func testSamples(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	copy(b[100:], "sample-bytes-with-udta-and-meta-inside") // box types in media data are data
	return b
}

func movie(layout string) movieFixture {
	ftyp := isoBox("ftyp", []byte("isom\x00\x00\x02\x00isomiso2avc1mp41"))
	udta := isoBox("udta",
		qtText("\xa9xyz", gpsISO6709),
		qtText("\xa9mak", "Phone"),
		qtText("\xa9mod", "Phone 15 Pro"),
		qtText("\xa9swr", "Camera "+marker))
	trakUdta := isoBox("udta", isoBox("name", []byte("Holiday with Anna")))
	meta := fullBox("meta", 0,
		fullBox("hdlr", 0, u32(0), []byte("mdta"), make([]byte, 12), []byte{0}),
		fullBox("keys", 0, u32(1), isoBox("mdta", []byte("com.apple.quicktime.location.ISO6709"))),
		isoBox("ilst", isoBox("\x00\x00\x00\x01", isoBox("data", u32(1), u32(0), []byte(gpsISO6709)))))
	mdiaMeta := fullBox("meta", 0, isoBox("ilst", isoBox("\xa9too", isoBox("data", u32(1), u32(0), []byte("Lavf "+marker)))))
	uuid := isoBox("uuid", []byte("\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac"),
		[]byte(`<x:xmpmeta><rdf:Description exif:GPSLatitude="48,51.5N" tiff:Make="Phone"/></x:xmpmeta>`))
	samples := testSamples(3000)

	stco := func(off int) []byte { return fullBox("stco", 0, u32(1), u32(off)) }
	build := func(chunkOffset int) [][]byte {
		trak := isoBox("trak",
			fullBox("tkhd", 0, make([]byte, 80)),
			isoBox("edts", fullBox("elst", 0, u32(0))),
			trakUdta,
			isoBox("mdia",
				fullBox("mdhd", 0, make([]byte, 20)),
				fullBox("hdlr", 0, u32(0), []byte("vide"), make([]byte, 12), []byte("VideoHandler\x00")),
				mdiaMeta,
				isoBox("minf",
					fullBox("vmhd", 0, make([]byte, 8)),
					isoBox("stbl", fullBox("stsd", 0, u32(0)), stco(chunkOffset)))))
		moov := isoBox("moov", fullBox("mvhd", 0, make([]byte, 96)), udta, trak, meta)
		var mdat []byte
		if layout == "largesize mdat" {
			mdat = largeBox("mdat", samples)
		} else {
			mdat = isoBox("mdat", samples)
		}
		switch layout {
		case "moov after mdat":
			return [][]byte{ftyp, isoBox("free", nil), mdat, moov, uuid}
		case "meta to end of file":
			last := append(u32(0), isoBox("meta", []byte("\x00\x00\x00\x00"+marker))[4:]...)
			return [][]byte{ftyp, moov, mdat, last}
		}
		return [][]byte{ftyp, moov, uuid, mdat}
	}
	boxes := build(0)
	off := 0
	for _, b := range boxes {
		if string(b[4:8]) == "mdat" {
			off += len(b) - len(samples)
			break
		}
		off += len(b)
	}
	f := movieFixture{file: bytes.Join(build(off), nil), samples: samples,
		scrubbed: [][]byte{udta, trakUdta, meta, mdiaMeta}}
	if layout != "meta to end of file" {
		f.scrubbed = append(f.scrubbed, uuid)
	} else {
		f.scrubbed = append(f.scrubbed, boxes[len(boxes)-1])
	}
	return f
}

var movieLayouts = []string{"moov first", "moov after mdat", "largesize mdat", "meta to end of file"}

// neutralised is in with each box in boxes turned into a free box of zeros.
func neutralised(t *testing.T, in []byte, boxes [][]byte) []byte {
	t.Helper()
	want := bytes.Clone(in)
	for _, b := range boxes {
		i := bytes.Index(in, b)
		if i < 0 || bytes.Index(in[i+1:], b) >= 0 {
			t.Fatalf("fixture box %q is not found exactly once", b[4:8])
		}
		copy(want[i+4:], "free")
		clear(want[i+8 : i+len(b)])
	}
	return want
}

func TestStripMP4NeutralisesMetadataBoxesInPlace(t *testing.T) {
	for _, layout := range movieLayouts {
		t.Run(layout, func(t *testing.T) {
			f := movie(layout)
			for _, s := range []string{gpsISO6709, "Phone", marker, "Anna"} {
				if !bytes.Contains(f.file, []byte(s)) {
					t.Fatalf("fixture lacks %q", s)
				}
			}
			var buf bytes.Buffer
			if err := StripMP4(&buf, iotest.HalfReader(bytes.NewReader(f.file))); err != nil {
				t.Fatalf("StripMP4: %v", err)
			}
			out := buf.Bytes()
			mustNotContain(t, out, gpsISO6709, "Phone", marker, "Anna", "ISO6709", "xmpmeta")
			if len(out) != len(f.file) {
				t.Fatalf("output is %d bytes, input %d", len(out), len(f.file))
			}
			if want := neutralised(t, f.file, f.scrubbed); !bytes.Equal(out, want) {
				for i := range out {
					if out[i] != want[i] {
						t.Fatalf("output differs at byte %d: %#x, want %#x", i, out[i], want[i])
					}
				}
			}
			if !bytes.Contains(out, f.samples) {
				t.Error("the media data is not copied unchanged")
			}
			// The output parses, down into the movie, and strips to itself.
			var top []string
			if err := eachBox(out, 0, len(out), "test", func(typ string, _, body, end int) error {
				top = append(top, typ)
				if typ == "moov" {
					return scrubISO(bytes.Clone(out), body, end, "test", 1)
				}
				return nil
			}); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if !strings.Contains(strings.Join(top, " "), "moov") || top[0] != "ftyp" {
				t.Errorf("top-level boxes %v", top)
			}
			var again bytes.Buffer
			if err := StripMP4(&again, bytes.NewReader(out)); err != nil || !bytes.Equal(again.Bytes(), out) {
				t.Errorf("stripping the output changes it (err %v)", err)
			}
		})
	}
}

func TestStripDispatchesISOTypes(t *testing.T) {
	f := movie("moov first")
	for _, typ := range []Type{typeMP4, typeMOV, typeM4A} {
		if !Rewrites(typ) {
			t.Errorf("Rewrites(%s) = false", typ.MIME)
		}
		var out bytes.Buffer
		if err := Strip(&out, bytes.NewReader(f.file), typ); err != nil {
			t.Fatalf("%s: %v", typ.MIME, err)
		}
		mustNotContain(t, out.Bytes(), gpsISO6709, marker)
	}
}

func TestStripMP4RefusesMalformedInput(t *testing.T) {
	good := movie("moov first").file
	nest := isoBox("mdia", nil)
	for range 20 {
		nest = isoBox("trak", nest)
	}
	tests := map[string][]byte{
		"empty":                 nil,
		"cut box header":        good[:5],
		"size below header":     []byte("\x00\x00\x00\x04free"),
		"largesize below 16":    []byte("\x00\x00\x00\x01free\x00\x00\x00\x00\x00\x00\x00\x0c"),
		"largesize cut":         []byte("\x00\x00\x00\x01free\x00\x00"),
		"largesize too big":     []byte("\x00\x00\x00\x01mdat\xff\x00\x00\x00\x00\x00\x00\x00"),
		"box beyond the end":    good[:len(good)-1],
		"moov cut":              isoBox("ftyp", []byte("isom"))[:10],
		"moov beyond the end":   append(isoBox("ftyp", []byte("isom")), "\x00\x01\x00\x00moov\x00\x00\x00\x08mvhd"...),
		"udta beyond the end":   append(isoBox("ftyp", []byte("isom")), "\x00\x01\x00\x00udta\x00\x00"...),
		"child beyond parent":   isoBox("moov", []byte("\x00\x00\x00\x10udta\x00\x00")),
		"child size below 8":    isoBox("moov", []byte("\x00\x00\x00\x02udta")),
		"child header cut":      isoBox("moov", fullBox("mvhd", 0), []byte("\x00\x00\x01")),
		"moov over 64 MiB":      append(u32(isoMaxMoov+9), "moov"...),
		"nested too deeply":     isoBox("moov", nest),
		"child largesize wrong": isoBox("moov", []byte("\x00\x00\x00\x01udta\x00\x00\x00\x00\x00\x00\x01\x00")),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			err := StripMP4(io.Discard, bytes.NewReader(in))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestStripMP4ReportsIOFailuresAsTheirOwn(t *testing.T) {
	in := movie("moov after mdat").file
	if err := StripMP4(&failingWriter{after: 100}, bytes.NewReader(in)); err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write: err = %v, want the write error", err)
	}
	for _, cut := range []int{len(in) / 2, len(in) - 20} {
		src := io.MultiReader(bytes.NewReader(in[:cut]), iotest.ErrReader(errors.New("connection reset")))
		if err := StripMP4(io.Discard, src); err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("read cut at %d: err = %v, want the read error", cut, err)
		}
	}
}

func FuzzStripISO(f *testing.F) {
	for _, layout := range movieLayouts {
		f.Add(movie(layout).file)
	}
	f.Add(isoBox("moov", []byte("\x00\x00\x00\x00udta")))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzStrip(t, StripMP4, in) })
}
