package httpapi_test

import (
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
)

type requestOut struct {
	ID             string    `json:"id"`
	SubjectID      string    `json:"subject_id"`
	Type           string    `json:"type"`
	Purpose        string    `json:"purpose"`
	Channel        string    `json:"channel"`
	State          string    `json:"state"`
	ReceivedAt     time.Time `json:"received_at"`
	DueAt          time.Time `json:"due_at"`
	ExtendedTo     time.Time `json:"extended_to"`
	Deadline       time.Time `json:"deadline"`
	Overdue        bool      `json:"overdue"`
	Outcome        string    `json:"outcome"`
	Certificate    string    `json:"certificate"`
	RejectReason   string    `json:"reject_reason"`
	Revision       *int64    `json:"revision"`
	ClaimedUntil   *string   `json:"claimed_until"`
	CertificateB64 *string   `json:"Certificate"`
}

func (e *env) request(role likeness.Role, method, path string, body any, want int) requestOut {
	e.t.Helper()
	r := e.call(role, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
	}
	var out requestOut
	r.json(e.t, &out)
	return out
}

func (e *env) listRequests(query string) []requestOut {
	e.t.Helper()
	r := e.call(likeness.RoleAuditor, "GET", "/v1/requests"+query, nil)
	if r.status != 200 {
		e.t.Fatalf("list requests%s: %d %s", query, r.status, r.body)
	}
	var out struct {
		Requests []requestOut `json:"requests"`
	}
	r.json(e.t, &out)
	if out.Requests == nil {
		e.t.Fatalf("list requests%s: %s has no requests array", query, r.body)
	}
	return out.Requests
}

func TestErasureRequestOverHTTPErasesOnceAndKeepsTheCertificate(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("user-1", "EU-DE")
			if r := e.grant(sub, "ai-training"); r.status != 201 {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			received := likenesstest.Start.Add(-24 * time.Hour)
			req := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "erasure",
				"channel": "email", "received_at": received.Format(time.RFC3339)}, 201)
			if !likeness.ValidID("req", req.ID) || req.State != "open" || !req.ReceivedAt.Equal(received) ||
				!req.DueAt.Equal(received.AddDate(0, 1, 0)) || !req.Deadline.Equal(req.DueAt) || req.Overdue {
				t.Fatalf("opened request: %+v", req)
			}
			if req.Revision != nil || req.ClaimedUntil != nil || req.CertificateB64 != nil {
				t.Fatalf("internal fields leak into the API: %+v", req)
			}
			if got := e.request(likeness.RoleAuditor, "GET", "/v1/requests/"+req.ID, nil, 200); got.ID != req.ID || got.Type != "erasure" {
				t.Fatalf("GET: %+v", got)
			}
			// Roles: the auditor reads but never changes; the pipeline sees nothing.
			if r := e.call(likeness.RoleAuditor, "POST", "/v1/requests/"+req.ID+"/complete", nil); r.status != 403 {
				t.Fatalf("auditor completing: %d", r.status)
			}
			if r := e.call(likeness.RolePipeline, "GET", "/v1/requests", nil); r.status != 403 {
				t.Fatalf("pipeline listing: %d", r.status)
			}

			ext := e.request(likeness.RoleCollector, "POST", "/v1/requests/"+req.ID+"/extend", map[string]string{"reason": "backups in three regions"}, 200)
			if !ext.ExtendedTo.Equal(received.AddDate(0, 3, 0)) || !ext.Deadline.Equal(ext.ExtendedTo) {
				t.Fatalf("extended: %+v", ext)
			}
			if r := e.call(likeness.RoleCollector, "POST", "/v1/requests/"+req.ID+"/extend", map[string]string{"reason": "again"}); r.status != 409 {
				t.Fatalf("second extension: %d %s", r.status, r.body)
			}

			done := e.request(likeness.RoleAdmin, "POST", "/v1/requests/"+req.ID+"/complete", nil, 200)
			if done.State != "completed" || done.Outcome != "erasure certificate issued" || done.Certificate == "" {
				t.Fatalf("completed: %+v", done)
			}
			claims, err := e.d.Erasure.VerifyCertificate([]byte(done.Certificate))
			if err != nil || claims.Subject != sub {
				t.Fatalf("certificate: %+v %v", claims, err)
			}
			d := e.decide(map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"})
			if d.Allow || !has(d.Reasons, "subject_erased") {
				t.Fatalf("decision after the erasure request: %+v", d)
			}
			if r := e.call(likeness.RoleAdmin, "POST", "/v1/requests/"+req.ID+"/complete", nil); r.status != 409 || r.errCode(t) != likeness.ECONFLICT {
				t.Fatalf("second completion: %d %s", r.status, r.body)
			}
			if got := e.request(likeness.RoleAuditor, "GET", "/v1/requests/"+req.ID, nil, 200); got.Certificate != done.Certificate {
				t.Fatal("the stored certificate differs from the one returned")
			}
			if r := e.call(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "access", "channel": "portal"}); r.status != 410 {
				t.Fatalf("access request for an erased subject: %d %s", r.status, r.body)
			}
			if got := e.listRequests("?state=completed&subject_id=" + sub); len(got) != 1 || got[0].ID != req.ID {
				t.Fatalf("completed requests of the subject: %+v", got)
			}
		})
	}
}

