package likeness

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// PortalSession is a person's signed-in visit to the privacy portal, kept
// server-side so that signing out, expiry and erasure end it on every
// replica. ID is the secret the signed cookie carries; stores keep only its
// SHA-256 (see SessionHash). OpenedBy says how the session was opened
// without the link's secret: the link kind and LinkRef of its id.
type PortalSession struct {
	ID        string    `json:"-"`
	SubjectID string    `json:"subject_id"`
	OpenedBy  string    `json:"opened_by"` // e.g. "portal_link:3f9a0c1d2b4e5f60"
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Expired reports whether the session has expired at now.
func (s *PortalSession) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Ref is a reference to the session fit for logs: not its secret.
func (s *PortalSession) Ref() string { return "ps_" + hex.EncodeToString(SessionHash(s.ID)[:8]) }

// SessionHash is how a session id is stored and looked up: its SHA-256.
// Session ids carry 256 random bits (NewLinkID), so a fast hash is enough.
func SessionHash(id string) []byte {
	h := sha256.Sum256([]byte("portal-session:" + id))
	return h[:]
}

// LinkRef names a link in logs and session records without its secret:
// the first 8 bytes of LinkHash, in hex.
func LinkRef(linkID string) string { return hex.EncodeToString(LinkHash(linkID)[:8]) }

// PortalSessionStore keeps portal sessions by the hash of their id.
// Implementations must be safe for concurrent use.
type PortalSessionStore interface {
	// CreatePortalSession stores s (s.ID must be set); it may drop sessions
	// that expired before s.CreatedAt.
	CreatePortalSession(ctx Context, s *PortalSession) error
	// PortalSession returns the session with this id, expired ones included
	// (the caller checks Expired against its clock). It returns ENOTFOUND
	// for an unknown or ended session, and for every session of a subject
	// whose erasure has begun.
	PortalSession(ctx Context, id string) (*PortalSession, error)
	// EndPortalSession deletes the session. Idempotent.
	EndPortalSession(ctx Context, id string) error
	// EndSubjectPortalSessions deletes every session of the subject and
	// returns how many there were. Idempotent.
	EndSubjectPortalSessions(ctx Context, subjectID string) (int, error)
}

// EndedSessionStore remembers console sessions signed out before their
// cookie expires: a console session lives in a signed cookie, and a copy of
// it (taken from the browser, or another tab) must stop working at sign-out
// on every replica, not only the one the browser drops.
type EndedSessionStore interface {
	// EndSession records that the session with this id (a hash naming
	// it, see console) ended, until its cookie would have expired anyway;
	// it may drop ended sessions whose time passed before now. Idempotent.
	EndSession(ctx Context, id string, until, now time.Time) error
	// SessionEnded reports whether the session with this id was ended.
	SessionEnded(ctx Context, id string) (bool, error)
}
