package web

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"likeness"
	"likeness/internal/http/cookie"
	"likeness/internal/ratelimit"
)

// Reach mails a person a sign-in link to their portal. *mail.Service
// implements it.
type Reach interface {
	// RequestPortalLink queues a link for whoever has addr on file, doing
	// the same work whether or not anyone does. EINVALID for a malformed
	// address, ERATELIMIT when the address was asked for too often.
	RequestPortalLink(ctx context.Context, addr string) error
}

// reachCookie holds the nonce the "send me a link" form is bound to: the
// person has no session yet.
const reachCookie = "likeness_reach"

// reachPerClient bounds link requests per client: a burst of 5, then one
// a minute. The per-address bound is the mailer's.
func reachPerClient() *ratelimit.PerClient { return ratelimit.New(rate.Every(time.Minute), 5) }

type reachView struct {
	Sent  bool
	Email string // as typed, shown back only when it was malformed
	Error string // a translation key
}

// reachNonce returns the nonce the form is bound to, setting a fresh one
// when the browser has none.
func (h *Handler) reachNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(reachCookie); err == nil && len(c.Value) == 22 {
		return c.Value
	}
	n := cookie.Nonce()
	http.SetCookie(w, h.Jar.Make(r, reachCookie, n, 3600))
	return n
}

// reachForm shows the form: one field, the person's e-mail address.
func (h *Handler) reachForm(w http.ResponseWriter, r *http.Request) {
	l := h.localeFor(w, r, "")
	n := h.reachNonce(w, r)
	h.render(w, r, http.StatusOK, "reach", &view{L: l, Title: l.T("reach.title"), CSRF: h.csrfToken("reach|" + n), Reach: &reachView{}})
}

// reachSubmit asks for a link. Its answer is the same, byte for byte,
// whether or not the address is on file: the mailer does the same work
// either way and only its sink, later, looks the address up.
func (h *Handler) reachSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.reachLimiter.Allow(h.cfg.ClientIP(r)) {
		w.Header().Set("Retry-After", "60")
		h.message(w, r, http.StatusTooManyRequests, h.localeFor(w, r, ""), "error.ratelimit.title", "reach.ratelimit.client")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, h.localeFor(w, r, ""), "error.invalid.title", "error.invalid.body")
		return
	}
	l := h.localeFor(w, r, "")
	c, err := r.Cookie(reachCookie)
	if err != nil || !h.validCSRF(r.PostForm.Get("csrf"), "reach|"+c.Value) {
		h.message(w, r, http.StatusForbidden, l, "error.csrf.title", "error.csrf.body")
		return
	}
	csrf := h.csrfToken("reach|" + c.Value)
	addr := r.PostForm.Get("email")
	switch err := h.cfg.Reach.RequestPortalLink(r.Context(), addr); likeness.ErrorCode(err) {
	case "":
		h.render(w, r, http.StatusOK, "reach", &view{L: l, Title: l.T("reach.title"), CSRF: csrf, Reach: &reachView{Sent: true}})
	case likeness.EINVALID:
		h.render(w, r, http.StatusBadRequest, "reach", &view{L: l, Title: l.T("reach.title"), CSRF: csrf,
			Reach: &reachView{Email: addr, Error: "reach.error.address"}})
	case likeness.ERATELIMIT:
		w.Header().Set("Retry-After", "600")
		h.message(w, r, http.StatusTooManyRequests, l, "error.ratelimit.title", "reach.ratelimit.address")
	default:
		h.internalError(w, r, l, err)
	}
}

// withReach adds to a message page the way to a new link, when people
// can ask for one.
func (h *Handler) withReach(l *locale, v *view) *view {
	if h.cfg.Reach != nil && v.Message != nil {
		v.Message.Link, v.Message.LinkTo = l.T("reach.ask"), "/me/link?lang="+l.Code
	}
	return v
}
