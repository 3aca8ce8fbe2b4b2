package httpapi_test

import (
	"fmt"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
)

// validatingBackends are API environments under likenesstest's
// ValidatingPolicy (every ai-training consent waits for a reviewer).
func validatingBackends(t *testing.T) map[string]func(t *testing.T) *env {
	return map[string]func(t *testing.T) *env{
		"sqlite": func(t *testing.T) *env {
			return newEnvWith(t, likenesstest.Options{Policy: likenesstest.ValidatingPolicy(t)})
		},
		"postgres": func(t *testing.T) *env {
			return newEnvWith(t, likenesstest.Options{DSN: storetest.Postgres(t), Policy: likenesstest.ValidatingPolicy(t)})
		},
	}
}

type validationOut struct {
	EventID   string    `json:"event_id"`
	SubjectID string    `json:"subject_id"`
	Purpose   string    `json:"purpose"`
	Collector string    `json:"collector"`
	Due       time.Time `json:"due"`
	Overdue   bool      `json:"overdue"`
	State     string    `json:"state"`
	Reviewer  string    `json:"reviewer"`
	Consent   *struct {
		Method        string            `json:"method"`
		NoticeVersion int64             `json:"notice_version"`
		Evidence      map[string]string `json:"evidence"`
	} `json:"consent"`
}

func (e *env) validations(query string) []validationOut {
	e.t.Helper()
	r := e.call(likeness.RoleAuditor, "GET", "/v1/validations"+query, nil)
	if r.status != 200 {
		e.t.Fatalf("list validations: %d %s", r.status, r.body)
	}
	var out struct{ Validations []validationOut }
	r.json(e.t, &out)
	return out.Validations
}

// pendingGrant records a consent to ai-training as role and returns its
// event id, checking it waits for validation.
func (e *env) pendingGrant(role likeness.Role, sub string) string {
	e.t.Helper()
	n := e.notice("en")
	r := e.call(role, "POST", "/v1/subjects/"+sub+"/consents", map[string]any{"purposes": []string{"ai-training"},
		"notice_version": n.Version, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"})
	if r.status != 201 {
		e.t.Fatalf("grant: %d %s", r.status, r.body)
	}
	var g struct {
		Events []struct {
			ID            string    `json:"id"`
			Validation    string    `json:"validation"`
			ValidationDue time.Time `json:"validation_due"`
		} `json:"events"`
	}
	r.json(e.t, &g)
	if ev := g.Events[0]; ev.Validation != "pending" || !ev.ValidationDue.Equal(e.clock.Now().Add(72*time.Hour)) {
		e.t.Fatalf("grant answer: %+v; want pending, due in 72 hours", ev)
	}
	return g.Events[0].ID
}

func TestValidationQueueThroughTheAPI(t *testing.T) {
	for name, mk := range validatingBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			validateResponses(t, e)
			sub := e.subject("api-val-1", "EU-DE")
			id := e.pendingGrant(likeness.RoleCollector, sub)
			q := map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}
			if d := e.decide(q); d.Allow || !has(d.Reasons, "pending_validation") {
				t.Fatalf("before approval: %+v", d)
			}
			list := e.validations("")
			if len(list) != 1 || list[0].EventID != id || list[0].Overdue || list[0].Collector == "" {
				t.Fatalf("queue: %+v", list)
			}
			e.clock.Add(73 * time.Hour)
			if list = e.validations("?state=pending"); !list[0].Overdue {
				t.Fatalf("past its deadline the item is not flagged: %+v", list[0])
			}
			var item validationOut
			if r := e.call(likeness.RoleAuditor, "GET", "/v1/validations/"+id, nil); r.status != 200 {
				t.Fatalf("get item: %d %s", r.status, r.body)
			} else {
				r.json(t, &item)
			}
			if item.Consent == nil || item.Consent.Method != "checkbox" || item.Consent.NoticeVersion == 0 {
				t.Fatalf("what a reviewer sees: %+v", item)
			}

			r := e.call(likeness.RoleAdmin, "POST", "/v1/validations/"+id, map[string]string{"decision": "approve", "reason": "checked with the person"})
			if r.status != 201 {
				t.Fatalf("approve: %d %s", r.status, r.body)
			}
			var out struct {
				Event struct {
					ID     string `json:"id"`
					Type   string `json:"type"`
					Refers string `json:"refers"`
				} `json:"event"`
				Validation validationOut `json:"validation"`
				Receipt    string        `json:"receipt"`
				Revision   int64         `json:"revision"`
			}
			r.json(t, &out)
			if out.Event.Type != "validated" || out.Event.Refers != id || out.Validation.State != "approved" || out.Revision == 0 {
				t.Fatalf("approval answer: %s", r.body)
			}
			c, err := e.d.Ledger.Signer().Verifier().VerifyReceipt(out.Receipt)
			if err != nil || c.Type != "validated" || c.Refers != id {
				t.Fatalf("approval receipt: %+v, %v", c, err)
			}
			if d := e.decide(q); !d.Allow {
				t.Fatalf("after approval: %+v", d)
			}
			if list = e.validations("?state=approved"); len(list) != 1 || list[0].Reviewer == "" || list[0].Overdue {
				t.Fatalf("approved items: %+v", list)
			}
			if list = e.validations(""); len(list) != 0 {
				t.Fatalf("pending after approval: %+v", list)
			}
			if list = e.validations("?state=all&limit=5"); len(list) != 1 {
				t.Fatalf("all items: %+v", list)
			}
		})
	}
}

