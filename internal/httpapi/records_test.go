package httpapi_test

import (
	"testing"

	"likeness"
)

func TestRecordsAnswerAdminsAndAuditorsOnly(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("records-1", "EU-DE")
	e.grant(sub, "ai-training")
	for _, path := range []string{"/v1/records/processing", "/v1/records/dpia"} {
		for role, status := range map[likeness.Role]int{likeness.RoleAdmin: 200, likeness.RoleAuditor: 200, likeness.RoleCollector: 403, likeness.RolePipeline: 403} {
			if r := e.call(role, "GET", path, nil); r.status != status {
				t.Errorf("%s as %s: %d, want %d: %s", path, role, r.status, status, r.body)
			}
		}
	}
	var rec struct {
		Subjects   int64 `json:"data_subjects"`
		Activities []struct {
			Purpose  string `json:"purpose"`
			Consents int64  `json:"active_consents"`
		} `json:"activities"`
	}
	e.call(likeness.RoleAuditor, "GET", "/v1/records/processing", nil).json(t, &rec)
	if rec.Subjects != 1 {
		t.Errorf("data subjects = %d, want 1", rec.Subjects)
	}
	for _, a := range rec.Activities {
		if want := map[bool]int64{true: 1, false: 0}[a.Purpose == "ai-training"]; a.Consents != want {
			t.Errorf("%s: %d active consents, want %d", a.Purpose, a.Consents, want)
		}
	}
}
