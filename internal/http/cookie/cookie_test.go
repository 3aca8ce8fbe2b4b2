package cookie

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"likeness/internal/signed"
)

func TestSessionRoundTripsUntilItExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	jar := &Jar{Path: "/me", Signer: signed.New(bytes.Repeat([]byte{1}, 32)), Now: func() time.Time { return now }}
	w := httptest.NewRecorder()
	started := jar.Start(w, httptest.NewRequest("GET", "/me", nil), "s", 30*time.Minute, "sub_1", "admin")
	c := w.Result().Cookies()[0]
	if !c.HttpOnly || c.Path != "/me" || c.MaxAge != 1800 {
		t.Fatalf("cookie attributes: %+v", c)
	}
	r := httptest.NewRequest("GET", "/me", nil)
	r.AddCookie(c)
	s, ok := jar.Read(r, "s", 2)
	if !ok || s.Fields[0] != "sub_1" || s.Fields[1] != "admin" || s.Nonce != started.Nonce || s.Payload != started.Payload {
		t.Fatalf("read back: %+v %v, started %+v", s, ok, started)
	}
	if _, ok := jar.Read(r, "s", 1); ok {
		t.Fatal("a session with other fields passed")
	}
	other := &Jar{Path: "/me", Signer: signed.New(bytes.Repeat([]byte{2}, 32)), Now: jar.Now}
	if _, ok := other.Read(r, "s", 2); ok {
		t.Fatal("a session under another key passed")
	}
	now = now.Add(30 * time.Minute)
	if _, ok := jar.Read(r, "s", 2); ok {
		t.Fatal("an expired session passed")
	}
}
