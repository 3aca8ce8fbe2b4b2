package ledger

import (
	"encoding/json"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Event is what a leaf commits to. Personal fields are not here; only
// SealedSHA256, the hex SHA-256 of their ciphertext (encrypted under the
// subject's key elsewhere), so crypto-shredding the key erases the content
// while every leaf and proof stays valid.
type Event struct {
	// Version is the leaf encoding: LeafV2, or 0 for a version-1 leaf, which
	// carries no "v" member (leaves written before version 2 existed).
	Version       int    `json:"v,omitempty"`
	Index         uint64 `json:"index"` // leaf index; part of the leaf so moving a row is detected
	ID            string `json:"id"`
	Type          string `json:"type"`    // "grant", "withdraw", "renew", "expire", "erasure"
	SubjectID     string `json:"subject"` // pseudonymous opaque id
	Purpose       string `json:"purpose,omitempty"`
	NoticeVersion int64  `json:"notice_version,omitempty"`
	NoticeSHA256  string `json:"notice_sha256,omitempty"`
	Method        string `json:"method,omitempty"`
	Language      string `json:"language,omitempty"`
	Collector     string `json:"collector,omitempty"`
	TimeMicros    int64  `json:"time"` // unix microseconds UTC
	SealedSHA256  string `json:"sealed_sha256,omitempty"`
}

// Leaf encoding versions (docs/RECEIPTS.md, "Leaves").
const (
	// LeafV1 is Go's encoding/json of Event: members in declaration order,
	// HTML-escaped strings, no "v" member. Event.Version is 0 for it.
	LeafV1 = 1
	// LeafV2 is the RFC 8785 JSON Canonicalization Scheme of the same
	// members plus "v":2. New events are written in it.
	LeafV2 = 2
)

// maxSafeInt is the largest integer RFC 8785 (I-JSON, IEEE 754 doubles)
// represents exactly.
const maxSafeInt = 1<<53 - 1

// Event types.
const (
	TypeGrant    = "grant"
	TypeWithdraw = "withdraw"
	TypeRenew    = "renew"
	TypeExpire   = "expire"
	TypeErasure  = "erasure"
)

// LeafVersion returns the leaf encoding version of e (LeafV1 or LeafV2).
func (e Event) LeafVersion() int {
	if e.Version == 0 {
		return LeafV1
	}
	return e.Version
}

// Leaf returns the leaf's bytes in e's version. It fails for an unknown
// version, and for a version-2 leaf whose integers RFC 8785 cannot carry
// exactly (beyond ±(2^53-1)).
func (e Event) Leaf() ([]byte, error) {
	switch e.Version {
	case 0:
		// encoding/json cannot fail on a struct of strings and integers.
		b, err := json.Marshal(e)
		return b, err
	case LeafV2:
		if e.Index > maxSafeInt || !safeInt(e.NoticeVersion) || !safeInt(e.TimeMicros) {
			return nil, fmt.Errorf("ledger: leaf %d: integer beyond 2^53-1 in a version-2 leaf", e.Index)
		}
		return appendV2(make([]byte, 0, 384), &e), nil
	case LeafV1:
		return nil, fmt.Errorf("ledger: leaf %d: a version-1 leaf has Version 0, not 1", e.Index)
	default:
		return nil, fmt.Errorf("ledger: leaf %d: unknown leaf version %d", e.Index, e.Version)
	}
}

// LeafData returns the leaf's bytes as Leaf does, for events built by this
// package (FromConsent): it panics where Leaf fails. Code that reads events
// from outside (receipts, stored history) uses Leaf. Strings should be valid
// UTF-8; both encodings replace invalid bytes with U+FFFD, so storage must
// reject them on input.
func (e Event) LeafData() []byte {
	b, err := e.Leaf()
	if err != nil {
		panic(err.Error())
	}
	return b
}

// ResolveVersion returns e in the leaf version whose leaf hash is stored:
// e's own version first, then the others. A history written before version 2
// holds version-1 leaf hashes for the same fields, so a reader that rebuilds
// events from stored rows (FromConsent, which says version 2) recovers each
// leaf's version from its stored hash. ok is false if no version matches:
// the event's content was changed.
func (e Event) ResolveVersion(stored [32]byte) (resolved Event, ok bool) {
	for _, v := range [...]int{e.Version, LeafV2, 0} {
		c := e
		c.Version = v
		if b, err := c.Leaf(); err == nil && LeafHash(b) == stored {
			return c, true
		}
	}
	return e, false
}

// LeafHash returns the RFC 6962 leaf hash of data.
func LeafHash(data []byte) [32]byte {
	return [32]byte(rfc6962.DefaultHasher.HashLeaf(data))
}

func safeInt(n int64) bool { return n >= -maxSafeInt && n <= maxSafeInt }
