package media

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// SniffLen is how many leading bytes Sniff and Check need to decide.
const SniffLen = 512

// The formats media accepts.
var (
	typeWAV       = Type{"audio/wav", catVoice, ".wav"}
	typeMP3       = Type{"audio/mpeg", catVoice, ".mp3"}
	typeOGG       = Type{"audio/ogg", catVoice, ".ogg"}
	typeFLAC      = Type{"audio/flac", catVoice, ".flac"}
	typeM4A       = Type{"audio/mp4", catVoice, ".m4a"}
	typeAudioWebM = Type{"audio/webm", catVoice, ".webm"}
	typeMP4       = Type{"video/mp4", catVideo, ".mp4"}
	typeMOV       = Type{"video/quicktime", catVideo, ".mov"}
	typeWebM      = Type{"video/webm", catVideo, ".webm"}
	typeJPEG      = Type{"image/jpeg", catImage, ".jpg"}
	typePNG       = Type{"image/png", catImage, ".png"}
	typeWebP      = Type{"image/webp", catImage, ".webp"}
	typeHEIC      = Type{"image/heic", catImage, ".heic"}
	typeText      = Type{"text/plain; charset=utf-8", catTranscript, ".txt"}
	typeJSON      = Type{"application/json", catTranscript, ".json"}
	typeBinary    = Type{"application/octet-stream", catTemplate, ".bin"}
)

// Sniff recognises the format of a file from its first bytes. head must hold
// at least SniffLen bytes, or all of a shorter file.
//
// Media formats are recognised by their signatures. Text that is valid UTF-8
// is "text/plain; charset=utf-8" or, if it parses as the start of a JSON
// document, "application/json" (Category "transcript"). Binary content that
// matches no known format is "application/octet-stream" (Category
// "biometric_template"), because a template has no signature of its own.
// Everything else, including scripts, HTML, XML, executables, archives and
// media formats likeness does not take (GIF, AVIF, AVI, …), is ErrUnknown.
func Sniff(head []byte) (Type, error) {
	t, _, err := sniff(head)
	return t, err
}

// sniff is Sniff that also reports, for ISO-BMFF and Matroska containers,
// whether the signature alone cannot tell audio from video (a generic brand
// or a WebM file), and names unaccepted content for error messages.
func sniff(head []byte) (t Type, container bool, err error) {
	if len(head) == 0 {
		return Type{}, false, reject("the content is empty", ErrUnknown)
	}
	if t, container, ok := sniffMedia(head); ok {
		return t, container, nil
	}
	// Text first: a transcript may well begin with "MZ" or "BM".
	if text, ok := utf8Text(head, len(head) >= SniffLen); ok {
		if what := sniffMarkup(text); what != "" {
			return Type{}, false, unknown(what)
		}
		if looksJSON(text, len(head) >= SniffLen) {
			return typeJSON, false, nil
		}
		return typeText, false, nil
	}
	if what := sniffForeign(head); what != "" {
		return Type{}, false, unknown(what)
	}
	return typeBinary, false, nil
}

func unknown(what string) error {
	return reject("the content is "+what+", which is not an accepted media type", ErrUnknown)
}

// contentName names what head holds, for error messages.
func contentName(head []byte) string {
	t, _, err := sniff(head)
	if err == nil {
		return baseMIME(t.MIME)
	}
	if len(head) == 0 {
		return "empty"
	}
	if text, ok := utf8Text(head, len(head) >= SniffLen); ok {
		if what := sniffMarkup(text); what != "" {
			return what
		}
	}
	if what := sniffForeign(head); what != "" {
		return what
	}
	return "not a recognised format"
}

func sniffMedia(b []byte) (t Type, container bool, ok bool) {
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return typeWAV, false, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return typeWebP, false, true
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return typeJPEG, false, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return typePNG, false, true
	case bytes.HasPrefix(b, []byte("fLaC")):
		return typeFLAC, false, true
	case bytes.HasPrefix(b, []byte("OggS")):
		if oggAudio(b) {
			return typeOGG, false, true
		}
		return Type{}, false, false
	case bytes.HasPrefix(b, []byte("\x1a\x45\xdf\xa3")):
		// EBML; the DocType sits in the first few dozen bytes.
		h := b[:min(len(b), 64)]
		if bytes.Contains(h, []byte("webm")) || bytes.Contains(h, []byte("matroska")) {
			return typeWebM, true, true
		}
		return Type{}, false, false
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return sniffFtyp(b)
	case bytes.HasPrefix(b, []byte("ID3")):
		return sniffID3(b)
	case mpegFrame(b):
		return typeMP3, false, true
	}
	return Type{}, false, false
}

