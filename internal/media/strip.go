package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Strip copies src to dst without identifying metadata, choosing the
// stripper by t.MIME:
//
//   - JPEG, PNG, WebP: EXIF (GPS, serials), XMP, comments, text chunks
//     are removed (StripJPEG, StripPNG, StripWebP), but for the EXIF
//     Orientation, which displays apply and is kept alone;
//   - MP4, M4A, QuickTime: udta, meta and uuid boxes (location, device make
//     and model, software, names, iTunes tags, XMP) become free boxes of
//     zeros of the same size, so nothing else moves (StripMP4);
//   - HEIC/HEIF: the EXIF and XMP items are overwritten with zeros in place
//     (StripHEIC);
//   - MP3: ID3v2 and ID3v1 tags are removed (StripMP3);
//   - FLAC: every metadata block but STREAMINFO and SEEKTABLE is removed
//     (StripFLAC);
//   - WAV: every chunk but fmt, fact and data is removed (StripWAV).
//
// Every other type is copied unchanged: in particular Ogg (Vorbis
// comments) and WebM/Matroska (tags) are not yet stripped, nor are timed
// metadata tracks inside MP4 media data.
//
// On error dst may hold a partial copy, which the caller must discard.
func Strip(dst io.Writer, src io.Reader, t Type) error {
	if !Rewrites(t) {
		if _, err := io.Copy(dst, src); err != nil {
			return fmt.Errorf("media: copy %s: %w", baseMIME(t.MIME), err)
		}
		return nil
	}
	switch baseMIME(t.MIME) {
	case "image/jpeg":
		return StripJPEG(dst, src)
	case "image/png":
		return StripPNG(dst, src)
	case "image/webp":
		return StripWebP(dst, src)
	case "image/heic":
		return StripHEIC(dst, src)
	case "video/mp4":
		return stripISOFile(dst, src, fMP4)
	case "video/quicktime":
		return stripISOFile(dst, src, fQuickTime)
	case "audio/mp4":
		return stripISOFile(dst, src, fM4A)
	case "audio/mpeg":
		return StripMP3(dst, src)
	case "audio/flac":
		return StripFLAC(dst, src)
	default:
		return StripWAV(dst, src)
	}
}

// Rewrites reports whether Strip changes files of type t; for other types
// it copies them byte for byte.
func Rewrites(t Type) bool {
	switch baseMIME(t.MIME) {
	case "image/jpeg", "image/png", "image/webp", "image/heic",
		"video/mp4", "video/quicktime", "audio/mp4",
		"audio/mpeg", "audio/flac", "audio/wav":
		return true
	}
	return false
}

const bufSize = 64 << 10

// output buffers writes to dst and remembers the first write error, so that
// a failing destination is told apart from a malformed source.
type output struct {
	bw  *bufio.Writer
	err error
}

func newOutput(dst io.Writer) *output { return &output{bw: bufio.NewWriterSize(dst, bufSize)} }

func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.bw.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

func (o *output) flush(format string) error {
	if o.err == nil {
		o.err = o.bw.Flush()
	}
	if o.err != nil {
		return fmt.Errorf("media: write %s: %w", format, o.err)
	}
	return nil
}

// failed turns an error met while copying into the caller's error: a write
// error, a truncated source (ErrMalformed), or a read error.
func (o *output) failed(format, what string, err error) error {
	if o.err != nil {
		return fmt.Errorf("media: write %s: %w", format, o.err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed(format, "the file is truncated in the %s", what)
	}
	return fmt.Errorf("media: read %s: %w", format, err)
}

func malformed(format, msg string, args ...any) error {
	return reject("malformed "+format+": "+fmt.Sprintf(msg, args...), ErrMalformed)
}

// drain consumes what follows the end of an image, so the whole upload is
// read, and drops it: trailing data is where phones hide extra images.
func drain(format string, r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("media: read %s: %w", format, err)
	}
	return nil
}
