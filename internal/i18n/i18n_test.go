package i18n

import (
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func testSet(t *testing.T) *Set {
	t.Helper()
	s, err := Load(fstest.MapFS{
		"i18n/en.json": {Data: []byte(`{"language.name":"English","hello":"Hello %s","only.en":"only English"}`)},
		"i18n/de.json": {Data: []byte(`{"language.name":"Deutsch","hello":"Hallo %s"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMissingKeysFallBackToEnglish(t *testing.T) {
	de, _ := testSet(t).Get("de")
	if got := de.T("hello", "Ada"); got != "Hallo Ada" {
		t.Fatalf("T = %q", got)
	}
	if got := de.T("only.en"); got != "only English" || !de.Has("only.en") {
		t.Fatalf("fallback: %q", got)
	}
	if got := de.T("nowhere"); got != "nowhere" || de.Has("nowhere") {
		t.Fatalf("unknown key: %q", got)
	}
}

func TestPickPrefersTheFirstLanguageWeHave(t *testing.T) {
	s := testSet(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "fr-CH, de-AT;q=0.8, en;q=0.5")
	if got := s.Pick(AcceptLanguage(r)...); got.Code != "de" {
		t.Fatalf("Pick = %s, want de (from de-AT)", got.Code)
	}
	if got := s.Pick("xx"); got.Code != "en" {
		t.Fatalf("Pick of nothing known = %s, want en", got.Code)
	}
	if codes := s.Codes(); len(codes) != 2 || codes[0] != "en" {
		t.Fatalf("Codes = %v", codes)
	}
}

func TestLoadNeedsEnglish(t *testing.T) {
	if _, err := Load(fstest.MapFS{"i18n/de.json": {Data: []byte(`{}`)}}); err == nil {
		t.Fatal("a set without en.json loaded")
	}
}
