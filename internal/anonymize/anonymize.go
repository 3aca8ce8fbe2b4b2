// Package anonymize protects the identities in media that leaves the vault
// for a dataset: it blurs faces in images (pigo's cascade detector, then a
// Gaussian blur of every face, or of every face but the largest), moves the
// spectral envelope of voices (the McAdams-coefficient method), and
// suppresses statistics cells that count fewer than k people.
//
// Images reach it already stripped of metadata by the vault; whatever it
// re-encodes carries none either (Go's encoders write pixels only).
package anonymize

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	_ "golang.org/x/image/webp" // decoder for WebP uploads
)

// ErrUnsupported means a medium's format cannot be anonymized here; the
// caller leaves the item out rather than let it through unprotected.
var ErrUnsupported = errors.New("anonymize: this media format cannot be anonymized")

// Options is the anonymization applied to one item.
type Options struct {
	Faces string // none, blur_all or blur_bystanders
	Voice string // none or mcadams
}

// CanAnonymize reports an error if media of category cannot be given the
// protection o asks for at all: a video's faces or voice, and a biometric
// template (which identifies the person by design).
func CanAnonymize(category string, o Options) error {
	switch category {
	case "video":
		if o.Faces != "none" || o.Voice != "none" {
			return fmt.Errorf("video cannot be anonymized (faces %s, voice %s); build it without video or with a profile that anonymizes nothing", o.Faces, o.Voice)
		}
	case "biometric_template":
		if o.Faces != "none" || o.Voice != "none" {
			return fmt.Errorf("a biometric template identifies its person by design and cannot be anonymized; leave it out of an anonymized dataset")
		}
	}
	return nil
}

// Needed reports whether an item of category and media type is changed by o
// (and so must be decoded); other items are copied as they are.
func Needed(category, mediaType string, o Options) bool {
	switch category {
	case "image":
		return o.Faces == "blur_all" || o.Faces == "blur_bystanders"
	case "voice":
		return o.Voice == "mcadams"
	}
	return false
}

// Media anonymizes one item and returns the bytes and their media type.
// Formats it cannot decode give ErrUnsupported.
func Media(category, mediaType string, data []byte, o Options) ([]byte, string, error) {
	if !Needed(category, mediaType, o) {
		return data, mediaType, nil
	}
	switch category {
	case "image":
		return Image(data, mediaType, o.Faces == "blur_all")
	case "voice":
		if mediaType != "audio/wav" && mediaType != "audio/x-wav" && mediaType != "audio/wave" {
			return nil, "", fmt.Errorf("%w: voice anonymization needs 16-bit PCM WAV, not %s", ErrUnsupported, mediaType)
		}
		out, err := Voice(data)
		return out, "audio/wav", err
	}
	return nil, "", ErrUnsupported
}

// Image blurs the faces of an encoded image (all of them, or all but the
// largest) and re-encodes it: JPEG as JPEG (quality 92), PNG and WebP as PNG.
func Image(data []byte, mediaType string, all bool) ([]byte, string, error) {
	switch mediaType {
	case "image/jpeg", "image/png", "image/webp":
	default:
		return nil, "", fmt.Errorf("%w: cannot decode %s to find faces", ErrUnsupported, mediaType)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: decode image: %v", ErrUnsupported, err)
	}
	out, _, err := BlurFaces(img, all)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	if mediaType == "image/jpeg" {
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: 92})
		return buf.Bytes(), "image/jpeg", err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	err = enc.Encode(&buf, out)
	return buf.Bytes(), "image/png", err
}

// Voice applies McAdams anonymization (α = 0.8) to every channel of a
// 16-bit PCM WAV file and returns the new file: same rate, channels and
// number of samples.
func Voice(wav []byte) ([]byte, error) {
	pcm, err := DecodeWAV(wav)
	if err != nil {
		return nil, err
	}
	for c, x := range pcm.Channels {
		pcm.Channels[c] = McAdams{}.Anonymize(x, pcm.Rate)
	}
	return EncodeWAV(pcm), nil
}
