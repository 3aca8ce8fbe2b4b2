package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
)

const fJPEG = "JPEG"

// StripJPEG copies a JPEG from src to dst, segment by segment, without its
// metadata. It drops COM and APP1–APP15 segments: EXIF (with GPS, serial
// numbers, thumbnails), XMP, ICC profiles, Photoshop IRB, MPF. It keeps the
// segments that define the pixels (DQT, DHT, DAC, SOFn, DRI, DNL, SOS and the
// entropy-coded data), and three things that are not identifying but change
// how the image looks if lost:
//
//   - APP0 JFIF, without its embedded thumbnail;
//   - APP14 Adobe, whose colour transform flag decoders need;
//   - the EXIF Orientation, re-emitted as a minimal EXIF segment holding that
//     one tag, when it is not the default (phones record portraits sideways).
//
// Scan data is copied byte for byte, so decoded pixels are identical. Data
// after EOI (where phones append extra images) is read and dropped.
// Anything that breaks the JPEG marker structure is ErrMalformed. On error
// dst may hold a partial copy, which the caller must discard.
func StripJPEG(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	if err := stripJPEG(w, r); err != nil {
		return err
	}
	if err := w.flush(fJPEG); err != nil {
		return err
	}
	return drain(fJPEG, r)
}

func stripJPEG(w *output, r *bufio.Reader) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return w.failed(fJPEG, "header", err)
	}
	if soi != [2]byte{0xFF, 0xD8} {
		return malformed(fJPEG, "it does not start with an SOI marker")
	}
	w.Write(soi[:])

	var sawFrame, sawScan, sawExif bool
	m, err := readMarker(w, r)
	for err == nil {
		switch {
		case m == 0xD9: // EOI
			if !sawScan {
				return malformed(fJPEG, "it ends before any image data")
			}
			if _, err := w.Write([]byte{0xFF, 0xD9}); err != nil {
				return w.failed(fJPEG, "end", err)
			}
			return nil
		case m == 0xD8:
			return malformed(fJPEG, "it has a second SOI marker")
		case m == 0x01 || m >= 0xD0 && m <= 0xD7:
			return malformed(fJPEG, "it has a restart marker outside scan data")
		}
		var n int
		if n, err = readLength(w, r); err != nil {
			return err
		}
		switch {
		case m == 0xDA: // SOS: header, then entropy-coded data up to the next marker
			if !sawFrame {
				return malformed(fJPEG, "a scan comes before the frame header")
			}
			if err = copySegment(w, r, m, n); err != nil {
				return err
			}
			sawScan = true
			m, err = copyScan(w, r)
			continue
		case m == 0xE0:
			err = keepPrefix(w, r, m, n, "JFIF\x00", 12, []byte{0, 0}) // no thumbnail
		case m == 0xEE:
			err = keepPrefix(w, r, m, n, "Adobe", 12, nil)
		case m == 0xE1:
			err = stripAPP1(w, r, n, &sawExif)
		case m >= 0xE2 && m <= 0xEF, m == 0xFE: // APP2–APP15, COM
			err = skip(w, r, n, "metadata")
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC: // SOFn
			sawFrame = true
			err = copySegment(w, r, m, n)
		case m == 0xC4, m == 0xCC, m == 0xDB, m == 0xDC, m == 0xDD, m == 0xDE, m == 0xDF:
			// DHT, DAC, DQT, DNL, DRI, DHP, EXP
			err = copySegment(w, r, m, n)
		default:
			return malformed(fJPEG, "it has an unsupported marker 0x%02X", m)
		}
		if err != nil {
			return err
		}
		m, err = readMarker(w, r)
	}
	return err
}

// readMarker reads a marker, skipping fill bytes, and returns its code.
func readMarker(w *output, r *bufio.Reader) (byte, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, w.failed(fJPEG, "marker", err)
	}
	if c != 0xFF {
		return 0, malformed(fJPEG, "data was found where a marker belongs")
	}
	for c == 0xFF {
		if c, err = r.ReadByte(); err != nil {
			return 0, w.failed(fJPEG, "marker", err)
		}
	}
	if c == 0 {
		return 0, malformed(fJPEG, "data was found where a marker belongs")
	}
	return c, nil
}

// readLength reads a segment's length field and returns the payload length.
func readLength(w *output, r *bufio.Reader) (int, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return 0, w.failed(fJPEG, "segment length", err)
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < 2 {
		return 0, malformed(fJPEG, "a segment length of %d is below the minimum of 2", n)
	}
	return n - 2, nil
}

