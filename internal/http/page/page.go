// Package page renders likeness's server-side HTML pages: one template set
// per page (the adapter's layout and partials, this package's shared
// templates, and the page), embedded assets served under content-hashed
// URLs, and the security headers every page carries. The consent page, the
// privacy portal and the operator console all render through it, so they
// share one base style sheet (base.css) and one language switcher ("langs").
package page

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed shared/*.html
var sharedTemplates embed.FS

//go:embed assets/*
var sharedAssets embed.FS

// Lang is one entry of the language switcher (the "langs" template).
type Lang struct {
	Code, Name, URL string
	Current         bool
}

// Renderer holds one template set per page. Safe for concurrent use.
type Renderer struct {
	byName map[string]*template.Template
	log    *slog.Logger
}

// Parse builds a Renderer from fsys: every templates/*.html other than
// layout.html and the named partials is a page, parsed together with the
// layout, the partials and this package's shared templates. Templates get
// funcs plus date, day and asset (the hashed URL of an asset in assets).
// It panics on a template error, since templates are embedded.
func Parse(fsys fs.FS, assets *Assets, funcs template.FuncMap, log *slog.Logger, partials ...string) *Renderer {
	all := template.FuncMap{"date": Date, "day": Day, "asset": assets.URL}
	maps.Copy(all, funcs)
	files := []string{"templates/layout.html"}
	skip := map[string]bool{"layout.html": true}
	for _, p := range partials {
		files = append(files, "templates/"+p)
		skip[p] = true
	}
	layout := template.Must(template.New("layout.html").Funcs(all).ParseFS(sharedTemplates, "shared/*.html"))
	layout = template.Must(layout.ParseFS(fsys, files...))
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &Renderer{byName: map[string]*template.Template{}, log: log}
	for _, n := range names {
		base := path.Base(n)
		if skip[base] {
			continue
		}
		p.byName[strings.TrimSuffix(base, ".html")] = template.Must(template.Must(layout.Clone()).ParseFS(fsys, n))
	}
	return p
}

// Render writes page name (its "layout" template) with status and the
// Content-Language lang. A template error is logged and answered with a
// plain 500, before anything of the page is sent. It panics on an unknown
// page, which is a programming mistake.
func (p *Renderer) Render(w http.ResponseWriter, status int, name, lang string, data any) {
	t, ok := p.byName[name]
	if !ok {
		panic("page: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Date formats a time for a page ("2026-01-31 09:30 UTC"); zero is "".
func Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Day formats a date for a page ("2026-01-31"); zero is "".
func Day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// Headers sets the security headers every page carries: csp, no referrer,
// no sniffing, no caching, its own browsing context, and (unless framed)
// no framing at all.
func Headers(w http.ResponseWriter, csp string, framed bool) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if framed {
		hd.Del("X-Frame-Options")
	} else {
		hd.Set("X-Frame-Options", "DENY")
	}
}

// Assets are the files a set of pages loads, served under prefix with a
// version taken from their content, so browsers may cache them for good.
type Assets struct {
	prefix string
	byName map[string]asset
}

type asset struct {
	body    []byte
	ctype   string
	version string
}

// LoadAssets reads fsys's assets/* and this package's shared ones (such as
// base.css), to be served under prefix ("/assets/").
func LoadAssets(fsys fs.FS, prefix string) *Assets {
	a := &Assets{prefix: prefix, byName: map[string]asset{}}
	for _, f := range []fs.FS{sharedAssets, fsys} {
		entries, _ := fs.ReadDir(f, "assets")
		for _, e := range entries {
			b, _ := fs.ReadFile(f, "assets/"+e.Name())
			sum := sha256.Sum256(b)
			a.byName[e.Name()] = asset{body: b, ctype: contentType(e.Name()), version: hex.EncodeToString(sum[:6])}
		}
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// URL is the versioned address of the asset name.
func (a *Assets) URL(name string) string { return a.prefix + name + "?v=" + a.byName[name].version }

// ServeHTTP serves the asset named by the path value "name".
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byName[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(f.body)
}
