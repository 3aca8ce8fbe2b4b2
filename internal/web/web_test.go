package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
	"likeness/internal/sqlstore"
	"likeness/internal/subjects"
	"likeness/internal/vault"
	"likeness/internal/web"
	"likeness/policy"
)

// clock is a settable time shared with the server.
// env is the API and the pages on one server, wired as `likeness serve`
// wires them, over a real SQLite database.
type env struct {
	t      *testing.T
	store  *sqlstore.DB
	d      *likenesstest.Deployment
	svc    *consent.Service
	srv    *httptest.Server
	clock  *likenesstest.Clock
	token  string
	admin  string // an admin key: only admins issue portal links
	vault  *vault.Vault
	eraser web.Eraser
}

const embedOrigin = "https://app.example"

func testPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	src := append(bytes.Clone(policy.Example().Source), []byte("\nembed_origins: ["+embedOrigin+"]\n")...)
	p, err := policy.Parse("test.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(t *testing.T, opts ...func(*web.Config)) *env {
	t.Helper()
	return newEnvOn(t, "", opts...)
}

// newEnvOn is newEnv on the database dsn ("": a fresh SQLite file).
func newEnvOn(t *testing.T, dsn string, opts ...func(*web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	d := likenesstest.New(t, likenesstest.Options{Policy: testPolicy(t), DSN: dsn})
	store := d.Store
	e := &env{t: t, d: d, store: store, clock: d.Clock, svc: d.Consent, vault: d.Vault}
	key, err := d.Subjects.DeploymentKey(ctx, subjects.WebCookieKey)
	if err != nil {
		t.Fatal(err)
	}
	e.eraser = d.Erasure
	cfg := d.WebConfig()
	cfg.Key, cfg.Recordings, cfg.Eraser, cfg.Media, cfg.AccessLog = key, e.vault, e.eraser, e.vault, fakeAccess{}
	cfg.RateBurst, cfg.RateLimit = 1000, 1000
	for _, o := range opts {
		o(&cfg)
	}
	h := web.New(cfg)
	api := httpapi.New(d.APIConfig())
	for _, r := range h.APIRoutes() {
		api.Handle(r)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	h.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	_, e.token, err = httpapi.CreateAPIKey(ctx, store, "collector", likeness.RoleCollector, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, e.admin, err = httpapi.CreateAPIKey(ctx, store, "admin", likeness.RoleAdmin, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// upload stores a small real JPEG of the subject through the vault.
func (e *env) upload(sub, purpose, category string) string {
	e.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		e.t.Fatal(err)
	}
	a, err := e.vault.Ingest(context.Background(), &vault.Upload{SubjectID: sub, Purpose: purpose, Category: category,
		ContentType: "image/jpeg", Body: &b})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

type fakeAccess struct{}

func (fakeAccess) SubjectAccessLog(ctx context.Context, subjectID string) ([]web.AccessEntry, error) {
	return []web.AccessEntry{{Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Who: "ml-pipeline", Purpose: "ai-training", Category: "image", Action: "decision allowed"}}, nil
}

func (e *env) subject(ext, jurisdiction, locale string) string {
	e.t.Helper()
	s, _, err := e.d.Subjects.CreateSubject(context.Background(), ext, locale, jurisdiction)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.ID
}

// api calls the JSON API as the collector.
func (e *env) api(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	return e.apiAs(e.token, method, path, body)
}

// apiAs calls the JSON API with the key token.
func (e *env) apiAs(token, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// consentLink creates a consent link and returns its path.
func (e *env) consentLink(sub string, purposes []string, returnURL string) string {
	e.t.Helper()
	status, out := e.api("POST", "/v1/consent-sessions", map[string]any{"subject_id": sub, "purposes": purposes, "return_url": returnURL})
	if status != 201 {
		e.t.Fatalf("create consent session: %d %v", status, out)
	}
	return e.path(out["url"].(string))
}

func (e *env) portalLink(sub string) string {
	e.t.Helper()
	status, out := e.apiAs(e.admin, "POST", "/v1/subjects/"+sub+"/portal-links", nil)
	if status != 201 {
		e.t.Fatalf("create portal link: %d %v", status, out)
	}
	return e.path(out["url"].(string))
}

func (e *env) path(u string) string {
	e.t.Helper()
	if !strings.HasPrefix(u, e.srv.URL+"/") {
		e.t.Fatalf("link %q is not on the server %s", u, e.srv.URL)
	}
	return strings.TrimPrefix(u, e.srv.URL)
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
	raw    []byte
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(raw), res.Header, raw}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the first form on the page (or of
// the form whose action is given).
func (p page) hidden(t *testing.T, action string) url.Values {
	t.Helper()
	body := p.body
	if action != "" {
		i := strings.Index(body, `action="`+action+`"`)
		if i < 0 {
			t.Fatalf("no form posting to %s on the page", action)
		}
		body = body[i:]
		body = body[:strings.Index(body, "</form>")]
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		if !v.Has(m[1]) {
			v.Set(m[1], htmlUnescape(m[2]))
		}
	}
	if v.Get("csrf") == "" {
		t.Fatalf("form has no CSRF token")
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func (e *env) events(sub string) []*likeness.ConsentEvent {
	e.t.Helper()
	_, hist, err := e.svc.Consents(context.Background(), sub)
	if err != nil {
		e.t.Fatal(err)
	}
	return hist
}

func (e *env) allows(sub, purpose, category string) bool {
	e.t.Helper()
	d, err := e.svc.Decide(&likeness.DecisionRequest{SubjectID: sub, Purpose: purpose, Category: category})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Allow
}

func (e *env) ledgerSize() int64 {
	n, err := e.store.LedgerSize(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func linkID(path string) string { return path[strings.LastIndex(path, "/")+1:] }

func (e *env) link(path string) *likeness.Link {
	e.t.Helper()
	l, err := e.store.Link(context.Background(), linkID(path))
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

var allPurposes = []string{"ai-training", "marketing-personalization", "voice-transcription"}

func TestConsentPageShowsTheNoticeWithNothingTicked(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/after?x=1")
	p := e.browser().get(path)
	if p.status != 200 {
		t.Fatalf("GET consent page: %d %s", p.status, p.body)
	}
	for _, want := range []string{
		"Train our portrait and voice AI models", "Personalise our marketing videos", "Transcribe your calls", // what for
		"Acme Portraits GmbH", "privacy@acme.example", "dpo@acme.example", // who is responsible
		"Example GPU Cloud Inc., United States (US)", "standard contractual clauses", // who, where, safeguard
		"At most 3 years", "Your rights", "How to withdraw", "Accept selected", "Decline all",
		"If you withdraw", "We stop using your data for this purpose at once and erase the recordings and photos collected for it", // Art. 17(1)(b)
		`name="notice_version"`, `name="notice_sha256"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if n := strings.Count(p.body, `type="checkbox" name="purpose"`); n != 3 {
		t.Errorf("%d purpose checkboxes, want 3", n)
	}
	if strings.Contains(p.body, "checked") {
		t.Error("a purpose is pre-ticked")
	}
	accept := regexp.MustCompile(`<button type="submit" name="action" value="accept" class="([^"]*)">`).FindStringSubmatch(p.body)
	decline := regexp.MustCompile(`<button type="submit" name="action" value="decline" class="([^"]*)">`).FindStringSubmatch(p.body)
	if accept == nil || decline == nil || accept[1] != decline[1] {
		t.Errorf("accept and decline buttons differ in style: %v vs %v", accept, decline)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors " + embedOrigin, "form-action 'self' https://shop.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if p.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", p.header.Get("Referrer-Policy"))
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(p.body) || strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") {
		t.Error("page has inline script or style")
	}
	if strings.Contains(p.body, "https://") && regexp.MustCompile(`(src|href)="https?://`).MatchString(p.body) {
		t.Error("page loads a third-party asset")
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Error("viewing the page recorded something or used the link")
	}
}

func TestDeclineAllRecordsNothing(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/after")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	form.Set("action", "decline")
	form.Add("purpose", "ai-training") // even with a box ticked, declining records nothing
	p := b.post(path, form)
	if p.status != 200 || !strings.Contains(p.body, "Nothing was recorded") || !strings.Contains(p.body, `href="https://shop.example/after"`) {
		t.Fatalf("decline: %d %s", p.status, p.body)
	}
	if n := e.ledgerSize(); n != 0 {
		t.Fatalf("declining wrote %d ledger events", n)
	}
	if !e.link(path).Used() {
		t.Fatal("declining did not use up the link")
	}
	if p := b.post(path, form); p.status != http.StatusGone {
		t.Fatalf("second post: %d, want 410", p.status)
	}
}

func TestAcceptRecordsExactlyTheSelectedPurposes(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training", "voice-transcription"}
	p := b.post(path, form)
	if p.status != 200 || !strings.Contains(p.body, "your consent is recorded") {
		t.Fatalf("accept: %d %s", p.status, p.body)
	}
	var got []string
	for _, ev := range e.events(sub) {
		if ev.Type != likeness.Grant || ev.Method != likeness.Checkbox || ev.Language != "en" || ev.Collector != "web:consent-page" {
			t.Errorf("event %+v", ev)
		}
		got = append(got, ev.Purpose)
	}
	if !slices.Equal(got, []string{"ai-training", "voice-transcription"}) {
		t.Fatalf("recorded %v, want exactly the two selected", got)
	}
	if !e.allows(sub, "ai-training", "image") || e.allows(sub, "marketing-personalization", "image") {
		t.Fatal("decisions do not follow the choice")
	}
}

func TestAcceptWithNothingTickedAsksAgain(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	form.Set("action", "accept")
	if p := b.post(path, form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "not ticked any purpose") {
		t.Fatalf("accept with nothing ticked: %d", p.status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("an empty accept recorded something or used the link")
	}
}

func TestFormsRejectMissingOrForgedCSRF(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	good := b.get(path).hidden(t, "")
	for name, token := range map[string]string{"missing": "", "forged": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "other link": ""} {
		form := url.Values{}
		for k, v := range good {
			form[k] = v
		}
		form.Set("csrf", token)
		if name == "other link" {
			other := e.consentLink(sub, allPurposes, "")
			form.Set("csrf", b.get(other).hidden(t, "").Get("csrf"))
		}
		form.Set("action", "accept")
		form.Set("purpose", "ai-training")
		p := b.post(path, form)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "security check") {
			t.Errorf("%s token: %d, want 403 with a clear page", name, p.status)
		}
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a forged form recorded something or used the link")
	}

	// The portal's forms too.
	if _, err := e.svc.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: []string{"ai-training"},
		NoticeVersion: e.d.Notices.NoticeFor("en").Version, NoticeSHA256: e.d.Notices.NoticeFor("en").SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
	before := e.ledgerSize()
	if p := b.get(e.portalLink(sub)); p.status != 200 {
		t.Fatalf("login: %d", p.status)
	}
	for _, path := range []string{"/me/withdraw", "/me/erase", "/me/give/marketing-personalization", "/me/logout"} {
		for _, token := range []string{"", "forged"} {
			p := b.post(path, url.Values{"csrf": {token}, "purpose": {"ai-training"}, "confirm": {"yes"}, "action": {"accept"}})
			if p.status != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", path, token, p.status)
			}
		}
	}
	if e.ledgerSize() != before || !e.allows(sub, "ai-training", "image") {
		t.Fatal("a forged portal form changed something")
	}
}

func TestExpiredLinkIsGoneInThePersonsLanguage(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "de")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	e.clock.Add(31 * time.Minute)
	p := b.get(path)
	if p.status != http.StatusGone || !strings.Contains(p.body, "Dieser Link ist abgelaufen") || !strings.Contains(p.body, `lang="de"`) {
		t.Fatalf("expired link: %d %s", p.status, p.body)
	}
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	if p := b.post(path, form); p.status != http.StatusGone {
		t.Fatalf("posting to an expired link: %d", p.status)
	}
	portal := e.portalLink(sub)
	e.clock.Add(16 * time.Minute)
	if p := b.get(portal); p.status != http.StatusGone {
		t.Fatalf("expired portal link: %d", p.status)
	}
	if e.ledgerSize() != 0 {
		t.Fatal("an expired link recorded something")
	}
	if p := b.get("/consent/lnk_doesnotexist"); p.status != http.StatusNotFound {
		t.Fatalf("unknown link: %d", p.status)
	}
}

func TestReusedPortalLinkIsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.portalLink(sub)
	b := e.browser()
	p := b.get(path)
	if p.status != 200 || !strings.Contains(p.body, `url=/me`) {
		t.Fatalf("login: %d %s", p.status, p.body)
	}
	c := sessionCookie(t, p)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/me" || c.MaxAge <= 0 || c.MaxAge > 30*60 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/me, at most 30 minutes", c)
	}
	if strings.Contains(c.Value, sub) {
		t.Error("the cookie shows the subject id in clear")
	}
	if p := b.get("/me"); p.status != 200 {
		t.Fatalf("/me after login: %d", p.status)
	}
	again := e.browser().get(path)
	if again.status != http.StatusGone || !strings.Contains(again.body, "already used") {
		t.Fatalf("reused portal link: %d", again.status)
	}
	if p := e.browser().get("/me"); p.status != http.StatusUnauthorized {
		t.Fatalf("/me without a session: %d", p.status)
	}
	// A consent link is not a portal link.
	if p := e.browser().get("/me/login/" + linkID(e.consentLink(sub, allPurposes, ""))); p.status != http.StatusNotFound {
		t.Fatalf("consent link used as portal link: %d", p.status)
	}
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, line := range p.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == "likeness_portal" {
			return c
		}
	}
	t.Fatal("no session cookie set")
	return nil
}

func TestIllinoisBiometricConsentNeedsAWrittenRelease(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "US-IL", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	p := b.get(path)
	if !strings.Contains(p.body, `<label for="signature">`) || !strings.Contains(p.body, "Written release") {
		t.Fatal("no written-release step for an Illinois subject")
	}
	if strings.Contains(p.body, `id="verbal"`) {
		t.Error("verbal consent offered where a written release is required")
	}
	form := p.hidden(t, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"ai-training"}
	if p := b.post(path, form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "written release") || !strings.Contains(p.body, `value="ai-training" id="p-ai-training" checked`) {
		t.Fatalf("without a name: %d", p.status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a release without a name recorded something")
	}
	form.Set("signature", "  Ada Lovelace ")
	if p := b.post(path, form); p.status != 200 {
		t.Fatalf("with a name: %d %s", p.status, p.body)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Method != likeness.Written || evs[0].Evidence["signature"] != "Ada Lovelace" {
		t.Fatalf("events %+v, want one written grant signed by Ada Lovelace", evs)
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("written release does not allow")
	}
}

func TestStaleNoticeAsksToReviewAgain(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	form := b.get(path).hidden(t, "")
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	form.Set("notice_sha256", strings.Repeat("0", 64))
	p := b.post(path, form)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "has changed since you opened it") || strings.Contains(p.body, "checked") {
		t.Fatalf("stale notice: %d", p.status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("a stale form recorded something or used the link")
	}
	// The page it shows is current: submitting it works.
	fresh := page{body: p.body}.hidden(t, "")
	fresh.Set("action", "accept")
	fresh.Set("purpose", "ai-training")
	if p := b.post(path, fresh); p.status != 200 {
		t.Fatalf("after review: %d", p.status)
	}
}

func (e *env) signIn(sub string) *browser {
	e.t.Helper()
	b := e.browser()
	if p := b.get(e.portalLink(sub)); p.status != 200 {
		e.t.Fatalf("login: %d", p.status)
	}
	return b
}

func (e *env) grant(sub string, purposes ...string) {
	e.t.Helper()
	n := e.d.Notices.NoticeFor("en")
	if _, err := e.svc.Grant(context.Background(), &likeness.GrantRequest{SubjectID: sub, Purposes: purposes,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		e.t.Fatal(err)
	}
}

func TestWithdrawFromThePortalDeniesTheNextDecision(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training", "voice-transcription")
	b := e.signIn(sub)
	home := b.get("/me")
	if n := strings.Count(home.body, `action="/me/withdraw"`); n != 2 {
		t.Fatalf("%d withdraw forms, want one per active purpose (2)", n)
	}
	if !strings.Contains(home.body, `href="/me/give/marketing-personalization`) {
		t.Fatal("no way to give consent to the other purpose")
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("precondition: allowed")
	}
	form := home.hidden(t, "/me/withdraw")
	form.Set("purpose", "ai-training")
	p := b.post("/me/withdraw", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", p.status, p.body)
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("the next decision after a withdrawal allowed")
	}
	if !e.allows(sub, "voice-transcription", "voice") {
		t.Fatal("withdrawing one purpose touched another")
	}
	home = b.get(p.header.Get("Location"))
	if !strings.Contains(home.body, "Your consent is withdrawn") || !strings.Contains(home.body, "Consent withdrawn") {
		t.Fatal("portal does not confirm the withdrawal or show it in the history")
	}
	if !strings.Contains(home.body, "ml-pipeline") {
		t.Error("access log not shown")
	}
}

func TestGiveConsentFromThePortal(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	p := b.get("/me/give/ai-training")
	if p.status != 200 || strings.Contains(p.body, "checked") || !strings.Contains(p.body, "Train our portrait") {
		t.Fatalf("give form: %d", p.status)
	}
	form := p.hidden(t, "/me/give/ai-training")
	form.Set("action", "accept")
	form.Set("purpose", "ai-training")
	if p := b.post("/me/give/ai-training", form); p.status != http.StatusSeeOther {
		t.Fatalf("give: %d %s", p.status, p.body)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Purpose != "ai-training" || evs[0].Collector != "web:portal" {
		t.Fatalf("events %+v", evs)
	}
}

func TestExportHoldsEverything(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training", "marketing-personalization")
	// The withdrawal of ai-training erases its photo; the other one stays.
	gone := e.upload(sub, "ai-training", "image")
	photo := e.upload(sub, "marketing-personalization", "image")
	b := e.signIn(sub)
	home := b.get("/me")
	b.post("/me/withdraw", func() url.Values { f := home.hidden(t, "/me/withdraw"); f.Set("purpose", "ai-training"); return f }())
	p := b.get("/me/export")
	if p.status != 200 || p.header.Get("Content-Type") != "application/zip" || !strings.Contains(p.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", p.status, p.header)
	}
	files := unzip(t, p.raw)
	evs := e.events(sub)
	want := []string{"subject.json", "consents.json", "notice.json", "media/" + photo + ".jpg"}
	for _, ev := range evs {
		want = append(want, "receipts/"+ev.ID+".jws")
	}
	for _, name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("export lacks %s (has %v)", name, keysOf(files))
		}
	}
	if _, ok := files["media/"+gone+".jpg"]; ok {
		t.Error("the export holds the photo the withdrawal erased")
	}
	var consents struct {
		Purposes []likeness.PurposeState  `json:"purposes"`
		History  []*likeness.ConsentEvent `json:"history"`
	}
	if err := json.Unmarshal(files["consents.json"], &consents); err != nil {
		t.Fatal(err)
	}
	if len(consents.History) != 3 || len(consents.Purposes) != 3 {
		t.Fatalf("consents.json has %d events and %d purposes", len(consents.History), len(consents.Purposes))
	}
	if parts := strings.Split(string(files["receipts/"+evs[0].ID+".jws"]), "."); len(parts) != 3 {
		t.Fatal("receipt is not a compact JWS")
	}
	stored, _ := e.store.Asset(context.Background(), photo)
	sum := sha256.Sum256(files["media/"+photo+".jpg"])
	if hex.EncodeToString(sum[:]) != stored.SHA256 {
		t.Fatal("the exported photo is not the stored one, decrypted")
	}
	// One receipt on its own.
	r := b.get("/me/receipts/" + evs[0].ID)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), "receipt-"+evs[0].ID+".jws") || strings.Count(r.body, ".") != 2 {
		t.Fatalf("receipt download: %d %v", r.status, r.header)
	}
	if r := b.get("/me/receipts/evt_someoneelse"); r.status != http.StatusNotFound {
		t.Fatalf("someone else's receipt: %d", r.status)
	}
	if r := e.browser().get("/me/export"); r.status != http.StatusUnauthorized {
		t.Fatalf("export without a session: %d", r.status)
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestEraseAsksForConfirmationThenEndsTheSession(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	e.grant(sub, "ai-training")
	b := e.signIn(sub)
	confirm := b.get("/me/erase")
	if confirm.status != 200 || !strings.Contains(confirm.body, "cannot be undone") {
		t.Fatalf("confirmation page: %d", confirm.status)
	}
	if !e.allows(sub, "ai-training", "image") {
		t.Fatal("opening the confirmation page erased something")
	}
	p := b.post("/me/erase", confirm.hidden(t, "/me/erase"))
	if p.status != 200 || !strings.Contains(p.body, "Your data is erased") || !strings.Contains(p.body, `href="data:application/`) {
		t.Fatalf("erase: %d %s", p.status, p.body)
	}
	if c := sessionCookie(t, p); c.MaxAge >= 0 {
		t.Fatal("erasure did not end the session")
	}
	if e.allows(sub, "ai-training", "image") {
		t.Fatal("a decision after erasure allowed")
	}
	if p := b.get("/me"); p.status == 200 {
		t.Fatal("the portal still opens after erasure")
	}
}

func TestErasureUnavailableWithoutAnEraser(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Eraser = nil })
	sub := e.subject("u1", "EU-DE", "en")
	b := e.signIn(sub)
	if p := b.get("/me"); strings.Contains(p.body, `href="/me/erase`) || !strings.Contains(p.body, "write to privacy@acme.example") {
		t.Fatal("portal offers erasure it cannot do")
	}
	if p := b.get("/me/erase"); p.status != http.StatusNotImplemented {
		t.Fatalf("erase page without an eraser: %d", p.status)
	}
}

func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	p := b.get(path + "?lang=de")
	for _, want := range []string{`<html lang="de">`, "Alle ablehnen", "Auswahl bestätigen", "Training unserer Porträt- und Stimm-KI-Modelle", "Vereinigte Staaten (US)", `aria-current="true">Deutsch`,
		"Wenn Sie widerrufen", "löschen die dafür erhobenen Aufnahmen und Fotos"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("German page lacks %q", want)
		}
	}
	form := p.hidden(t, "")
	if form.Get("lang") != "de" || form.Get("notice_sha256") != e.d.Notices.NoticeFor("de").SHA256 {
		t.Fatal("the German form is not bound to the German notice")
	}
	form.Set("action", "accept")
	form.Set("purpose", "voice-transcription")
	if p := b.post(path, form); p.status != 200 || !strings.Contains(p.body, "Ihre Einwilligung ist gespeichert") {
		t.Fatalf("German accept: %d", p.status)
	}
	if evs := e.events(sub); len(evs) != 1 || evs[0].Language != "de" {
		t.Fatalf("events %+v, want one in German", evs)
	}
	// A German subject gets German without asking.
	de := e.subject("u2", "EU-DE", "de")
	if p := e.browser().get(e.consentLink(de, allPurposes, "")); !strings.Contains(p.body, "Ihre Auswahl") {
		t.Fatal("subject locale de does not give a German page")
	}
}

func TestVerbalConsentStoresTheRecording(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "https://shop.example/x")
	b := e.browser()
	p := b.get(path)
	if !strings.Contains(p.body, `data-record-url="`+path+`/recording"`) {
		t.Fatal("no verbal-consent option")
	}
	form := p.hidden(t, "")
	// The start of a WebM (EBML) file, as MediaRecorder makes it.
	recording := append([]byte("\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm"), bytes.Repeat([]byte("opus frames "), 60)...)
	post := func(csrf string, audio bool) (int, map[string]any) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range []string{"notice_version", "notice_sha256", "lang"} {
			mw.WriteField(k, form.Get(k))
		}
		mw.WriteField("csrf", csrf)
		mw.WriteField("purpose", "voice-transcription")
		ct := "audio/webm"
		if !audio {
			ct = "text/plain"
		}
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="recording"; filename="c.webm"`}, "Content-Type": {ct}})
		w.Write(recording)
		mw.Close()
		req, _ := http.NewRequest("POST", e.srv.URL+path+"/recording", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if status, _ := post("forged", true); status != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", status)
	}
	if status, _ := post(form.Get("csrf"), false); status != http.StatusBadRequest {
		t.Fatalf("not audio: %d", status)
	}
	if as, _ := e.store.SubjectAssets(context.Background(), sub); e.ledgerSize() != 0 || len(as) != 0 {
		t.Fatal("a refused recording left something behind")
	}
	status, out := post(form.Get("csrf"), true)
	if status != 200 || out["continue"] != "https://shop.example/x" {
		t.Fatalf("verbal consent: %d %v", status, out)
	}
	evs := e.events(sub)
	if len(evs) != 1 || evs[0].Method != likeness.Verbal || evs[0].Evidence["recording"] == "" {
		t.Fatalf("events %+v", evs)
	}
	rec, err := e.store.Asset(context.Background(), evs[0].Evidence["recording"])
	sum := sha256.Sum256(recording)
	if err != nil || rec.Purpose != vault.EvidencePurpose || rec.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("recording not stored in the vault as evidence: %+v %v", rec, err)
	}
	if status, _ := post(form.Get("csrf"), true); status != http.StatusGone {
		t.Fatalf("second recording on a used link: %d", status)
	}
}

func TestNoVerbalOptionWithoutARecordingStore(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Recordings = nil })
	sub := e.subject("u1", "EU-DE", "en")
	if p := e.browser().get(e.consentLink(sub, allPurposes, "")); strings.Contains(p.body, "data-record-url") {
		t.Fatal("verbal consent offered without a recording store")
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
		if p := b.get("/consent/lnk_x"); p.status != http.StatusNotFound {
			t.Fatalf("request %d: %d", i, p.status)
		}
	}
	p := b.get("/me/login/lnk_x")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Too many attempts") {
		t.Fatalf("third request: %d", p.status)
	}
}

func TestTranslationsAreComplete(t *testing.T) {
	files, _ := filepath.Glob("i18n/*.json")
	if len(files) < 2 {
		t.Fatalf("translations: %v", files)
	}
	load := func(f string) map[string]string {
		b, err := readFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return m
	}
	en := load("i18n/en.json")
	for _, f := range files {
		m := load(f)
		for k := range en {
			if strings.TrimSpace(m[k]) == "" {
				t.Errorf("%s lacks %q", f, k)
			}
		}
		for k := range m {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, which en.json does not", f, k)
			}
		}
		for k, v := range m {
			if strings.Count(v, "%") != strings.Count(en[k], "%") {
				t.Errorf("%s: %q has different placeholders than English", f, k)
			}
		}
	}
	// Every key the templates and handlers use exists.
	used := map[string]bool{}
	srcs, _ := filepath.Glob("templates/*.html")
	gos, _ := filepath.Glob("*.go")
	keyRE := regexp.MustCompile(`(?:\.T|T\(|"error\.[a-z]+\.(?:title|body)"|Key\b)\s*"([a-z0-9_.]+)"|"((?:error|consent|done|erase|erased|login|logout|flash|verbal)\.[a-z0-9_.]+)"`)
	for _, f := range append(srcs, gos...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := readFile(f)
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]+m[2]] = true
		}
	}
	for k := range used {
		if _, ok := en[k]; !ok && k != "" && !strings.HasSuffix(k, ".") {
			t.Errorf("key %q is used but not translated", k)
		}
	}
	// Keys built from domain values.
	for _, s := range []likeness.State{likeness.StateActive, likeness.StateWithdrawn, likeness.StateExpired, likeness.StateNeedsRenewal, likeness.StateNone, likeness.StateErased} {
		used["state."+string(s)] = true
	}
	for _, s := range []likeness.EventType{likeness.Grant, likeness.Withdraw, likeness.Renew, likeness.Expire, likeness.Erasure} {
		used["event."+string(s)] = true
	}
	for _, s := range []likeness.Method{likeness.Checkbox, likeness.Verbal, likeness.Written, likeness.Import, likeness.GPC} {
		used["method."+string(s)] = true
	}
	for _, s := range []string{"scc", "bcr", "dpf", "none"} {
		used["transfer."+s] = true
	}
	used["flash.withdrawn"], used["flash.given"] = true, true
	if len(used) < 50 {
		t.Fatalf("found only %d used keys; the scan is broken", len(used))
	}
}

func TestAssetsAreServedFromTheBinary(t *testing.T) {
	e := newEnv(t)
	for path, ct := range map[string]string{"/assets/style.css": "text/css", "/assets/app.js": "text/javascript"} {
		p := e.browser().get(path)
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", path, p.status, p.header.Get("Content-Type"))
		}
	}
}

func TestPortalIsNeverFramed(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	p := e.signIn(sub).get("/me")
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("portal CSP %q", csp)
	}
}

func TestAChildsConsentIsGivenByTheirGuardian(t *testing.T) {
	e := newEnv(t)
	kid, _, err := e.d.Subjects.CreateMinor(context.Background(), "kid-1", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	path := e.consentLink(kid.ID, allPurposes, "")
	b := e.browser()
	p := b.get(path)
	if !strings.Contains(p.body, `<label for="guardian">`) {
		t.Fatal("no guardian step for a minor")
	}
	form := p.hidden(t, "")
	form.Set("action", "accept")
	form["purpose"] = []string{"voice-transcription"}
	if p := b.post(path, form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "guardian") {
		t.Fatalf("without the guardian's name: %d", p.status)
	}
	if e.ledgerSize() != 0 || e.link(path).Used() {
		t.Fatal("consent without a guardian recorded something")
	}
	form.Set("guardian", "Pat Parent")
	if p := b.post(path, form); p.status != 200 {
		t.Fatalf("with the guardian's name: %d %s", p.status, p.body)
	}
	if evs := e.events(kid.ID); len(evs) != 1 || evs[0].Evidence["guardian"] != "Pat Parent" {
		t.Fatalf("events %+v, want one grant naming the guardian", evs)
	}
}
