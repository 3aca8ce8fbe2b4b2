package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"likeness"
	"likeness/internal/keys"
)

const sessionCookie = "likeness_portal"

// session is a signed-in portal visit. Only the subject id, the expiry and
// a random nonce (which CSRF tokens are bound to) travel in the cookie.
type session struct {
	SubjectID string
	Expires   time.Time
	Nonce     string
}

func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, subjectID string) {
	var n [16]byte
	rand.Read(n[:])
	exp := h.now().Add(h.cfg.SessionTTL)
	payload := strings.Join([]string{"v1", subjectID, strconv.FormatInt(exp.Unix(), 10), base64.RawURLEncoding.EncodeToString(n[:])}, "|")
	val := h.signer.Seal("session", payload)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: val, Path: "/me", Expires: exp, MaxAge: int(h.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/me", MaxAge: -1,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
}

// session returns the request's valid session, if any.
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
	if len(f) != 4 || f[0] != "v1" {
		return nil, false
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || !h.now().Before(time.Unix(exp, 0)) {
		return nil, false
	}
	return &session{SubjectID: f[1], Expires: time.Unix(exp, 0), Nonce: f[3]}, true
}

// csrfToken binds a form to its scope: a consent link or a session nonce.
func (h *Handler) csrfToken(scope string) string { return h.signer.Token(scope) }

func (h *Handler) validCSRF(got, scope string) bool { return h.signer.ValidToken(got, scope) }

// DeploymentKey returns the cookie key every replica shares: created once,
// stored in settings wrapped by the KEK (like consent's deployment keys).
func DeploymentKey(ctx context.Context, store likeness.SettingStore, kek keys.KEK) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	const name = "web_cookie_key"
	ad := []byte("setting:" + name)
	wrapped, err := kek.Wrap(ctx, fresh, ad)
	if err != nil {
		return nil, fmt.Errorf("web: wrap cookie key: %w", err)
	}
	stored, err := store.InitSetting(ctx, name, wrapped)
	if err != nil {
		return nil, fmt.Errorf("web: store cookie key: %w", err)
	}
	key, err := kek.Unwrap(ctx, stored, ad)
	if err != nil {
		return nil, fmt.Errorf("web: unwrap cookie key: %w", err)
	}
	return key, nil
}

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
