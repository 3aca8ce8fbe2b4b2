package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"

	"likeness/policy"
)

// locale is one language's strings, loaded from i18n/<code>.json. Adding a
// language is adding a file; missing keys fall back to English.
type locale struct {
	Code     string
	Name     string // the language's own name, e.g. "Deutsch"
	m        map[string]string
	fallback *locale
}

// T returns the string for key, formatted with args when given.
func (l *locale) T(key string, args ...any) string {
	s, ok := l.m[key]
	if !ok && l.fallback != nil {
		s, ok = l.fallback.m[key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Category names a data category in this language.
func (l *locale) Category(c string) string { return policy.CategoryLabel(c, l.Code) }

// Country names a country ("Germany (DE)"), or gives the code.
func (l *locale) Country(code string) string {
	if s, ok := l.m["country."+code]; ok {
		return s + " (" + code + ")"
	}
	return code
}

type translations struct {
	byCode map[string]*locale
	codes  []string // sorted, "en" first
}

func loadTranslations(fsys fs.FS) (*translations, error) {
	files, err := fs.Glob(fsys, "i18n/*.json")
	if err != nil {
		return nil, err
	}
	t := &translations{byCode: map[string]*locale{}}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("translations %s: %w", f, err)
		}
		code := strings.TrimSuffix(path.Base(f), ".json")
		t.byCode[code] = &locale{Code: code, Name: m["language.name"], m: m}
		t.codes = append(t.codes, code)
	}
	en, ok := t.byCode["en"]
	if !ok {
		return nil, fmt.Errorf("translations: i18n/en.json is missing")
	}
	for _, l := range t.byCode {
		if l != en {
			l.fallback = en
		}
	}
	slices.SortFunc(t.codes, func(a, b string) int {
		if a == "en" {
			return -1
		}
		if b == "en" {
			return 1
		}
		return strings.Compare(a, b)
	})
	return t, nil
}

// pick returns the first of the candidates we have a file for, else English.
func (t *translations) pick(candidates ...string) *locale {
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimSpace(c))
		if l, ok := t.byCode[c]; ok {
			return l
		}
		if base, _, ok := strings.Cut(c, "-"); ok {
			if l, ok := t.byCode[base]; ok {
				return l
			}
		}
	}
	return t.byCode["en"]
}

const langCookie = "likeness_lang"

// localeFor chooses the page language: ?lang=, then the language cookie,
// then the subject's locale, then the browser's Accept-Language.
func (h *Handler) localeFor(w http.ResponseWriter, r *http.Request, subjectLocale string) *locale {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := h.tr.byCode[q]; ok {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l.Code, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
			return l
		}
	}
	if r.PostForm != nil { // only a parsed form; never parse a multipart body here
		if l, ok := h.tr.byCode[r.PostForm.Get("lang")]; ok {
			return l
		}
	}
	var cands []string
	if c, err := r.Cookie(langCookie); err == nil {
		cands = append(cands, c.Value)
	}
	cands = append(cands, subjectLocale)
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(part, ";")
		cands = append(cands, tag)
	}
	return h.tr.pick(cands...)
}

// langOption is one entry of the language switcher.
type langOption struct {
	Code, Name, URL string
	Current         bool
}

func (h *Handler) langOptions(r *http.Request, cur *locale) []langOption {
	out := make([]langOption, 0, len(h.tr.codes))
	for _, code := range h.tr.codes {
		q := r.URL.Query()
		q.Set("lang", code)
		q.Del("msg")
		out = append(out, langOption{Code: code, Name: h.tr.byCode[code].Name, URL: r.URL.Path + "?" + q.Encode(), Current: code == cur.Code})
	}
	return out
}
