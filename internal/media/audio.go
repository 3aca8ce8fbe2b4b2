package media

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
)

const (
	fMP3  = "MP3"
	fFLAC = "FLAC"
	fWAV  = "WAV"
)

// StripMP3 copies an MPEG audio file from src to dst without its leading
// ID3v2 tags (title, artist, comments, attached pictures, private frames of
// the recording app) and without a trailing ID3v1 tag. The audio frames are
// copied byte for byte, streamed. An ID3v2 tag with a broken header or one
// that is cut short, and a file with no audio after its tags, is
// ErrMalformed. On error dst may hold a partial copy, which the caller must
// discard.
func StripMP3(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	if err := skipID3v2(w, r, fMP3); err != nil {
		return err
	}
	n, err := copyWithoutID3v1(w, r, fMP3)
	if err != nil {
		return err
	}
	if n == 0 {
		return malformed(fMP3, "it holds no audio")
	}
	return w.flush(fMP3)
}

// skipID3v2 drops the ID3v2 tags at the start of r.
func skipID3v2(w *output, r *bufio.Reader, format string) error {
	for {
		p, err := r.Peek(10)
		if len(p) < 3 || string(p[:3]) != "ID3" {
			return nil
		}
		if err != nil {
			return w.failed(format, "ID3 tag", err)
		}
		if p[3] < 2 || p[3] > 4 || p[4] == 0xFF {
			return malformed(format, "it has an ID3 tag of an unknown version")
		}
		size := 0
		for _, c := range p[6:10] {
			if c >= 0x80 {
				return malformed(format, "its ID3 tag has a broken size")
			}
			size = size<<7 | int(c)
		}
		size += 10
		if p[5]&0x10 != 0 {
			size += 10 // footer
		}
		if _, err := r.Discard(size); err != nil {
			return w.failed(format, "ID3 tag", err)
		}
	}
}

// id3v1Len is the size of an ID3v1 tag, which ends a file.
const id3v1Len = 128

// copyWithoutID3v1 copies the rest of r to w, except for the last 128
// bytes if they are an ID3v1 tag, and returns how many bytes it copied.
func copyWithoutID3v1(w *output, r *bufio.Reader, format string) (int64, error) {
	buf := make([]byte, bufSize+id3v1Len)
	held, total := 0, int64(0) // buf[:held] is read but not yet written
	for {
		n, err := r.Read(buf[held:])
		held += n
		if held > id3v1Len {
			k := held - id3v1Len
			if _, err := w.Write(buf[:k]); err != nil {
				return 0, w.failed(format, "audio", err)
			}
			total += int64(k)
			held = copy(buf, buf[k:held])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, w.failed(format, "audio", err)
		}
	}
	if held == id3v1Len && string(buf[:3]) == "TAG" {
		return total, nil
	}
	if _, err := w.Write(buf[:held]); err != nil {
		return 0, w.failed(format, "audio", err)
	}
	return total + int64(held), nil
}

// flacMaxBlock caps a metadata block that is kept (a seek table); the
// format allows 16 MiB.
const flacMaxBlock = 1 << 24

