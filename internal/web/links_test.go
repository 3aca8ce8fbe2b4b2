package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/web"
)

func TestExpiredLinkIsGoneInThePersonsLanguage(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "de")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := hidden(t, b.Get(path), "")
	e.clock.Add(31 * time.Minute)
	p := b.Get(path)
	if p.Status != http.StatusGone || !strings.Contains(p.Body, "Dieser Link ist abgelaufen") || !strings.Contains(p.Body, `lang="de"`) {
		t.Fatalf("expired link: %d %s", p.Status, p.Body)
	}
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	if p := b.Post(path, form); p.Status != http.StatusGone {
		t.Fatalf("posting to an expired link: %d", p.Status)
	}
	portal := e.portalLink(sub)
	e.clock.Add(16 * time.Minute)
	if p := b.Get(portal); p.Status != http.StatusGone {
		t.Fatalf("expired portal link: %d", p.Status)
	}
	if e.ledgerSize() != 0 {
		t.Fatal("an expired link recorded something")
	}
	if p := b.Get("/consent/lnk_doesnotexist"); p.Status != http.StatusNotFound {
		t.Fatalf("unknown link: %d", p.Status)
	}
}

func TestLinkAPIValidatesAndStoresOnlyAHash(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	for name, body := range map[string]map[string]any{
		"unknown purpose": {"subject_id": sub, "purposes": []string{"nope"}},
		"no purposes":     {"subject_id": sub, "purposes": []string{}},
		"twice":           {"subject_id": sub, "purposes": []string{"ai-training", "ai-training"}},
		"javascript url":  {"subject_id": sub, "purposes": []string{"ai-training"}, "return_url": "javascript:alert(1)"},
		"relative url":    {"subject_id": sub, "purposes": []string{"ai-training"}, "return_url": "/after"},
		"unknown field":   {"subject_id": sub, "purposes": []string{"ai-training"}, "extra": 1},
		"unknown subject": {"subject_id": likeness.NewID("sub"), "purposes": []string{"ai-training"}},
	} {
		status, out := e.api("POST", "/v1/consent-sessions", body)
		if status < 400 || status >= 500 {
			t.Errorf("%s: %d %v, want a 4xx", name, status, out)
		}
	}
	status, out := e.api("POST", "/v1/consent-sessions", map[string]any{"subject_id": sub, "purposes": []string{"ai-training"}, "return_url": "https://app.example/done"})
	if status != 201 {
		t.Fatalf("%d %v", status, out)
	}
	exp, _ := time.Parse(time.RFC3339, out["expires_at"].(string))
	if d := exp.Sub(e.clock.Now()); d != 30*time.Minute {
		t.Errorf("consent link lives %v, want 30m", d)
	}
	id := linkID(out["url"].(string))
	status, out = e.apiAs(e.admin, "POST", "/v1/subjects/"+sub+"/portal-links", nil)
	if status != 201 {
		t.Fatalf("%d %v", status, out)
	}
	exp, _ = time.Parse(time.RFC3339, out["expires_at"].(string))
	if d := exp.Sub(e.clock.Now()); d != 15*time.Minute {
		t.Errorf("portal link lives %v, want 15m", d)
	}
	portalID := linkID(out["url"].(string))
	rows, err := e.store.SQL().Query(`SELECT id_hash, kind, subject_id, purposes, return_url FROM links`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		var a, b, c, d string
		rows.Scan(&h, &a, &b, &c, &d)
		row := string(h) + a + b + c + d
		if strings.Contains(row, id) || strings.Contains(row, portalID) {
			t.Fatal("a link id is stored in clear")
		}
	}
	if status, _ := e.apiAs(e.admin, "POST", "/v1/subjects/sub_nope/portal-links", nil); status != 404 {
		t.Errorf("portal link for an unknown subject: %d", status)
	}
}

func TestLinkEndpointsAreRateLimited(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	b := e.browser()
	for i := range 2 {
		if p := b.Get("/consent/lnk_x"); p.Status != http.StatusNotFound {
			t.Fatalf("request %d: %d", i, p.Status)
		}
	}
	p := b.Get("/me/login/lnk_x")
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many attempts") {
		t.Fatalf("third request: %d", p.Status)
	}
}
