// Package signed makes the values the pages hand to browsers tamper-proof:
// session cookies and CSRF tokens, each an HMAC-SHA256 under a server key
// with a purpose label, so a value made for one use never passes for
// another. Values are compared in constant time.
package signed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

var enc = base64.RawURLEncoding

// Signer signs under one key. Safe for concurrent use.
type Signer struct{ key []byte }

// New returns a Signer for key (at least 32 random bytes).
func New(key []byte) *Signer { return &Signer{key: key} }

// MAC is the HMAC of the parts, each ended by a zero byte so that parts
// cannot run into each other.
func (s *Signer) MAC(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Seal returns payload with its MAC for purpose, as cookie-safe text.
func (s *Signer) Seal(purpose, payload string) string {
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.MAC(purpose, payload))
}

// Open returns the payload of a value made by Seal for the same purpose;
// ok is false for anything else.
func (s *Signer) Open(purpose, value string) (payload string, ok bool) {
	p64, m64, found := strings.Cut(value, ".")
	if !found {
		return "", false
	}
	p, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.MAC(purpose, string(p))) {
		return "", false
	}
	return string(p), true
}

// Token is the CSRF token of a form bound to scope (a link, a session).
func (s *Signer) Token(scope string) string { return enc.EncodeToString(s.MAC("csrf", scope)) }

// ValidToken reports whether got is the token of scope.
func (s *Signer) ValidToken(got, scope string) bool {
	return got != "" && scope != "" && hmac.Equal([]byte(got), []byte(s.Token(scope)))
}
