package media

import (
	"bytes"
	"io"
	"strings"
)

const fHEIC = "HEIC"

// heicMax caps a HEIC file, which is held in memory.
const heicMax = 64 << 20

// heicScrubbedType is the item type a stripped Exif or XMP item gets. It is
// the ISO box type for free space and no registered HEIF item type, so
// readers (libheif, ImageIO) pass the item over as one they do not know,
// instead of trying to parse the zeros as EXIF or XML; and it says what
// happened to anyone who looks.
const heicScrubbedType = "skip"

// StripHEIC copies a HEIF image (HEIC) from src to dst with its EXIF (GPS,
// camera serial, times, thumbnails inside the EXIF) and XMP items erased in
// place: their bytes are overwritten with zeros and their item type becomes
// "skip". Nothing moves, so every item location stays valid and the image
// items are copied byte for byte. udta, meta and uuid boxes of an image
// sequence's movie box, and udta and uuid boxes at the top level, are
// neutralised as StripMP4 does.
//
// The file is held in memory (at most 64 MiB). A broken box or item
// structure is ErrMalformed, and so is an EXIF or XMP item whose location
// cannot be resolved (built from other items, or of unknown length).
// The EXIF orientation is lost with the rest; HEIF carries the rotation
// that displays use in its irot and imir properties, which are kept.
func StripHEIC(dst io.Writer, src io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(src, heicMax+1))
	if err != nil {
		return failedRead(fHEIC, "file", err)
	}
	if len(b) > heicMax {
		return malformed(fHEIC, "it is larger than the %d MiB allowed", heicMax>>20)
	}
	if err := scrubHEIC(b); err != nil {
		return err
	}
	w := newOutput(dst)
	w.Write(b)
	return w.flush(fHEIC)
}

func scrubHEIC(b []byte) error {
	if len(b) == 0 {
		return malformed(fHEIC, "the file is empty")
	}
	var sawMeta bool
	err := eachBox(b, 0, len(b), fHEIC, func(typ string, start, body, end int) error {
		switch typ {
		case "meta":
			sawMeta = true
			return scrubHEIFMeta(b, body, end)
		case "moov":
			return scrubISO(b, body, end, fHEIC, 1)
		case "udta", "uuid":
			copy(b[start+4:], "free")
			clear(b[body:end])
		}
		return nil
	})
	if err == nil && !sawMeta {
		return malformed(fHEIC, "it has no meta box")
	}
	return err
}

// box is the location of a box: payload b[body:end].
type box struct{ body, end int }

// extent is a byte range of the file to be erased.
type extent struct{ from, to int }

// scrubHEIFMeta erases the Exif and XMP items of the meta box whose payload
// is b[from:to].
func scrubHEIFMeta(b []byte, from, to int) error {
	if to-from < 4 {
		return malformed(fHEIC, "the meta box is cut short")
	}
	var iinf, iloc, idat *box
	err := eachBox(b, from+4, to, fHEIC, func(typ string, _, body, end int) error {
		bx := &box{body, end}
		switch typ {
		case "iinf":
			iinf = bx
		case "iloc":
			iloc = bx
		case "idat":
			idat = bx
		}
		return nil
	})
	if err != nil || iinf == nil {
		return err
	}
	types, err := heifMetadataItems(b, *iinf)
	if err != nil || len(types) == 0 {
		return err
	}
	var extents []extent
	if iloc != nil {
		if extents, err = heifExtents(b, *iloc, idat, types); err != nil {
			return err
		}
	}
	for _, e := range extents {
		clear(b[e.from:e.to])
	}
	for _, off := range types {
		if off >= 0 {
			copy(b[off:], heicScrubbedType)
		}
	}
	return nil
}

// reader reads big-endian fields from b[p:end], remembering overruns.
type reader struct {
	b      []byte
	p, end int
	short  bool
}

func (r *reader) uint(n int) uint64 {
	if r.short || r.end-r.p < n {
		r.short = true
		return 0
	}
	var v uint64
	for _, c := range r.b[r.p : r.p+n] {
		v = v<<8 | uint64(c)
	}
	r.p += n
	return v
}

