package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"likeness"
)

func TestDeadLettersAreListedAndRetriedThroughTheAPI(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			ctx := context.Background()
			sub := e.subject("user-dl", "EU-DE")
			if r := e.grant(sub, "ai-training"); r.status != 201 {
				t.Fatalf("grant: %d %s", r.status, r.body)
			}
			// The CRM webhook gave up on the grant's message.
			claimed, err := e.store.ClaimDeliveries(ctx, "crm", e.clock.Now(), 10)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %d, %v; want the grant's message", len(claimed), err)
			}
			msgID := claimed[0].Message.ID
			if err := e.store.MarkFailed(ctx, "crm", msgID, 12, e.clock.Now(), "receiver answered 503 Service Unavailable", true); err != nil {
				t.Fatal(err)
			}

			var list struct {
				Deliveries []struct {
					Message struct {
						ID        string `json:"id"`
						Type      string `json:"type"`
						SubjectID string `json:"subject_id"`
					} `json:"message"`
					Sink      string `json:"sink"`
					Attempts  int    `json:"attempts"`
					State     string `json:"state"`
					LastError string `json:"last_error"`
				} `json:"deliveries"`
			}
			r := e.call(likeness.RoleAuditor, "GET", "/v1/events/dead-letters", nil)
			if r.status != 200 {
				t.Fatalf("list dead letters: %d %s", r.status, r.body)
			}
			r.json(t, &list)
			if len(list.Deliveries) != 1 {
				t.Fatalf("dead letters = %s, want one", r.body)
			}
			if dl := list.Deliveries[0]; dl.Message.ID != msgID || dl.Message.Type != likeness.MsgConsentGranted ||
				dl.Message.SubjectID != sub || dl.Sink != "crm" || dl.State != "dead" || dl.Attempts != 12 || dl.LastError == "" {
				t.Fatalf("dead letter = %+v", dl)
			}
			if r := e.call(likeness.RoleAdmin, "GET", "/v1/events/dead-letters?sink=nats", nil); r.status != 200 || string(r.body) != "{\"deliveries\":[]}\n" {
				t.Fatalf("dead letters of another sink: %d %s, want an empty list", r.status, r.body)
			}
			if r := e.call(likeness.RoleAdmin, "GET", "/v1/events/dead-letters?limit=1", nil); r.status != 200 || !strings.Contains(string(r.body), msgID) {
				t.Errorf("dead letters, limit 1: %d %s", r.status, r.body)
			}
			for _, bad := range []string{"0", "10001", "x"} {
				if r := e.call(likeness.RoleAdmin, "GET", "/v1/events/dead-letters?limit="+bad, nil); r.status != 400 {
					t.Errorf("dead letters, limit %s: %d %s, want 400", bad, r.status, r.body)
				}
			}

			retry := "/v1/events/dead-letters/crm/" + msgID + "/retry"
			for _, c := range []struct {
				role   likeness.Role
				method string
				path   string
				status int
			}{
				{likeness.RolePipeline, "GET", "/v1/events/dead-letters", 403},
				{likeness.RoleCollector, "GET", "/v1/events/dead-letters", 403},
				{likeness.RoleAuditor, "POST", retry, 403},
				{likeness.RoleAdmin, "POST", retry, 204},
				{likeness.RoleAdmin, "POST", retry, 404}, // no longer dead
				{likeness.RoleAdmin, "POST", "/v1/events/dead-letters/nats/" + msgID + "/retry", 404},
			} {
				if r := e.call(c.role, c.method, c.path, nil); r.status != c.status {
					t.Errorf("%s %s %s: %d, want %d (%s)", c.role, c.method, c.path, r.status, c.status, r.body)
				}
			}
			e.call(likeness.RoleAdmin, "GET", "/v1/events/dead-letters", nil).json(t, &list)
			if len(list.Deliveries) != 0 {
				t.Fatalf("dead letters after retry = %+v", list.Deliveries)
			}
			again, err := e.store.ClaimDeliveries(ctx, "crm", e.clock.Now(), 10)
			if err != nil || len(again) != 1 || again[0].Message.ID != msgID {
				t.Fatalf("after retry the message is not due again: %d, %v", len(again), err)
			}
		})
	}
}
