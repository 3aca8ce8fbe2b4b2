package httpapi_test

import (
	"context"
	"io"
	"regexp"
	"slices"
	"testing"

	"likeness"
	"likeness/internal/authz"
)

var allRoles = []likeness.Role{likeness.RoleAdmin, likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor}

var pathValue = regexp.MustCompile(`\{[^}]+\}`)

// TestEveryRouteAuthorizesExactlyItsRoles walks the route table the server
// serves (its own routes and the pages' /v1 routes): without a key every
// route answers 401, a role the route does not name 403, and a role it
// names anything but 401 or 403.
func TestEveryRouteAuthorizesExactlyItsRoles(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			routes := e.api.Routes()
			if len(routes) < 40 {
				t.Fatalf("only %d routes registered", len(routes))
			}
			for _, rt := range routes {
				path := pathValue.ReplaceAllString(rt.Pattern, "x1")
				if rt.Roles == nil {
					if r := e.call("", rt.Method, path, nil); r.status == 401 || r.status == 403 {
						t.Errorf("public %s %s without a key: %d", rt.Method, rt.Pattern, r.status)
					}
					continue
				}
				if r := e.call("", rt.Method, path, nil); r.status != 401 {
					t.Errorf("%s %s without a key: %d, want 401", rt.Method, rt.Pattern, r.status)
				}
				for _, role := range allRoles {
					r := e.call(role, rt.Method, path, nil)
					allowed := slices.Contains(rt.Roles, role)
					switch {
					case !allowed && r.status != 403:
						t.Errorf("%s %s as %s: %d, want 403", rt.Method, rt.Pattern, role, r.status)
					case allowed && (r.status == 401 || r.status == 403):
						t.Errorf("%s %s as %s: %d, want it let through (%s)", rt.Method, rt.Pattern, role, r.status, r.body)
					}
				}
			}
		})
	}
}

// TestNoOtherRoleErasesExportsOrIssuesPortalLinks tries each capability
// through every route that reaches it with a collector, pipeline and
// auditor key, and checks that each is refused and that nothing happened:
// the subject stands, no certificate was issued, no link was created, no
// content left the vault.
func TestNoOtherRoleErasesExportsOrIssuesPortalLinks(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("victim", "EU-DE")
			// Requests are opened by a collector (registering a request is a
			// collector's job); completing them is the capability.
			erasure := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "erasure", "channel": "email"}, 201)
			export := e.request(likeness.RoleCollector, "POST", "/v1/requests", map[string]string{"subject_id": sub, "type": "export", "channel": "email"}, 201)
			for _, role := range []likeness.Role{likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor} {
				for _, c := range []struct{ method, path string }{
					{"DELETE", "/v1/subjects/" + sub},
					{"POST", "/v1/requests/" + erasure.ID + "/complete"},
					{"POST", "/v1/requests/" + export.ID + "/complete"},
					{"POST", "/v1/subjects/" + sub + "/portal-links"},
				} {
					if r := e.call(role, c.method, c.path, nil); r.status != 403 {
						t.Errorf("%s %s as %s: %d %s, want 403", c.method, c.path, role, r.status, r.body)
					}
				}
				ctx := likeness.WithActor(context.Background(), likeness.Actor{KeyID: "key_x", Role: role})
				err := e.vault.ExportMedia(ctx, sub, func(string, io.Reader) error { t.Error("media handed out"); return nil })
				if likeness.ErrorCode(err) != likeness.EFORBIDDEN {
					t.Errorf("ExportMedia as %s: %v, want forbidden", role, err)
				}
			}
			s, err := e.store.Subject(context.Background(), sub)
			if err != nil || s.Erased() {
				t.Fatalf("subject after the attempts: %+v, %v", s, err)
			}
			if _, err := e.store.Erasure(context.Background(), sub); likeness.ErrorCode(err) != likeness.ENOTFOUND {
				t.Fatalf("an erasure was begun: %v", err)
			}
			for _, id := range []string{erasure.ID, export.ID} {
				if got := e.request(likeness.RoleAuditor, "GET", "/v1/requests/"+id, nil, 200); got.State != "open" || got.Certificate != "" {
					t.Fatalf("refused completion changed the request: %+v", got)
				}
			}
			var links int
			if err := e.store.SQL().QueryRow(`SELECT COUNT(*) FROM links`).Scan(&links); err != nil || links != 0 {
				t.Fatalf("links after refused issuance: %d, %v", links, err)
			}
			// The admin holds every capability, through the same routes.
			if r := e.call(likeness.RoleAdmin, "POST", "/v1/subjects/"+sub+"/portal-links", nil); r.status != 201 {
				t.Fatalf("admin portal link: %d %s", r.status, r.body)
			}
			if got := e.request(likeness.RoleAdmin, "POST", "/v1/requests/"+erasure.ID+"/complete", nil, 200); got.Certificate == "" {
				t.Fatalf("admin erasure: %+v", got)
			}
			for _, c := range authz.Capabilities() {
				if !slices.Equal(authz.Roles(c), []likeness.Role{likeness.RoleAdmin}) {
					t.Errorf("%s is held by %v; this test assumes admins alone", c, authz.Roles(c))
				}
			}
		})
	}
}
