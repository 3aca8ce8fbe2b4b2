package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/console"
	"likeness/internal/dataset"
	pages "likeness/internal/http/page"
	"likeness/internal/httpapi"
	"likeness/internal/incidents"
	"likeness/internal/likenesstest"
	"likeness/internal/records"
	"likeness/internal/vault"
)

type fixture struct {
	t   *testing.T
	d   *likenesstest.Deployment
	ds  *dataset.Service
	srv *httptest.Server
	// secrets of one key per role
	keys map[likeness.Role]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := likenesstest.New(t, likenesstest.Options{})
	ds := d.Datasets
	key := make([]byte, 32)
	rand.Read(key)
	h := console.New(console.Config{Subjects: d.Subjects, Consents: d.Consent, Index: d.Engine, Policy: d.Notices.Policy, Vault: d.Vault, Datasets: ds, Store: d.Store, Key: key,
		Records: records.New(d.Notices.Policy, d.Store, d.Clock.Now), Options: pages.Options{Now: d.Clock.Now}})
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, d: d, ds: ds, srv: srv, keys: map[likeness.Role]string{}}
	for _, r := range []likeness.Role{likeness.RoleAdmin, likeness.RoleAuditor, likeness.RoleCollector, likeness.RolePipeline} {
		_, secret, err := httpapi.CreateAPIKey(context.Background(), d.Store, "test-"+string(r), r, d.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = secret
	}
	return f
}

// client is one operator's browser on the console.
type client struct {
	*likenesstest.Visitor
	f *fixture
}

func (f *fixture) client() *client {
	return &client{Visitor: likenesstest.NewVisitor(f.t, f.srv.URL, true), f: f}
}

type page = likenesstest.Page

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token on %s", p.URL)
	}
	return m[1]
}

// login signs in with secret and returns the page it lands on.
func (c *client) login(secret string) page {
	c.f.t.Helper()
	form := c.Get("/console/login")
	return c.Post("/console/login", url.Values{"csrf": {csrfOf(c.f.t, form)}, "key": {secret}})
}

func (c *client) signedIn(role likeness.Role) *client {
	c.f.t.Helper()
	p := c.login(c.f.keys[role])
	if p.Status != 200 || p.URL.Path != "/console" {
		c.f.t.Fatalf("login as %s: %d at %s\n%s", role, p.Status, p.URL, p.Body)
	}
	return c
}

// search looks a person up by external id, as the subjects form does.
func (c *client) search(ext string) page {
	c.f.t.Helper()
	return c.Post("/console/subjects", url.Values{"csrf": {csrfOf(c.f.t, c.Get("/console/subjects"))}, "external_id": {ext}})
}

func (c *client) sessionCookie() *http.Cookie {
	u, _ := url.Parse(c.f.srv.URL + "/console")
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == "likeness_console" {
			return ck
		}
	}
	return nil
}

func contains(t *testing.T, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Errorf("%s: page does not contain %q", p.URL.Path, w)
		}
	}
}

func TestAdminSignsInAndSeesOverview(t *testing.T) {
	f := newFixture(t)
	sub := f.d.Subject(t, "user-1", "EU-DE")
	f.d.Grant(t, sub, "ai-training")

	c := f.client()
	p := c.login(f.keys[likeness.RoleAdmin])
	if p.Status != 200 || p.URL.Path != "/console" {
		t.Fatalf("login: %d at %s", p.Status, p.URL)
	}
	contains(t, p, "Overview", "Subjects in the decision index", "Ledger events", "Dead-letter deliveries", "<dd class=\"value\">1</dd>")
	if got := p.Header.Get("Content-Security-Policy"); got != "default-src 'self'; frame-ancestors 'none'; form-action 'self'" {
		t.Errorf("CSP = %q", got)
	}
	if got := p.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", got)
	}
	if strings.Contains(p.Body, "<script") || strings.Contains(p.Body, "style=") || strings.Contains(p.Body, "<style") {
		t.Error("page has inline script or style")
	}
	if strings.Contains(p.Body, f.keys[likeness.RoleAdmin]) {
		t.Error("page shows the API key")
	}

	// The cookie's attributes, seen on the raw sign-in response.
	raw := f.client()
	form := raw.Get("/console/login")
	raw.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp2 := raw.Post("/console/login", url.Values{"csrf": {csrfOf(t, form)}, "key": {f.keys[likeness.RoleAdmin]}})
	if resp2.Status != http.StatusSeeOther {
		t.Fatalf("sign-in answered %d", resp2.Status)
	}
	var found bool
	for _, sc := range resp2.Header.Values("Set-Cookie") {
		if !strings.HasPrefix(sc, "likeness_console=") {
			continue
		}
		found = true
		for _, attr := range []string{"Path=/console", "HttpOnly", "SameSite=Strict", "Max-Age=1800"} {
			if !strings.Contains(sc, attr) {
				t.Errorf("session cookie %q lacks %s", sc, attr)
			}
		}
		if strings.Contains(sc, f.keys[likeness.RoleAdmin]) {
			t.Error("session cookie carries the key")
		}
	}
	if !found {
		t.Fatal("no session cookie set")
	}

	// The stylesheet is served from the console itself.
	css := c.Get("/console/assets/console.css")
	if css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", css.Status, css.Header.Get("Content-Type"))
	}
}

