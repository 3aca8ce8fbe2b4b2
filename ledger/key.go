package ledger

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the note key algorithm byte for Ed25519.
const algEd25519 = 1

// Signer holds the deployment's Ed25519 key. The one key signs checkpoints
// (as notes) and receipts (as JWS, alg EdDSA). A Signer is safe for
// concurrent use.
type Signer struct {
	name string
	priv ed25519.PrivateKey
	note note.Signer
	ver  *Verifier
}

// NewSigner returns a Signer for priv under the note key name (for example
// "likeness.example"); the name is also the checkpoint origin.
func NewSigner(name string, priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ledger: new signer: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("ledger: new signer: %w", err)
	}
	ver, err := NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: new signer: %w", err)
	}
	seed := append([]byte{algEd25519}, priv.Seed()...)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", name, ver.KeyID(), base64.StdEncoding.EncodeToString(seed))
	clear(seed)
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("ledger: new signer: %w", err)
	}
	return &Signer{name: name, priv: priv, note: ns, ver: ver}, nil
}

// GenerateKey makes a new Ed25519 key pair in the note key formats: skey is
// "PRIVATE+KEY+name+hash+base64" (secret), vkey is "name+hash+base64".
func GenerateKey(name string, rand io.Reader) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand, name)
	if err != nil {
		return "", "", fmt.Errorf("ledger: generate key: %w", err)
	}
	return skey, vkey, nil
}

// NewSignerFromNoteKey returns a Signer for a note signer key as made by
// GenerateKey.
func NewSignerFromNoteKey(skey string) (*Signer, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return nil, fmt.Errorf("ledger: parse signer key: %w", err)
	}
	// The base64 part may itself contain '+'.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return nil, errors.New("ledger: parse signer key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("ledger: parse signer key: not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	clear(raw)
	s, err := NewSigner(parts[2], priv)
	if err != nil {
		return nil, err
	}
	// note.NewSigner checked the hash against the derived public key.
	return s, nil
}

// Name returns the key name, which is also the checkpoint origin.
func (s *Signer) Name() string { return s.name }

// VerifierKey returns the note verifier key text "name+hash+base64": what
// GET /v1/ledger/key serves and what receipt verification reads.
func (s *Signer) VerifierKey() string { return s.ver.vkey }

// Verifier returns the Verifier for this signer's public key.
func (s *Signer) Verifier() *Verifier { return s.ver }

// Verifier checks checkpoints and receipts against one public key. A
// Verifier is safe for concurrent use.
type Verifier struct {
	vkey  string
	note  note.Verifier
	pub   ed25519.PublicKey
	thumb string // RFC 7638 thumbprint, the JWS kid
}

// NewVerifier parses a note verifier key "name+hash+base64" (Ed25519).
func NewVerifier(vkey string) (*Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	nv, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: parse verifier key: %w", err)
	}
	// name+hash+base64: the base64 part may itself contain '+'.
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("ledger: parse verifier key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, errors.New("ledger: parse verifier key: not an Ed25519 key")
	}
	pub := ed25519.PublicKey(raw[1:])
	thumb, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{vkey: vkey, note: nv, pub: pub, thumb: thumb}, nil
}

// Name returns the key name, which is also the expected checkpoint origin.
func (v *Verifier) Name() string { return v.note.Name() }

// KeyID returns the note key hash as 8 hex digits, the kid of receipts and
// statements issued before they carried the RFC 7638 Thumbprint; verifiers
// still accept it.
func (v *Verifier) KeyID() string { return fmt.Sprintf("%08x", v.note.KeyHash()) }

// Key returns the verifier key text "name+hash+base64".
func (v *Verifier) Key() string { return v.vkey }

// NoteVerifier returns the key as a note.Verifier.
func (v *Verifier) NoteVerifier() note.Verifier { return v.note }

// PublicKey returns the raw Ed25519 public key.
func (v *Verifier) PublicKey() ed25519.PublicKey { return v.pub }
