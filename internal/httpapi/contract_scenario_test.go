package httpapi_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"likeness"
)

// TestEveryRouteAnswersAsDocumented drives a real server through a scenario
// that calls every documented operation at least once and checks each
// response (successes and the expected errors alike) against openapi.json.
// It is one scenario from start to finish; each call needs what the ones
// before it created, so splitting it would hide the order.
func TestEveryRouteAnswersAsDocumented(t *testing.T) {
	b := newBoundaryEnv(t, newEnv(t, ""))
	v := validateResponses(t, b.env)
	const (
		admin, collector = likeness.RoleAdmin, likeness.RoleCollector
		pipeline, audit  = likeness.RolePipeline, likeness.RoleAuditor
	)
	want := func(r resp, status int, what string) resp {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d, want %d: %.400s", what, r.status, status, r.body)
		}
		return r
	}
	var id struct {
		ID string `json:"id"`
	}
	idOf := func(r resp) string { t.Helper(); r.json(t, &id); return id.ID }

	// Empty lists first: they must be [] and not null.
	want(b.call(audit, "GET", "/v1/renewals/due", nil), 200, "renewals due")
	want(b.call(audit, "GET", "/v1/events/dead-letters", nil), 200, "dead letters")
	want(b.call(audit, "GET", "/v1/incidents", nil), 200, "incidents")
	want(b.call(audit, "GET", "/v1/requests?state=completed", nil), 200, "no completed requests")
	empty := b.subject("contract-empty", "US-IL")
	for _, p := range []string{"consents", "receipts", "assets", "access-log", "withdrawal-erasures", "lineage"} {
		want(b.call(audit, "GET", "/v1/subjects/"+empty+"/"+p, nil), 200, "a new subject's "+p)
	}
	want(b.call(pipeline, "POST", "/v1/decisions/batch", map[string]any{"items": []any{}}), 400, "an empty batch")

	// Documentation and public reads.
	want(b.call("", "GET", "/v1/openapi.json", nil), 200, "openapi")
	want(b.call("", "GET", "/v1/ledger/jwks.json", nil), 200, "jwks")
	want(b.call("", "GET", "/v1/retention-schedule", nil), 200, "retention schedule")
	want(b.call("", "GET", "/v1/notices/current", nil), 401, "notice without a key")
	want(b.call(pipeline, "GET", "/v1/apikeys", nil), 403, "pipeline lists keys")

	// Subjects and consent.
	sub := b.consentingSubject("contract-1")
	want(b.call(collector, "POST", "/v1/subjects", map[string]string{"external_id": "contract-1", "jurisdiction": "EU-DE"}), 200, "existing subject")
	want(b.call(audit, "GET", "/v1/subjects?external_id=contract-1", nil), 200, "find subject")
	want(b.call(audit, "POST", "/v1/subjects/lookup", map[string]any{"external_id": "contract-1"}), 200, "look a subject up")
	want(b.call(audit, "GET", "/v1/subjects/"+sub, nil), 200, "get subject")
	want(b.call(audit, "GET", "/v1/subjects/sub_unknown", nil), 404, "unknown subject")
	want(b.call(admin, "PUT", "/v1/subjects/"+sub+"/contact", map[string]string{"email": "contract@example.org"}), 204, "set contact")
	want(b.call(admin, "PUT", "/v1/subjects/"+sub+"/contact", map[string]string{"email": "nope"}), 400, "set a bad contact")
	want(b.call(admin, "DELETE", "/v1/subjects/"+empty+"/contact", nil), 204, "forget a contact")
	want(b.call(collector, "PATCH", "/v1/subjects/"+sub, map[string]string{"locale": "en"}), 200, "rectify")
	want(b.call(audit, "GET", "/v1/subjects/"+sub+"/consents", nil), 200, "consents")
	want(b.call(audit, "GET", "/v1/subjects/"+sub+"/receipts", nil), 200, "receipts")
	want(b.call(audit, "GET", "/v1/subjects/"+sub+"/consent-records", nil), 200, "ISO 27560 consent records")
	want(b.call(audit, "GET", "/v1/subjects/sub_unknown/consent-records", nil), 404, "consent records of no one")
	allow := map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image"}
	want(b.call(pipeline, "POST", "/v1/decisions", allow), 200, "decide")
	want(b.call(pipeline, "POST", "/v1/decisions", map[string]any{"subject_id": "sub_unknown", "purpose": "ai-training", "data_category": "image"}), 200, "decide for no one")
	want(b.call(pipeline, "POST", "/v1/decisions/batch", map[string]any{"items": []map[string]any{allow}}), 200, "decide batch")
	want(b.call(pipeline, "POST", "/v1/decisions", map[string]any{"subject_id": sub, "purpose": "ai-training", "data_category": "image", "min_revision": 1}), 200, "decide at a revision")
	want(b.call(pipeline, "POST", "/v1/decisions/batch", map[string]any{"items": []map[string]any{allow}, "min_revision": 1}), 200, "decide batch at a revision")
	want(b.call(audit, "GET", "/v1/renewals/due?within=10y", nil), 200, "renewals due within 10y")

	// Media.
	r := want(b.call(audit, "GET", "/v1/subjects/"+sub+"/assets", nil), 200, "assets")
	var assets struct {
		Assets []struct {
			ID string `json:"id"`
		} `json:"assets"`
	}
	r.json(t, &assets)
	if len(assets.Assets) == 0 {
		t.Fatalf("assets: %s", r.body)
	}
	asset := assets.Assets[0].ID
	want(b.call(audit, "GET", "/v1/assets/"+asset, nil), 200, "asset")
	want(b.content(pipeline, asset, "purpose=ai-training"), 200, "content")
	want(b.call(audit, "GET", "/v1/subjects/"+sub+"/access-log", nil), 200, "access log")
	// A photo in which no face is found: the dataset build holds it for review.
	want(b.upload(collector, sub, "purpose=ai-training&category=image", "image/jpeg", smallJPEG(t, 3)), 201, "upload a faceless image")

	// Ledger.
	r = want(b.call(audit, "GET", "/v1/ledger/checkpoint", nil), 200, "checkpoint")
	size := strings.Split(string(r.body), "\n")[1] // a signed note: origin, size, root hash
	want(b.call(audit, "GET", "/v1/ledger/key", nil), 200, "ledger key")
	want(b.call(audit, "GET", "/v1/ledger/proof?index=0&size="+size, nil), 200, "inclusion proof")
	want(b.call(audit, "GET", "/v1/ledger/consistency?from=1&to="+size, nil), 200, "consistency proof")

	// GDPR records.
	want(b.call(audit, "GET", "/v1/records/processing", nil), 200, "record of processing activities")
	want(b.call(admin, "GET", "/v1/records/dpia?lang=de", nil), 200, "DPIA draft")
	want(b.call(collector, "GET", "/v1/records/dpia", nil), 403, "collector reads the DPIA draft")

	// Datasets.
	want(b.call(collector, "PUT", "/v1/subjects/"+sub+"/attributes", map[string]any{"purpose": "ai-training", "attributes": map[string]string{"age_band": "30-39"}}), 200, "attributes")
	ds := idOf(want(b.call(pipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}}), 201, "build dataset"))
	want(b.call(pipeline, "POST", "/v1/models", map[string]any{"name": "faces-v1", "dataset_id": ds}), 201, "register model")
	want(b.call(audit, "GET", "/v1/datasets/"+ds, nil), 200, "dataset")
	want(b.call(audit, "GET", "/v1/datasets/"+ds+"/audit?target="+url.QueryEscape(`{"age_band":{"30-39":1}}`), nil), 200, "dataset audit")
	want(b.call(audit, "GET", "/v1/subjects/"+sub+"/lineage", nil), 200, "lineage")
	var held struct {
		Reviews []struct {
			ItemID string `json:"item_id"`
		} `json:"reviews"`
	}
	want(b.call(audit, "GET", "/v1/datasets", nil), 200, "list datasets")
	want(b.call(audit, "GET", "/v1/datasets/"+ds+"/reviews", nil), 200, "reviews").json(t, &held)
	if len(held.Reviews) != 1 {
		t.Fatalf("reviews = %+v, want the faceless image held", held.Reviews)
	}
	review := "/v1/datasets/" + ds + "/reviews/" + held.Reviews[0].ItemID
	want(b.call(admin, "GET", review+"/content", nil), 200, "the held item")
	want(b.call(admin, "POST", review, map[string]string{"decision": "exclude", "reason": "a person is visible"}), 200, "decide a review")
	want(b.call(admin, "POST", review, map[string]string{"decision": "approve", "reason": "changed my mind"}), 409, "decide a review again")
	want(b.call(audit, "GET", "/v1/datasets/"+ds+"/card", nil), 200, "card")
	want(b.call(audit, "GET", "/v1/datasets/"+ds+"/card?format=md", nil), 200, "card as Markdown")
	want(b.call(collector, "POST", "/v1/subjects/"+sub+"/consents/ai-training/withdraw", nil), 201, "withdraw")
	r = want(b.call(audit, "GET", "/v1/subjects/"+sub+"/withdrawal-erasures", nil), 200, "what the withdrawal erased")
	if !bytes.Contains(r.body, []byte(`"certificate":"`)) {
		t.Fatalf("withdrawal erasures: %s, want one with its certificate", r.body)
	}
	want(b.call(audit, "GET", "/v1/subjects/sub_unknown/withdrawal-erasures", nil), 404, "what no one's withdrawals erased")
	want(b.call(pipeline, "POST", "/v1/datasets/"+ds+"/rebuild", nil), 201, "rebuild")
	want(b.call(pipeline, "POST", "/v1/datasets/"+ds+"/rebuild", nil), 409, "rebuild again")

	// Pages' API routes.
	want(b.call(collector, "POST", "/v1/consent-sessions", map[string]any{"subject_id": sub, "purposes": []string{"ai-training"}}), 201, "consent session")
	want(b.call(admin, "POST", "/v1/subjects/"+sub+"/portal-links", map[string]any{}), 201, "portal link")

	// Data subject requests.
	want(b.call(audit, "GET", "/v1/requests", nil), 200, "requests")
	want(b.call(audit, "GET", "/v1/requests/"+b.req, nil), 200, "request")
	want(b.call(collector, "POST", "/v1/requests/"+b.req+"/extend", map[string]string{"reason": "complex"}), 200, "extend")
	acc := b.request(collector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "access", "channel": "email"}, 201)
	want(b.call(collector, "POST", "/v1/requests/"+acc.ID+"/reject", map[string]string{"reason": "identity not verified"}), 200, "reject")

	// Dead letters.
	ctx := context.Background()
	claimed, err := b.store.ClaimDeliveries(ctx, "crm", b.clock.Now(), 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	if err := b.store.MarkFailed(ctx, "crm", claimed[0].Message.ID, 3, b.clock.Now(), "503", true); err != nil {
		t.Fatal(err)
	}
	want(b.call(audit, "GET", "/v1/events/dead-letters", nil), 200, "dead letters")
	want(b.call(admin, "POST", "/v1/events/dead-letters/crm/"+claimed[0].Message.ID+"/retry", nil), 204, "retry")

	// Incidents.
	inc := idOf(want(b.call(admin, "POST", "/v1/incidents", map[string]any{"title": "Laptop lost",
		"detected_at": b.clock.Now().Add(-time.Hour), "scope": map[string]any{"categories": []string{"image"}}}), 201, "open incident"))
	want(b.call(audit, "GET", "/v1/incidents", nil), 200, "incidents")
	want(b.call(audit, "GET", "/v1/incidents/"+inc, nil), 200, "incident")
	want(b.call(audit, "GET", "/v1/incidents/"+inc+"/subjects", nil), 200, "incident subjects")
	noOne := idOf(want(b.call(admin, "POST", "/v1/incidents", map[string]any{"title": "Nothing reached",
		"detected_at": b.clock.Now().Add(-time.Hour), "scope": map[string]any{"categories": []string{"voice"}}}), 201, "open an incident that reached no one"))
	want(b.call(audit, "GET", "/v1/incidents/"+noOne+"/subjects", nil), 200, "no incident subjects")
	want(b.call(admin, "POST", "/v1/incidents/"+inc+"/notifications", map[string]string{"kind": "authority", "reference": "BfDI-1"}), 201, "notify")
	want(b.call(admin, "POST", "/v1/incidents/"+inc+"/close", map[string]string{"reason": "resolved"}), 200, "close incident")

	// The validation queue: empty under this policy (the 201 of a verdict
	// is checked in TestValidationQueueThroughTheAPI).
	want(b.call(audit, "GET", "/v1/validations", nil), 200, "validation queue")
	want(b.call(audit, "GET", "/v1/validations/evt_unknown", nil), 404, "unknown validation item")
	want(b.call(admin, "POST", "/v1/validations/evt_unknown", map[string]string{"decision": "approve", "reason": "ok"}), 404, "verdict on an unknown item")

	// Keys and the audit log.
	var created struct {
		Key struct {
			ID string `json:"id"`
		} `json:"key"`
	}
	want(b.call(admin, "POST", "/v1/apikeys", map[string]string{"name": "ops", "role": "auditor"}), 201, "create key").json(t, &created)
	key := created.Key.ID
	want(b.call(admin, "GET", "/v1/apikeys", nil), 200, "keys")
	want(b.call(admin, "DELETE", "/v1/apikeys/"+key, nil), 204, "revoke key")
	want(b.call(audit, "GET", "/v1/audit", nil), 200, "audit log")

	// Erasure last.
	// The withdrawal above erased what ai-training collected; consent and
	// upload again so there is an asset to erase.
	if g := b.grant(sub, "ai-training"); g.status != 201 {
		t.Fatalf("grant again: %d %s", g.status, g.body)
	}
	var fresh struct{ ID string }
	want(b.upload(collector, sub, "purpose=ai-training&category=image", "image/jpeg", smallJPEG(t, 4)), 201, "upload again").json(t, &fresh)
	want(b.call(admin, "DELETE", "/v1/assets/"+fresh.ID, nil), 200, "erase asset")
	want(b.call(admin, "DELETE", "/v1/assets/"+asset, nil), 410, "erase an asset the withdrawal erased")
	want(b.call(admin, "POST", "/v1/requests/"+b.req+"/complete", nil), 200, "complete erasure request")
	other := b.subject("contract-2", "EU-DE")
	want(b.call(admin, "DELETE", "/v1/subjects/"+other, nil), 200, "erase subject")
	want(b.call(audit, "GET", "/v1/subjects/"+other, nil), 410, "erased subject")

	if m := v.missed(); len(m) > 0 {
		t.Errorf("the scenario called no documented operation %v", m)
	}
}
