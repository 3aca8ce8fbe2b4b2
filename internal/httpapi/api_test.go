package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/consent"
	"likeness/internal/httpapi"
	"likeness/internal/incidents"
	"likeness/internal/keys"
	"likeness/internal/likenesstest"
	"likeness/internal/sqlstore"
	"likeness/internal/storetest"
	"likeness/internal/vault"
	"likeness/internal/web"
	"likeness/ledger"
)

// env is a running API on a real deployment with one key per role.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *sqlstore.DB
	d      *likenesstest.Deployment
	svc    *consent.Service
	vault  *vault.Vault
	kek    *keys.Local
	api    *httpapi.Server
	dir    string
	tokens map[likeness.Role]string
	clock  *likenesstest.Clock
}

func newEnv(t testing.TB, dsn string) *env {
	t.Helper()
	return newEnvWith(t, likenesstest.Options{DSN: dsn})
}

// newEnvWith is newEnv on a deployment shaped by o (a policy of its own).
func newEnvWith(t testing.TB, o likenesstest.Options) *env {
	t.Helper()
	ctx := context.Background()
	d := likenesstest.New(t, o)
	e := &env{t: t, d: d, store: d.Store, svc: d.Consent, vault: d.Vault, kek: d.KEK, dir: d.Dir, clock: d.Clock,
		tokens: map[likeness.Role]string{}}
	inc, err := incidents.New(incidents.Config{Store: e.store, Policy: d.Notices.Policy, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.APIConfig()
	cfg.Incidents, cfg.Requests = inc, d.Requests(t)
	api := httpapi.New(cfg)
	// The pages' API routes (consent sessions, portal links) join the API
	// as they do in serve.
	wcfg := d.WebConfig()
	wcfg.Key = bytes.Repeat([]byte{7}, 32)
	pages := web.New(wcfg)
	for _, r := range pages.APIRoutes() {
		api.Handle(r)
	}
	e.api = api
	e.srv = httptest.NewServer(api)
	t.Cleanup(e.srv.Close)
	for _, r := range []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor} {
		_, tok, err := httpapi.CreateAPIKey(ctx, e.store, string(r), r, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[r] = tok
	}
	return e
}

type resp struct {
	status int
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.body)
	}
}

func (r resp) errCode(t testing.TB) string {
	t.Helper()
	var e httpapi.ErrorBody
	r.json(t, &e)
	if e.Error.Message == "" {
		t.Fatalf("error response without a message: %s", r.body)
	}
	return e.Error.Code
}

// call sends a request as role; body may be a string (sent raw) or a value
// (sent as JSON).
func (e *env) call(role likeness.Role, method, path string, body any) resp {
	e.t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		data, _ = json.Marshal(b)
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.raw(role, method, path, ct, data)
}

// raw sends body as it is (nil: none) with the content type given ("":
// none), as role ("": no key).
func (e *env) raw(role likeness.Role, method, path, ctype string, body []byte) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b}
}

func (e *env) subject(ext, jurisdiction string) string {
	e.t.Helper()
	r := e.call(likeness.RoleCollector, "POST", "/v1/subjects", map[string]string{"external_id": ext, "jurisdiction": jurisdiction, "locale": "de"})
	if r.status != 201 {
		e.t.Fatalf("create subject: %d %s", r.status, r.body)
	}
	var s struct{ ID string }
	r.json(e.t, &s)
	return s.ID
}

type noticeJSON struct {
	Version  int64  `json:"version"`
	SHA256   string `json:"sha256"`
	Language string `json:"language"`
}

func (e *env) notice(lang string) noticeJSON {
	e.t.Helper()
	var n noticeJSON
	r := e.call(likeness.RoleCollector, "GET", "/v1/notices/current?lang="+lang, nil)
	if r.status != 200 {
		e.t.Fatalf("notice: %d %s", r.status, r.body)
	}
	r.json(e.t, &n)
	return n
}

func (e *env) grant(sub string, purposes ...string) resp {
	e.t.Helper()
	n := e.notice("en")
	return e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents", map[string]any{
		"purposes": purposes, "notice_version": n.Version, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"})
}

type decisionJSON struct {
	Allow        bool     `json:"allow"`
	Reasons      []string `json:"reasons"`
	ConsentEvent *struct {
		ID string `json:"id"`
	} `json:"consent_event"`
}

func (e *env) decide(req map[string]any) decisionJSON {
	e.t.Helper()
	r := e.call(likeness.RolePipeline, "POST", "/v1/decisions", req)
	if r.status != 200 {
		e.t.Fatalf("decision: %d %s", r.status, r.body)
	}
	var d decisionJSON
	r.json(e.t, &d)
	return d
}

