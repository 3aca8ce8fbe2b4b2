package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/storetest"
)

// onEveryDatabase runs fn against SQLite and, when configured, PostgreSQL.
func onEveryDatabase(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnvOn(t, "")) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnvOn(t, storetest.Postgres(t))) })
}

// signInCookie opens a portal session for sub and returns the browser, its
// cookie and the link path it used.
func (e *env) signInCookie(sub string) (*browser, *http.Cookie, string) {
	e.t.Helper()
	path := e.portalLink(sub)
	b := e.browser()
	p := b.Get(path)
	if p.Status != 200 {
		e.t.Fatalf("sign-in: %d", p.Status)
	}
	return b, sessionCookie(e.t, p), path
}

// replay sends a request carrying only the copied cookie c.
func (e *env) replay(method, path string, c *http.Cookie, form url.Values) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(c)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestSignedOutSessionOpensNothing(t *testing.T) {
	onEveryDatabase(t, func(t *testing.T, e *env) {
		sub := e.subject("signout", "EU-DE", "en")
		e.grant(sub, "ai-training")
		before := len(e.events(sub))
		b, old, _ := e.signInCookie(sub)
		home := b.Get("/me")
		logout := hidden(t, home, "/me/logout")
		withdraw := url.Values{"csrf": {logout.Get("csrf")}, "purpose": {"ai-training"}}
		if p := b.Post("/me/logout", logout); p.Status != 200 {
			t.Fatalf("logout: %d", p.Status)
		}
		for _, c := range []struct {
			method, path string
			form         url.Values
		}{{"GET", "/me", nil}, {"GET", "/me/export", nil}, {"POST", "/me/withdraw", withdraw}} {
			if got := e.replay(c.method, c.path, old, c.form); got != http.StatusUnauthorized {
				t.Errorf("%s %s with the signed-out cookie: %d, want 401", c.method, c.path, got)
			}
		}
		if len(e.events(sub)) != before {
			t.Fatal("the signed-out cookie recorded a withdrawal")
		}
	})
}

func TestErasureEndsEveryPortalSessionOfThePerson(t *testing.T) {
	onEveryDatabase(t, func(t *testing.T, e *env) {
		sub := e.subject("erased", "EU-DE", "en")
		_, first, _ := e.signInCookie(sub)
		_, second, _ := e.signInCookie(sub)
		if got := e.replay("GET", "/me", first, nil); got != 200 {
			t.Fatalf("/me before erasure: %d", got)
		}
		admin := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_admin", Role: likeness.RoleAdmin})
		if _, err := e.eraser.EraseSubject(admin, sub); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*http.Cookie{first, second} {
			for _, path := range []string{"/me", "/me/export"} {
				if got := e.replay("GET", path, c, nil); got != http.StatusUnauthorized {
					t.Errorf("GET %s in a session of an erased person: %d, want 401", path, got)
				}
			}
		}
	})
}

func TestSessionAccessIsLoggedWithHowItWasOpened(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("logged", "EU-DE", "en")
	e.grant(sub, "ai-training")
	e.upload(sub, "ai-training", "image")
	b, _, path := e.signInCookie(sub)
	if p := b.Get("/me/export"); p.Status != 200 {
		t.Fatalf("export: %d", p.Status)
	}
	entries, err := e.store.SubjectAccessLog(context.Background(), sub, 100)
	if err != nil {
		t.Fatal(err)
	}
	link := linkID(path)
	var visits, exports int
	for _, en := range entries {
		if strings.Contains(en.KeyID+strings.Join(en.Reasons, " "), link) {
			t.Fatal("the access log holds the raw link secret")
		}
		switch {
		case en.Action == "portal GET /me/export":
			visits++
			if en.Role != likeness.RolePerson || !strings.HasPrefix(en.KeyID, "ps_") ||
				len(en.Reasons) != 1 || en.Reasons[0] != "opened_by portal_link:"+likeness.LinkRef(link) {
				t.Errorf("visit entry: %+v", en)
			}
		case en.Action == "export":
			exports++
			if en.Role != likeness.RolePerson || !strings.HasPrefix(en.KeyID, "ps_") {
				t.Errorf("export entry without the session: %+v", en)
			}
		}
	}
	if visits != 1 || exports != 1 {
		t.Fatalf("%d visits and %d exports logged, want 1 and 1: %+v", visits, exports, entries)
	}
}

func TestLinksAreBuiltOnlyForAllowedHosts(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("host", "EU-DE", "en")
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/subjects/"+sub+"/portal-links", nil)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+e.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("link for Host evil.example: %d, want 400", res.StatusCode)
	}
	var n int
	if err := e.store.SQL().QueryRow(`SELECT COUNT(*) FROM links`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("links stored: %d, %v", n, err)
	}
}
