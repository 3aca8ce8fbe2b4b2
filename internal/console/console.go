// Package console serves the privacy officer's operator console under
// /console: an overview of the deployment, a subject's consent, assets and
// access log, the queue of consents held for a reviewer's validation,
// consents due for renewal, training datasets and their
// representation audits, dead-letter deliveries to downstream systems, the
// mails sent to people (masked addresses only), and
// the printable GDPR record of processing activities with DPIA drafts.
// Pages are server-rendered in English or German (one file per language
// under i18n), need no JavaScript, and load nothing from elsewhere.
//
// A named operator signs in with a password and a second factor (package
// operators); the session ends after 30 idle minutes and 12 hours at most,
// and reading a subject's media requires a stated reason, which the access
// log keeps with the operator's name. For machines, an API key of role
// admin or auditor may still sign in; the key is compared by its SHA-256
// and never kept. The session is a stateless
// cookie (key id, role, expiry, random nonce) signed with HMAC-SHA256 under
// a key derived from Config.Key, so every replica holding the key accepts
// it; each request also checks that the key is still on record and not
// revoked. Every POST form carries a CSRF token, an HMAC of the session
// (or, on the sign-in form, of a pre-session nonce cookie). Auditors read;
// only admins act (retrying dead letters).
package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"likeness"
	"likeness/internal/dataset"
	"likeness/internal/http/input"
	"likeness/internal/http/page"
	"likeness/internal/http/response"
	"likeness/internal/ratelimit"
	"likeness/internal/records"
	"likeness/internal/vault"
	"likeness/policy"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

//go:embed i18n/*.json
var i18nFS embed.FS

// SessionTTL is how long a console session lasts after sign-in.
const SessionTTL = 30 * time.Minute

// Config holds what a Handler is built from. Subjects, Consents, Index,
// Policy, Vault, Store and a Key of at least 32 bytes are required.
type Config struct {
	Subjects Subjects
	Consents Consents
	Index    Index
	Policy   func() *policy.Policy // the policy in force
	Vault    *vault.Vault
	Datasets *dataset.Service // nil: the datasets pages say datasets are not enabled
	Records  *records.Builder // nil: the records page says records are not enabled
	Store    likeness.Store
	// Operators signs named operators in; nil offers only API-key sign-in.
	Operators Operators
	// Validations is the queue of consents held for a reviewer; nil: the
	// validation pages say it is not enabled.
	Validations Validations
	// MailSending says mail goes to an SMTP server; false: the messages
	// page says mails are recorded as not sent.
	MailSending bool
	// Key signs session cookies and CSRF tokens. Every replica must share
	// it. The console derives its own subkey, so the key web uses may be
	// passed here too.
	Key []byte

	// Options: client addresses, cookie security, the clock and the log.
	page.Options
}

// Handler serves the console. Build it with New; it is safe for concurrent use.
type Handler struct {
	*page.Site
	cfg Config
	mux *http.ServeMux
}

// New builds a Handler. It panics on a missing service or a short key,
// since either is a wiring mistake.
func New(cfg Config) *Handler {
	if cfg.Subjects == nil || cfg.Consents == nil || cfg.Index == nil || cfg.Policy == nil || cfg.Vault == nil || cfg.Store == nil {
		panic("console: Config.Subjects, Consents, Index, Policy, Vault and Store are required")
	}
	if len(cfg.Key) < 32 {
		panic("console: Config.Key must be at least 32 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = ratelimit.RemoteHost
	}
	// A subkey of its own, so sharing web's cookie key cannot turn a
	// portal cookie into a console one.
	m := hmac.New(sha256.New, cfg.Key)
	m.Write([]byte("likeness console session key v1"))
	h := &Handler{cfg: cfg, Site: page.NewSite(page.SiteConfig{Name: "console", Key: m.Sum(nil), CookiePath: "/console",
		SecureCookies: cfg.SecureCookies, Now: cfg.Now, Logger: cfg.Logger, Translations: i18nFS,
		Templates: templateFS, Funcs: templateFuncs, AssetFS: assetFS, AssetPrefix: "/console/assets/",
		// Sign-in: a burst of 10 attempts, then one every 6 seconds per IP.
		Limit: rate.Every(6 * time.Second), Burst: 10})}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h
}

// Register adds the console's routes, all under /console, to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /console/login", h.public(h.loginForm))
	mux.Handle("POST /console/login", h.public(h.login))
	mux.Handle("POST /console/logout", h.action(false, h.logout))
	if h.cfg.Operators != nil {
		mux.Handle("GET /console/enrol", h.public(h.enrolForm))
		mux.Handle("POST /console/enrol", h.public(h.enrol))
	}
	mux.Handle("POST /console/assets/{id}/content", h.action(false, h.content))
	mux.Handle("GET /console", h.page(h.overview))
	mux.Handle("GET /console/{$}", h.page(h.overview))
	mux.Handle("GET /console/subjects", h.page(h.subjects))
	mux.Handle("POST /console/subjects", h.action(false, h.searchSubject))
	mux.Handle("GET /console/renewals", h.page(h.renewals))
	mux.Handle("GET /console/obligations", h.page(h.obligations))
	mux.Handle("GET /console/audit", h.page(h.audit))
	mux.Handle("GET /console/records", h.page(h.records))
	mux.Handle("GET /console/datasets", h.page(h.datasets))
	mux.Handle("GET /console/datasets/{id}/audit", h.page(h.datasetAudit))
	mux.Handle("GET /console/datasets/{id}/reviews", h.page(h.datasetReviews))
	mux.Handle("POST /console/datasets/{id}/reviews/{item}", h.action(true, h.decideReview))
	mux.Handle("GET /console/validations", h.page(h.validations))
	mux.Handle("GET /console/validations/{id}", h.page(h.validation))
	mux.Handle("POST /console/validations/{id}", h.action(false, h.decideValidation))
	mux.Handle("GET /console/events", h.page(h.events))
	mux.Handle("GET /console/messages", h.page(h.messages))
	mux.Handle("POST /console/events/retry", h.action(true, h.retry))
	mux.Handle("GET /console/assets/{name}", h.Assets)
	mux.Handle("/console/", h.public(h.notFound))
}