func backends(t *testing.T) map[string]func(t *testing.T) *env {
	return map[string]func(t *testing.T) *env{
		"sqlite":   func(t *testing.T) *env { return newEnv(t, "") },
		"postgres": func(t *testing.T) *env { return newEnv(t, storetest.Postgres(t)) },
	}
}

func TestGrantThenDecisionAllowsAndWithdrawalDeniesNextDecision(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("user-1", "EU-DE")
			q := map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}
			if d := e.decide(q); d.Allow || !has(d.Reasons, "no_consent") {
				t.Fatalf("before any consent: %+v, want deny no_consent", d)
			}
			r := e.grant(sub, "ai-training")
			if r.status != 201 {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			var g struct {
				Events []struct {
					ID          string `json:"id"`
					LedgerIndex int64  `json:"ledger_index"`
				} `json:"events"`
				Receipts []string `json:"receipts"`
			}
			r.json(t, &g)
			if len(g.Events) != 1 || len(g.Receipts) != 1 {
				t.Fatalf("grant body: %s", r.body)
			}
			d := e.decide(q)
			if !d.Allow || d.ConsentEvent == nil || d.ConsentEvent.ID != g.Events[0].ID {
				t.Fatalf("after grant: %+v, want allow resting on %s", d, g.Events[0].ID)
			}
			w := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents/ai-training/withdraw", nil)
			if w.status != 201 {
				t.Fatalf("withdraw: %d %s", w.status, w.body)
			}
			if d := e.decide(q); d.Allow || !has(d.Reasons, "withdrawn") {
				t.Fatalf("decision right after withdrawal: %+v, want deny withdrawn", d)
			}
		})
	}
}

