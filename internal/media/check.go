package media

import (
	"fmt"
	"mime"
	"strings"
)

// aliases maps Content-Types that clients send to the canonical ones Sniff
// returns.
var aliases = map[string]string{
	"audio/x-wav":         "audio/wav",
	"audio/wave":          "audio/wav",
	"audio/vnd.wave":      "audio/wav",
	"audio/x-pn-wav":      "audio/wav",
	"audio/mp3":           "audio/mpeg",
	"audio/mpeg3":         "audio/mpeg",
	"audio/x-mpeg-3":      "audio/mpeg",
	"audio/x-mp3":         "audio/mpeg",
	"audio/x-mpeg":        "audio/mpeg",
	"audio/opus":          "audio/ogg",
	"audio/vorbis":        "audio/ogg",
	"audio/x-ogg":         "audio/ogg",
	"application/ogg":     "audio/ogg",
	"audio/x-flac":        "audio/flac",
	"audio/m4a":           "audio/mp4",
	"audio/x-m4a":         "audio/mp4",
	"audio/mp4a-latm":     "audio/mp4",
	"video/x-m4v":         "video/mp4",
	"video/x-matroska":    "video/webm",
	"image/jpg":           "image/jpeg",
	"image/pjpeg":         "image/jpeg",
	"image/x-png":         "image/png",
	"image/heif":          "image/heic",
	"image/heic-sequence": "image/heic",
	"image/heif-sequence": "image/heic",
	"text/json":           "application/json",
}

// takes holds the media types Check takes for images, voice and video.
var takes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range []Type{typeWAV, typeMP3, typeOGG, typeFLAC, typeM4A, typeAudioWebM, typeMP4, typeMOV, typeWebM,
		typeJPEG, typePNG, typeWebP, typeHEIC} {
		m[baseMIME(t.MIME)] = true
	}
	return m
}()

// formatNames names, per category, the formats Check takes, for an
// uploader who sent another.
var formatNames = map[string]string{
	catImage: "JPEG, PNG, WebP or HEIC",
	catVoice: "WAV, MP3, FLAC, Ogg, M4A or WebM audio",
	catVideo: "MP4, QuickTime or WebM",
}

var categoryNames = map[string]string{
	catImage:      "an image",
	catVoice:      "a voice recording",
	catVideo:      "a video",
	catTranscript: "a transcript",
	catTemplate:   "a biometric template",
}

// Check decides whether an upload is what its client says it is. declared
// is the request's Content-Type (parameters are ignored and common aliases
// such as audio/x-wav or image/jpg accepted); category is the data category
// the upload is filed under ("image", "voice", "video", "transcript" or
// "biometric_template"); head is the start of the content, as for Sniff.
//
// Media must sniff as the declared type and belong to the category. A
// transcript must be declared text/plain or application/json and be UTF-8
// text without NUL bytes (markup and scripts are refused, and JSON must
// parse as far as head goes). A biometric template must be declared
// application/octet-stream for opaque binary or application/json for JSON.
// Because an MP4 with a generic brand or a WebM file may hold audio only,
// audio/mp4 and audio/webm are accepted for them under "voice".
//
// The returned Type has the category asked for. Every refusal is
// ErrMismatch (content that is no accepted format is ErrUnknown too), with
// a message for the uploader such as
// "declared image/jpeg but the content is text/html".
func Check(declared string, category string, head []byte) (Type, error) {
	want, ok := canonicalMIME(declared)
	if !ok {
		return Type{}, reject(fmt.Sprintf("the declared Content-Type %q is not a media type", declared), ErrMismatch)
	}
	switch category {
	case catTranscript:
		return checkTranscript(want, head)
	case catTemplate:
		return checkTemplate(want, head)
	case catImage, catVoice, catVideo:
	default:
		return Type{}, reject(fmt.Sprintf("data category %q does not take uploaded content", category), ErrMismatch)
	}

	if !takes[want] {
		return Type{}, reject(fmt.Sprintf("%s is not a format likeness takes for %s: send %s", want, categoryNames[category], formatNames[category]), ErrMismatch, ErrUnknown)
	}
	t, container, err := sniff(head)
	switch {
	case err != nil:
		return Type{}, reject(fmt.Sprintf("declared %s but the content is %s", want, contentName(head)), ErrMismatch, ErrUnknown)
	case want == baseMIME(t.MIME):
	case want == "audio/webm" && t == typeWebM:
		t = typeAudioWebM
	case want == "audio/mp4" && t == typeMP4 && container:
		t = typeM4A
	default:
		return Type{}, mismatch(want, t)
	}
	if t.Category != category {
		return Type{}, reject(fmt.Sprintf("%s is %s, not %s", baseMIME(t.MIME), categoryNames[t.Category], categoryNames[category]), ErrMismatch)
	}
	return t, nil
}

func checkTranscript(want string, head []byte) (Type, error) {
	var t Type
	switch want {
	case "text/plain":
		t = typeText
	case "application/json":
		t = typeJSON
	default:
		return Type{}, reject("a transcript must be text/plain or application/json, not "+want, ErrMismatch)
	}
	cut := len(head) >= SniffLen
	text, ok := utf8Text(head, cut)
	if !ok {
		return Type{}, reject(fmt.Sprintf("declared %s but the content is %s, not UTF-8 text", want, contentName(head)), ErrMismatch)
	}
	if what := sniffMarkup(text); what != "" {
		return Type{}, reject(fmt.Sprintf("declared %s but the content is %s", want, what), ErrMismatch, ErrUnknown)
	}
	if t == typeJSON && !looksJSON(text, cut) {
		return Type{}, reject("declared application/json but the content is not valid JSON", ErrMismatch)
	}
	return t, nil
}

func checkTemplate(want string, head []byte) (Type, error) {
	if want != "application/octet-stream" && want != "application/json" {
		return Type{}, reject("a biometric template must be application/octet-stream or application/json, not "+want, ErrMismatch)
	}
	t, _, err := sniff(head)
	if err != nil {
		return Type{}, reject(fmt.Sprintf("declared %s but the content is %s", want, contentName(head)), ErrMismatch, ErrUnknown)
	}
	if want != baseMIME(t.MIME) {
		return Type{}, mismatch(want, t)
	}
	t.Category = catTemplate
	return t, nil
}

func mismatch(want string, got Type) error {
	return reject(fmt.Sprintf("declared %s but the content is %s", want, baseMIME(got.MIME)), ErrMismatch)
}

// canonicalMIME lower-cases a Content-Type, drops its parameters and
// resolves aliases.
func canonicalMIME(declared string) (string, bool) {
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		// Tolerate malformed parameters; the type itself must be sound.
		mt, _, _ = strings.Cut(declared, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if _, _, err := mime.ParseMediaType(mt); err != nil {
			return "", false
		}
	}
	if !strings.Contains(mt, "/") {
		return "", false
	}
	if a, ok := aliases[mt]; ok {
		return a, true
	}
	return mt, true
}

func baseMIME(m string) string {
	b, _, _ := strings.Cut(m, ";")
	return strings.TrimSpace(b)
}
