package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"likeness"
	"likeness/internal/http/cookie"
	"likeness/internal/operators"
)

const (
	sessionCookie = "likeness_console"
	// preCookie holds the nonce the sign-in form's CSRF token is bound to.
	preCookie = "likeness_console_pre"
)

// session is a signed-in operator: a named one (Operator, Role the
// operator's role) or an API key (KeyID). Only the key id or name, the
// role, the expiry and a random nonce travel in the cookie; never a
// secret. CSRF tokens are bound to csrfScope.
type session struct {
	KeyID    string
	Operator string
	Role     likeness.Role
	signedIn time.Time // named operators only
	*cookie.Session
}

// csrfScope is what CSRF tokens are bound to: the signed cookie text of a
// key session, or a named operator's sign-in (whose cookie is renewed as
// they work).
func (s *session) csrfScope() string {
	if s.Operator != "" {
		return "op|" + s.Operator + "|" + s.signedIn.UTC().Format(time.RFC3339Nano)
	}
	return s.Payload
}

// endID names the session in the store of ended sessions: a hash of its
// CSRF scope, which is one sign-in's whatever renewals its cookie went
// through. until is when its cookie would stop working anyway.
func (s *session) endID() (id string, until time.Time) {
	sum := sha256.Sum256([]byte("console session|" + s.csrfScope()))
	until = s.Expires
	if s.Operator != "" {
		until = s.signedIn.Add(operators.MaxSession)
	}
	return hex.EncodeToString(sum[:]), until
}

// actor is who the session acts as: a named operator, or an API key.
func (s *session) actor() likeness.Actor {
	return likeness.Actor{KeyID: s.KeyID, Role: s.Role, Operator: s.Operator}
}

// Admin reports whether the operator may act, not only read.
func (s *session) Admin() bool { return s != nil && s.Role == likeness.RoleAdmin }

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, k *likeness.APIKey) {
	h.Jar.Start(w, r, sessionCookie, SessionTTL, k.ID, string(k.Role))
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) { h.Jar.End(w, r, sessionCookie) }

// session returns the request's valid session: signed by us, not expired,
// not signed out (on any replica: a copy of the cookie stops working at
// sign-out), and its key or operator still on record, active and of the
// same role. Fails closed.
func (h *Handler) session(r *http.Request) (*session, bool) {
	s, ok := h.cookieSession(r)
	if !ok {
		return nil, false
	}
	id, _ := s.endID()
	ended, err := h.cfg.Store.SessionEnded(r.Context(), id)
	if err != nil {
		h.Log.Error("console: check session", "err", err)
		return nil, false
	}
	return s, !ended
}

// endSessionEverywhere records s as ended, so that no copy of its cookie
// works again.
func (h *Handler) endSessionEverywhere(r *http.Request, s *session) error {
	id, until := s.endID()
	return h.cfg.Store.EndSession(context.WithoutCancel(r.Context()), id, until, h.Now())
}

// cookieSession is session without the check for a sign-out.
func (h *Handler) cookieSession(r *http.Request) (*session, bool) {
	if s, ok := h.operatorSession(r); ok {
		return s, true
	}
	c, ok := h.Jar.Read(r, sessionCookie, 2)
	if !ok {
		return nil, false
	}
	id, role := c.Fields[0], likeness.Role(c.Fields[1])
	if role != likeness.RoleAdmin && role != likeness.RoleAuditor {
		return nil, false
	}
	if !h.keyValid(r, id, role) {
		return nil, false
	}
	return &session{KeyID: id, Role: role, Session: c}, true
}

// keyValid checks that the session of a revoked or expired key ends at
// once. Fails closed.
func (h *Handler) keyValid(r *http.Request, id string, role likeness.Role) bool {
	keys, err := h.cfg.Store.APIKeys(r.Context())
	if err != nil {
		h.Log.Error("console: list api keys", "err", err)
		return false
	}
	for _, k := range keys {
		if k.ID == id {
			return k.RevokedAt.IsZero() && !k.Expired(h.Now()) && k.Role == role
		}
	}
	return false
}

// csrfToken binds a form to its scope: a session's signed text, or the
// sign-in form's nonce.
func (h *Handler) csrfToken(scope string) string { return h.Signer.Token(scope) }

func (h *Handler) validCSRF(got, scope string) bool { return h.Signer.ValidToken(got, scope) }