// ServeHTTP serves the console alone (Register adds it to a shared mux).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func setSecurityHeaders(w http.ResponseWriter) {
	page.Headers(w, "default-src 'self'; frame-ancestors 'none'; form-action 'self'", false)
}

// public serves a page that needs no session.
func (h *Handler) public(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		if h.refuseInput(w, r) {
			return
		}
		fn(w, r)
	})
}

// refuseInput answers 400 to path or query values that are not text (see
// package input) and reports whether it did.
func (h *Handler) refuseInput(w http.ResponseWriter, r *http.Request) bool {
	err := input.Request(r)
	if err == nil && r.PostForm != nil {
		err = input.Values("form field", r.PostForm)
	}
	if err == nil {
		return false
	}
	s, _ := h.session(r)
	h.failed(w, r, s, "read request", err)
	return true
}

// page serves a GET page to a signed-in operator; anyone else is sent to
// the sign-in form.
func (h *Handler) page(fn func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		s, ok := h.session(r)
		if !ok {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if h.refuseInput(w, r) {
			return
		}
		h.renew(w, r, s)
		fn(w, r, s)
	})
}

// action serves a POST form: it needs a session, a valid CSRF token and,
// if adminOnly, the admin role; otherwise 403 and nothing changes.
func (h *Handler) action(adminOnly bool, fn func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			h.message(w, r, nil, http.StatusBadRequest, "error.title", "error.form")
			return
		}
		s, ok := h.session(r)
		if !ok || !h.validCSRF(r.PostForm.Get("csrf"), s.csrfScope()) {
			h.message(w, r, s, http.StatusForbidden, "error.forbidden.title", "error.csrf")
			return
		}
		if adminOnly && s.Role != likeness.RoleAdmin {
			h.Log.Warn("console: action refused to non-admin", "path", r.URL.Path, "key_id", s.KeyID, "role", s.Role)
			h.message(w, r, s, http.StatusForbidden, "error.forbidden.title", "error.adminonly")
			return
		}
		if h.refuseInput(w, r) {
			return
		}
		fn(w, r, s)
	})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := h.session(r)
	h.message(w, r, s, http.StatusNotFound, "error.notfound.title", "error.notfound")
}

// failed renders a service error with the status of the one table
// (package response): the domain message for known codes, a generic one
// (with the detail in the log) for anything else.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, s *session, op string, err error) {
	status := response.Status(err)
	switch likeness.ErrorCode(err) {
	case likeness.ENOTFOUND:
		h.message(w, r, s, status, "error.notfound.title", "error.notfound")
	case likeness.EGONE:
		h.message(w, r, s, status, "error.gone.title", "error.gone")
	case likeness.EINVALID:
		h.render(w, r, s, status, "message", &view{Title: "error.title", Data: &messageView{Title: "error.title", Detail: likeness.ErrorMessage(err)}})
	case likeness.EFORBIDDEN:
		h.render(w, r, s, status, "message", &view{Title: "error.forbidden.title", Data: &messageView{Title: "error.forbidden.title", Detail: likeness.ErrorMessage(err)}})
	case likeness.ECONFLICT:
		h.render(w, r, s, status, "message", &view{Title: "error.conflict.title", Data: &messageView{Title: "error.conflict.title", Detail: likeness.ErrorMessage(err)}})
	default:
		h.Log.Error("console: "+op, "err", err)
		h.message(w, r, s, http.StatusInternalServerError, "error.title", "error.internal")
	}
}
