package console

import (
	"net/http"
	"net/url"

	"likeness/internal/http/page"
	"likeness/internal/i18n"
)

// locale is a language of the console (see package i18n).
type locale = i18n.Locale

const langCookie = "likeness_console_lang"

// localeFor chooses the page language: ?lang= (remembered in a cookie),
// then the cookie, then the browser's Accept-Language.
func (h *Handler) localeFor(w http.ResponseWriter, r *http.Request) *locale {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := h.Tr.Get(q); ok {
			http.SetCookie(w, h.Jar.Make(r, langCookie, l.Code, 365*24*3600))
			return l
		}
	}
	var cands []string
	if c, err := r.Cookie(langCookie); err == nil {
		cands = append(cands, c.Value)
	}
	cands = append(cands, i18n.AcceptLanguage(r)...)
	return h.Tr.Pick(cands...)
}

// keptParams are the query parameters the language switcher carries over.
// The external id is not among them: it is echoed only in the search box.
var keptParams = []string{"within", "id", "target"}

func (h *Handler) langOptions(r *http.Request, cur *locale) []page.Lang {
	out := make([]page.Lang, 0, len(h.Tr.Codes()))
	for _, code := range h.Tr.Codes() {
		q := url.Values{}
		for _, k := range keptParams {
			if v := r.URL.Query().Get(k); v != "" {
				q.Set(k, v)
			}
		}
		q.Set("lang", code)
		out = append(out, page.Lang{Code: code, Name: h.languageName(code), URL: r.URL.Path + "?" + q.Encode(), Current: code == cur.Code})
	}
	return out
}

func (h *Handler) languageName(code string) string {
	l, _ := h.Tr.Get(code)
	return l.Name
}
