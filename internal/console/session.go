package console

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"likeness"
)

const (
	sessionCookie = "likeness_console"
	// preCookie holds the nonce the sign-in form's CSRF token is bound to.
	preCookie = "likeness_console_pre"
)

// session is a signed-in operator. Only the key id, its role, the expiry and
// a random nonce travel in the cookie; never the key.
type session struct {
	KeyID   string
	Role    likeness.Role
	Expires time.Time
	payload string // the signed text; CSRF tokens are bound to it
}

// Admin reports whether the operator may act, not only read.
func (s *session) Admin() bool { return s != nil && s.Role == likeness.RoleAdmin }

func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		c.Expires = h.now().Add(time.Duration(maxAge) * time.Second)
	}
	return c
}

func nonce() string {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		panic("console: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(n[:])
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, k *likeness.APIKey) {
	exp := h.now().Add(SessionTTL)
	payload := strings.Join([]string{"v1", k.ID, string(k.Role), strconv.FormatInt(exp.Unix(), 10), nonce()}, "|")
	val := h.signer.Seal("session", payload)
	http.SetCookie(w, h.cookie(r, sessionCookie, val, int(SessionTTL.Seconds())))
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
}

// session returns the request's valid session: signed by us, not expired,
// and its key still on record, unrevoked and of the same role.
func (h *Handler) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	payload, ok := h.signer.Open("session", c.Value)
	if !ok {
		return nil, false
	}
	f := strings.Split(payload, "|")
	if len(f) != 5 || f[0] != "v1" {
		return nil, false
	}
	exp, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || !h.now().Before(time.Unix(exp, 0)) {
		return nil, false
	}
	role := likeness.Role(f[2])
	if role != likeness.RoleAdmin && role != likeness.RoleAuditor {
		return nil, false
	}
	if !h.keyValid(r, f[1], role) {
		return nil, false
	}
	return &session{KeyID: f[1], Role: role, Expires: time.Unix(exp, 0), payload: payload}, true
}

// keyValid checks that the session of a revoked or expired key ends at
// once. Fails closed.
func (h *Handler) keyValid(r *http.Request, id string, role likeness.Role) bool {
	keys, err := h.cfg.Store.APIKeys(r.Context())
	if err != nil {
		h.log.Error("console: list api keys", "err", err)
		return false
	}
	for _, k := range keys {
		if k.ID == id {
			return k.RevokedAt.IsZero() && !k.Expired(h.now()) && k.Role == role
		}
	}
	return false
}

// csrfToken binds a form to its scope: a session's signed text, or the
// sign-in form's nonce.
func (h *Handler) csrfToken(scope string) string { return h.signer.Token(scope) }

func (h *Handler) validCSRF(got, scope string) bool { return h.signer.ValidToken(got, scope) }
