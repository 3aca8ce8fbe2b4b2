// Package web serves the pages people see: the consent page a person reaches
// through a short-lived link the organization creates, the privacy portal
// where they later see, change, download and erase what they gave, and the
// page where they ask for a portal link by e-mail (/me/link), which answers
// the same whether or not their address is known. Pages are
// server-rendered from the current notice in English or German (a language is
// one file under i18n), work without JavaScript, and carry strict security
// headers: a Content-Security-Policy with no inline code, no third-party
// assets, CSRF tokens on every form and rate limits on link endpoints.
//
// Links are bearer secrets: the store keeps only their SHA-256. A portal
// session is a row in the store (Config.Sessions, by the SHA-256 of its
// id) that an HMAC-signed cookie under Config.Key refers to; every request
// reads the row, so signing out, expiry (SessionTTL, 30 minutes by
// default) and the start of the person's erasure end it on every replica
// at once. Every request in a session is recorded in the access log with
// how the session was opened. CSRF tokens are HMACs of the link id
// (consent page, which works inside a third-party iframe without cookies)
// or of the session nonce (portal).
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"likeness"
	"likeness/internal/http/input"
	"likeness/internal/http/page"
	"likeness/internal/http/response"
	"likeness/internal/ratelimit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

//go:embed i18n/*.json
var i18nFS embed.FS

// RecordingStore keeps the recording of a verbal consent in the media vault.
// It returns the id of the stored asset, used as the grant's evidence.
// Implementations must be safe for concurrent use and must store nothing when
// they return an error.
type RecordingStore interface {
	StoreRecording(ctx context.Context, subjectID, contentType string, r io.Reader) (assetID string, err error)
	// DiscardRecording erases a stored recording whose grant then failed,
	// so no voice is kept without the consent it was meant to prove.
	DiscardRecording(ctx context.Context, assetID string) error
}

// AccessEntry is one use of a person's data, as the portal shows it.
type AccessEntry struct {
	Time      time.Time `json:"time"`
	Who       string    `json:"who"`                 // the API key, recipient or system that used the data
	Purpose   string    `json:"purpose,omitempty"`   // purpose id
	Category  string    `json:"category,omitempty"`  // data category
	Action    string    `json:"action"`              // e.g. "decision allowed", "content read"
	Recipient string    `json:"recipient,omitempty"` // recipient id, if released to one

	// Kind names Action for the page, which says it in the person's
	// language (i18n key access.action.<Kind>, with Detail where the
	// text has a place for it): read, read_because, refused, heard,
	// not_heard, erased, export. Empty: the page shows Action.
	Kind   string `json:"-"`
	Detail string `json:"-"`
}

// AccessLog answers "who used my data". SubjectAccessLog returns the
// subject's entries, newest first, and an empty slice when there are none.
type AccessLog interface {
	SubjectAccessLog(ctx context.Context, subjectID string) ([]AccessEntry, error)
}

// TrainingUse is one training dataset version that holds the person's data.
type TrainingUse struct {
	Dataset string    `json:"dataset"`
	Version int       `json:"version"`
	Purpose string    `json:"purpose"`
	Status  string    `json:"status"` // "ready" or "tainted"
	Created time.Time `json:"created"`
	Models  []string  `json:"models,omitempty"` // names of models trained on it
}

// Lineage answers "which datasets and models used my data".
type Lineage interface {
	SubjectTraining(ctx context.Context, subjectID string) ([]TrainingUse, error)
}

// MediaExporter adds the subject's decrypted media to an export, one add
// call per file (name is a relative path such as "asset_x.jpg").
type MediaExporter interface {
	ExportMedia(ctx context.Context, subjectID string, add func(name string, r io.Reader) error) error
}

// Eraser erases a subject everywhere and returns the signed erasure
// certificate. (*erasure.Service).EraseSubject implements it.
type Eraser interface {
	EraseSubject(ctx context.Context, subjectID string) (certificate []byte, err error)
}

// WithdrawalErasures lists what the subject's withdrawals erased, with
// their signed certificates. likeness.WithdrawalErasureStore implements it.
type WithdrawalErasures interface {
	SubjectWithdrawalErasures(ctx context.Context, subjectID string) ([]*likeness.WithdrawalErasure, error)
}

// Config holds what a Handler is built from. Consent, Subjects, Notices,
// Receipts and Links are required.
type Config struct {
	Consent  Consent
	Subjects Subjects
	Notices  Notices
	Receipts ReceiptSigner
	Links    likeness.LinkStore
	Sessions SessionStore // portal sessions and their access log

	// BaseURL is the public origin links point at ("https://privacy.example.com").
	// Empty: the scheme and Host of the API request that creates the link,
	// only when that host is one of AllowedHosts.
	BaseURL string
	// AllowedHosts are the host names (no port) links may be built for
	// when BaseURL is empty; "*" allows any (for demos). Empty: localhost,
	// 127.0.0.1 and ::1.
	AllowedHosts []string
	// Key signs session cookies and CSRF tokens (32 bytes or more). Every
	// replica must share it (cmd/likeness passes the deployment's
	// web_cookie_key from internal/subjects). Empty: a random key per
	// process, so sessions end on restart and do not span replicas.
	Key []byte

	Recordings RecordingStore // nil: no verbal-consent option
	Lineage    Lineage        // nil: the portal shows no training section
	AccessLog  AccessLog      // nil: "none recorded"
	Media      MediaExporter  // nil: exports hold no media
	Eraser     Eraser         // nil: the portal cannot erase
	// Withdrawn lists what withdrawals erased; nil: the portal shows no
	// such section.
	Withdrawn WithdrawalErasures
	// Reach mails people a portal link they ask for at /me/link; nil: the
	// page is not offered.
	Reach Reach

	ConsentTTL time.Duration // consent links; default 30 minutes
	PortalTTL  time.Duration // portal links; default 15 minutes
	SessionTTL time.Duration // portal sessions; default 30 minutes

	// RateLimit and RateBurst bound requests to link endpoints per client
	// IP; defaults 1/s with a burst of 30.
	RateLimit rate.Limit
	RateBurst int
	// Options: client addresses, cookie security, the clock and the log.
	page.Options
}

