package web

import (
	"html/template"
	"net/http"

	"likeness/internal/http/page"
	"likeness/policy"
)

// templateFuncs are the web pages' own template functions; package page
// adds date, day and asset.
var templateFuncs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"contains": func(m map[string]bool, k string) bool { return m[k] },
	// dict hands a purpose to the purpose-details partial with the page.
	"dict": func(v *view, p policy.NoticePurpose) map[string]any {
		return map[string]any{"L": v.L, "Org": v.Org, "P": p}
	},
}

// view is what every page template receives; page-specific parts are set
// by the handler that renders it.
type view struct {
	L       *locale
	Langs   []page.Lang
	Title   string
	Org     policy.Organization
	CSRF    string
	Portal  bool // signed in: show "sign out"
	Message *messageView
	Form    *consentForm
	Done    *doneView
	Home    *homeView
	Erase   *eraseView
	Reach   *reachView
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
	h.Pages.Render(w, status, name, v.L.Code, v)
}

// message renders a page that says one thing: an error or a confirmation.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, l *locale, titleKey, bodyKey string, args ...any) {
	h.render(w, r, status, "message", &view{L: l, Title: l.T(titleKey), Message: &messageView{Title: l.T(titleKey), Body: l.T(bodyKey, args...)}})
}

// messageReach is message for a link that no longer works: it offers a
// new one by e-mail when people can ask for one (the body says how).
func (h *Handler) messageReach(w http.ResponseWriter, r *http.Request, status int, l *locale, titleKey, bodyKey string) {
	if h.cfg.Reach != nil {
		bodyKey += ".reach"
	}
	h.render(w, r, status, "message", h.withReach(l, &view{L: l, Title: l.T(titleKey),
		Message: &messageView{Title: l.T(titleKey), Body: l.T(bodyKey)}}))
}
