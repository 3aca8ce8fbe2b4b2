package httpapi_test

import (
	"bytes"
	"strings"
	"testing"

	"likeness"
)

func TestReviewQueueIsReadByAuditorsAndDecidedByAdmins(t *testing.T) {
	e := newDatasetEnv(t, "")
	sub := e.subject("faceless", "EU-DE")
	if r := e.grant(sub, "ai-training"); r.status != 201 {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	pic := smallJPEG(t, 3)
	if r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=image", "image/jpeg", pic); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r := e.call(likeness.RolePipeline, "POST", "/v1/datasets", map[string]any{"purpose": "ai-training", "categories": []string{"image"}, "profile": "strict"})
	var d datasetJSON
	r.json(t, &d)
	if r.status != 201 || d.ItemCount != 0 {
		t.Fatalf("build: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RolePipeline, "GET", "/v1/datasets/"+d.ID+"/reviews", nil); r.status != 403 {
		t.Errorf("pipeline reads reviews: %d", r.status)
	}
	var q struct {
		Reviews []likeness.DatasetReview `json:"reviews"`
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/reviews", nil)
	r.json(t, &q)
	if r.status != 200 || len(q.Reviews) != 1 || q.Reviews[0].State != "pending" || strings.Contains(string(r.body), "ast_") {
		t.Fatalf("reviews: %d %s", r.status, r.body)
	}
	pending := func() int {
		var l struct {
			Datasets []struct {
				ID             string
				PendingReviews int `json:"pending_reviews"`
			}
		}
		e.call(likeness.RolePipeline, "GET", "/v1/datasets", nil).json(t, &l)
		for _, x := range l.Datasets {
			if x.ID == d.ID {
				return x.PendingReviews
			}
		}
		t.Fatalf("GET /v1/datasets does not list %s: %+v", d.ID, l)
		return 0
	}
	if n := pending(); n != 1 {
		t.Errorf("the list says %d items wait for review, want 1", n)
	}
	path := "/v1/datasets/" + d.ID + "/reviews/" + q.Reviews[0].ItemID
	if r := e.call(likeness.RoleAuditor, "POST", path, map[string]any{"decision": "exclude"}); r.status != 403 {
		t.Errorf("auditor decides: %d", r.status)
	}
	// The reviewer looks at the item itself; the person's access log
	// says who looked and why.
	for _, role := range []likeness.Role{likeness.RoleAuditor, likeness.RolePipeline, likeness.RoleCollector} {
		if r := e.call(role, "GET", path+"/content", nil); r.status != 403 {
			t.Errorf("%s opens the held item: %d", role, r.status)
		}
	}
	if r := e.call(likeness.RoleAdmin, "GET", "/v1/datasets/"+d.ID+"/reviews/nosuchitem/content", nil); r.status != 404 {
		t.Errorf("an unknown item's content: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"?purpose=ai-training", "?reason=" + strings.Repeat("x", 501)} {
		if r := e.call(likeness.RoleAdmin, "GET", path+"/content"+bad, nil); r.status != 400 {
			t.Errorf("the held item with %.40s: %d, want 400", bad, r.status)
		}
	}
	if r := e.call(likeness.RoleAdmin, "GET", path+"/content?reason=check+the+held+item", nil); r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Errorf("the reviewer opens the held item: %d, %d bytes (want the %d uploaded)", r.status, len(r.body), len(pic))
	}
	var log struct{ Entries []likeness.AccessEntry }
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/access-log", nil).json(t, &log)
	looked := false
	for _, en := range log.Entries {
		looked = looked || en.Action == "content" && en.Allow && en.Reason == "dataset review of "+d.ID+": check the held item"
	}
	if !looked {
		t.Errorf("the person's access log does not say a reviewer looked: %+v", log.Entries)
	}
	if r := e.call(likeness.RoleAdmin, "POST", path, map[string]any{"decision": "approve"}); r.status != 400 {
		t.Errorf("approve without reason: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "POST", path, map[string]any{"decision": "approve", "reason": "no one in the picture"}); r.status != 200 ||
		!strings.Contains(string(r.body), `"approved"`) || !strings.Contains(string(r.body), `"decided_by":"key_`) {
		t.Errorf("approve: %d %s", r.status, r.body)
	}
	if n := pending(); n != 0 {
		t.Errorf("after the decision the list says %d items wait for review, want 0", n)
	}
	// The audit log says what was decided, on which item, and why.
	var audit struct{ Entries []likeness.AccessEntry }
	e.call(likeness.RoleAuditor, "GET", "/v1/audit", nil).json(t, &audit)
	decided := false
	for _, en := range audit.Entries {
		decided = decided || en.Action == "POST /v1/datasets/{id}/reviews/{item}" && en.Purpose == "ai-training" &&
			en.Reason == "dataset review "+d.ID+"/"+q.Reviews[0].ItemID+": approved: no one in the picture"
	}
	if !decided {
		t.Errorf("the audit log does not say what was decided: %+v", audit.Entries)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/card", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"sent_to_review":1`) {
		t.Errorf("card: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/card?format=md", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "Sent to human review (no face found for sure; not in this dataset): 1") {
		t.Errorf("card md: %d %s", r.status, r.body)
	}
}
