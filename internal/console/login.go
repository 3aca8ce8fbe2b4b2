package console

import (
	"net/http"
	"strings"

	"likeness"
	"likeness/internal/http/cookie"
)

type loginView struct {
	CSRF      string
	Error     string // a translation key
	Operators bool   // named operators may sign in
}

// loginNonce returns the nonce the sign-in form is bound to, setting a
// fresh one when the browser has none.
func (h *Handler) loginNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 22 {
		return c.Value
	}
	n := cookie.Nonce()
	http.SetCookie(w, h.Jar.Make(r, preCookie, n, int(SessionTTL.Seconds())))
	return n
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	n := h.loginNonce(w, r)
	h.render(w, r, nil, http.StatusOK, "login", &view{Title: "login.title", Data: &loginView{CSRF: h.csrfToken("login|" + n), Operators: h.cfg.Operators != nil}})
}

// login signs an operator in with an admin or auditor API key. The key is
// looked up by its hash and forgotten; the session carries its id and role.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	c, ok := h.signInForm(w, r, "login")
	if !ok {
		return
	}
	again := func(status int, msg string) {
		h.render(w, r, nil, status, "login", &view{Title: "login.title", Data: &loginView{CSRF: h.csrfToken("login|" + c.Value), Error: msg, Operators: h.cfg.Operators != nil}})
	}
	if h.cfg.Operators != nil && r.PostForm.Get("key") == "" {
		h.operatorLogin(w, r, again)
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		again(http.StatusBadRequest, "login.error.empty")
		return
	}
	k, err := h.cfg.Store.APIKeyByHash(r.Context(), likeness.HashAPIKey(key))
	switch {
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
		h.Log.Warn("console: sign-in with an unknown or revoked key")
		again(http.StatusUnauthorized, "login.error.unknown")
		return
	case err != nil:
		h.Log.Error("console: look up api key", "err", err)
		again(http.StatusInternalServerError, "error.internal")
		return
	case !k.RevokedAt.IsZero() || k.Expired(h.Now()):
		again(http.StatusUnauthorized, "login.error.unknown")
		return
	case k.Role != likeness.RoleAdmin && k.Role != likeness.RoleAuditor:
		h.Log.Warn("console: sign-in refused to role", "key_id", k.ID, "role", k.Role)
		again(http.StatusForbidden, "login.error.role")
		return
	}
	h.startSession(w, r, k)
	http.SetCookie(w, h.Jar.Make(r, preCookie, "", -1))
	h.record(r, "console: sign in", k.ID, k.Role)
	h.Log.Info("console: operator signed in", "key_id", k.ID, "role", k.Role)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.endSessionEverywhere(r, s); err != nil {
		// The browser's cookie goes below; a copy of it lives until it
		// expires. Say so rather than claim a sign-out that did not happen.
		h.failed(w, r, s, "sign out", err)
		return
	}
	h.endSession(w, r)
	h.Jar.End(w, r, operatorCookie)
	h.Log.Info("console: operator signed out", "key_id", s.KeyID, "operator", s.Operator)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// signInForm admits a sign-in or enrolment form before any account is known:
// rate-limited per client, bounded, parsed, and its CSRF token bound to the
// pre-session cookie and to purpose. It answers the refusal itself and
// reports whether the handler may go on.
func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request, purpose string) (*http.Cookie, bool) {
	if !h.Limiter.Allow(h.cfg.ClientIP(r)) {
		w.Header().Set("Retry-After", "10")
		h.message(w, r, nil, http.StatusTooManyRequests, "error.ratelimit.title", "error.ratelimit")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.message(w, r, nil, http.StatusBadRequest, "error.title", "error.form")
		return nil, false
	}
	c, err := r.Cookie(preCookie)
	if err != nil || !h.validCSRF(r.PostForm.Get("csrf"), purpose+"|"+c.Value) {
		h.message(w, r, nil, http.StatusForbidden, "error.forbidden.title", "error.csrf")
		return nil, false
	}
	return c, true
}
