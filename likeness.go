// Package likeness holds the domain of the likeness service: subjects, consent
// events, assets, decisions and API keys, the error type shared by every
// adapter, and the service interfaces the adapters implement. It imports only
// the standard library; storage, HTTP, cryptography and the decision index live
// in sibling packages that depend on it, never the other way round.
package likeness

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random identifier with the given prefix, e.g. "sub_…".
// 128 random bits, so ids reveal nothing and cannot be guessed.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("likeness: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// idPattern matches the ids NewID makes: a prefix, an underscore and 26
// base32 letters.
var idPattern = regexp.MustCompile(`\b([a-z]+)_[a-z2-7]{26}\b`)

// RedactIDs replaces every id in s with its prefix ("sub_…"): an error
// from storage may quote a blob key or a row, which name a person's
// subject and assets, and a log keeps no identifier of a person.
func RedactIDs(s string) string { return idPattern.ReplaceAllString(s, "${1}_…") }

// Elide shortens s to at most n bytes, on a character boundary, and marks
// the cut with "…": for a message or a page that quotes text a caller
// gave or a system returned, which may be long.
func Elide(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ValidID reports whether s looks like an id made by NewID with prefix.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Micros is the time resolution stored everywhere (databases keep microseconds).
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros turns stored microseconds back into a UTC time.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
