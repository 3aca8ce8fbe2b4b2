// Package i18n holds the translations of the server-rendered pages: one
// JSON file per language (i18n/<code>.json in the page package's embedded
// files), English as the fallback for any missing key, so adding a
// language is adding a file. It also picks a request's language.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
)

// Locale is one language's strings.
type Locale struct {
	Code     string
	Name     string // the language's own name, e.g. "Deutsch"
	m        map[string]string
	fallback *Locale
}

// T returns the string for key, formatted with args when given; a key no
// file has is returned as it is, so a gap shows instead of failing.
func (l *Locale) T(key string, args ...any) string {
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
func (l *Locale) Has(key string) bool {
	if _, ok := l.m[key]; ok {
		return true
	}
	if l.fallback != nil {
		_, ok := l.fallback.m[key]
		return ok
	}
	return false
}

// Set is every language a page package offers.
type Set struct {
	byCode map[string]*Locale
	codes  []string // "en" first, then sorted
}

// Load reads i18n/*.json from fsys; i18n/en.json must be there.
func Load(fsys fs.FS) (*Set, error) {
	files, err := fs.Glob(fsys, "i18n/*.json")
	if err != nil {
		return nil, err
	}
	s := &Set{byCode: map[string]*Locale{}}
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
		s.byCode[code] = &Locale{Code: code, Name: m["language.name"], m: m}
		s.codes = append(s.codes, code)
	}
	en, ok := s.byCode["en"]
	if !ok {
		return nil, fmt.Errorf("translations: i18n/en.json is missing")
	}
	for _, l := range s.byCode {
		if l != en {
			l.fallback = en
		}
	}
	slices.SortFunc(s.codes, func(a, b string) int {
		switch {
		case a == "en":
			return -1
		case b == "en":
			return 1
		}
		return strings.Compare(a, b)
	})
	return s, nil
}

// Get returns the language with code, if there is a file for it.
func (s *Set) Get(code string) (*Locale, bool) {
	l, ok := s.byCode[code]
	return l, ok
}

// Codes lists the languages, English first.
func (s *Set) Codes() []string { return s.codes }

// Pick returns the first of the candidates there is a file for (a region
// such as "de-AT" falls back to "de"), else English.
func (s *Set) Pick(candidates ...string) *Locale {
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimSpace(c))
		if l, ok := s.byCode[c]; ok {
			return l
		}
		if base, _, ok := strings.Cut(c, "-"); ok {
			if l, ok := s.byCode[base]; ok {
				return l
			}
		}
	}
	return s.byCode["en"]
}

// AcceptLanguage lists the languages of the request's Accept-Language
// header, in the order given.
func AcceptLanguage(r *http.Request) []string {
	var out []string
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		if tag, _, _ := strings.Cut(part, ";"); strings.TrimSpace(tag) != "" {
			out = append(out, tag)
		}
	}
	return out
}
