// Package anonymize protects the identities in media that leaves the vault
// for a dataset: it blurs faces in images (pigo's cascade, searched in
// every quarter turn and tilt, then a Gaussian blur of every face, or of
// every face but the largest), disguises voices (a keyed, per-speaker
// McAdams coefficient, a pitch shift and a limiter), and suppresses
// statistics cells that count fewer than k people.
//
// It fails closed: an image in which no face can be found comes back as
// ErrNeedsReview, for a person to look at, never as anonymized. Images
// reach it stripped of metadata but for the EXIF orientation, which is
// applied before the search; what it re-encodes is upright and carries no
// metadata (Go's encoders write pixels only).
package anonymize

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	_ "golang.org/x/image/webp" // decoder for WebP uploads

	"likeness/internal/media"
)

// ErrUnsupported means a medium's format cannot be anonymized here; the
// caller leaves the item out rather than let it through unprotected.
var ErrUnsupported = errors.New("anonymize: this media format cannot be anonymized")

// ErrNeedsReview means the item was processed but its protection cannot be
// shown (an image where no face was found): the caller must not ship it,
// and routes it to human review instead. The error is a *ReviewError.
var ErrNeedsReview = errors.New("anonymize: needs human review")

// ReviewError carries what was made of an item that needs review: the
// processed bytes (for the reviewer, not for a dataset) and the report.
type ReviewError struct {
	Data      []byte
	MediaType string
	Report    *Report
}

func (e *ReviewError) Error() string {
	return fmt.Sprintf("anonymize: needs human review: %s", e.Report.Reason)
}

func (e *ReviewError) Is(target error) bool { return target == ErrNeedsReview }

// Options is the anonymization applied to one item.
type Options struct {
	Faces string // none, blur_all or blur_bystanders
	Voice string // none or mcadams

	// Speaker draws the voice's disguise (mcadams only): the dataset's
	// key and the speaker's pseudonym in it. A voice without a key is
	// refused rather than given one fixed disguise for everyone.
	Speaker Speaker
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
// Formats it cannot decode give ErrUnsupported; an image whose protection
// cannot be shown gives ErrNeedsReview. Neither may be shipped.
func Media(category, mediaType string, data []byte, o Options) ([]byte, string, error) {
	out, err := Apply(category, mediaType, data, o)
	if err != nil {
		return nil, "", err
	}
	return out.Data, out.MediaType, nil
}

// Outcome is what Apply made of one item, for a dataset's manifest and card.
type Outcome struct {
	Data      []byte
	MediaType string
	Faces     *Report // images: the faces found and covered; nil otherwise
	Voice     bool    // the voice was disguised
}

// Apply is Media with an account of what was done. An item o leaves as it
// is comes back unchanged with no Faces and Voice false.
func Apply(category, mediaType string, data []byte, o Options) (*Outcome, error) {
	if !Needed(category, mediaType, o) {
		return &Outcome{Data: data, MediaType: mediaType}, nil
	}
	switch category {
	case "image":
		out, outType, rep, err := decodeBlurEncode(data, mediaType, o.Faces == "blur_all")
		if err != nil {
			return nil, err
		}
		return &Outcome{Data: out, MediaType: outType, Faces: rep}, nil
	case "voice":
		if mediaType != "audio/wav" && mediaType != "audio/x-wav" && mediaType != "audio/wave" {
			return nil, fmt.Errorf("%w: voice anonymization needs 16-bit PCM WAV, not %s", ErrUnsupported, mediaType)
		}
		out, err := Voice(data, o.Speaker)
		if err != nil {
			return nil, err
		}
		return &Outcome{Data: out, MediaType: "audio/wav", Voice: true}, nil
	}
	return nil, ErrUnsupported
}

// Image blurs the faces of an encoded image (all of them, or all but the
// largest) and re-encodes it upright: JPEG as JPEG (quality 92), PNG and
// WebP as PNG. The EXIF orientation (a JPEG's, a PNG's eXIf, a WebP's EXIF
// chunk; see media.Orientation) is applied to the pixels first, and the
// output has none (so displays show it as it is). An image in
// which no face is found gives a *ReviewError (ErrNeedsReview).
func Image(data []byte, mediaType string, all bool) ([]byte, string, error) {
	out, outType, _, err := decodeBlurEncode(data, mediaType, all)
	return out, outType, err
}

// decodeBlurEncode is Image with the report.
// maxImagePixels is the most pixels an image may have to be anonymized
// (16384×16384): it is decoded whole, four bytes a pixel, so a small file
// declaring a huge image would otherwise take gigabytes.
const maxImagePixels = 1 << 28

func decodeBlurEncode(data []byte, mediaType string, all bool) ([]byte, string, *Report, error) {
	switch mediaType {
	case "image/jpeg", "image/png", "image/webp":
	default:
		return nil, "", nil, fmt.Errorf("%w: cannot decode %s to find faces", ErrUnsupported, mediaType)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w: decode image: %v", ErrUnsupported, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, "", nil, fmt.Errorf("%w: %d×%d pixels, more than %d", ErrTooLarge, cfg.Width, cfg.Height, maxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w: decode image: %v", ErrUnsupported, err)
	}
	img = Upright(img, media.Orientation(mediaType, data))
	out, rep, err := BlurFaces(img, all)
	if err != nil {
		return nil, "", nil, err
	}
	var buf bytes.Buffer
	outType := "image/png"
	if mediaType == "image/jpeg" {
		outType = "image/jpeg"
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: 92})
	} else {
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(&buf, out)
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("anonymize: encode image: %w", err)
	}
	if rep.NeedsReview {
		return nil, "", rep, &ReviewError{Data: buf.Bytes(), MediaType: outType, Report: rep}
	}
	return buf.Bytes(), outType, rep, nil
}

// Voice disguises every channel of a 16-bit PCM WAV file with the McAdams
// parameters drawn for sp (see Speaker.Params) and returns the new file:
// same rate, channels and number of samples, no sample at full scale.
func Voice(wav []byte, sp Speaker) ([]byte, error) {
	if len(sp.Key) == 0 || sp.ID == "" {
		return nil, errors.New("anonymize: voice anonymization needs a dataset key and a speaker pseudonym")
	}
	pcm, err := DecodeWAV(wav)
	if err != nil {
		return nil, err
	}
	m := sp.Params()
	for c, x := range pcm.Channels {
		pcm.Channels[c] = m.Anonymize(x, pcm.Rate)
	}
	return EncodeWAV(pcm), nil
}