// Handler serves the pages. Build it with New; it is safe for concurrent use.
type Handler struct {
	*page.Site
	cfg      Config
	svc      services
	links    likeness.LinkStore
	sessions SessionStore
	mux      *http.ServeMux
	// reachLimiter bounds "send me a link" requests per client.
	reachLimiter *ratelimit.PerClient
}

// New builds a Handler. It panics if a required service is missing, since
// that is a wiring mistake.
func New(cfg Config) *Handler {
	if cfg.Consent == nil || cfg.Subjects == nil || cfg.Notices == nil || cfg.Receipts == nil || cfg.Links == nil || cfg.Sessions == nil {
		panic("web: Config.Consent, Subjects, Notices, Receipts, Links and Sessions are required")
	}
	if len(cfg.AllowedHosts) == 0 {
		cfg.AllowedHosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ConsentTTL <= 0 {
		cfg.ConsentTTL = 30 * time.Minute
	}
	if cfg.PortalTTL <= 0 {
		cfg.PortalTTL = 15 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 1
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 30
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = ratelimit.RemoteHost
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	key := cfg.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("web: crypto/rand failed: " + err.Error())
		}
		cfg.Logger.Warn("web: no cookie key configured; using a random one, so portal sessions end on restart and do not span replicas")
	}
	h := &Handler{cfg: cfg, svc: services{cfg.Consent, cfg.Subjects, cfg.Notices, cfg.Receipts}, links: cfg.Links, sessions: cfg.Sessions,
		reachLimiter: reachPerClient(),
		Site: page.NewSite(page.SiteConfig{Name: "web", Key: key, CookiePath: "/me", SecureCookies: cfg.SecureCookies,
			Now: cfg.Now, Logger: cfg.Logger, Translations: i18nFS, Templates: templateFS, Funcs: templateFuncs,
			Partials: []string{"partials.html"}, AssetFS: assetFS, AssetPrefix: "/assets/", Limit: cfg.RateLimit, Burst: cfg.RateBurst})}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h
}

// Register adds the pages to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	limited := h.rateLimited
	mux.Handle("GET /consent/{link}", limited(h.consentPage))
	mux.Handle("POST /consent/{link}", limited(h.consentSubmit))
	mux.Handle("POST /consent/{link}/recording", limited(h.consentRecording))
	mux.Handle("GET /me/login/{link}", limited(h.portalLogin))
	if h.cfg.Reach != nil {
		mux.Handle("GET /me/link", limited(h.reachForm))
		mux.Handle("POST /me/link", h.pageHandler(h.reachSubmit))
	}
	mux.Handle("GET /me", h.pageHandler(h.portal(h.portalHome)))
	mux.Handle("POST /me/withdraw", h.pageHandler(h.portalPost(h.portalWithdraw)))
	mux.Handle("GET /me/give/{purpose}", h.pageHandler(h.portal(h.portalGiveForm)))
	mux.Handle("POST /me/give/{purpose}", h.pageHandler(h.portalPost(h.portalGive)))
	mux.Handle("GET /me/receipts/{event_id}", h.pageHandler(h.portal(h.portalReceipt)))
	mux.Handle("GET /me/export", h.pageHandler(h.portal(h.portalExport)))
	mux.Handle("GET /me/erase", h.pageHandler(h.portal(h.portalEraseConfirm)))
	mux.Handle("POST /me/erase", h.pageHandler(h.portalPost(h.portalErase)))
	mux.Handle("POST /me/logout", h.pageHandler(h.portalPost(h.portalLogout)))
	mux.Handle("GET /assets/{name}", h.Assets)
}

// ServeHTTP serves the pages alone (Register adds them to a shared mux).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// pageHandler sets the headers every page carries and refuses path and
// query values that are not text (see package input).
func (h *Handler) pageHandler(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w, nil, "")
		if err := input.Request(r); err != nil {
			h.message(w, r, response.Status(err), h.localeFor(w, r, ""), "error.invalid.title", "error.invalid.body")
			return
		}
		fn(w, r)
	})
}

// setSecurityHeaders sets a strict CSP. frameAncestors lists the origins that
// may embed the page (none: 'none'); returnOrigin is allowed as a form target
// because the consent form's continuation goes there.
func setSecurityHeaders(w http.ResponseWriter, frameAncestors []string, returnOrigin string) {
	fa := "'none'"
	if len(frameAncestors) > 0 {
		fa = strings.Join(frameAncestors, " ")
	}
	fo := "'self'"
	if returnOrigin != "" {
		fo += " " + returnOrigin
	}
	page.Headers(w, fmt.Sprintf("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors %s; form-action %s", fa, fo),
		len(frameAncestors) > 0)
	w.Header().Set("Permissions-Policy", "camera=(), geolocation=(), microphone=(self)")
}
