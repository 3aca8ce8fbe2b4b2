package signed

import (
	"bytes"
	"testing"
)

func TestSealedValuesOpenOnlyForTheirPurposeAndKey(t *testing.T) {
	s := New(bytes.Repeat([]byte{1}, 32))
	v := s.Seal("session", "v1|sub_x|123")
	if p, ok := s.Open("session", v); !ok || p != "v1|sub_x|123" {
		t.Fatalf("Open = %q, %v", p, ok)
	}
	if _, ok := s.Open("other", v); ok {
		t.Fatal("a value sealed for one purpose opened for another")
	}
	if _, ok := New(bytes.Repeat([]byte{2}, 32)).Open("session", v); ok {
		t.Fatal("a value opened under another key")
	}
	forged := v[:len(v)-2] + "AA"
	if _, ok := s.Open("session", forged); ok {
		t.Fatal("a forged MAC opened")
	}
	if _, ok := s.Open("session", "no-dot"); ok {
		t.Fatal("garbage opened")
	}
}

func TestTokensBindToTheirScope(t *testing.T) {
	s := New(bytes.Repeat([]byte{1}, 32))
	tok := s.Token("portal:n1")
	if !s.ValidToken(tok, "portal:n1") || s.ValidToken(tok, "portal:n2") || s.ValidToken("", "portal:n1") || s.ValidToken(tok, "") {
		t.Fatal("token checks are wrong")
	}
}
