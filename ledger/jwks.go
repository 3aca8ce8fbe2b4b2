package ledger

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// jwk is one RFC 7517 JSON Web Key for an Ed25519 public key (RFC 8037).
type jwk struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // base64url, no padding, of the 32-byte public key
	Kid string `json:"kid"`
	Alg string `json:"alg"` // "EdDSA"
	Use string `json:"use"` // "sig"
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of the Ed25519 public
// key pub, base64url without padding: receipts carry it as kid.
func thumbprint(pub crypto.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("ledger: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url without padding (43 characters). New receipts and statements
// carry it as their JWS kid, and it is the kid of the key in JWKS.
func (v *Verifier) Thumbprint() string { return v.thumb }

// acceptsKid reports whether kid names v's key: the RFC 7638 thumbprint, or
// the note key hash that receipts carried before it.
func (v *Verifier) acceptsKid(kid string) bool {
	return kid == v.thumb || kid == v.KeyID()
}

// JWKS returns the public key as an RFC 7517 JSON Web Key Set, what
// GET /v1/ledger/jwks.json serves. It holds the key twice, identical but for
// kid: first under its RFC 7638 thumbprint (what new receipts name), then
// under the legacy note key hash (8 hex digits), so a receipt issued before
// thumbprints finds its key by kid too.
func (v *Verifier) JWKS() []byte {
	x := base64.RawURLEncoding.EncodeToString(v.pub)
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{
		{Kty: "OKP", Crv: "Ed25519", X: x, Kid: v.thumb, Alg: "EdDSA", Use: "sig"},
		{Kty: "OKP", Crv: "Ed25519", X: x, Kid: v.KeyID(), Alg: "EdDSA", Use: "sig"},
	}}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		// Unreachable: a struct of strings.
		panic("ledger: encode JWKS: " + err.Error())
	}
	return append(b, '\n')
}
