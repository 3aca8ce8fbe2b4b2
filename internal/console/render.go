package console

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"likeness/internal/http/page"
)

// templateFuncs are the console's own template functions; package page
// adds date, day and asset.
var templateFuncs = template.FuncMap{
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"mul100": func(f float64) float64 { return f * 100 },
	"deref":  func(n *int) int { return *n },
	// pair hands a sub-template the page's view and one value of its own.
	"pair": func(v *view, x any) pairView { return pairView{V: v, X: x} },
	"pct": func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f*100, 'f', 1, 64) + " %"
	},
}

// view is what every page template receives; Data is the page's own part.
type view struct {
	L       *locale
	Langs   []page.Lang
	Title   string // a translation key
	Nav     string // the section shown, for aria-current
	Org     string
	Session *session
	CSRF    string
	Data    any
}

// pairView is what a sub-template called through pair receives.
type pairView struct {
	V *view
	X any
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
		v.CSRF = h.csrfToken(s.csrfScope())
	}
	h.Pages.Render(w, status, name, v.L.Code, v)
}

// message renders a page that says one thing.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, s *session, status int, titleKey, bodyKey string) {
	h.render(w, r, s, status, "message", &view{Title: titleKey, Data: &messageView{Title: titleKey, Body: bodyKey}})
}
