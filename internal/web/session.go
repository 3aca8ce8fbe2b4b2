package web

import (
	"net/http"
	"time"
)

const sessionCookie = "likeness_portal"

// session is a signed-in portal visit. Only the subject id, the expiry and
// a random nonce (which CSRF tokens are bound to) travel in the cookie.
type session struct {
	SubjectID string
	Expires   time.Time
	Nonce     string
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, subjectID string) {
	h.jar.Start(w, r, sessionCookie, h.cfg.SessionTTL, subjectID)
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) { h.jar.End(w, r, sessionCookie) }

// session returns the request's valid session, if any.
func (h *Handler) session(r *http.Request) (*session, bool) {
	s, ok := h.jar.Read(r, sessionCookie, 1)
	if !ok {
		return nil, false
	}
	return &session{SubjectID: s.Fields[0], Expires: s.Expires, Nonce: s.Nonce}, true
}

// csrfToken binds a form to its scope: a consent link or a session nonce.
func (h *Handler) csrfToken(scope string) string { return h.signer.Token(scope) }

func (h *Handler) validCSRF(got, scope string) bool { return h.signer.ValidToken(got, scope) }

// rateLimited applies the per-IP limit of link endpoints, answering 429
// with a page in the person's language.
func (h *Handler) rateLimited(fn http.HandlerFunc) http.Handler {
	return h.pageHandler(func(w http.ResponseWriter, r *http.Request) {
		if !h.limiter.Allow(h.cfg.ClientIP(r)) {
			w.Header().Set("Retry-After", "10")
			h.message(w, r, http.StatusTooManyRequests, h.localeFor(w, r, ""), "error.ratelimit.title", "error.ratelimit.body")
			return
		}
		fn(w, r)
	})
}
