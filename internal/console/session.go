package console

import (
	"net/http"
	"time"

	"likeness"
	"likeness/internal/http/cookie"
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
		return "op|" + s.Operator + "|" + s.signedIn.UTC().Format(time.RFC3339)
	}
	return s.Payload
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
// and its key still on record, unrevoked and of the same role.
func (h *Handler) session(r *http.Request) (*session, bool) {
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
