package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/httpapi"
	"likeness/internal/incidents"
	"likeness/internal/web"
)

// boundaryEnv is newEnv with every optional route wired in (datasets,
// incidents, the pages' link routes), a subject and an open erasure request.
type boundaryEnv struct {
	*env
	sub, req string
}

func newBoundaryEnv(t *testing.T, e *env) *boundaryEnv {
	t.Helper()
	inc, err := incidents.New(incidents.Config{Store: e.store, Policy: e.d.Notices.Policy, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.d.APIConfig()
	cfg.Datasets, cfg.Incidents, cfg.Requests = e.d.Datasets, inc, e.d.Requests(t)
	api := httpapi.New(cfg)
	wcfg := e.d.WebConfig()
	wcfg.Key = bytes.Repeat([]byte{7}, 32)
	pages := web.New(wcfg)
	for _, r := range pages.APIRoutes() {
		api.Handle(r)
	}
	e.srv.Close()
	e.srv = httptest.NewServer(api)
	t.Cleanup(e.srv.Close)
	b := &boundaryEnv{env: e, sub: e.subject("boundary-1", "EU-DE")}
	if r := e.grant(b.sub, "ai-training"); r.status != 201 {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	b.req = e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": b.sub, "type": "erasure", "channel": "email"}, 201).ID
	return b
}

// state is what a refused request must leave as it was: the row counts of
// every table a route writes, and the subject and request as the API shows
// them.
func (b *boundaryEnv) state(t *testing.T) string {
	t.Helper()
	var out strings.Builder
	for _, table := range []string{"subjects", "consent_events", "access_log", "api_keys", "links", "datasets", "models",
		"subject_attributes", "requests", "incidents", "erasures", "validations"} {
		var n int
		if err := b.store.SQL().QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		fmt.Fprintf(&out, "%s=%d ", table, n)
	}
	for _, p := range []string{"/v1/subjects/" + b.sub, "/v1/requests/" + b.req} {
		r := b.call(likeness.RoleAdmin, "GET", p, nil)
		fmt.Fprintf(&out, "\n%s %d %s", p, r.status, r.body)
	}
	return out.String()
}

type boundaryCase struct {
	name         string
	role         likeness.Role
	method, path string // SUB and REQ stand for the subject's and the request's ids
	ctype        string // "" is application/json when there is a body
	body         string
	status       int
	code         string
}

var oversize = `{"external_id":"` + strings.Repeat("a", httpapi.DefaultMaxBody) + `","jurisdiction":"EU-DE"}`

var boundaryCases = []boundaryCase{
	{"create subject: NUL in external_id", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"a\u0000b","jurisdiction":"EU-DE"}`, 400, likeness.EINVALID},
	{"create subject: invalid UTF-8 in external_id", likeness.RoleCollector, "POST", "/v1/subjects", "", "{\"external_id\":\"a\xff\xfeb\",\"jurisdiction\":\"EU-DE\"}", 400, likeness.EINVALID},
	{"create subject: NUL in locale", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n1","jurisdiction":"EU-DE","locale":"de\u0000"}`, 400, likeness.EINVALID},
	{"create subject: locale not BCP 47", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n2","jurisdiction":"EU-DE","locale":"en_US.UTF-8"}`, 400, likeness.EINVALID},
	{"create subject: locale of an unknown language", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n3","jurisdiction":"EU-DE","locale":"qqq-zz-x"}`, 400, likeness.EINVALID},
	{"create subject: NUL in jurisdiction", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n4","jurisdiction":"EU-DE\u0000"}`, 400, likeness.EINVALID},
	{"create subject: null body", likeness.RoleCollector, "POST", "/v1/subjects", "", `null`, 400, likeness.EINVALID},
	{"create subject: array body", likeness.RoleCollector, "POST", "/v1/subjects", "", `[]`, 400, likeness.EINVALID},
	{"create subject: unknown field", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n5","jurisdiction":"EU-DE","admin":true}`, 400, likeness.EINVALID},
	{"create subject: a key twice", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n9","jurisdiction":"EU-DE","external_id":"n10"}`, 400, likeness.EINVALID},
	{"create subject: trailing data", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n6","jurisdiction":"EU-DE"}}`, 400, likeness.EINVALID},
	{"create subject: two values", likeness.RoleCollector, "POST", "/v1/subjects", "", `{"external_id":"n7","jurisdiction":"EU-DE"} {}`, 400, likeness.EINVALID},
	{"create subject: oversize body", likeness.RoleCollector, "POST", "/v1/subjects", "", oversize, 413, likeness.ETOOLARGE},
	{"create subject: not JSON", likeness.RoleCollector, "POST", "/v1/subjects", "text/plain", `external_id=n8`, 415, likeness.EUNSUPPORTED},
	{"rectify: locale not BCP 47", likeness.RoleCollector, "PATCH", "/v1/subjects/SUB", "", `{"locale":"../../etc"}`, 400, likeness.EINVALID},
	{"rectify: NUL in jurisdiction", likeness.RoleCollector, "PATCH", "/v1/subjects/SUB", "", `{"jurisdiction":"US-IL\u0000"}`, 400, likeness.EINVALID},
	{"rectify: null body", likeness.RoleCollector, "PATCH", "/v1/subjects/SUB", "", `null`, 400, likeness.EINVALID},
	{"get subject: NUL in path id", likeness.RoleCollector, "GET", "/v1/subjects/sub_%00", "", "", 400, likeness.EINVALID},
	{"get subject: invalid UTF-8 in path id", likeness.RoleCollector, "GET", "/v1/subjects/sub_%ff%fe", "", "", 400, likeness.EINVALID},
	{"get subject: a body on a GET", likeness.RoleCollector, "GET", "/v1/subjects/SUB", "", `{}`, 400, likeness.EINVALID},
	{"find subject: NUL in query", likeness.RoleCollector, "GET", "/v1/subjects?external_id=a%00b", "", "", 400, likeness.EINVALID},
	{"find subject: invalid UTF-8 in query", likeness.RoleCollector, "GET", "/v1/subjects?external_id=a%ffb", "", "", 400, likeness.EINVALID},
	{"notice: NUL in lang", likeness.RoleCollector, "GET", "/v1/notices/current?lang=de%00", "", "", 400, likeness.EINVALID},
	{"grant: null body", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents", "", `null`, 400, likeness.EINVALID},
	{"grant: NUL in a purpose", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents", "", `{"purposes":["ai-training\u0000"],"method":"checkbox","language":"en"}`, 400, likeness.EINVALID},
	{"grant: NUL in evidence key", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents", "", `{"purposes":["ai-training"],"method":"checkbox","language":"en","evidence":{"a\u0000":"b"}}`, 400, likeness.EINVALID},
	{"grant: a key twice", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents", "", `{"purposes":["ai-training"],"method":"checkbox","language":"en","purposes":["voice-cloning"]}`, 400, likeness.EINVALID},
	{"grant: an evidence key twice", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents", "", `{"purposes":["ai-training"],"method":"checkbox","language":"en","evidence":{"ip":"a","ip":"b"}}`, 400, likeness.EINVALID},
	{"withdraw: null body", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents/ai-training/withdraw", "", `null`, 400, likeness.EINVALID},
	{"withdraw: NUL in path purpose", likeness.RoleCollector, "POST", "/v1/subjects/SUB/consents/ai%00training/withdraw", "", "", 400, likeness.EINVALID},
	{"complete request: null body", likeness.RoleCollector, "POST", "/v1/requests/REQ/complete", "", `null`, 400, likeness.EINVALID},
	{"complete request: bad locale", likeness.RoleCollector, "POST", "/v1/requests/REQ/complete", "", `{"locale":"de DE"}`, 400, likeness.EINVALID},
	{"complete request: unknown field", likeness.RoleCollector, "POST", "/v1/requests/REQ/complete", "", `{"force":true}`, 400, likeness.EINVALID},
	{"extend request: NUL in reason", likeness.RoleCollector, "POST", "/v1/requests/REQ/extend", "", `{"reason":"busy\u0000"}`, 400, likeness.EINVALID},
	{"open request: invalid UTF-8 in channel", likeness.RoleCollector, "POST", "/v1/requests", "", "{\"subject_id\":\"SUB\",\"type\":\"access\",\"channel\":\"\xc3\x28\"}", 400, likeness.EINVALID},
	{"erase subject: a body on a DELETE", likeness.RoleAdmin, "DELETE", "/v1/subjects/SUB", "", `{"confirm":true}`, 400, likeness.EINVALID},
	{"rebuild dataset: unknown field", likeness.RolePipeline, "POST", "/v1/datasets/ds_x/rebuild", "", `{"out":"/tmp"}`, 400, likeness.EINVALID},
	{"rebuild dataset: malformed body", likeness.RolePipeline, "POST", "/v1/datasets/ds_x/rebuild", "", `{`, 400, likeness.EINVALID},
	{"rebuild dataset: null body", likeness.RolePipeline, "POST", "/v1/datasets/ds_x/rebuild", "", `null`, 400, likeness.EINVALID},
	{"build dataset: NUL in recipient", likeness.RolePipeline, "POST", "/v1/datasets", "", `{"purpose":"ai-training","categories":["image"],"recipient":"acme\u0000"}`, 400, likeness.EINVALID},
	{"dataset audit: NUL in target", likeness.RoleAuditor, "GET", "/v1/datasets/ds_x/audit?target=%7B%22a%5Cu0000%22%3A%7B%7D%7D", "", "", 400, likeness.EINVALID},
	{"register model: null body", likeness.RolePipeline, "POST", "/v1/models", "", `null`, 400, likeness.EINVALID},
	{"attributes: NUL in a map key", likeness.RoleCollector, "PUT", "/v1/subjects/SUB/attributes", "", `{"purpose":"ai-training","attributes":{"age\u0000":"30"}}`, 400, likeness.EINVALID},
	{"retry dead letter: a body where none is taken", likeness.RoleAdmin, "POST", "/v1/events/dead-letters/webhook/dlv_x/retry", "", `{}`, 400, likeness.EINVALID},
	{"create api key: NUL in name", likeness.RoleAdmin, "POST", "/v1/apikeys", "", `{"name":"ops\u0000","role":"auditor"}`, 400, likeness.EINVALID},
	{"decision: NUL in subject id", likeness.RolePipeline, "POST", "/v1/decisions", "", `{"subject_id":"sub_\u0000","purpose":"ai-training","data_category":"image"}`, 400, likeness.EINVALID},
	{"decision: a key twice", likeness.RolePipeline, "POST", "/v1/decisions", "", `{"subject_id":"SUB","purpose":"voice-cloning","data_category":"image","purpose":"ai-training"}`, 400, likeness.EINVALID},
	{"consent session: null body", likeness.RoleCollector, "POST", "/v1/consent-sessions", "", `null`, 400, likeness.EINVALID},
	{"consent session: NUL in return_url", likeness.RoleCollector, "POST", "/v1/consent-sessions", "", `{"subject_id":"SUB","purposes":["ai-training"],"return_url":"https://x.example/\u0000"}`, 400, likeness.EINVALID},
	{"portal link: null body", likeness.RoleAdmin, "POST", "/v1/subjects/SUB/portal-links", "", `null`, 400, likeness.EINVALID},
	{"portal link: unknown field", likeness.RoleAdmin, "POST", "/v1/subjects/SUB/portal-links", "", `{"ttl":"9999h"}`, 400, likeness.EINVALID},
	{"incident: null body", likeness.RoleAdmin, "POST", "/v1/incidents", "", `null`, 400, likeness.EINVALID},
	{"validate: null body", likeness.RoleAdmin, "POST", "/v1/validations/evt_x", "", `null`, 400, likeness.EINVALID},
	{"validate: unknown field", likeness.RoleAdmin, "POST", "/v1/validations/evt_x", "", `{"decision":"approve","reason":"ok","force":true}`, 400, likeness.EINVALID},
	{"validate: NUL in reason", likeness.RoleAdmin, "POST", "/v1/validations/evt_x", "", `{"decision":"approve","reason":"ok\u0000"}`, 400, likeness.EINVALID},
	{"validate: empty reason", likeness.RoleAdmin, "POST", "/v1/validations/evt_x", "", `{"decision":"approve","reason":""}`, 400, likeness.EINVALID},
	{"validate: unknown item", likeness.RoleAdmin, "POST", "/v1/validations/evt_x", "", `{"decision":"approve","reason":"ok"}`, 404, likeness.ENOTFOUND},
	{"validations: unknown state", likeness.RoleAuditor, "GET", "/v1/validations?state=lost", "", "", 400, likeness.EINVALID},
	{"validations: limit out of range", likeness.RoleAuditor, "GET", "/v1/validations?limit=0", "", "", 400, likeness.EINVALID},
}

// TestMalformedInputIsRefusedAlikeOnEveryDatabase sends input that must
// never reach a service: each case gets the same 4xx status and error code
// on SQLite and PostgreSQL, and nothing is written.
func TestMalformedInputIsRefusedAlikeOnEveryDatabase(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := newBoundaryEnv(t, mk(t))
			ids := strings.NewReplacer("SUB", b.sub, "REQ", b.req)
			for _, c := range boundaryCases {
				t.Run(c.name, func(t *testing.T) {
					before := b.state(t)
					var body []byte
					ctype := c.ctype
					if c.body != "" {
						body = []byte(ids.Replace(c.body))
						if ctype == "" {
							ctype = "application/json"
						}
					}
					r := b.raw(c.role, c.method, ids.Replace(c.path), ctype, body)
					if r.status != c.status {
						t.Fatalf("status %d, want %d: %.300s", r.status, c.status, r.body)
					}
					if code := r.errCode(t); code != c.code {
						t.Fatalf("code %q, want %q: %.300s", code, c.code, r.body)
					}
					if after := b.state(t); after != before {
						t.Fatalf("a refused request changed what is stored:\nbefore %s\nafter  %s", before, after)
					}
				})
			}
			// The same input, well-formed, does reach the service.
			if r := b.call(likeness.RoleCollector, "POST", "/v1/subjects", map[string]string{"external_id": "n9", "jurisdiction": "EU-DE", "locale": "pt-BR"}); r.status != 201 {
				t.Fatalf("a BCP 47 locale: %d %s", r.status, r.body)
			}
		})
	}
}
