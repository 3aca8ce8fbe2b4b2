package web

import (
	"net/http"

	"likeness/internal/http/page"
	"likeness/internal/i18n"
	"likeness/policy"
)

// locale is a language of the pages: its strings (see package i18n),
// plus the policy's data categories and country names in that language.
type locale struct{ *i18n.Locale }

// Category names a data category in this language.
func (l *locale) Category(c string) string { return policy.CategoryLabel(c, l.Code) }

// Country names a country ("Germany (DE)"), or gives the code.
func (l *locale) Country(code string) string {
	if key := "country." + code; l.Has(key) {
		return l.T(key) + " (" + code + ")"
	}
	return code
}

const langCookie = "likeness_lang"

// localeFor chooses the page language: ?lang=, then the language cookie,
// then the subject's locale, then the browser's Accept-Language.
func (h *Handler) localeFor(w http.ResponseWriter, r *http.Request, subjectLocale string) *locale {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := h.Tr.Get(q); ok {
			c := h.Jar.Make(r, langCookie, l.Code, 365*24*3600)
			c.Path, c.SameSite = "/", http.SameSiteLaxMode // every page, and links followed from elsewhere
			http.SetCookie(w, c)
			return &locale{l}
		}
	}
	if r.PostForm != nil { // only a parsed form; never parse a multipart body here
		if l, ok := h.Tr.Get(r.PostForm.Get("lang")); ok {
			return &locale{l}
		}
	}
	var cands []string
	if c, err := r.Cookie(langCookie); err == nil {
		cands = append(cands, c.Value)
	}
	cands = append(cands, subjectLocale)
	cands = append(cands, i18n.AcceptLanguage(r)...)
	return &locale{h.Tr.Pick(cands...)}
}

func (h *Handler) langOptions(r *http.Request, cur *locale) []page.Lang {
	out := make([]page.Lang, 0, len(h.Tr.Codes()))
	for _, code := range h.Tr.Codes() {
		q := r.URL.Query()
		q.Set("lang", code)
		q.Del("msg")
		out = append(out, page.Lang{Code: code, Name: h.languageName(code), URL: r.URL.Path + "?" + q.Encode(), Current: code == cur.Code})
	}
	return out
}

func (h *Handler) languageName(code string) string {
	l, _ := h.Tr.Get(code)
	return l.Name
}
