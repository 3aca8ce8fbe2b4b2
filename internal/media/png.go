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
// tEXt, zTXt, iTXt and tIME chunks. Every chunk it copies has its CRC
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
