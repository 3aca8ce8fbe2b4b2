package console

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
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

// Has reports whether key is translated (in this language or English).
func (l *locale) Has(key string) bool {
	if _, ok := l.m[key]; ok {
		return true
	}
	if l.fallback != nil {
		_, ok := l.fallback.m[key]
		return ok
	}
	return false
}

type translations struct {
	byCode map[string]*locale
	codes  []string // "en" first, then sorted
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
		switch {
		case a == "en":
			return -1
		case b == "en":
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

const langCookie = "likeness_console_lang"

// localeFor chooses the page language: ?lang= (remembered in a cookie),
// then the cookie, then the browser's Accept-Language.
func (h *Handler) localeFor(w http.ResponseWriter, r *http.Request) *locale {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := h.tr.byCode[q]; ok {
			http.SetCookie(w, h.cookie(r, langCookie, l.Code, 365*24*3600))
			return l
		}
	}
	var cands []string
	if c, err := r.Cookie(langCookie); err == nil {
		cands = append(cands, c.Value)
	}
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

// keptParams are the query parameters the language switcher carries over.
// The external id is not among them: it is echoed only in the search box.
var keptParams = []string{"within", "id", "target"}

func (h *Handler) langOptions(r *http.Request, cur *locale) []langOption {
	out := make([]langOption, 0, len(h.tr.codes))
	for _, code := range h.tr.codes {
		q := url.Values{}
		for _, k := range keptParams {
			if v := r.URL.Query().Get(k); v != "" {
				q.Set(k, v)
			}
		}
		q.Set("lang", code)
		out = append(out, langOption{Code: code, Name: h.tr.byCode[code].Name, URL: r.URL.Path + "?" + q.Encode(), Current: code == cur.Code})
	}
	return out
}