func TestGrantRecordsOneEventPerPurposeAndReceiptsVerify(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-2", "EU-DE")
	r := e.grant(sub, "ai-training", "voice-transcription")
	if r.status != 201 {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	var g struct {
		Events   []likeness.ConsentEvent `json:"events"`
		Receipts []string                `json:"receipts"`
	}
	r.json(t, &g)
	if len(g.Events) != 2 || g.Events[0].Purpose != "ai-training" || g.Events[1].Purpose != "voice-transcription" ||
		g.Events[0].LedgerIndex == g.Events[1].LedgerIndex {
		t.Fatalf("events: %+v", g.Events)
	}
	key := e.call(likeness.RoleAuditor, "GET", "/v1/ledger/key", nil)
	v, err := ledger.NewVerifier(strings.TrimSpace(string(key.body)))
	if err != nil {
		t.Fatal(err)
	}
	jwks := e.call("", "GET", "/v1/ledger/jwks.json", nil) // public: no key
	if jwks.status != 200 || !strings.Contains(string(jwks.body), `"kid": "`+v.Thumbprint()+`"`) {
		t.Fatalf("jwks: %d %s", jwks.status, jwks.body)
	}
	for i, jws := range g.Receipts {
		c, err := v.VerifyReceipt(jws)
		if err != nil {
			t.Fatalf("receipt %d does not verify with the served key: %v", i, err)
		}
		if c.Event.Purpose != g.Events[i].Purpose || c.SubjectPseudonym != sub || c.Jurisdiction != "EU-DE" {
			t.Fatalf("receipt %d claims %+v", i, c)
		}
	}
	// The receipts list gives the latest events, as many as asked.
	var latest struct{ Receipts []string }
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/receipts?limit=1", nil).json(t, &latest)
	if len(latest.Receipts) != 1 {
		t.Fatalf("receipts, limit 1: %d", len(latest.Receipts))
	}
	if c, err := v.VerifyReceipt(latest.Receipts[0]); err != nil || c.Event.Purpose != "voice-transcription" {
		t.Errorf("the latest receipt: %+v, %v; want the last event's", c, err)
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/receipts?limit=0", nil); r.status != 400 {
		t.Errorf("receipts, limit 0: %d %s", r.status, r.body)
	}
	var hist struct {
		Purposes []likeness.PurposeState `json:"purposes"`
		History  []likeness.ConsentEvent `json:"history"`
	}
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/consents", nil).json(t, &hist)
	if len(hist.History) != 2 {
		t.Fatalf("history has %d events", len(hist.History))
	}
	states := map[string]likeness.State{}
	for _, p := range hist.Purposes {
		states[p.Purpose] = p.State
	}
	if states["ai-training"] != likeness.StateActive || states["marketing-personalization"] != likeness.StateNone {
		t.Fatalf("states = %v", states)
	}
}

func TestStaleOrWrongNoticeHashIsRefusedWith409(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-3", "EU-DE")
	n := e.notice("en")
	for name, body := range map[string]map[string]any{
		"wrong hash":    {"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": strings.Repeat("0", 64), "method": "checkbox", "language": "en"},
		"stale version": {"purposes": []string{"ai-training"}, "notice_version": n.Version - 1, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"},
		"hash of de":    {"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": e.notice("de").SHA256, "method": "checkbox", "language": "en"},
	} {
		r := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents", body)
		if r.status != 409 {
			t.Errorf("%s: status %d %s, want 409", name, r.status, r.body)
		}
	}
	assertLedgerSize(t, e, 0)
}

func assertLedgerSize(t *testing.T, e *env, want int64) {
	t.Helper()
	n, err := e.store.LedgerSize(context.Background())
	if err != nil || n != want {
		t.Fatalf("ledger holds %d events (%v), want %d: a refused request wrote something", n, err, want)
	}
}

func TestBadInputGetsClear4xxAndWritesNothing(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-4", "EU-DE")
	n := e.notice("en")
	valid := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"}
		mut(m)
		return m
	}
	big := `{"purposes":["ai-training"],"evidence":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
	cases := []struct {
		name   string
		path   string
		body   any
		ctype  string
		status int
	}{
		{"malformed JSON", "/v1/subjects/" + sub + "/consents", `{"purposes": [`, "", 400},
		{"not an object", "/v1/subjects/" + sub + "/consents", `[1,2]`, "", 400},
		{"unknown field", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["pre_ticked"] = true }), "", 400},
		{"unknown purpose", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["purposes"] = []string{"mind-reading"} }), "", 400},
		{"no purposes", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["purposes"] = []string{} }), "", 400},
		{"bundled duplicate", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["purposes"] = []string{"ai-training", "ai-training"} }), "", 400},
		{"bad method", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["method"] = "implied" }), "", 400},
		{"verbal without recording", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["method"] = "verbal" }), "", 400},
		{"wrong type", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["notice_version"] = "seven" }), "", 400},
		{"unknown language", "/v1/subjects/" + sub + "/consents", valid(func(m map[string]any) { m["language"] = "xx" }), "", 400},
		{"unknown subject", "/v1/subjects/sub_aaaaaaaaaaaaaaaaaaaaaaaaaa/consents", valid(func(map[string]any) {}), "", 404},
		{"wrong content type", "/v1/subjects/" + sub + "/consents", valid(func(map[string]any) {}), "text/plain", 415},
		{"too large", "/v1/subjects/" + sub + "/consents", big, "", 413},
		{"withdraw unknown purpose", "/v1/subjects/" + sub + "/consents/mind-reading/withdraw", nil, "", 400},
		{"subject without external id", "/v1/subjects", map[string]string{"jurisdiction": "EU-DE"}, "", 400},
		{"subject bad jurisdiction", "/v1/subjects", map[string]string{"external_id": "x", "jurisdiction": "Atlantis"}, "", 400},
		{"decision unknown purpose", "/v1/decisions", map[string]string{"subject_id": sub, "purpose": "nope", "data_category": "image"}, "", 400},
		{"decision unknown category", "/v1/decisions", map[string]string{"subject_id": sub, "purpose": "ai-training", "data_category": "smell"}, "", 400},
		{"decision bad country", "/v1/decisions", map[string]string{"subject_id": sub, "purpose": "ai-training", "data_category": "image", "country": "usa"}, "", 400},
		{"batch empty", "/v1/decisions/batch", map[string]any{"items": []any{}}, "", 400},
		{"decision naming subject and asset", "/v1/decisions", map[string]string{"subject_id": sub, "asset_id": "ast_aaaaaaaaaaaaaaaaaaaaaaaaaa", "purpose": "ai-training", "data_category": "image"}, "", 400},
		{"decision about the past", "/v1/decisions", map[string]string{"subject_id": sub, "purpose": "ai-training", "data_category": "image", "at": "2020-01-01T00:00:00Z"}, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rd io.Reader
			switch b := c.body.(type) {
			case nil:
			case string:
				rd = strings.NewReader(b)
			default:
				j, _ := json.Marshal(b)
				rd = bytes.NewReader(j)
			}
			req, _ := http.NewRequest("POST", e.srv.URL+c.path, rd)
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			if rd != nil {
				req.Header.Set("Content-Type", ct)
			}
			req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleAdmin])
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			resp{res.StatusCode, b}.errCode(t)
		})
	}
	assertLedgerSize(t, e, 0)
	count := 0
	e.store.ForEachSubject(context.Background(), func(*likeness.Subject) error { count++; return nil })
	if count != 1 {
		t.Fatalf("%d subjects stored, want only the one created on purpose", count)
	}
}

func TestEveryEndpointAuthorizesByRole(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-5", "EU-DE")
	cases := []struct {
		role   likeness.Role
		method string
		path   string
		status int
	}{
		{"", "GET", "/v1/subjects/" + sub, 401},
		{likeness.RolePipeline, "POST", "/v1/subjects/" + sub + "/consents/ai-training/withdraw", 403},
		{likeness.RoleAuditor, "POST", "/v1/subjects", 403},
		{likeness.RoleAuditor, "POST", "/v1/decisions", 403},
		{likeness.RoleCollector, "POST", "/v1/apikeys", 403},
		{likeness.RolePipeline, "GET", "/v1/subjects/" + sub + "/consents", 403},
	}
	for _, c := range cases {
		r := e.call(c.role, c.method, c.path, map[string]string{})
		if r.status != c.status {
			t.Errorf("%q %s %s: %d, want %d (%s)", c.role, c.method, c.path, r.status, c.status, r.body)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/subjects/"+sub, nil)
	req.Header.Set("Authorization", "Bearer lk_forged")
	res, _ := e.srv.Client().Do(req)
	if res.StatusCode != 401 {
		t.Fatalf("forged key: %d", res.StatusCode)
	}
	res.Body.Close()
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	e := newEnv(t, "")
	r := e.call(likeness.RoleAuditor, "GET", "/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	api := e.api
	for _, rt := range api.Routes() {
		ops, ok := doc.Paths[rt.Pattern]
		if !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", rt.Method, rt.Pattern)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s: method missing from the OpenAPI document", rt.Method, rt.Pattern)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			found := false
			for _, rt := range api.Routes() {
				if rt.Pattern == path && strings.ToLower(rt.Method) == m {
					found = true
				}
			}
			if !found && m != "parameters" {
				t.Errorf("OpenAPI documents %s %s, which the server does not serve", m, path)
			}
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, "")
	if r := e.call("", "GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	e.decide(map[string]any{"subject_id": e.subject("m", "EU-DE"), "purpose": "ai-training", "data_category": "image"})
	r := e.call(likeness.RoleAuditor, "GET", "/metrics", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`likeness_decisions_total{outcome="deny"} 1`)) {
		t.Fatalf("metrics: %d\n%s", r.status, r.body)
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = os.Getenv

func TestEveryOperatorChangeIsAudited(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("audited", "EU-DE")
	e.grant(sub, "ai-training")
	e.call(likeness.RoleAdmin, "POST", "/v1/apikeys", map[string]string{"role": "auditor", "name": "dpo"})
	e.call(likeness.RoleAdmin, "DELETE", "/v1/subjects/"+sub, nil)
	e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"})
	if r := e.call(likeness.RolePipeline, "GET", "/v1/audit", nil); r.status != 403 {
		t.Fatalf("pipeline key reads the audit log: %d", r.status)
	}
	var log struct{ Entries []likeness.AccessEntry }
	e.call(likeness.RoleAuditor, "GET", "/v1/audit", nil).json(t, &log)
	var got []string
	for _, en := range log.Entries {
		got = append(got, string(en.Role)+" "+en.Action)
	}
	want := []string{"admin DELETE /v1/subjects/{id}", "admin POST /v1/apikeys", "collector POST /v1/subjects/{id}/consents", "collector POST /v1/subjects"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if log.Entries[0].SubjectID != sub || log.Entries[0].KeyID == "" {
		t.Fatalf("erasure entry lacks its subject or key: %+v", log.Entries[0])
	}
}

// A path the API serves, asked with another method, is a 405 naming the
// methods it takes; a path it does not serve is a 404.
func TestAWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t, "")
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[likeness.RoleAdmin])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "POST" || !bytes.Contains(body, []byte(`"method_not_allowed"`)) {
		t.Errorf("GET /v1/models: %d Allow %q %s; want 405, Allow: POST", res.StatusCode, res.Header.Get("Allow"), body)
	}
	if r := e.call(likeness.RoleAdmin, "PUT", "/v1/assets/ast_x", nil); r.status != 405 || !strings.Contains(string(r.body), "GET, DELETE") {
		t.Errorf("PUT /v1/assets/{id}: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "GET", "/v1/nothing-here", nil); r.status != 404 {
		t.Errorf("an unknown path: %d %s", r.status, r.body)
	}
}