// cstring reads a NUL-terminated string; a missing NUL ends it at end.
func (r *reader) cstring() string {
	if r.short {
		return ""
	}
	s := r.b[r.p:r.end]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
		r.p++
	}
	r.p += len(s)
	return string(s)
}

// heifMetadataItems reads the item information box and returns the Exif
// and XMP items, each with the offset of its item_type field (-1 for an
// old-style entry that has none).
func heifMetadataItems(b []byte, iinf box) (map[uint32]int, error) {
	r := &reader{b: b, p: iinf.body, end: iinf.end}
	if r.uint(1) == 0 {
		r.uint(3)
		r.uint(2)
	} else {
		r.uint(3)
		r.uint(4)
	}
	if r.short {
		return nil, malformed(fHEIC, "the iinf box is cut short")
	}
	items := map[uint32]int{}
	err := eachBox(b, r.p, iinf.end, fHEIC, func(typ string, _, body, end int) error {
		if typ != "infe" {
			return nil
		}
		r := &reader{b: b, p: body, end: end}
		version := r.uint(1)
		r.uint(3)
		var id uint32
		var typeOff int
		var itemType, contentType string
		switch version {
		case 0, 1:
			id = uint32(r.uint(2))
			r.uint(2) // item_protection_index
			r.cstring()
			contentType = r.cstring()
			typeOff = -1
		case 2, 3:
			if version == 2 {
				id = uint32(r.uint(2))
			} else {
				id = uint32(r.uint(4))
			}
			r.uint(2)
			typeOff = r.p
			itemType = string(b[typeOff:min(typeOff+4, end)])
			r.uint(4)
			if itemType == "mime" {
				r.cstring() // item_name
				contentType = r.cstring()
			}
		default:
			return nil // no reader knows this entry
		}
		if r.short {
			return malformed(fHEIC, "an infe box is cut short")
		}
		if itemType == "Exif" || isXMPType(contentType) {
			items[id] = typeOff
		}
		return nil
	})
	return items, err
}

func isXMPType(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/rdf+xml")
}

// heifExtents reads the item location box and returns the bytes of the
// items in want that lie in this file.
func heifExtents(b []byte, iloc box, idat *box, want map[uint32]int) ([]extent, error) {
	r := &reader{b: b, p: iloc.body, end: iloc.end}
	version := r.uint(1)
	r.uint(3)
	if version > 2 {
		return nil, malformed(fHEIC, "its iloc box has the unknown version %d", version)
	}
	sizes := r.uint(2)
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), 0
	if version > 0 {
		idxSize = int(sizes & 15)
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return nil, malformed(fHEIC, "its iloc box has a field size of %d bytes", s)
		}
	}
	idWidth := 2
	if version == 2 {
		idWidth = 4
	}
	count := r.uint(idWidth)
	var extents []extent
	for i := uint64(0); i < count && !r.short; i++ {
		id := uint32(r.uint(idWidth))
		method := uint64(0)
		if version > 0 {
			method = r.uint(2) & 15
		}
		dataRef := r.uint(2)
		base := r.uint(baseSize)
		n := r.uint(2)
		_, scrub := want[id]
		scrub = scrub && dataRef == 0 // other data references are other files
		for range n {
			r.uint(idxSize)
			off, length := r.uint(offSize), r.uint(lenSize)
			if !scrub || r.short {
				continue
			}
			var lo, hi uint64 // the range that offsets are inside
			switch method {
			case 0:
				lo, hi = 0, uint64(len(b))
			case 1:
				if idat == nil {
					return nil, malformed(fHEIC, "a metadata item lies in an idat box that is missing")
				}
				lo, hi = uint64(idat.body), uint64(idat.end)
			default:
				return nil, malformed(fHEIC, "a metadata item is built from other items, which cannot be stripped")
			}
			if length == 0 {
				return nil, malformed(fHEIC, "a metadata item has an extent of unstated length")
			}
			start := lo + base + off
			if base > hi || off > hi || start < lo || start > hi || length > hi-start {
				return nil, malformed(fHEIC, "a metadata item lies outside the file")
			}
			extents = append(extents, extent{int(start), int(start + length)})
		}
	}
	if r.short {
		return nil, malformed(fHEIC, "the iloc box is cut short")
	}
	return extents, nil
}
