package ledger

import (
	"encoding/json"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Event is what a leaf commits to. Personal fields are not here; only
// SealedSHA256, the hex SHA-256 of their ciphertext (encrypted under the
// subject's key elsewhere), so crypto-shredding the key erases the content
// while every leaf and proof stays valid.
type Event struct {
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

// Event types.
const (
	TypeGrant    = "grant"
	TypeWithdraw = "withdraw"
	TypeRenew    = "renew"
	TypeExpire   = "expire"
	TypeErasure  = "erasure"
)

// LeafData returns the leaf's bytes: the encoding/json encoding of e, which is
// deterministic for this struct. Strings should be valid UTF-8; encoding/json
// replaces invalid bytes with U+FFFD, so storage must reject them on input.
func (e Event) LeafData() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		// Unreachable: the struct holds only strings and integers.
		panic("ledger: encode event: " + err.Error())
	}
	return b
}

// LeafHash returns the RFC 6962 leaf hash of data.
func LeafHash(data []byte) [32]byte {
	return [32]byte(rfc6962.DefaultHasher.HashLeaf(data))
}
