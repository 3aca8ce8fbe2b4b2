package httpapi_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// incEnv is the test API (which serves incidents as serve does) with two
// people's assets.
type incEnv struct {
	*env
	alice, bob string
	aliceVoice *likeness.Asset
	bobImage   *likeness.Asset
}

func newIncEnv(t *testing.T) *incEnv {
	t.Helper()
	e := &incEnv{env: newEnv(t, "")}
	ctx := context.Background()
	e.alice, e.bob = e.subject("alice", "EU-DE"), e.subject("bob", "EU-DE")
	e.grant(e.alice, "voice-transcription")
	e.grant(e.bob, "marketing-personalization")
	ingest := func(sub, purpose, category, ct string, body []byte) *likeness.Asset {
		a, err := e.vault.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: purpose, Category: category, ContentType: ct, Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		return a
	}
	e.aliceVoice = ingest(e.alice, "voice-transcription", "voice", "audio/wav", likenesstest.WAV("alice", 64))
	e.clock.Add(time.Hour)
	e.bobImage = ingest(e.bob, "marketing-personalization", "image", "image/jpeg", smallJPEG(t, 10))
	e.clock.Add(time.Hour)
	return e
}

type incidentJSON struct {
	ID                string    `json:"id"`
	State             string    `json:"state"`
	OpenedBy          string    `json:"opened_by"`
	AffectedSubjects  int       `json:"affected_subjects"`
	AffectedAssets    int       `json:"affected_assets"`
	AuthorityDeadline time.Time `json:"authority_deadline"`
	HoursLeft         *float64  `json:"hours_left"`
	Overdue           bool      `json:"overdue"`
	Notifications     []struct {
		Kind      string `json:"kind"`
		Reference string `json:"reference"`
		Count     int    `json:"count"`
	} `json:"notifications"`
}

func (e *incEnv) incidents(query string) []incidentJSON {
	e.t.Helper()
	r := e.call(likeness.RoleAuditor, "GET", "/v1/incidents"+query, nil)
	if r.status != 200 {
		e.t.Fatalf("list incidents: %d %s", r.status, r.body)
	}
	var out struct{ Incidents []incidentJSON }
	r.json(e.t, &out)
	return out.Incidents
}

