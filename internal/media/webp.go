package media

import (
	"encoding/binary"
	"fmt"
	"io"
)

const fWebP = "WebP"

// VP8X flag bits for the metadata chunks.
const (
	vp8xEXIF = 0x08
	vp8xXMP  = 0x04
)

// StripWebP copies a RIFF WebP from src to dst without its EXIF and XMP
// chunks, clears the matching VP8X flags and rewrites the RIFF size. Other
// chunks (image data, ICC profile, animation, alpha) are kept unchanged.
// An EXIF Orientation that is not the default is kept, as a minimal EXIF
// chunk in the first one's place with the VP8X flag for it (as StripJPEG
// keeps it): displays turn the pixels by it.
//
// The RIFF header gives the file's size before its chunks, so the file is
// held in memory (as much of it as actually arrives, never more than the
// header declares). A broken chunk structure is ErrMalformed. Data after
// the RIFF body is read and dropped.
func StripWebP(dst io.Writer, src io.Reader) error {
	var hdr [12]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return failedRead(fWebP, "header", err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return malformed(fWebP, "it does not start with a RIFF WEBP header")
	}
	size := int64(binary.LittleEndian.Uint32(hdr[4:]))
	if size < 4+8 {
		return malformed(fWebP, "the RIFF size %d is too small for an image", size)
	}
	body, err := io.ReadAll(io.LimitReader(src, size-4))
	if err != nil {
		return fmt.Errorf("media: read %s: %w", fWebP, err)
	}
	if int64(len(body)) < size-4 {
		return malformed(fWebP, "the file is truncated: the RIFF header declares %d bytes, %d arrived", size+8, len(body)+12)
	}

	var kept [][]byte // chunks with their headers, without padding
	total := 4        // "WEBP"
	var sawImage, sawEXIF bool
	var vp8x []byte     // the VP8X chunk, if any
	var orientation int // the EXIF Orientation kept, if not the default
	for off := 0; off < len(body); {
		if len(body)-off < 8 {
			return malformed(fWebP, "the file is truncated in a chunk header")
		}
		fourcc := string(body[off : off+4])
		n := int(binary.LittleEndian.Uint32(body[off+4:]))
		if n > len(body)-off-8 {
			return malformed(fWebP, "the file is truncated in chunk %q", fourcc)
		}
		chunk := body[off : off+8+n]
		if off == 0 && fourcc != "VP8 " && fourcc != "VP8L" && fourcc != "VP8X" {
			return malformed(fWebP, "the first chunk is not VP8, VP8L or VP8X")
		}
		switch fourcc {
		case "VP8X":
			if n < 10 {
				return malformed(fWebP, "the VP8X chunk is too short")
			}
			chunk[8] &^= vp8xEXIF | vp8xXMP
			vp8x = chunk
		case "VP8 ", "VP8L", "ANMF":
			sawImage = true
		}
		if fourcc == "EXIF" && !sawEXIF && vp8x != nil { // EXIF belongs to the extended format only
			sawEXIF = true
			if o := exifOrientation(webpEXIF(chunk[8:])); o >= 2 {
				orientation = o
				chunk = append([]byte("EXIF\x1a\x00\x00\x00"), orientationTIFF(o)...)
				kept = append(kept, chunk)
				total += len(chunk)
			}
		}
		if fourcc != "EXIF" && fourcc != "XMP " {
			kept = append(kept, chunk)
			total += 8 + n + n&1
		}
		off += 8 + n + n&1 // a missing pad byte after the last chunk is forgiven
	}
	if !sawImage {
		return malformed(fWebP, "it holds no image data")
	}
	if orientation != 0 && vp8x != nil {
		vp8x[8] |= vp8xEXIF
	}

	w := newOutput(dst)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(total))
	w.Write(hdr[:])
	for _, c := range kept {
		w.Write(c)
		if len(c)&1 == 1 {
			w.Write([]byte{0})
		}
	}
	if err := w.flush(fWebP); err != nil {
		return err
	}
	return drain(fWebP, src)
}

// failedRead is output.failed for code that has not written yet.
func failedRead(format, what string, err error) error {
	return (&output{}).failed(format, what, err)
}
