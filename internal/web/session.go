package web

import (
	"context"
	"net/http"
	"strconv"

	"likeness"
)

const sessionCookie = "likeness_portal"

// SessionStore keeps portal sessions and the access log each visit is
// recorded in. *sqlstore.DB implements it.
type SessionStore interface {
	likeness.PortalSessionStore
	AppendAccess(ctx context.Context, e *likeness.AccessEntry) error
}

// session is a signed-in portal visit. The cookie carries the session's id
// (signed, with an expiry and a random nonce that CSRF tokens are bound
// to); the session itself is a row in the store, read on every request, so
// signing out, expiry and erasure end it on every replica at once.
type session struct {
	ps    *likeness.PortalSession
	Nonce string
}

// SubjectID is the person the session is for.
func (s *session) SubjectID() string { return s.ps.SubjectID }

// actor is the person acting in their own session, as services see them.
func (s *session) actor() likeness.Actor {
	return likeness.Actor{KeyID: s.ps.Ref(), Role: likeness.RolePerson, SubjectID: s.ps.SubjectID}
}

// startSession stores a new session for the subject, opened by link, and
// sets its cookie. The session records the link's kind and reference,
// never its secret.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, link *likeness.Link) error {
	now := h.Now().UTC()
	ps := &likeness.PortalSession{ID: likeness.NewLinkID(), SubjectID: link.SubjectID,
		OpenedBy: link.Kind + "_link:" + likeness.LinkRef(link.ID), CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.sessions.CreatePortalSession(r.Context(), ps); err != nil {
		return err
	}
	h.Jar.Start(w, r, sessionCookie, h.cfg.SessionTTL, ps.ID)
	return nil
}

// endSession deletes the session (s nil: only the cookie).
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, s *session) error {
	h.Jar.End(w, r, sessionCookie)
	if s == nil {
		return nil
	}
	return h.sessions.EndPortalSession(context.WithoutCancel(r.Context()), s.ps.ID)
}

// session returns the request's live session: its cookie is signed and
// unexpired, and its row exists, has not expired and belongs to a subject
// not being erased. ENOTFOUND when there is none.
func (h *Handler) session(r *http.Request) (*session, error) {
	c, ok := h.Jar.Read(r, sessionCookie, 1)
	if !ok {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "no portal session")
	}
	ps, err := h.sessions.PortalSession(r.Context(), c.Fields[0])
	if err != nil {
		return nil, err
	}
	if ps.Expired(h.Now()) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "the portal session expired")
	}
	return &session{ps: ps, Nonce: c.Nonce}, nil
}

// logVisit records a request made in a person's session in the access log:
// the session's reference, how it was opened (link kind and reference) and
// the page. A visit that cannot be recorded is refused.
func (h *Handler) logVisit(r *http.Request, s *session) error {
	a := s.actor()
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: h.Now().UTC(), Action: "portal " + r.Pattern,
		KeyID: a.KeyID, Role: a.Role, SubjectID: a.SubjectID, Purpose: "data-subject-access", Allow: true,
		Reasons: []string{"opened_by " + s.ps.OpenedBy}}
	return h.sessions.AppendAccess(r.Context(), e)
}

// logRefusal records, after a form post admitted by logVisit, that what it
// asked was refused (answered status).
func (h *Handler) logRefusal(r *http.Request, s *session, status int) error {
	a := s.actor()
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: h.Now().UTC(), Action: "portal " + r.Pattern + ": refused",
		KeyID: a.KeyID, Role: a.Role, SubjectID: a.SubjectID, Purpose: "data-subject-access", Allow: false,
		Reasons: []string{"answered " + strconv.Itoa(status)}}
	return h.sessions.AppendAccess(context.WithoutCancel(r.Context()), e)
}

// csrfToken binds a form to its scope: a consent link or a session nonce.
func (h *Handler) csrfToken(scope string) string { return h.Signer.Token(scope) }

func (h *Handler) validCSRF(got, scope string) bool { return h.Signer.ValidToken(got, scope) }

// rateLimited applies the per-IP limit of link endpoints, answering 429
// with a page in the person's language.
func (h *Handler) rateLimited(fn http.HandlerFunc) http.Handler {
	return h.pageHandler(func(w http.ResponseWriter, r *http.Request) {
		if !h.Limiter.Allow(h.cfg.ClientIP(r)) {
			w.Header().Set("Retry-After", "10")
			h.message(w, r, http.StatusTooManyRequests, h.localeFor(w, r, ""), "error.ratelimit.title", "error.ratelimit.body")
			return
		}
		fn(w, r)
	})
}