func TestIncidentAPIOpensWithComputedSubjectsAndTracksTheDeadline(t *testing.T) {
	e := newIncEnv(t)
	detected := e.clock.Now().Add(-2 * time.Hour)
	r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents", map[string]any{
		"title": "Voice archive exposed", "description": "An export of call recordings was reachable without login.",
		"detected_at": detected, "scope": map[string]any{"categories": []string{"voice"}}})
	if r.status != 201 {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	var inc incidentJSON
	r.json(t, &inc)
	if inc.AffectedSubjects != 1 || inc.AffectedAssets != 1 || inc.State != "open" || !strings.HasPrefix(inc.OpenedBy, "key_") ||
		!inc.AuthorityDeadline.Equal(detected.Add(72*time.Hour)) || inc.HoursLeft == nil || *inc.HoursLeft != 70 {
		t.Fatalf("opened incident: %s", r.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/incidents/"+inc.ID+"/subjects", nil)
	var subs struct{ Subjects []likeness.IncidentSubject }
	r.json(t, &subs)
	if r.status != 200 || len(subs.Subjects) != 1 || subs.Subjects[0].SubjectID != e.alice || !slices.Equal(subs.Subjects[0].AssetIDs, []string{e.aliceVoice.ID}) {
		t.Fatalf("affected subjects: %d %s", r.status, r.body)
	}

	if got := e.incidents("?overdue=true"); len(got) != 0 {
		t.Fatalf("overdue right after opening: %v", got)
	}
	e.clock.Add(71 * time.Hour)
	if got := e.incidents("?overdue=true"); len(got) != 1 || got[0].ID != inc.ID || !got[0].Overdue || *got[0].HoursLeft >= 0 {
		t.Fatalf("overdue past the deadline: %+v", got)
	}
	r = e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/notifications", map[string]string{"kind": "authority", "reference": "BfDI-2026-0117"})
	if r.status != 201 {
		t.Fatalf("notify authority: %d %s", r.status, r.body)
	}
	if got := e.incidents("?overdue=true"); len(got) != 0 {
		t.Fatalf("still overdue after notifying the authority: %+v", got)
	}
	r = e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/notifications", map[string]string{"kind": "subjects"})
	var after incidentJSON
	r.json(t, &after)
	if r.status != 201 || after.State != "authority_notified" || len(after.Notifications) != 2 ||
		after.Notifications[1].Kind != "subjects" || after.Notifications[1].Count != 1 {
		t.Fatalf("notify subjects: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/notifications", map[string]string{"kind": "subjects"}); r.status != 409 {
		t.Fatalf("second subjects notification: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/close", map[string]string{"reason": "resolved"})
	var closed incidentJSON
	r.json(t, &closed)
	if r.status != 200 || closed.State != "closed" {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/incidents/"+inc.ID, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"close_reason":"resolved"`) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
}

func TestIncidentAPICloseRules(t *testing.T) {
	e := newIncEnv(t)
	r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents", map[string]any{"title": "Laptop lost",
		"detected_at": e.clock.Now(), "scope": map[string]any{"asset_ids": []string{e.bobImage.ID}}})
	if r.status != 201 {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	var inc incidentJSON
	r.json(t, &inc)
	if inc.AffectedSubjects != 1 {
		t.Fatalf("explicit asset scope affected %d subjects", inc.AffectedSubjects)
	}
	for _, tc := range []struct {
		body   any
		status int
	}{
		{map[string]string{"reason": "resolved"}, 409}, // the authority was not notified
		{map[string]string{"reason": "no_risk"}, 400},  // no note saying why
		{map[string]string{"reason": "later"}, 400},
		{map[string]string{}, 400},
		{`{"reason":"no_risk","note":"x","extra":1}`, 400},
	} {
		if r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/close", tc.body); r.status != tc.status || r.errCode(t) == "" {
			t.Errorf("close with %v: %d %s, want %d", tc.body, r.status, r.body, tc.status)
		}
	}
	r = e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/close",
		map[string]string{"reason": "no_risk", "note": "The laptop's disk was fully encrypted and it was locked."})
	if r.status != 200 {
		t.Fatalf("close no_risk: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/notifications", map[string]string{"kind": "authority", "reference": "x"}); r.status != 409 {
		t.Fatalf("notifying a closed incident: %d %s", r.status, r.body)
	}
}

func TestIncidentAPIRolesAndBadInputWriteNothing(t *testing.T) {
	e := newIncEnv(t)
	now := e.clock.Now()
	good := map[string]any{"title": "t", "detected_at": now}
	for _, role := range []likeness.Role{likeness.RoleAuditor, likeness.RoleCollector, likeness.RolePipeline} {
		if r := e.call(role, "POST", "/v1/incidents", good); r.status != 403 {
			t.Errorf("%s opened an incident: %d", role, r.status)
		}
	}
	if r := e.call(likeness.RolePipeline, "GET", "/v1/incidents", nil); r.status != 403 {
		t.Errorf("pipeline listed incidents: %d", r.status)
	}
	for name, body := range map[string]any{
		"empty title":           map[string]any{"title": "", "detected_at": now},
		"no detected_at":        map[string]any{"title": "t"},
		"detected in future":    map[string]any{"title": "t", "detected_at": now.Add(time.Hour)},
		"unknown category":      map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"categories": []string{"fingerprint"}}},
		"unknown purpose":       map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"purposes": []string{"resale"}}},
		"to before from":        map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"from": now, "to": now.Add(-time.Hour)}},
		"unknown asset":         map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"asset_ids": []string{likeness.NewID("ast")}}},
		"unknown field":         map[string]any{"title": "t", "detected_at": now, "affected_subjects": 3},
		"unknown scope field":   map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"subjects": []string{e.alice}}},
		"detected_at not time":  map[string]any{"title": "t", "detected_at": "yesterday"},
		"malformed JSON":        `{"title":`,
		"categories not a list": map[string]any{"title": "t", "detected_at": now, "scope": map[string]any{"categories": "voice"}},
	} {
		r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents", body)
		if r.status != 400 || r.errCode(t) != likeness.EINVALID {
			t.Errorf("%s: %d %s, want 400 invalid", name, r.status, r.body)
		}
	}
	if got := e.incidents(""); len(got) != 0 {
		t.Fatalf("refused requests stored %d incidents", len(got))
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/incidents?overdue=maybe", nil); r.status != 400 {
		t.Errorf("overdue=maybe: %d", r.status)
	}
	if r := e.call(likeness.RoleAuditor, "GET", "/v1/incidents/"+likeness.NewID("inc"), nil); r.status != 404 {
		t.Errorf("unknown incident: %d", r.status)
	}
	r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents", good)
	if r.status != 201 {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	var inc incidentJSON
	r.json(t, &inc)
	for name, body := range map[string]any{
		"unknown kind":          map[string]string{"kind": "press"},
		"authority without ref": map[string]string{"kind": "authority"},
		"at in the future":      map[string]any{"kind": "authority", "reference": "r", "at": now.Add(time.Hour)},
	} {
		if r := e.call(likeness.RoleAdmin, "POST", "/v1/incidents/"+inc.ID+"/notifications", body); r.status != 400 {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
	if got := e.incidents(""); len(got) != 1 || len(got[0].Notifications) != 0 || got[0].State != "open" {
		t.Fatalf("refused notifications changed the incident: %+v", got)
	}
}
