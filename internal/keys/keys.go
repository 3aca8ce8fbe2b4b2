// Package keys owns the encryption barrier: every personal field and every
// media blob that likeness stores is encrypted here before it reaches a
// database row, a blob store or a backup, none of which are trusted.
//
// The scheme is envelope encryption, in the style of HashiCorp Vault's
// barrier. Each subject has a random 256-bit data-encryption key (DEK). Small
// personal fields (names, a consent's evidence) are sealed with AES-256-GCM
// under the DEK by [Seal]; media of any size is encrypted as a stream by
// [EncryptWriter]. The DEK itself is never stored in the clear: a
// key-encryption key ([KEK]) wraps it, and only the wrapped form is kept next
// to the subject. Destroying a subject's wrapped DEK makes every copy of its
// data, in every backup and replica, unreadable; that is how erasure is made
// real.
//
// Every ciphertext describes itself, so old data stays readable while keys
// and formats move on. A sealed field is a format version byte, a random
// 12-byte nonce and the GCM ciphertext. A wrapped DEK is a format version
// byte, the id of the KEK version that wrapped it (length-prefixed), a random
// 12-byte nonce and the GCM ciphertext. A stream is a format version byte
// followed by Tink's AES-256-GCM-HKDF streaming format: a header holding a
// random salt and nonce prefix, then 1 MiB segments, each authenticated, with
// the segment number and a last-segment flag in its nonce, so that reordered,
// truncated, extended or altered streams fail to decrypt.
//
// Each ciphertext is also bound to where it belongs by additional data that
// the caller passes to both sides (for example the subject id and the row's
// purpose, or the asset id): a ciphertext copied to another row or another
// subject fails to open. The version byte and key id are themselves covered by
// the authentication tag.
//
// KEKs live in a keyring: rotation adds a version and makes it primary, old
// versions stay for unwrapping, and [KEK.Rewrap] moves a wrapped DEK to the
// primary without the DEK leaving this process. [Local] keeps the keyring in a
// 0600 JSON file and is the embedded development default. At scale the KEK
// should live outside the process: a cloud KMS (through tink-go-awskms or
// tink-go-gcpkms) or HashiCorp Vault's transit engine (through tink-go-hcvault,
// or its encrypt, decrypt and rewrap endpoints over net/http) implements the
// same [KEK] interface, with the remote key's name and version as the id
// recorded in the wrapped form. Those adapters are not written yet.
//
// All primitives come from the Go standard library (crypto/aes,
// crypto/cipher, crypto/hkdf) and the stream segmenting from Tink; this
// package only composes them.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// KEK wraps and unwraps data keys. Implementations must be safe for
// concurrent use. Every method takes a context first: an adapter for a remote
// KMS makes a network call per method and must honour cancellation.
type KEK interface {
	// Wrap encrypts dek under the primary KEK version, bound to
	// associatedData. The output names the version it used.
	Wrap(ctx context.Context, dek, associatedData []byte) ([]byte, error)
	// Unwrap decrypts a wrapped DEK with whichever version wrapped it, as
	// long as that version is still in the keyring. A wrong associatedData or
	// any alteration gives an error wrapping ErrDecrypt.
	Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error)
	// Rewrap unwraps with whatever version wrapped it and wraps with the
	// current primary. Run it over all wrapped DEKs after a rotation before
	// retiring an old version.
	Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error)
	// Primary returns the id of the primary version, e.g. "local-3".
	Primary(ctx context.Context) string
}

// DEKSize is the size in bytes of a data-encryption key (AES-256).
const DEKSize = 32

// ErrDecrypt is returned (wrapped) when a ciphertext fails authentication:
// it was altered, truncated, extended, bound to other additional data, or
// made under another key. Callers should treat the data as lost or forged,
// never retry with other inputs, and never use any partial output.
var ErrDecrypt = errors.New("keys: message authentication failed")

const (
	sealVersion = 1
	nonceSize   = 12
)

// NewDEK returns a fresh random data-encryption key read from r
// (crypto/rand.Reader when r is nil). Callers wipe it with [Wipe] once it has
// been wrapped and is no longer needed.
func NewDEK(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	dek := make([]byte, DEKSize)
	if _, err := io.ReadFull(r, dek); err != nil {
		return nil, fmt.Errorf("keys: new DEK: read random: %w", err)
	}
	return dek, nil
}

// Wipe overwrites a key with zeros. It is best effort: Go may have copied
// the bytes elsewhere, but the slice the caller holds no longer has them.
func Wipe(b []byte) {
	clear(b)
}

// Seal encrypts a small field with AES-256-GCM under dek. The result is
// self-describing: one format version byte, a random 12-byte nonce read from
// r (crypto/rand.Reader when nil), then ciphertext and tag. ad binds the
// field to where it is stored (subject id, table and column, purpose); the
// same ad must be given to [Open].
//
// Nonces are random, so one DEK should seal at most a few billion fields —
// far beyond what one subject ever has.
func Seal(dek, plaintext, ad []byte, r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, fmt.Errorf("keys: seal: %w", err)
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(r, out[1:]); err != nil {
		return nil, fmt.Errorf("keys: seal: read random: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, sealAD(ad)), nil
}

// Open decrypts a field made by [Seal] with the same dek and ad. Any change
// to sealed, or a different dek or ad, gives an error wrapping [ErrDecrypt].
func Open(dek, sealed, ad []byte) ([]byte, error) {
	aead, err := newGCM(dek)
	if err != nil {
		return nil, fmt.Errorf("keys: open: %w", err)
	}
	if len(sealed) < 1+nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("keys: open: sealed field is %d bytes, too short: %w", len(sealed), ErrDecrypt)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("keys: open: unknown format version %d: %w", sealed[0], ErrDecrypt)
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], sealAD(ad))
	if err != nil {
		return nil, fmt.Errorf("keys: open: %w", ErrDecrypt)
	}
	return pt, nil
}

// sealAD covers the version byte with the tag, so a future format cannot be
// confused with this one.
func sealAD(ad []byte) []byte {
	out := make([]byte, 0, 1+len(ad))
	out = append(out, sealVersion)
	return append(out, ad...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != DEKSize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), DEKSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
