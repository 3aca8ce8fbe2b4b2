package httpapi_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/sqlstore"
)

func TestSubjectCreateIsIdempotentAndExternalIDIsNotStored(t *testing.T) {
	e := newEnv(t, "")
	const ext = "crm-user-8472-secret-marker"
	a := e.subject(ext, "US-CA")
	r := e.call(likeness.RoleCollector, "POST", "/v1/subjects", map[string]string{"external_id": ext, "jurisdiction": "US-CA"})
	var again struct{ ID string }
	r.json(t, &again)
	if r.status != 200 || again.ID != a {
		t.Fatalf("second create: %d id=%s, want 200 with %s", r.status, again.ID, a)
	}
	var found struct{ ID string }
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects?external_id="+ext, nil).json(t, &found)
	if found.ID != a {
		t.Fatalf("lookup by external id found %q", found.ID)
	}
	// The same with the id in the body, out of URLs.
	var looked struct{ ID string }
	if r := e.call(likeness.RoleAuditor, "POST", "/v1/subjects/lookup", map[string]string{"external_id": ext}); r.status != 200 {
		t.Fatalf("lookup in the body: %d %s", r.status, r.body)
	} else if r.json(t, &looked); looked.ID != a {
		t.Fatalf("lookup in the body found %q", looked.ID)
	}
	for body, want := range map[string]int{`{"external_id":"nobody-here"}`: 404, `{}`: 400, `{"externalid":"x"}`: 400} {
		if r := e.call(likeness.RoleAuditor, "POST", "/v1/subjects/lookup", body); r.status != want {
			t.Errorf("lookup %s: %d %s, want %d", body, r.status, r.body, want)
		}
	}
	if scanFor(t, e.store, ext) {
		t.Fatal("the raw external id is stored in the database")
	}
}

// scanFor reports whether any text or blob column of any table holds marker.
func scanFor(t *testing.T, db *sqlstore.DB, marker string) bool {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT name FROM sqlite_master WHERE type='table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tbl := range tables {
		rs, err := db.SQL().Query("SELECT * FROM " + tbl)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rs.Scan(ptrs...)
			for _, v := range vals {
				switch x := v.(type) {
				case string:
					if strings.Contains(x, marker) {
						rs.Close()
						return true
					}
				case []byte:
					if bytes.Contains(x, []byte(marker)) {
						rs.Close()
						return true
					}
				}
			}
		}
		rs.Close()
	}
	return false
}

func TestEvidenceIsSealedAtRest(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("user-6", "US-IL")
	n := e.notice("en")
	const marker = "Jane Q. Signature-Marker"
	r := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents", map[string]any{
		"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": n.SHA256,
		"method": "written", "language": "en", "evidence": map[string]string{"signature": marker}})
	if r.status != 201 {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	if scanFor(t, e.store, marker) {
		t.Fatal("evidence is stored in plaintext")
	}
	var hist struct {
		History []likeness.ConsentEvent `json:"history"`
	}
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/consents", nil).json(t, &hist)
	if hist.History[0].Evidence["signature"] != marker {
		t.Fatalf("evidence did not round-trip: %+v", hist.History[0].Evidence)
	}
}

func TestAMinorsConsentNeedsTheirGuardian(t *testing.T) {
	e := newEnv(t, "")
	r := e.call(likeness.RoleCollector, "POST", "/v1/subjects", map[string]any{"external_id": "kid", "jurisdiction": "EU-DE", "guardian": true})
	var sub struct {
		ID       string
		Guardian bool
	}
	r.json(t, &sub)
	if r.status != 201 || !sub.Guardian {
		t.Fatalf("create minor: %d %s", r.status, r.body)
	}
	n := e.notice("en")
	grant := map[string]any{"purposes": []string{"ai-training"}, "notice_version": n.Version, "notice_sha256": n.SHA256, "method": "checkbox", "language": "en"}
	if g := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub.ID+"/consents", grant); g.status != 400 {
		t.Fatalf("grant for a minor without a guardian: %d %s, want 400", g.status, g.body)
	}
	assertLedgerSize(t, e, 0)
	grant["evidence"] = map[string]string{"guardian": "Pat Parent"}
	if g := e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub.ID+"/consents", grant); g.status != 201 {
		t.Fatalf("grant by the guardian: %d %s", g.status, g.body)
	}
}

func TestRectifiedJurisdictionTakesEffectAtOnce(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("moved", "US-CA")
	e.grant(sub, "marketing-personalization")
	q := map[string]any{"subject_id": sub, "purpose": "marketing-personalization", "data_category": "image", "recipient": "adpartner-us"}
	if d := e.decide(q); !d.Allow {
		t.Fatalf("US subject to a US partner: %+v", d)
	}
	r := e.call(likeness.RoleCollector, "PATCH", "/v1/subjects/"+sub, map[string]string{"jurisdiction": "EU-DE"})
	if r.status != 200 || !strings.Contains(string(r.body), `"jurisdiction":"EU-DE"`) {
		t.Fatalf("rectify: %d %s", r.status, r.body)
	}
	if d := e.decide(q); d.Allow || !has(d.Reasons, "transfer_not_permitted") {
		t.Fatalf("after the correction to EU-DE, a transfer with no mechanism: %+v", d)
	}
	if r := e.call(likeness.RoleCollector, "PATCH", "/v1/subjects/"+sub, map[string]string{"jurisdiction": "Atlantis"}); r.status != 400 {
		t.Fatalf("bad jurisdiction: %d", r.status)
	}
	if got, _ := e.store.Subject(context.Background(), sub); got.Jurisdiction != "EU-DE" {
		t.Fatalf("a refused correction changed the subject: %+v", got)
	}
}
