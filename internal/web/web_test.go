package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/httpapi"
	"likeness/internal/likenesstest"
	"likeness/internal/mail"
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
	// reads counts what the "send me a link" mailer reads about people.
	reads *countingSubjects
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
	return newEnvPolicy(t, dsn, testPolicy(t), opts...)
}

// newEnvPolicy is newEnvOn under the policy p.
func newEnvPolicy(t *testing.T, dsn string, p *policy.Policy, opts ...func(*web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	d := likenesstest.New(t, likenesstest.Options{Policy: p, DSN: dsn})
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
	e.reads = &countingSubjects{Registry: d.Subjects}
	reach, err := mail.New(mail.Config{Store: store, Subjects: e.reads, Policy: d.Notices.Policy, Key: bytes.Repeat([]byte{7}, 32), Now: d.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Reach = reach
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

// browser is one person's browser on the pages; it does not follow
// redirects.
type browser struct {
	*likenesstest.Visitor
	e *env
}

func (e *env) browser() *browser {
	return &browser{Visitor: likenesstest.NewVisitor(e.t, e.srv.URL, false), e: e}
}

type page = likenesstest.Page

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the first form on the page (or of
// the form whose action is given).
func hidden(t *testing.T, p page, action string) url.Values {
	t.Helper()
	body := p.Body
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

func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	path := e.consentLink(sub, allPurposes, "")
	b := e.browser()
	p := b.Get(path + "?lang=de")
	for _, want := range []string{`<html lang="de">`, "Alle ablehnen", "Auswahl bestätigen", "Training unserer Porträt- und Stimm-KI-Modelle", "Vereinigte Staaten (US)", `aria-current="true">Deutsch`,
		"Wenn Sie widerrufen", "löschen die dafür erhobenen Aufnahmen und Fotos"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("German page lacks %q", want)
		}
	}
	form := hidden(t, p, "")
	if form.Get("lang") != "de" || form.Get("notice_sha256") != e.d.Notices.NoticeFor("de").SHA256 {
		t.Fatal("the German form is not bound to the German notice")
	}
	form.Set("action", "accept")
	form.Set("purpose", "voice-transcription")
	if p := b.Post(path, form); p.Status != 200 || !strings.Contains(p.Body, "Ihre Einwilligung ist gespeichert") {
		t.Fatalf("German accept: %d", p.Status)
	}
	if evs := e.events(sub); len(evs) != 1 || evs[0].Language != "de" {
		t.Fatalf("events %+v, want one in German", evs)
	}
	// A German subject gets German without asking.
	de := e.subject("u2", "EU-DE", "de")
	if p := e.browser().Get(e.consentLink(de, allPurposes, "")); !strings.Contains(p.Body, "Ihre Auswahl") {
		t.Fatal("subject locale de does not give a German page")
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
	for _, s := range []likeness.State{likeness.StateActive, likeness.StateWithdrawn, likeness.StateExpired, likeness.StateNeedsRenewal, likeness.StateNone, likeness.StateErased,
		likeness.StatePendingValidation, likeness.StateValidationRejected} {
		used["state."+string(s)] = true
	}
	for _, s := range []likeness.EventType{likeness.Grant, likeness.Withdraw, likeness.Renew, likeness.Expire, likeness.Erasure,
		likeness.Validated, likeness.ValidationRejected} {
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
		p := e.browser().Get(path)
		if p.Status != 200 || !strings.HasPrefix(p.Header.Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", path, p.Status, p.Header.Get("Content-Type"))
		}
	}
}

func TestPortalIsNeverFramed(t *testing.T) {
	e := newEnv(t)
	sub := e.subject("u1", "EU-DE", "en")
	p := e.signIn(sub).Get("/me")
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || p.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("portal CSP %q", csp)
	}
}