func oggAudio(b []byte) bool {
	// First page: 27-byte header, segment table, then the codec's
	// identification packet.
	if len(b) < 28 || b[4] != 0 {
		return false
	}
	start := 27 + int(b[26])
	if start >= len(b) {
		return false
	}
	p := b[start:]
	for _, magic := range []string{"OpusHead", "\x01vorbis", "\x7fFLAC", "Speex   "} {
		if bytes.HasPrefix(p, []byte(magic)) {
			return true
		}
	}
	return false
}

// sniffFtyp classifies an ISO base media file (MP4, M4A, MOV, HEIC) by its
// ftyp brands: the major brand first, then the compatible ones.
func sniffFtyp(b []byte) (Type, bool, bool) {
	size := int(binary.BigEndian.Uint32(b))
	if size < 12 || size > 4096 {
		return Type{}, false, false
	}
	brands := []string{string(b[8:12])}
	for i := 16; i+4 <= min(size, len(b)); i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	for _, br := range brands {
		if br == "avif" || br == "avis" {
			return Type{}, false, false // AVIF shares HEIF's brands but is not accepted
		}
	}
	for _, br := range brands {
		switch br {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			return typeHEIC, false, true
		case "M4A ", "M4B ":
			return typeM4A, false, true
		case "qt  ":
			return typeMOV, false, true
		case "M4V ", "M4VH", "M4VP", "avc1", "mp41", "mp42", "mp71", "isom",
			"iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9",
			"dash", "mmp4", "MSNV", "f4v ", "NDAS":
			// Generic brands say nothing about the tracks: an audio-only
			// MP4 uses them too.
			return typeMP4, br != "M4V " && br != "M4VH" && br != "M4VP", true
		}
	}
	return Type{}, false, false
}

// sniffID3 recognises an ID3v2 tag, and what follows it if that is in view.
func sniffID3(b []byte) (Type, bool, bool) {
	if len(b) < 10 || b[3] < 2 || b[3] > 4 || b[4] == 0xFF {
		return Type{}, false, false
	}
	size := 0
	for _, c := range b[6:10] {
		if c >= 0x80 {
			return Type{}, false, false
		}
		size = size<<7 | int(c)
	}
	end := 10 + size
	if b[5]&0x10 != 0 {
		end += 10 // footer
	}
	if end+4 <= len(b) && bytes.HasPrefix(b[end:], []byte("fLaC")) {
		return typeFLAC, false, true
	}
	return typeMP3, false, true
}