func writeHeader(w *output, m byte, n int) error {
	_, err := w.Write([]byte{0xFF, m, byte((n + 2) >> 8), byte(n + 2)})
	if err != nil {
		return w.failed(fJPEG, "segment", err)
	}
	return nil
}

func copySegment(w *output, r *bufio.Reader, m byte, n int) error {
	if err := writeHeader(w, m, n); err != nil {
		return err
	}
	if _, err := io.CopyN(w, r, int64(n)); err != nil {
		return w.failed(fJPEG, "segment", err)
	}
	return nil
}

func skip(w *output, r *bufio.Reader, n int, what string) error {
	if _, err := r.Discard(n); err != nil {
		return w.failed(fJPEG, what, err)
	}
	return nil
}

// keepPrefix keeps the first keep bytes of a segment that starts with
// magic, followed by tail; it drops the segment if it does not.
func keepPrefix(w *output, r *bufio.Reader, m byte, n int, magic string, keep int, tail []byte) error {
	p, err := r.Peek(min(n, keep+len(tail)))
	if err != nil {
		return w.failed(fJPEG, "segment", err)
	}
	if len(p) < keep+len(tail) || !bytes.HasPrefix(p, []byte(magic)) {
		return skip(w, r, n, "segment")
	}
	if err := writeHeader(w, m, keep+len(tail)); err != nil {
		return err
	}
	w.Write(p[:keep])
	if _, err := w.Write(tail); err != nil {
		return w.failed(fJPEG, "segment", err)
	}
	return skip(w, r, n, "segment")
}

// stripAPP1 drops an APP1 segment (EXIF, XMP), re-emitting the first EXIF
// Orientation that is not the default as a minimal EXIF segment.
func stripAPP1(w *output, r *bufio.Reader, n int, sawExif *bool) error {
	const magic = "Exif\x00\x00"
	p, err := r.Peek(min(n, len(magic)))
	if err != nil {
		return w.failed(fJPEG, "metadata", err)
	}
	if *sawExif || string(p) != magic {
		return skip(w, r, n, "metadata")
	}
	*sawExif = true
	// n < 65534 always fits a bufio.Reader of bufSize.
	p, err = r.Peek(n)
	if err != nil {
		return w.failed(fJPEG, "metadata", err)
	}
	o := exifOrientation(p[len(magic):])
	if err := skip(w, r, n, "metadata"); err != nil {
		return err
	}
	if o < 2 {
		return nil
	}
	t := orientationTIFF(o)
	seg := append([]byte{0xff, 0xe1, 0, byte(2 + 6 + len(t))}, "Exif\x00\x00"...)
	if _, err := w.Write(append(seg, t...)); err != nil {
		return w.failed(fJPEG, "metadata", err)
	}
	return nil
}

// exifOrientation returns the Orientation (0x0112) in IFD0 of a TIFF
// structure, or 0 if there is none or the structure is broken.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	count := int(bo.Uint16(t[off:]))
	for i := 0; i < count; i++ {
		e := off + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 && bo.Uint32(t[e+4:]) == 1 {
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// copyScan copies entropy-coded data, with its stuffed bytes and restart
// markers, and returns the marker that ends it.
func copyScan(w *output, r *bufio.Reader) (byte, error) {
	for {
		if _, err := r.Peek(1); err != nil {
			return 0, w.failed(fJPEG, "scan data", err)
		}
		buf, _ := r.Peek(r.Buffered())
		i := bytes.IndexByte(buf, 0xFF)
		if i < 0 {
			i = len(buf)
		}
		if i > 0 {
			if _, err := w.Write(buf[:i]); err != nil {
				return 0, w.failed(fJPEG, "scan data", err)
			}
			r.Discard(i)
			continue
		}
		b, err := r.Peek(2)
		if err != nil {
			return 0, w.failed(fJPEG, "scan data", err)
		}
		switch c := b[1]; {
		case c == 0x00 || c >= 0xD0 && c <= 0xD7: // stuffed 0xFF, RSTn
			if _, err := w.Write(b); err != nil {
				return 0, w.failed(fJPEG, "scan data", err)
			}
			r.Discard(2)
		case c == 0xFF: // fill byte
			r.Discard(1)
		default:
			r.Discard(2)
			return c, nil
		}
	}
}
