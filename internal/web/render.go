package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"likeness/policy"
)

// pages holds one template set per page, each the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"date": fmtDate,
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"asset":    func(name string) string { return "/assets/" + name + "?v=" + assetVersion(name) },
	"contains": func(m map[string]bool, k string) bool { return m[k] },
	// dict hands a purpose to the purpose-details partial with the page.
	"dict": func(v *view, p policy.NoticePurpose) map[string]any {
		return map[string]any{"L": v.L, "Org": v.Org, "P": p}
	},
}

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func mustParsePages() *pages {
	layout := template.Must(template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p
}

// view is what every page template receives; page-specific parts are set
// by the handler that renders it.
type view struct {
	L       *locale
	Langs   []langOption
	Title   string
	Org     policy.Organization
	CSRF    string
	Portal  bool // signed in: show "sign out"
	Message *messageView
	Form    *consentForm
	Done    *doneView
	Home    *homeView
	Erase   *eraseView
}

type messageView struct {
	Title, Body  string
	Link, LinkTo string
}

// render writes the named page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if v.Langs == nil {
		v.Langs = h.langOptions(r, v.L)
	}
	if v.Org.Name == "" {
		v.Org = h.svc.Policy().Organization
	}
	t, ok := h.pages.byName[name]
	if !ok {
		panic("web: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.L.Code)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// message renders a page that says one thing: an error or a confirmation.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, l *locale, titleKey, bodyKey string, args ...any) {
	h.render(w, r, status, "message", &view{L: l, Title: l.T(titleKey), Message: &messageView{Title: l.T(titleKey), Body: l.T(bodyKey, args...)}})
}

type asset struct {
	body    []byte
	ctype   string
	version string
}

func loadAssets() map[string]asset {
	out := map[string]asset{}
	entries, _ := fs.ReadDir(assetFS, "assets")
	for _, e := range entries {
		b, _ := fs.ReadFile(assetFS, "assets/"+e.Name())
		ct := "application/octet-stream"
		switch path.Ext(e.Name()) {
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, ctype: ct, version: hex.EncodeToString(sum[:6])}
	}
	return out
}

var embeddedAssets = loadAssets()

func assetVersion(name string) string { return embeddedAssets[name].version }

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}
