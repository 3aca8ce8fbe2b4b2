package page

import (
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"likeness/internal/http/cookie"
	"likeness/internal/i18n"
	"likeness/internal/ratelimit"
	"likeness/internal/signed"
)

// Site is what one set of server-rendered pages keeps: the clock and log,
// translations, the signing key and cookie jar of its sessions, its
// templates and assets, and a per-client rate limiter. The consent page and
// portal (web) and the operator console each build one with NewSite and
// embed it in their handler.
type Site struct {
	Now     func() time.Time
	Log     *slog.Logger
	Tr      *i18n.Set
	Signer  *signed.Signer
	Jar     *cookie.Jar
	Pages   *Renderer
	Assets  *Assets
	Limiter *ratelimit.PerClient
}

// SiteConfig describes a Site. Key, Translations, Templates and AssetFS are
// required; Now and Logger default to the clock and a discarding log.
type SiteConfig struct {
	Name          string // the adapter, for panics on a wiring mistake
	Key           []byte // signs session cookies and CSRF tokens
	CookiePath    string // the path session cookies are scoped to
	SecureCookies bool
	Now           func() time.Time
	Logger        *slog.Logger
	Translations  fs.FS // i18n/*.json
	Templates     fs.FS // templates/*.html
	Funcs         template.FuncMap
	Partials      []string // templates every page also parses
	AssetFS       fs.FS
	AssetPrefix   string // the URL prefix assets are served under
	Limit         rate.Limit
	Burst         int
}

// NewSite builds a Site. It panics when the translations do not load,
// since they are embedded: a broken build, not a runtime condition.
func NewSite(c SiteConfig) *Site {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	tr, err := i18n.Load(c.Translations)
	if err != nil {
		panic(c.Name + ": " + err.Error())
	}
	signer, assets := signed.New(c.Key), LoadAssets(c.AssetFS, c.AssetPrefix)
	return &Site{Now: c.Now, Log: c.Logger, Tr: tr, Signer: signer,
		Jar:     &cookie.Jar{Path: c.CookiePath, Signer: signer, Secure: c.SecureCookies, Now: c.Now},
		Pages:   Parse(c.Templates, assets, c.Funcs, c.Logger, c.Partials...),
		Assets:  assets,
		Limiter: ratelimit.New(c.Limit, c.Burst)}
}

// Options are what an operator sets the same way for every set of pages.
type Options struct {
	// ClientIP names the client of a request for rate limiting; default the
	// host of RemoteAddr. Behind a proxy, return the forwarded address.
	ClientIP func(*http.Request) string
	// SecureCookies forces the Secure attribute (behind a TLS-terminating
	// proxy); cookies are always Secure when the request came over TLS.
	SecureCookies bool
	Now           func() time.Time // nil is time.Now
	Logger        *slog.Logger     // nil discards
}
