package likeness

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// Link kinds.
const (
	LinkConsent = "consent" // opens the consent page for some purposes
	LinkPortal  = "portal"  // signs the person in to their privacy portal, once
)

// Link is a bearer link the organization sends to a person: a consent page
// for some purposes, or a single sign-in to the privacy portal. ID is the
// secret the URL carries; stores keep only its SHA-256 (see LinkHash).
type Link struct {
	ID        string    `json:"-"`
	Kind      string    `json:"kind"`
	SubjectID string    `json:"subject_id"`
	Purposes  []string  `json:"purposes,omitempty"`
	ReturnURL string    `json:"return_url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// Expired reports whether the link has expired at now.
func (l *Link) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

// Used reports whether the link has been used.
func (l *Link) Used() bool { return !l.UsedAt.IsZero() }

// LinkStore keeps links by the hash of their id. Implementations must be
// safe for concurrent use.
type LinkStore interface {
	// CreateLink stores l; l.ID must be set (NewLinkID). Only LinkHash(l.ID)
	// is kept.
	CreateLink(ctx Context, l *Link) error
	// Link returns the link with this id, used or expired ones included (the
	// caller decides), or ENOTFOUND.
	Link(ctx Context, id string) (*Link, error)
	// UseLink marks the link used at now, atomically: of concurrent callers
	// exactly one succeeds. It returns ENOTFOUND for an unknown id, ECONFLICT
	// if the link was already used and EGONE if it expired before now.
	UseLink(ctx Context, id string, now time.Time) (*Link, error)
}

// NewLinkID returns a fresh link secret: "lnk_" and 256 random bits.
func NewLinkID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("likeness: crypto/rand failed: " + err.Error())
	}
	return "lnk_" + idEncoding.EncodeToString(b[:])
}

// ValidLinkID reports whether s looks like an id made by NewLinkID, so that
// junk is refused before it reaches storage.
func ValidLinkID(s string) bool {
	rest, ok := strings.CutPrefix(s, "lnk_")
	if !ok || len(rest) != 52 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// LinkHash is how a link id is stored and looked up: its SHA-256. Link ids
// carry 256 random bits, so a fast hash is enough.
func LinkHash(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}
