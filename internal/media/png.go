package media

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"io"
)

const fPNG = "PNG"

// pngDropped are the chunks that carry identifying metadata: EXIF, free
// text (author, software, comments, XMP in iTXt) and the modification time.
var pngDropped = map[string]bool{"eXIf": true, "tEXt": true, "zTXt": true, "iTXt": true, "tIME": true}

// StripPNG copies a PNG from src to dst, chunk by chunk, without its eXIf,
// tEXt, zTXt, iTXt and tIME chunks, but for an EXIF Orientation that is not
// the default, which it keeps as a minimal eXIf chunk in its place (as
// StripJPEG keeps it): displays turn the pixels by it. Every chunk it copies has its CRC
// checked; a bad CRC, a missing IHDR or IEND or a truncated chunk is
// ErrMalformed. Data after IEND is read and dropped. On error dst may hold
// a partial copy, which the caller must discard.
func StripPNG(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	if err := stripPNG(w, r); err != nil {
		return err
	}
	if err := w.flush(fPNG); err != nil {
		return err
	}
	return drain(fPNG, r)
}

func stripPNG(w *output, r *bufio.Reader) error {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil {
		return w.failed(fPNG, "signature", err)
	}
	if string(sig[:]) != "\x89PNG\r\n\x1a\n" {
		return malformed(fPNG, "it does not start with the PNG signature")
	}
	w.Write(sig[:])

	crc := crc32.NewIEEE()
	var hdr [8]byte
	sawEXIf := false
	for first := true; ; first = false {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return w.failed(fPNG, "chunk header", err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		for _, c := range hdr[4:] {
			if c < 'A' || c > 'z' || c > 'Z' && c < 'a' {
				return malformed(fPNG, "a chunk type is not four letters")
			}
		}
		if n > 1<<31-1 {
			return malformed(fPNG, "chunk %s is longer than PNG allows", typ)
		}
		if first && typ != "IHDR" {
			return malformed(fPNG, "the first chunk is not IHDR")
		}
		if typ == "eXIf" && !sawEXIf { // PNG allows one; a second is dropped
			sawEXIf = true
			if n <= maxEXIF {
				if err := stripEXIf(w, r, int(n)); err != nil {
					return err
				}
				continue
			}
		}
		if pngDropped[typ] {
			if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
				return w.failed(fPNG, "chunk "+typ, err)
			}
			continue
		}
		crc.Reset()
		crc.Write(hdr[4:])
		w.Write(hdr[:])
		if _, err := io.CopyN(io.MultiWriter(w, crc), r, n); err != nil {
			return w.failed(fPNG, "chunk "+typ, err)
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return w.failed(fPNG, "chunk "+typ, err)
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return malformed(fPNG, "chunk %s fails its CRC check", typ)
		}
		if _, err := w.Write(sum[:]); err != nil {
			return w.failed(fPNG, "chunk "+typ, err)
		}
		if typ == "IEND" {
			return nil
		}
	}
}

// maxEXIF is the largest eXIf chunk whose Orientation StripPNG keeps; a
// larger one is dropped whole. A camera's EXIF without a thumbnail is a
// few KiB, and a JPEG's cannot exceed 64 KiB.
const maxEXIF = 1 << 16

// stripEXIf reads an eXIf chunk's n bytes of data and its CRC from r (its
// header read already) and writes, in its place, a minimal eXIf chunk
// holding its Orientation, if that is not the default.
func stripEXIf(w *output, r *bufio.Reader, n int) error {
	b := make([]byte, 4+n+4)
	copy(b, "eXIf")
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		return w.failed(fPNG, "chunk eXIf", err)
	}
	if crc32.ChecksumIEEE(b[:4+n]) != binary.BigEndian.Uint32(b[4+n:]) {
		return malformed(fPNG, "chunk eXIf fails its CRC check")
	}
	o := exifOrientation(b[4 : 4+n])
	if o < 2 {
		return nil
	}
	t := orientationTIFF(o)
	c := binary.BigEndian.AppendUint32(nil, uint32(len(t)))
	c = append(append(c, "eXIf"...), t...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	if _, err := w.Write(c); err != nil {
		return w.failed(fPNG, "chunk eXIf", err)
	}
	return nil
}
