package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// pages holds one template set per page, each the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"asset":  func(name string) string { return "/console/assets/" + name + "?v=" + embeddedAssets[name].version },
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"mul100": func(f float64) float64 { return f * 100 },
	"deref":  func(n *int) int { return *n },
	"pct": func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f*100, 'f', 1, 64) + " %"
	},
}

func mustParsePages() *pages {
	layout := template.Must(template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p
}

// view is what every page template receives; Data is the page's own part.
type view struct {
	L       *locale
	Langs   []langOption
	Title   string // a translation key
	Nav     string // the section shown, for aria-current
	Org     string
	Session *session
	CSRF    string
	Data    any
}

type messageView struct {
	Title, Body string // translation keys
	Detail      string // an already user-safe message
}

// render writes the named page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, v *view) {
	if v.L == nil {
		v.L = h.localeFor(w, r)
	}
	v.Langs = h.langOptions(r, v.L)
	v.Org = h.cfg.Policy().Organization.Name
	v.Session = s
	if s != nil {
		v.CSRF = h.csrfToken(s.payload)
	}
	t, ok := h.pages.byName[name]
	if !ok {
		panic("console: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("console: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.L.Code)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// message renders a page that says one thing.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, s *session, status int, titleKey, bodyKey string) {
	h.render(w, r, s, status, "message", &view{Title: titleKey, Data: &messageView{Title: titleKey, Body: bodyKey}})
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
		if path.Ext(e.Name()) == ".css" {
			ct = "text/css; charset=utf-8"
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, ctype: ct, version: hex.EncodeToString(sum[:6])}
	}
	return out
}

var embeddedAssets = loadAssets()

func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := embeddedAssets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}