func TestWithdrawalRectificationAndRejectRequestsOverHTTP(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-1", "EU-DE")
	e.grant(sub, "ai-training", "marketing-personalization")

	w := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "withdrawal",
		"channel": "phone", "purpose": "marketing-personalization"}, 201)
	if done := e.request(likeness.RoleCollector, "POST", "/v1/requests/"+w.ID+"/complete", nil, 200); done.Outcome != "consent withdrawn" {
		t.Fatalf("withdrawal: %+v", done)
	}
	if d := e.decide(map[string]any{"subject_id": sub, "purpose": "marketing-personalization", "data_category": "image"}); d.Allow {
		t.Fatalf("decision after the withdrawal request: %+v", d)
	}

	rect := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "rectification", "channel": "letter"}, 201)
	if r := e.call(likeness.RoleCollector, "POST", "/v1/requests/"+rect.ID+"/complete", map[string]string{"jurisdiction": "Atlantis"}); r.status != 400 {
		t.Fatalf("rectification to a bad jurisdiction: %d %s", r.status, r.body)
	}
	if got := e.request(likeness.RoleAuditor, "GET", "/v1/requests/"+rect.ID, nil, 200); got.State != "open" {
		t.Fatalf("a refused completion changed the request: %+v", got)
	}
	e.request(likeness.RoleCollector, "POST", "/v1/requests/"+rect.ID+"/complete", map[string]string{"jurisdiction": "US-CA"}, 200)
	r := e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub, nil)
	var s struct{ Jurisdiction string }
	r.json(t, &s)
	if s.Jurisdiction != "US-CA" {
		t.Fatalf("subject after rectification: %s", r.body)
	}

	acc := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "access", "channel": "api"}, 201)
	if !acc.DueAt.Equal(likenesstest.Start.AddDate(0, 0, 45)) {
		t.Fatalf("access request of a US-CA subject due %v, want 45 days", acc.DueAt)
	}
	if r := e.call(likeness.RoleCollector, "POST", "/v1/requests/"+acc.ID+"/reject", map[string]string{}); r.status != 400 {
		t.Fatalf("reject without a reason: %d %s", r.status, r.body)
	}
	rej := e.request(likeness.RoleCollector, "POST", "/v1/requests/"+acc.ID+"/reject", map[string]string{"reason": "identity not verified"}, 200)
	if rej.State != "rejected" || rej.RejectReason != "identity not verified" {
		t.Fatalf("rejected: %+v", rej)
	}
}

