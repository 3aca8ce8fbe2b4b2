package likeness

import (
	"crypto/sha256"
	"time"
)

// Role limits what an API key may call.
type Role string

const (
	RoleAdmin     Role = "admin"     // everything, including keys and erasure
	RoleCollector Role = "collector" // create subjects, record consent, upload media
	RolePipeline  Role = "pipeline"  // decisions, purpose-checked content, datasets
	RoleAuditor   Role = "auditor"   // read-only: ledger, histories, access logs
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool {
	switch r {
	case RoleAdmin, RoleCollector, RolePipeline, RoleAuditor:
		return true
	}
	return false
}

// APIKey is a stored key: only the SHA-256 of its secret is kept. A key
// authenticates until it is revoked or, when it has one, until ExpiresAt.
type APIKey struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	Hash       []byte    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`   // zero: never expires
	RevokedAt  time.Time `json:"revoked_at,omitzero"`   // zero: not revoked
	LastUsedAt time.Time `json:"last_used_at,omitzero"` // to the minute: recorded at most once a minute
}

// Expired reports whether the key has expired at now.
func (k *APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// HashAPIKey is how API key secrets are stored and looked up: SHA-256.
// Keys are 256-bit random, so a fast hash is enough and look-up by hash is
// possible; the secret itself is never kept.
func HashAPIKey(token string) []byte {
	h := APIKeyDigest(token)
	return h[:]
}

// APIKeyDigest is HashAPIKey as an array, without an allocation for a
// token of ordinary length: for look-ups on every request.
func APIKeyDigest(token string) [32]byte {
	var buf [128]byte
	if len(token) > len(buf) {
		return sha256.Sum256([]byte(token))
	}
	return sha256.Sum256(buf[:copy(buf[:], token)])
}
