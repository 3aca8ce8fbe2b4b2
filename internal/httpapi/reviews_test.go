package httpapi_test

import (
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
	if r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=image", "image/jpeg", smallJPEG(t, 3)); r.status != 201 {
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
	path := "/v1/datasets/" + d.ID + "/reviews/" + q.Reviews[0].ItemID
	if r := e.call(likeness.RoleAuditor, "POST", path, map[string]any{"decision": "exclude"}); r.status != 403 {
		t.Errorf("auditor decides: %d", r.status)
	}
	if r := e.call(likeness.RoleAdmin, "POST", path, map[string]any{"decision": "approve"}); r.status != 400 {
		t.Errorf("approve without reason: %d %s", r.status, r.body)
	}
	if r := e.call(likeness.RoleAdmin, "POST", path, map[string]any{"decision": "approve", "reason": "no one in the picture"}); r.status != 200 ||
		!strings.Contains(string(r.body), `"approved"`) || !strings.Contains(string(r.body), `"decided_by":"key_`) {
		t.Errorf("approve: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/card", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"sent_to_review":1`) {
		t.Errorf("card: %d %s", r.status, r.body)
	}
	r = e.call(likeness.RoleAuditor, "GET", "/v1/datasets/"+d.ID+"/card?format=md", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "Sent to human review (no face found; not in this dataset): 1") {
		t.Errorf("card md: %d %s", r.status, r.body)
	}
}