func TestOverdueRequestsAreListedOverHTTP(t *testing.T) {
	e := newEnv(t, "")
	eu, us := e.subject("eu", "EU-DE"), e.subject("us", "US-CA")
	a := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": eu, "type": "access", "channel": "email"}, 201)
	b := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": us, "type": "export", "channel": "portal"}, 201)
	if got := e.listRequests("?overdue=true"); len(got) != 0 {
		t.Fatalf("overdue right away: %+v", got)
	}
	e.clock.Set(a.DueAt.Add(time.Second)) // the EU month has passed, the 45 US days not
	got := e.listRequests("?overdue=true")
	if len(got) != 1 || got[0].ID != a.ID || !got[0].Overdue {
		t.Fatalf("overdue after the EU deadline: %+v", got)
	}
	if got := e.listRequests("?state=open"); len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID || got[1].Overdue {
		t.Fatalf("open requests, most urgent first: %+v", got)
	}
	if got := e.listRequests("?overdue=true&subject_id=" + us); len(got) != 0 {
		t.Fatalf("overdue for the US subject: %+v", got)
	}
	if got := e.listRequests("?limit=1"); len(got) != 1 {
		t.Fatalf("limit=1 gave %d", len(got))
	}
}

func TestBadRequestInputIsRefusedAndWritesNothing(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-1", "EU-DE")
	valid := `{"subject_id":"` + sub + `","type":"access","channel":"email"}`
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"malformed JSON", `{"subject_id":`, 400},
		{"unknown field", `{"subject_id":"` + sub + `","type":"access","channel":"email","name":"Ann"}`, 400},
		{"two values", valid + valid, 400},
		{"type is a number", `{"subject_id":"` + sub + `","type":3,"channel":"email"}`, 400},
		{"no subject", `{"type":"access","channel":"email"}`, 400},
		{"unknown type", `{"subject_id":"` + sub + `","type":"forget","channel":"email"}`, 400},
		{"unknown channel", `{"subject_id":"` + sub + `","type":"access","channel":"pigeon"}`, 400},
		{"withdrawal without purpose", `{"subject_id":"` + sub + `","type":"withdrawal","channel":"email"}`, 400},
		{"unknown purpose", `{"subject_id":"` + sub + `","type":"withdrawal","channel":"email","purpose":"x"}`, 400},
		{"bad received_at", `{"subject_id":"` + sub + `","type":"access","channel":"email","received_at":"yesterday"}`, 400},
		{"future received_at", `{"subject_id":"` + sub + `","type":"access","channel":"email","received_at":"2099-01-01T00:00:00Z"}`, 400},
		{"unknown subject", `{"subject_id":"` + likeness.NewID("sub") + `","type":"access","channel":"email"}`, 404},
	}
	for _, c := range cases {
		r := e.call(likeness.RoleCollector, "POST", "/v1/requests", c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		r.errCode(t) // has a message
	}
	if got := e.listRequests(""); len(got) != 0 {
		t.Fatalf("refused requests were stored: %+v", got)
	}
	for _, q := range []string{"?overdue=maybe", "?state=pending", "?limit=0", "?limit=x", "?subject_id=bob"} {
		if r := e.call(likeness.RoleAuditor, "GET", "/v1/requests"+q, nil); r.status != 400 {
			t.Errorf("GET /v1/requests%s: %d %s, want 400", q, r.status, r.body)
		}
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/requests/"+likeness.NewID("req"), nil); r.status != 404 {
		t.Errorf("unknown request: %d", r.status)
	}
	req := e.request(likeness.RoleCollector, "POST", "/v1/requests", valid, 201)
	for _, c := range []struct {
		path string
		body any
	}{
		{"/complete", map[string]string{"locale": "de"}}, // params are for rectifications only
		{"/complete", `{"surprise":1}`},
		{"/extend", `{}`},
		{"/extend", `not json`},
		{"/reject", `{"reason":""}`},
	} {
		if r := e.call(likeness.RoleAdmin, "POST", "/v1/requests/"+req.ID+c.path, c.body); r.status != 400 {
			t.Errorf("POST %s %v: %d %s, want 400", c.path, c.body, r.status, r.body)
		}
	}
	if got := e.request(likeness.RoleAuditor, "GET", "/v1/requests/"+req.ID, nil, 200); got.State != "open" || !got.ExtendedTo.IsZero() {
		t.Fatalf("refused calls changed the request: %+v", got)
	}
}