// TestRefusedVerdictsWriteNothing sends verdicts the API must refuse:
// each gets its 4xx, and the ledger, the queue and the audit log stay as
// they were.
func TestRefusedVerdictsWriteNothing(t *testing.T) {
	for name, mk := range validatingBackends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			validateResponses(t, e)
			ownID := e.pendingGrant(likeness.RoleAdmin, e.subject("api-val-own", "EU-DE"))
			doneID := e.pendingGrant(likeness.RoleCollector, e.subject("api-val-done", "EU-DE"))
			if r := e.call(likeness.RoleAdmin, "POST", "/v1/validations/"+doneID, map[string]string{"decision": "reject", "reason": "not the person"}); r.status != 201 {
				t.Fatalf("reject: %d %s", r.status, r.body)
			}
			snapshot := func() string {
				var out string
				for _, table := range []string{"consent_events", "validations", "access_log", "outbox_messages"} {
					var n int
					e.store.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&n)
					out += fmt.Sprintf("%s=%d ", table, n)
				}
				rows, err := e.store.SQL().Query("SELECT event_id, state, reviewer FROM validations ORDER BY event_id")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var id, state, reviewer string
					rows.Scan(&id, &state, &reviewer)
					out += fmt.Sprintf("\n%s %s %s", id, state, reviewer)
				}
				return out
			}
			cases := []struct {
				name   string
				role   likeness.Role
				id     string
				body   any
				status int
				code   string
			}{
				{"four eyes: the key that recorded it", likeness.RoleAdmin, ownID, map[string]string{"decision": "approve", "reason": "fine"}, 403, likeness.EFORBIDDEN},
				{"a collector key", likeness.RoleCollector, doneID, map[string]string{"decision": "approve", "reason": "fine"}, 403, likeness.EFORBIDDEN},
				{"an auditor key", likeness.RoleAuditor, ownID, map[string]string{"decision": "approve", "reason": "fine"}, 403, likeness.EFORBIDDEN},
				{"already rejected", likeness.RoleAdmin, doneID, map[string]string{"decision": "approve", "reason": "second thoughts"}, 409, likeness.ECONFLICT},
				{"unknown item", likeness.RoleAdmin, "evt_unknown", map[string]string{"decision": "approve", "reason": "fine"}, 404, likeness.ENOTFOUND},
				{"empty reason", likeness.RoleAdmin, ownID, map[string]string{"decision": "approve", "reason": " "}, 400, likeness.EINVALID},
				{"no reason", likeness.RoleAdmin, ownID, map[string]string{"decision": "approve"}, 400, likeness.EINVALID},
				{"unknown decision", likeness.RoleAdmin, ownID, map[string]string{"decision": "maybe", "reason": "fine"}, 400, likeness.EINVALID},
				{"not JSON", likeness.RoleAdmin, ownID, "decision=approve", 400, likeness.EINVALID},
				{"no body", likeness.RoleAdmin, ownID, nil, 415, likeness.EUNSUPPORTED},
			}
			for _, c := range cases {
				before := snapshot()
				r := e.call(c.role, "POST", "/v1/validations/"+c.id, c.body)
				if r.status != c.status || r.errCode(t) != c.code {
					t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
				}
				if after := snapshot(); after != before {
					t.Errorf("%s changed what is stored:\nbefore %s\nafter  %s", c.name, before, after)
				}
			}
			if d := e.decide(map[string]any{"subject_id": e.subjectID("api-val-done"), "purpose": "ai-training", "data_category": "image"}); d.Allow || !has(d.Reasons, "validation_rejected") {
				t.Fatalf("after rejection: %+v", d)
			}
			if list := e.validations(""); len(list) != 1 || list[0].EventID != ownID {
				t.Fatalf("pending: %+v", list)
			}
		})
	}
}

func (e *env) subjectID(ext string) string {
	e.t.Helper()
	r := e.call(likeness.RoleAuditor, "GET", "/v1/subjects?external_id="+ext, nil)
	var s struct{ ID string }
	r.json(e.t, &s)
	return s.ID
}
