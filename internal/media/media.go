// Package media owns what likeness knows about the bytes of an upload: it
// recognises voice, image and video formats (and the transcripts and
// biometric templates derived from them) from their first bytes, checks them
// against the declared Content-Type and data category, and removes
// identifying metadata before they are stored:
//
//   - JPEG, PNG, WebP lose EXIF (GPS, serials), XMP, ICC profiles (JPEG),
//     comments, text chunks and modification times; pixels are unchanged;
//   - HEIC/HEIF loses the bytes of its EXIF and XMP items (zeroed in place);
//   - MP4, M4A and QuickTime lose the contents of every udta, meta and uuid
//     box (location, device, software, names, tags), zeroed in place;
//   - MP3 loses its ID3v2 and ID3v1 tags; FLAC all metadata blocks but
//     STREAMINFO and SEEKTABLE; WAV all chunks but fmt, fact and data.
//
// Ogg and WebM files are stored as they arrive.
//
// Errors that describe the upload (ErrUnknown, ErrMismatch, ErrMalformed)
// carry messages meant for the uploader: they name what is wrong and never
// quote the content. Any other error (a failing reader or writer) is the
// server's problem and is wrapped with the operation that failed.
package media

import "errors"

// Type is a recognised media format.
type Type struct {
	MIME     string // e.g. "image/jpeg", "text/plain; charset=utf-8"
	Category string // "image", "voice", "video", "transcript" or "biometric_template"
	Ext      string // file extension with its dot, e.g. ".jpg"
}

// Data categories a Type can belong to.
const (
	catImage      = "image"
	catVoice      = "voice"
	catVideo      = "video"
	catTranscript = "transcript"
	catTemplate   = "biometric_template"
)

var (
	// ErrUnknown means the content is not a format likeness accepts
	// (scripts, HTML, executables, archives, unsupported media…).
	// Answer with 415 Unsupported Media Type.
	ErrUnknown = errors.New("content is not an accepted media format")

	// ErrMismatch means the content, the declared Content-Type and the data
	// category do not agree. Answer with 415 (or 400); the message says which
	// part disagrees.
	ErrMismatch = errors.New("content does not match its declared type")

	// ErrMalformed means the content claims a format but breaks its rules
	// (truncated, bad lengths, bad checksums). Answer with 400 or 422.
	ErrMalformed = errors.New("malformed media")
)

// rejection is an error about the upload itself. Its message is safe to
// return to the uploader; errors.Is matches every kind it lists.
type rejection struct {
	kinds []error
	msg   string
}

func (e *rejection) Error() string   { return e.msg }
func (e *rejection) Unwrap() []error { return e.kinds }

func reject(msg string, kinds ...error) error { return &rejection{kinds: kinds, msg: msg} }