var (
	mpegBitrates = [2][3][15]int{ // [MPEG-1, MPEG-2/2.5][layer I, II, III] kbit/s
		{
			{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
			{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		},
		{
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		},
	}
	mpegRates = [4][3]int{ // [version bits][rate index]; version 1 is reserved
		{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000},
	}
)

// mpegHeader decodes an MPEG audio frame header and returns the frame length.
func mpegHeader(b []byte) (length int, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return 0, false
	}
	version := int(b[1]>>3) & 3
	layer := int(b[1]>>1) & 3 // 3 = layer I, 2 = II, 1 = III
	brIdx := int(b[2] >> 4)
	srIdx := int(b[2]>>2) & 3
	pad := int(b[2]>>1) & 1
	if version == 1 || layer == 0 || brIdx == 0 || brIdx == 15 || srIdx == 3 || b[3]&3 == 2 {
		return 0, false
	}
	v := 0
	if version != 3 {
		v = 1
	}
	br := mpegBitrates[v][3-layer][brIdx] * 1000
	sr := mpegRates[version][srIdx]
	switch {
	case layer == 3:
		return (12*br/sr + pad) * 4, true
	case layer == 1 && v == 1:
		return 72*br/sr + pad, true
	default:
		return 144*br/sr + pad, true
	}
}

// mpegFrame reports whether b starts with an MPEG audio frame, confirmed by
// the next frame's header when it is in view.
func mpegFrame(b []byte) bool {
	n, ok := mpegHeader(b)
	if !ok {
		return false
	}
	if n+4 > len(b) {
		return true
	}
	_, ok = mpegHeader(b[n:])
	return ok && b[n+1]&0xFE == b[1]&0xFE && b[n+2]&0x0C == b[2]&0x0C
}

// sniffForeign names binary formats likeness refuses, so that they are
// never taken for an opaque template.
func sniffForeign(b []byte) string {
	has := func(off int, sig string) bool {
		return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig
	}
	switch {
	case has(0, "\x7fELF"):
		return "an executable (application/x-executable)"
	case has(0, "MZ"):
		return "a Windows executable (application/vnd.microsoft.portable-executable)"
	case has(0, "\xfe\xed\xfa\xce"), has(0, "\xfe\xed\xfa\xcf"), has(0, "\xce\xfa\xed\xfe"), has(0, "\xcf\xfa\xed\xfe"):
		return "an executable (application/x-mach-binary)"
	case has(0, "\xca\xfe\xba\xbe"):
		return "an executable (application/java-vm)"
	case has(0, "\x00asm"):
		return "application/wasm"
	case has(0, "PK\x03\x04"), has(0, "PK\x05\x06"), has(0, "PK\x07\x08"):
		return "an archive (application/zip)"
	case has(0, "\x1f\x8b"):
		return "an archive (application/gzip)"
	case has(0, "BZh"):
		return "an archive (application/x-bzip2)"
	case has(0, "\xfd7zXZ\x00"):
		return "an archive (application/x-xz)"
	case has(0, "\x28\xb5\x2f\xfd"):
		return "an archive (application/zstd)"
	case has(0, "7z\xbc\xaf\x27\x1c"):
		return "an archive (application/x-7z-compressed)"
	case has(0, "Rar!\x1a\x07"):
		return "an archive (application/vnd.rar)"
	case has(257, "ustar"):
		return "an archive (application/x-tar)"
	case has(0, "%PDF-"):
		return "application/pdf"
	case has(0, "%!PS"):
		return "application/postscript"
	case has(0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		return "an Office document (application/x-ole-storage)"
	case has(0, "SQLite format 3\x00"):
		return "a database (application/vnd.sqlite3)"
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return "image/gif"
	case has(0, "BM") && has(6, "\x00\x00\x00\x00"):
		return "image/bmp"
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return "image/tiff"
	case has(0, "\x00\x00\x00\x0cjP  "):
		return "image/jp2"
	case has(0, "RIFF") && has(8, "AVI "):
		return "video/x-msvideo"
	case has(0, "RIFF"):
		return "an unsupported RIFF file"
	case has(0, "OggS"):
		return "an unsupported Ogg stream (application/ogg)"
	case has(0, "\x1a\x45\xdf\xa3"):
		return "an unsupported EBML file"
	case has(4, "ftyp"):
		if bytes.Contains(b[8:min(len(b), 64)], []byte("avif")) {
			return "image/avif"
		}
		return "an unsupported ISO media file"
	case has(0, "{\\rtf"):
		return "application/rtf"
	}
	return ""
}

// sniffMarkup names text that a browser, shell or document viewer would
// interpret.
func sniffMarkup(text []byte) string {
	t := bytes.TrimLeft(text, " \t\r\n\f")
	if bytes.HasPrefix(text, []byte("#!")) {
		return "a script (text/x-script)"
	}
	lower := bytes.ToLower(t[:min(len(t), 16)])
	switch {
	case bytes.HasPrefix(t, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(t, []byte("%!PS")):
		return "application/postscript"
	case bytes.HasPrefix(t, []byte("{\\rtf")):
		return "application/rtf"
	case bytes.HasPrefix(lower, []byte("<?php")):
		return "a script (application/x-httpd-php)"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		if bytes.Contains(bytes.ToLower(t), []byte("<svg")) {
			return "image/svg+xml"
		}
		return "application/xml"
	case bytes.HasPrefix(lower, []byte("<svg")):
		return "image/svg+xml"
	}
	for _, tag := range []string{
		"<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<style",
		"<title", "<table", "<div", "<font", "<img", "<a", "<b", "<p", "<h1", "<br", "<!--",
	} {
		if bytes.HasPrefix(lower, []byte(tag)) {
			rest := lower[len(tag):]
			if len(rest) == 0 || rest[0] == ' ' || rest[0] == '>' || rest[0] == '\t' ||
				rest[0] == '\n' || rest[0] == '\r' || rest[0] == '/' || tag == "<!--" {
				return "text/html"
			}
		}
	}
	return ""
}

// utf8Text returns b without a leading byte-order mark if it is UTF-8 text:
// valid, no NUL, no control characters other than tab, newlines and form
// feed. A rune cut off at the end of b is forgiven if b may have been cut.
func utf8Text(b []byte, cut bool) ([]byte, bool) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if cut {
		// Drop an incomplete final rune: the head may end mid-character.
		for i := 1; i <= 3 && i <= len(b); i++ {
			if utf8.RuneStart(b[len(b)-i]) {
				if !utf8.FullRune(b[len(b)-i:]) {
					b = b[:len(b)-i]
				}
				break
			}
		}
	}
	if !utf8.Valid(b) {
		return nil, false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
			return nil, false
		}
	}
	return b, true
}

// looksJSON reports whether text is a JSON document, or the start of one if
// the text may have been cut short.
func looksJSON(text []byte, cut bool) bool {
	t := bytes.TrimLeft(text, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return false
	}
	if !cut {
		return json.Valid(t)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return errors.Is(err, io.ErrUnexpectedEOF)
		}
	}
}