// StripFLAC copies a FLAC file from src to dst keeping only the STREAMINFO
// and SEEKTABLE metadata blocks: it drops VORBIS_COMMENT (title, artist,
// encoder, free-form tags), PICTURE, APPLICATION, CUESHEET (catalogue
// number, ISRC) and PADDING blocks, a leading ID3v2 tag and a trailing
// ID3v1 tag, and marks the last kept block as the last. The audio frames
// are copied byte for byte, streamed. A broken metadata block structure is
// ErrMalformed. On error dst may hold a partial copy, which the caller must
// discard.
func StripFLAC(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	if err := skipID3v2(w, r, fFLAC); err != nil {
		return err
	}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return w.failed(fFLAC, "header", err)
	}
	if string(magic[:]) != "fLaC" {
		return malformed(fFLAC, "it does not start with the FLAC signature")
	}
	var kept [][]byte // blocks with their headers
	for first, last := true, false; !last; first = false {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return w.failed(fFLAC, "metadata", err)
		}
		last = hdr[0]&0x80 != 0
		typ := hdr[0] & 0x7F
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		switch {
		case typ == 127:
			return malformed(fFLAC, "it has a metadata block of the invalid type 127")
		case first && (typ != 0 || n != 34):
			return malformed(fFLAC, "its first metadata block is not a STREAMINFO block")
		case !first && typ == 0:
			return malformed(fFLAC, "it has a second STREAMINFO block")
		}
		if typ != 0 && typ != 3 { // not STREAMINFO or SEEKTABLE
			if _, err := r.Discard(n); err != nil {
				return w.failed(fFLAC, "metadata", err)
			}
			continue
		}
		block := make([]byte, 4+n)
		copy(block, hdr[:])
		if _, err := io.ReadFull(r, block[4:]); err != nil {
			return w.failed(fFLAC, "metadata", err)
		}
		block[0] &^= 0x80
		kept = append(kept, block)
	}
	kept[len(kept)-1][0] |= 0x80
	w.Write(magic[:])
	for _, b := range kept {
		w.Write(b)
	}
	if _, err := copyWithoutID3v1(w, r, fFLAC); err != nil {
		return err
	}
	return w.flush(fFLAC)
}

// wavMaxChunk caps a chunk kept from before the audio data (fmt, fact).
const wavMaxChunk = 1 << 20

// StripWAV copies a RIFF WAVE file from src to dst keeping only its fmt,
// fact and data chunks, and rewrites the RIFF size. It drops LIST (INFO:
// artist, software, dates, comments), bext (originator, times, history),
// iXML, id3, cue, smpl and every other chunk, and everything after the data
// chunk. The samples are copied byte for byte, streamed. A file without fmt
// before data, or with a chunk that is cut short, is ErrMalformed. On error
// dst may hold a partial copy, which the caller must discard.
func StripWAV(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, bufSize)
	w := newOutput(dst)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return w.failed(fWAV, "header", err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WAVE" {
		return malformed(fWAV, "it does not start with a RIFF WAVE header")
	}
	var kept []byte // fmt and fact chunks, padded
	var sawFmt bool
	for {
		var ch [8]byte
		if n, err := io.ReadFull(r, ch[:]); err != nil {
			if n == 0 && err == io.EOF {
				return malformed(fWAV, "it has no data chunk")
			}
			return w.failed(fWAV, "a chunk header", err)
		}
		id := string(ch[:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		pad := n & 1
		switch id {
		case "data":
			if !sawFmt {
				return malformed(fWAV, "its data chunk comes before the fmt chunk")
			}
			riff := 4 + int64(len(kept)) + 8 + n + pad
			if riff > math.MaxUint32 {
				return malformed(fWAV, "its data chunk is too large for a RIFF file")
			}
			binary.LittleEndian.PutUint32(hdr[4:], uint32(riff))
			w.Write(hdr[:])
			w.Write(kept)
			w.Write(ch[:])
			if _, err := io.CopyN(w, r, n); err != nil {
				return w.failed(fWAV, "data chunk", err)
			}
			if pad == 1 {
				r.Discard(1) // a missing pad byte at the end is forgiven
				w.Write([]byte{0})
			}
			if err := w.flush(fWAV); err != nil {
				return err
			}
			return drain(fWAV, r)
		case "fmt ", "fact":
			if n > wavMaxChunk {
				return malformed(fWAV, "its %q chunk is larger than %d bytes", id, wavMaxChunk)
			}
			if id == "fmt " {
				if sawFmt {
					return malformed(fWAV, "it has two fmt chunks")
				}
				if n < 16 {
					return malformed(fWAV, "its fmt chunk is too short")
				}
				sawFmt = true
			}
			start := len(kept)
			kept = append(kept, ch[:]...)
			kept = append(kept, make([]byte, n+pad)...)
			if _, err := io.ReadFull(r, kept[start+8:]); err != nil {
				return w.failed(fWAV, "chunk "+id, err)
			}
			if pad == 1 {
				kept[len(kept)-1] = 0
			}
		default:
			if _, err := r.Discard(int(n + pad)); err != nil {
				return w.failed(fWAV, "chunk "+id, err)
			}
		}
	}
}