func TestOnlyAdminAndAuditorKeysSignIn(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		secret string
		status int
	}{
		{"pipeline", f.keys[likeness.RolePipeline], http.StatusForbidden},
		{"collector", f.keys[likeness.RoleCollector], http.StatusForbidden},
		{"unknown", "lk_not_a_key", http.StatusUnauthorized},
		{"empty", "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.client()
			p := c.login(tc.secret)
			if p.Status != tc.status || p.URL.Path != "/console/login" {
				t.Fatalf("got %d at %s, want %d", p.Status, p.URL.Path, tc.status)
			}
			if c.sessionCookie() != nil {
				t.Fatal("a session cookie was set")
			}
			if p := c.Get("/console"); p.URL.Path != "/console/login" {
				t.Fatalf("overview reachable: %s", p.URL)
			}
		})
	}
	c := f.client()
	if p := c.login(f.keys[likeness.RoleAuditor]); p.URL.Path != "/console" {
		t.Fatalf("auditor cannot sign in: %d at %s", p.Status, p.URL)
	}
}

func TestForgedCookieIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client().signedIn(likeness.RoleAuditor)
	ck := c.sessionCookie()
	p64, mac, _ := strings.Cut(ck.Value, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(p64)
	// Promote the session to admin, keeping the signature.
	forged := base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("|auditor|"), []byte("|admin|"), 1)) + "." + mac
	for name, val := range map[string]string{"edited": forged, "garbage": "x.y", "unsigned": p64} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+"/console", nil)
			req.AddCookie(&http.Cookie{Name: "likeness_console", Value: val})
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
				t.Fatalf("forged cookie: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

func TestSessionExpiresAfterThirtyMinutes(t *testing.T) {
	f := newFixture(t)
	c := f.client().signedIn(likeness.RoleAdmin)
	f.d.Clock.Add(console.SessionTTL + time.Second)
	if p := c.Get("/console"); p.URL.Path != "/console/login" {
		t.Fatalf("expired session still opens the console: %s", p.URL)
	}
}

func TestSubjectPageShowsStatesHistoryAssetsAndAccess(t *testing.T) {
	f := newFixture(t)
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	const ext = "crm-4711@example"
	sub := f.d.Subject(t, ext, "EU-DE")
	evs := f.d.Grant(t, sub, "ai-training")
	a, err := f.d.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
		Body: bytes.NewReader(likenesstest.WAV("console", 200))})
	if err != nil {
		t.Fatal(err)
	}
	_, rc, err := f.d.Vault.Open(ctx, &vault.Access{AssetID: a.ID, Purpose: "ai-training", Recipient: "acme-ml", Country: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := f.d.Vault.Open(ctx, &vault.Access{AssetID: a.ID, Purpose: "marketing-personalization", Recipient: "acme-marketing", Country: "DE"}); err == nil {
		t.Fatal("access without consent was allowed")
	}

	c := f.client().signedIn(likeness.RoleAuditor)
	// The organization's user id goes in a form body, never a URL.
	if p := c.Get("/console/subjects?external_id=" + url.QueryEscape(ext)); p.Status != 200 || strings.Contains(p.Body, sub) {
		t.Errorf("a lookup by an external id in the URL: %d, showing the person: %t", p.Status, strings.Contains(p.Body, sub))
	}
	p := c.search(ext)
	if p.Status != 200 {
		t.Fatalf("lookup: %d\n%s", p.Status, p.Body)
	}
	contains(t, p, sub, "Train our portrait and voice AI models", `badge-active`, "grant", "checkbox", evs[0].ID,
		a.ID, "voice", "key_pipe", "acme-ml", "allowed", "denied", "Access log", "Live assets", "Consent history")
	if n := strings.Count(p.Body, ext); n != 1 {
		t.Errorf("external id appears %d times, want once (the search box)", n)
	}
	if !strings.Contains(p.Body, `value="`+ext+`"`) {
		t.Error("the search box does not keep what was typed")
	}
	for _, l := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(p.Body, -1) {
		if strings.Contains(l[1], "4711") {
			t.Errorf("a link carries the external id: %s", l[1])
		}
	}

	// Linked from other pages by the pseudonymous id.
	if p := c.Get("/console/subjects?id=" + sub); p.Status != 200 || !strings.Contains(p.Body, a.ID) {
		t.Errorf("lookup by id: %d", p.Status)
	}
	if p := c.search("nobody"); p.Status != 404 || !strings.Contains(p.Body, "No subject has this id") {
		t.Errorf("unknown subject: %d", p.Status)
	}
}

func TestErasedSubjectShowsOnlyErased(t *testing.T) {
	f := newFixture(t)
	sub := f.d.Subject(t, "gone-1", "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	if _, err := f.d.Erasure.EraseSubject(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	c := f.client().signedIn(likeness.RoleAdmin)
	p := c.Get("/console/subjects?id=" + sub)
	if p.Status != http.StatusGone {
		t.Fatalf("lookup by id: %d, want 410", p.Status)
	}
	contains(t, p, "badge-erased", "was erased")
	if strings.Contains(p.Body, "<table") || strings.Contains(p.Body, "<code>"+sub) {
		t.Error("an erased subject's page shows more than that it was erased")
	}
	// Erasure unlinks the organization's user id: it finds no one.
	p = c.search("gone-1")
	if p.Status != http.StatusNotFound || strings.Contains(p.Body, sub) || strings.Contains(p.Body, "<table") {
		t.Fatalf("lookup by external id after erasure: %d", p.Status)
	}
}

func TestRenewalsListGrantPastElevenMonths(t *testing.T) {
	f := newFixture(t)
	sub := f.d.Subject(t, "renew-me", "EU-DE")
	f.d.Grant(t, sub, "ai-training", "voice-transcription")
	f.d.Clock.Set(likenesstest.Start.AddDate(0, 11, 5))
	c := f.client().signedIn(likeness.RoleAuditor)
	p := c.Get("/console/renewals")
	if p.Status != 200 {
		t.Fatalf("renewals: %d", p.Status)
	}
	contains(t, p, sub, "Train our portrait and voice AI models", `value="30d"`)
	if strings.Contains(p.Body, "Transcribe your calls") {
		t.Error("a purpose without renew_every is listed")
	}
	if p := c.Get("/console"); !strings.Contains(p.Body, `<a href="/console/renewals">1</a>`) {
		t.Error("the overview does not count the consent due")
	}
	if p := c.Get("/console/renewals?within=1d"); strings.Contains(p.Body, sub) {
		t.Error("a one-day window lists a consent due in 25 days")
	}
	// The API's windows are the console's: months and years too.
	for _, w := range []string{"12mo", "1y", "30", "30d"} {
		if p := c.Get("/console/renewals?within=" + w); p.Status != 200 || !strings.Contains(p.Body, sub) {
			t.Errorf("window %s: %d, the renewal shown: %t", w, p.Status, strings.Contains(p.Body, sub))
		}
	}
	if p := c.Get("/console/renewals?within=soon"); p.Status != 400 {
		t.Errorf("bad window: %d", p.Status)
	}
}

// deadLetter grants consent (which enqueues consent.granted) and gives up on
// its delivery to sink.
func deadLetter(t *testing.T, f *fixture, sink string) string {
	t.Helper()
	ctx := context.Background()
	sub := f.d.Subject(t, "dl-"+sink, "EU-DE")
	f.d.Grant(t, sub, "ai-training")
	ds, err := f.d.Store.ClaimDeliveries(ctx, sink, f.d.Clock.Now(), 10)
	if err != nil || len(ds) == 0 {
		t.Fatalf("claim: %v (%d)", err, len(ds))
	}
	for _, d := range ds {
		if err := f.d.Store.MarkFailed(ctx, sink, d.Message.ID, 8, f.d.Clock.Now(), "webhook answered 500", true); err != nil {
			t.Fatal(err)
		}
	}
	return ds[0].Message.ID
}

func TestOnlyAdminRetriesDeadLetters(t *testing.T) {
	f := newFixture(t)
	msg := deadLetter(t, f, "webhook")

	aud := f.client().signedIn(likeness.RoleAuditor)
	p := aud.Get("/console/events")
	contains(t, p, msg, "webhook", "webhook answered 500", "Only admins can retry")
	if strings.Contains(p.Body, "/console/events/retry") {
		t.Error("an auditor sees a retry button")
	}
	tok := csrfOf(t, p) // the sign-out form's token: a valid one for this session
	if p := aud.Post("/console/events/retry", url.Values{"csrf": {tok}, "sink": {"webhook"}, "msg_id": {msg}}); p.Status != http.StatusForbidden {
		t.Fatalf("auditor retry: %d, want 403", p.Status)
	}
	if dead, _ := f.d.Store.DeadDeliveries(context.Background(), "", 100); len(dead) != 1 {
		t.Fatalf("auditor's retry changed the outbox: %d dead", len(dead))
	}

	adm := f.client().signedIn(likeness.RoleAdmin)
	p = adm.Get("/console/events")
	contains(t, p, `action="/console/events/retry"`, msg)
	p = adm.Post("/console/events/retry", url.Values{"csrf": {csrfOf(t, p)}, "sink": {"webhook"}, "msg_id": {msg}})
	if p.Status != 200 || p.URL.Path != "/console/events" {
		t.Fatalf("admin retry: %d at %s", p.Status, p.URL)
	}
	contains(t, p, "queued again", "No dead-letter deliveries")
	if dead, _ := f.d.Store.DeadDeliveries(context.Background(), "", 100); len(dead) != 0 {
		t.Fatalf("%d dead after retry", len(dead))
	}
}

func TestPostWithoutCSRFIsForbidden(t *testing.T) {
	f := newFixture(t)
	msg := deadLetter(t, f, "nats")
	adm := f.client().signedIn(likeness.RoleAdmin)
	for _, tok := range []string{"", "forged"} {
		if p := adm.Post("/console/events/retry", url.Values{"csrf": {tok}, "sink": {"nats"}, "msg_id": {msg}}); p.Status != http.StatusForbidden {
			t.Errorf("retry with csrf %q: %d", tok, p.Status)
		}
		if p := adm.Post("/console/logout", url.Values{"csrf": {tok}}); p.Status != http.StatusForbidden {
			t.Errorf("logout with csrf %q: %d", tok, p.Status)
		}
	}
	// Another session's token is no good either.
	other := f.client().signedIn(likeness.RoleAdmin)
	tok := csrfOf(t, other.Get("/console/events"))
	if p := adm.Post("/console/events/retry", url.Values{"csrf": {tok}, "sink": {"nats"}, "msg_id": {msg}}); p.Status != http.StatusForbidden {
		t.Errorf("retry with another session's token: %d", p.Status)
	}
	if dead, _ := f.d.Store.DeadDeliveries(context.Background(), "", 100); len(dead) != 1 {
		t.Fatal("a refused POST changed the outbox")
	}
	// The sign-in form needs its token too.
	c := f.client()
	if p := c.Post("/console/login", url.Values{"key": {f.keys[likeness.RoleAdmin]}}); p.Status != http.StatusForbidden {
		t.Errorf("sign-in without token: %d", p.Status)
	}
	// Signing out with the token ends the session.
	p := adm.Post("/console/logout", url.Values{"csrf": {csrfOf(t, adm.Get("/console"))}})
	if p.URL.Path != "/console/login" {
		t.Fatalf("logout landed on %s", p.URL)
	}
	if p := adm.Get("/console"); p.URL.Path != "/console/login" {
		t.Fatal("still signed in after signing out")
	}
}

func TestSignInIsRateLimited(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	var last int
	for range 12 {
		last = c.Post("/console/login", url.Values{"key": {"guess"}}).Status
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("12th attempt: %d, want 429", last)
	}
}

func TestGermanPages(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	p := c.Get("/console/login?lang=de")
	contains(t, p, `<html lang="de">`, "Anmelden", "API-Schlüssel")
	c.signedIn(likeness.RoleAdmin)
	p = c.Get("/console") // the choice is remembered
	contains(t, p, `<html lang="de">`, "Übersicht", "Abmelden", `hreflang="en"`)
	if p.Header.Get("Content-Language") != "de" {
		t.Errorf("Content-Language = %q", p.Header.Get("Content-Language"))
	}
	p = c.Get("/console/events?lang=en")
	contains(t, p, `<html lang="en">`, "Dead letters")
}

func TestDatasetsAndAudit(t *testing.T) {
	f := newFixture(t)
	ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_pipe", Role: likeness.RolePipeline})
	var subs []string
	for _, ext := range []string{"ds-1", "ds-2"} {
		sub := f.d.Subject(t, ext, "EU-DE")
		f.d.Grant(t, sub, "ai-training")
		if _, err := f.d.Vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
			Body: bytes.NewReader(likenesstest.WAV(ext, 400))}); err != nil {
			t.Fatal(err)
		}
		if err := f.ds.PutAttributes(ctx, sub, "ai-training", map[string]string{"gender": "female"}); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	v, err := f.ds.Build(ctx, &dataset.BuildRequest{Purpose: "ai-training", Categories: []string{"voice"}, Recipient: "acme-ml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ds.RegisterModel(ctx, "voice-v1", v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Consent.Withdraw(ctx, &likeness.WithdrawRequest{SubjectID: subs[0], Purpose: "ai-training"}); err != nil {
		t.Fatal(err)
	}

	c := f.client().signedIn(likeness.RoleAuditor)
	p := c.Get("/console/datasets")
	contains(t, p, v.ID, "badge-tainted", "a member withdrew consent", "voice-v1")
	p = c.Get("/console/datasets/" + v.ID + "/audit?target=" + url.QueryEscape(`{"gender":{"female":0.5,"male":0.5}}`))
	if p.Status != 200 {
		t.Fatalf("audit: %d\n%s", p.Status, p.Body)
	}
	contains(t, p, "Gender", "suppressed", "under-represented")
	for _, bad := range []string{"nope", `{"gender":{"female":0.5,"female":0.9}}`, `{"gender":{"female":0.5},"Gender":{"male":1}}`} {
		if p := c.Get("/console/datasets/" + v.ID + "/audit?target=" + url.QueryEscape(bad)); p.Status != 400 {
			t.Errorf("bad target %s: %d", bad, p.Status)
		}
	}
	if p := c.Get("/console/datasets/ds_nope/audit"); p.Status != 404 {
		t.Errorf("unknown dataset: %d", p.Status)
	}
	if p := c.Get("/console"); !strings.Contains(p.Body, "badge-tainted") {
		t.Error("overview does not count datasets by status")
	}
}

func TestDeadlinesPageFlagsOverdueRequestsAndBreaches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := f.d.Subject(t, "asks", "EU-DE")
	rs := f.d.Requests(t)
	req, err := rs.Open(ctx, sub, likeness.RequestAccess, "email", "", f.d.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	is, err := incidents.New(incidents.Config{Store: f.d.Store, Policy: f.d.Notices.Policy, Now: f.d.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Open(ctx, "Laptop lost", "An unencrypted laptop was lost.", f.d.Clock.Now(), likeness.IncidentScope{Categories: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	c := f.client().signedIn(likeness.RoleAuditor)
	p := c.Get("/console/obligations")
	contains(t, p, req.ID, "Laptop lost", "in time")
	if strings.Contains(p.Body, "overdue") {
		t.Fatal("fresh obligations shown as overdue")
	}
	f.d.Clock.Add(40 * 24 * time.Hour)            // past the GDPR month and the 72 hours
	c = f.client().signedIn(likeness.RoleAuditor) // the old session has expired
	p = c.Get("/console/obligations")
	if n := strings.Count(p.Body, "badge-dead"); n != 2 {
		t.Fatalf("%d overdue badges, want 2 (the request and the breach)", n)
	}
	home := c.Get("/console")
	contains(t, home, "Requests overdue", "Breaches open")
}

func TestAuditLogPageShowsOperatorActions(t *testing.T) {
	f := newFixture(t)
	c := f.client().signedIn(likeness.RoleAuditor)
	p := c.Get("/console/audit")
	contains(t, p, "Audit log", "console: sign in", "auditor")
}
