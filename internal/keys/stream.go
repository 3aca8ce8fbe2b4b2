package keys

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/streamingaead/subtle/noncebased"
)

// The stream format is Tink's AES-256-GCM-HKDF streaming AEAD with 1 MiB
// segments (as Tink's AES256_GCM_HKDF_1MB template), behind one version byte.
// Tink's own streamingaead/subtle package cannot be linked here (it pulls in
// protobuf, which this module does not require), so this file composes the
// same parts that package does, in the same way: Tink's noncebased
// segmenting reader and writer, HKDF and AES-GCM from the standard library.
// (Byte-for-byte compatibility with Tink has not been checked against Tink
// itself.) The wire format is:
//
//	version (1) | header length (1) = 40 | salt (32) | nonce prefix (7) | segments
//
// The per-stream AES key is HKDF-SHA256(dek, salt, info = version || ad).
// Each segment is AES-GCM with nonce = prefix || segment number (4, big
// endian) || last-segment flag (1); segments are 1 MiB of ciphertext except
// the first, which is shorter by the header, and the last.
const (
	streamVersion = 1
	// SegmentSize is the size of one ciphertext segment of a stream: the
	// unit that is authenticated, and roughly the memory each reader or
	// writer holds.
	SegmentSize = 1 << 20

	streamSaltSize     = DEKSize
	streamPrefixSize   = 7
	streamHeaderSize   = 1 + streamSaltSize + streamPrefixSize
	streamTagSize      = 16
	streamPlainSegment = SegmentSize - streamTagSize
)

// streamAD puts the format version under the key derivation, so a stream
// cannot be read as another format.
func streamAD(ad []byte) []byte {
	out := make([]byte, 0, 1+len(ad))
	out = append(out, streamVersion)
	return append(out, ad...)
}

// segmentCipher encrypts and decrypts one segment under the per-stream key.
// It implements the interfaces noncebased looks for, including the ones
// that reuse buffers.
type segmentCipher struct{ aead cipher.AEAD }

func newSegmentCipher(dek, salt, ad []byte) (segmentCipher, error) {
	if len(dek) != DEKSize {
		return segmentCipher{}, fmt.Errorf("key is %d bytes, want %d", len(dek), DEKSize)
	}
	key, err := hkdf.Key(sha256.New, dek, salt, string(streamAD(ad)), DEKSize)
	if err != nil {
		return segmentCipher{}, err
	}
	defer Wipe(key)
	aead, err := newGCM(key)
	if err != nil {
		return segmentCipher{}, err
	}
	return segmentCipher{aead}, nil
}

func (c segmentCipher) EncryptSegment(segment, nonce []byte) ([]byte, error) {
	return c.EncryptSegmentWithDst(nil, segment, nonce)
}

func (c segmentCipher) EncryptSegmentWithDst(dst, segment, nonce []byte) ([]byte, error) {
	return c.aead.Seal(dst[:0], nonce, segment, nil), nil
}

func (c segmentCipher) DecryptSegment(segment, nonce []byte) ([]byte, error) {
	return c.DecryptSegmentWithDst(nil, segment, nonce)
}

func (c segmentCipher) DecryptSegmentWithDst(dst, segment, nonce []byte) ([]byte, error) {
	if len(segment) < streamTagSize {
		return nil, errors.New("segment too short")
	}
	return c.aead.Open(dst[:0], nonce, segment, nil)
}

// EncryptWriter returns a writer that encrypts what is written to it under
// dek, bound to ad, and writes the ciphertext to dst in 1 MiB segments. It
// holds about two segments of memory whatever the stream's size. Close must
// be called to write the final segment; it does not close dst. The random
// salt and nonce prefix come from crypto/rand. dek is not retained, so the
// caller may wipe it once EncryptWriter returns.
func EncryptWriter(dek, ad []byte, dst io.Writer) (io.WriteCloser, error) {
	header := make([]byte, 1+streamHeaderSize)
	header[0] = streamVersion
	header[1] = streamHeaderSize
	salt, prefix := header[2:2+streamSaltSize], header[2+streamSaltSize:]
	if _, err := rand.Read(header[2:]); err != nil {
		return nil, fmt.Errorf("keys: encrypt stream: read random: %w", err)
	}
	c, err := newSegmentCipher(dek, salt, ad)
	if err != nil {
		return nil, fmt.Errorf("keys: encrypt stream: %w", err)
	}
	w, err := noncebased.NewWriter(noncebased.WriterParams{
		W:                            dst,
		SegmentEncrypter:             c,
		NonceSize:                    nonceSize,
		NoncePrefix:                  prefix,
		PlaintextSegmentSize:         streamPlainSegment,
		FirstCiphertextSegmentOffset: streamHeaderSize,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: encrypt stream: %w", err)
	}
	if _, err := dst.Write(header); err != nil {
		return nil, fmt.Errorf("keys: encrypt stream: write header: %w", err)
	}
	return w, nil
}

// DecryptReader returns a reader of the plaintext of a stream written by
// [EncryptWriter] with the same dek and ad. Segments are authenticated
// before any of their bytes are returned; an altered, truncated, reordered
// or extended stream makes Read fail with an error wrapping [ErrDecrypt]
// instead of reaching io.EOF. Bytes already returned by then belong to
// authentic segments, but the caller must still discard the whole result.
func DecryptReader(dek, ad []byte, src io.Reader) (io.Reader, error) {
	if len(dek) != DEKSize {
		return nil, fmt.Errorf("keys: decrypt stream: key is %d bytes, want %d", len(dek), DEKSize)
	}
	sr := &sourceReader{r: src}
	header := make([]byte, 1+streamHeaderSize)
	if _, err := io.ReadFull(sr, header); err != nil {
		return nil, sr.classify(err)
	}
	if header[0] != streamVersion || header[1] != streamHeaderSize {
		return nil, fmt.Errorf("keys: decrypt stream: unknown format version %d: %w", header[0], ErrDecrypt)
	}
	salt, prefix := header[2:2+streamSaltSize], header[2+streamSaltSize:]
	c, err := newSegmentCipher(dek, salt, ad)
	if err != nil {
		return nil, fmt.Errorf("keys: decrypt stream: %w", err)
	}
	r, err := noncebased.NewReader(noncebased.ReaderParams{
		R:                            sr,
		SegmentDecrypter:             c,
		NonceSize:                    nonceSize,
		NoncePrefix:                  prefix,
		CiphertextSegmentSize:        SegmentSize,
		FirstCiphertextSegmentOffset: streamHeaderSize,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: decrypt stream: %w", err)
	}
	return &decryptReader{r: r, src: sr}, nil
}

type decryptReader struct {
	r   io.Reader
	src *sourceReader
	err error
}

// sourceReader remembers the source's own failures, so that they are not
// mistaken for forgery.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// classify keeps I/O errors from the source as they are (the store may be
// down, and a retry may help) and reports everything else as a failed
// authentication.
func (s *sourceReader) classify(err error) error {
	if s.err != nil && err == s.err {
		return fmt.Errorf("keys: decrypt stream: read: %w", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("keys: decrypt stream: truncated: %w", ErrDecrypt)
	}
	return fmt.Errorf("keys: decrypt stream: %v: %w", err, ErrDecrypt)
}

func (d *decryptReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		d.err = d.src.classify(err)
		return n, d.err
	}
	return n, err
}
