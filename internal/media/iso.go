package media

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
)

// Format names for messages about ISO base media files.
const (
	fMP4       = "MP4"
	fQuickTime = "QuickTime"
	fM4A       = "M4A"
)

const (
	// isoMaxMoov caps the movie box, which is held in memory. A phone's
	// hour-long video has a moov of a few MiB.
	isoMaxMoov = 64 << 20
	// isoMaxDepth caps the nesting of container boxes.
	isoMaxDepth = 16
)

// isoScrubbed are the boxes that hold metadata rather than media: user data
// (QuickTime ©xyz location, ©mak/©mod device, ©swr software, names),
// metadata (iTunes ilst, Apple's com.apple.quicktime.location.ISO6709 and
// content identifiers, camera serials) and vendor extensions (XMP,
// manufacturer blobs).
var isoScrubbed = map[string]bool{"udta": true, "meta": true, "uuid": true}

// isoContainers are the boxes whose payload is nothing but boxes, and in
// which udta, meta and uuid boxes are looked for.
var isoContainers = map[string]bool{
	"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true,
	"edts": true, "dinf": true, "mvex": true, "moof": true, "traf": true,
}

// zeros is a source of zero bytes for overwriting streamed payloads.
var zeros [bufSize]byte

// StripMP4 copies an ISO base media file (MP4, M4A, QuickTime MOV) from
// src to dst with its metadata boxes neutralised: every udta, meta and uuid
// box at the top level and inside the movie box (in moov, trak, mdia, minf,
// stbl, edts, dinf, mvex, moof, traf) becomes a free box of the same size
// whose payload is zeros. Nothing moves, so every chunk offset (stco, co64)
// into mdat stays valid, and every other byte is copied unchanged. The
// media data is streamed; the moov and moof boxes are held in memory (at
// most 64 MiB).
//
// Timed metadata tracks (a GoPro GPMF track, an iPhone's "mebx" track) keep
// their samples in mdat and are not stripped. A broken box structure is
// ErrMalformed. On error dst may hold a partial copy, which the caller must
// discard.
func StripMP4(dst io.Writer, src io.Reader) error { return stripISOFile(dst, src, fMP4) }

func stripISOFile(dst io.Writer, src io.Reader, format string) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	if err := stripISO(w, r, format); err != nil {
		return err
	}
	return w.flush(format)
}

func stripISO(w *output, r *bufio.Reader, format string) error {
	for first := true; ; first = false {
		var hdr [16]byte
		n, err := io.ReadFull(r, hdr[:8])
		if n == 0 && err == io.EOF && !first {
			return nil
		}
		if err != nil {
			return w.failed(format, "a box header", err)
		}
		typ := string(hdr[4:8])
		size, hlen := uint64(binary.BigEndian.Uint32(hdr[:4])), 8
		if size == 1 {
			if _, err := io.ReadFull(r, hdr[8:16]); err != nil {
				return w.failed(format, "a box header", err)
			}
			size, hlen = binary.BigEndian.Uint64(hdr[8:16]), 16
		}
		toEOF := size == 0 // the last box, running to the end of the file
		if !toEOF && (size < uint64(hlen) || size > math.MaxInt64) {
			return malformed(format, "box %q has an impossible size of %d bytes", typ, size)
		}
		body := int64(size) - int64(hlen) // meaningless if toEOF
		what := "box " + typ

		switch {
		case typ == "moov" || typ == "moof":
			if !toEOF && body > isoMaxMoov {
				return malformed(format, "its %s box is larger than the %d MiB allowed", typ, isoMaxMoov>>20)
			}
			limit := body
			if toEOF {
				limit = isoMaxMoov + 1
			}
			b, err := io.ReadAll(io.LimitReader(r, limit))
			if err != nil {
				return w.failed(format, what, err)
			}
			switch {
			case toEOF && len(b) > isoMaxMoov:
				return malformed(format, "its %s box is larger than the %d MiB allowed", typ, isoMaxMoov>>20)
			case !toEOF && int64(len(b)) < body:
				return malformed(format, "the file is truncated in the %s", what)
			}
			if err := scrubISO(b, 0, len(b), format, 1); err != nil {
				return err
			}
			w.Write(hdr[:hlen])
			if _, err := w.Write(b); err != nil {
				return w.failed(format, what, err)
			}
		case isoScrubbed[typ]:
			copy(hdr[4:8], "free")
			w.Write(hdr[:hlen])
			if err := zeroFill(w, r, body, toEOF); err != nil {
				return w.failed(format, what, err)
			}
		default:
			w.Write(hdr[:hlen])
			if toEOF {
				_, err = io.Copy(w, r)
			} else {
				_, err = io.CopyN(w, r, body)
			}
			if err != nil {
				return w.failed(format, what, err)
			}
		}
		if toEOF {
			return nil
		}
	}
}

// zeroFill reads n bytes (all that is left if toEOF) and writes as many
// zeros in their place.
func zeroFill(w *output, r *bufio.Reader, n int64, toEOF bool) error {
	for toEOF || n > 0 {
		k := len(zeros)
		if !toEOF && n < int64(k) {
			k = int(n)
		}
		d, err := r.Discard(k)
		n -= int64(d)
		if _, werr := w.Write(zeros[:d]); werr != nil {
			return werr
		}
		if err != nil {
			if toEOF && err == io.EOF {
				return nil
			}
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// scrubISO neutralises, in place, the metadata boxes among the boxes in
// b[from:to] and inside the containers among them: each becomes a free box
// of the same size and header whose payload is zeros.
func scrubISO(b []byte, from, to int, format string, depth int) error {
	if depth > isoMaxDepth {
		return malformed(format, "its boxes are nested more than %d deep", isoMaxDepth)
	}
	return eachBox(b, from, to, format, func(typ string, start, body, end int) error {
		switch {
		case isoScrubbed[typ]:
			copy(b[start+4:], "free")
			clear(b[body:end])
		case isoContainers[typ]:
			return scrubISO(b, body, end, format, depth+1)
		}
		return nil
	})
}

// eachBox calls fn for every box in b[from:to] with its type, the offset of
// its header, of its payload and of its end. A box of size 0 runs to the
// end; up to 7 zero bytes after the last box (QuickTime's terminator) are
// allowed. A box that does not fit is ErrMalformed.
func eachBox(b []byte, from, to int, format string, fn func(typ string, start, body, end int) error) error {
	for off := from; off < to; {
		left := to - off
		if left < 8 {
			for _, c := range b[off:to] {
				if c != 0 {
					return malformed(format, "a box header is cut short")
				}
			}
			return nil
		}
		typ := string(b[off+4 : off+8])
		size, hlen := uint64(binary.BigEndian.Uint32(b[off:])), 8
		switch size {
		case 0:
			size = uint64(left)
		case 1:
			if left < 16 {
				return malformed(format, "the header of box %q is cut short", typ)
			}
			size, hlen = binary.BigEndian.Uint64(b[off+8:]), 16
		}
		if size < uint64(hlen) || size > uint64(left) {
			return malformed(format, "box %q has a size of %d bytes, which does not fit", typ, size)
		}
		end := off + int(size)
		if err := fn(typ, off, off+hlen, end); err != nil {
			return err
		}
		off = end
	}
	return nil
}
