package httpapi_test

import (
	"strings"
	"testing"

	"likeness"
)

// TestContactAddressIsSetByAdminsOnlyAndNeverShown sets a person's contact
// address through the API: only an admin may (it decides where portal
// links go), bad addresses are refused with nothing changed, and the
// address never appears in an answer or in clear in the database.
func TestContactAddressIsSetByAdminsOnlyAndNeverShown(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("u1", "EU-DE")
	const addr = "contact.marker@example.org"
	path := "/v1/subjects/" + sub + "/contact"
	for _, role := range []likeness.Role{likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor} {
		if r := e.call(role, "PUT", path, map[string]string{"email": addr}); r.status != 403 {
			t.Errorf("PUT contact as %s: %d, want 403", role, r.status)
		}
	}
	for name, body := range map[string]any{
		"not an address":   map[string]string{"email": "nope"},
		"a display name":   map[string]string{"email": "Jane <jane@example.org>"},
		"two addresses":    map[string]string{"email": "a@example.org, b@example.org"},
		"a header smuggle": map[string]string{"email": "a@example.org\r\nBcc: b@example.org"},
		"unknown field":    map[string]string{"email": addr, "name": "Jane"},
		"no body":          nil,
	} {
		if r := e.call(likeness.RoleAdmin, "PUT", path, body); r.status < 400 || r.status >= 500 {
			t.Errorf("%s: %d %s, want a 4xx", name, r.status, r.body)
		}
	}
	var out struct {
		HasContact bool `json:"has_contact"`
	}
	e.call(likeness.RoleAdmin, "GET", "/v1/subjects/"+sub, nil).json(t, &out)
	if out.HasContact {
		t.Fatal("refused requests left a contact address")
	}
	if r := e.call(likeness.RoleAdmin, "PUT", path, map[string]string{"email": addr}); r.status != 204 {
		t.Fatalf("PUT contact as admin: %d %s", r.status, r.body)
	}
	r := e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub, nil)
	r.json(t, &out)
	if !out.HasContact || strings.Contains(string(r.body), "marker") {
		t.Fatalf("subject after PUT: %s", r.body)
	}
	if scanFor(t, e.store, "contact.marker") {
		t.Fatal("the contact address is stored in clear")
	}
	if r := e.call(likeness.RoleAdmin, "PUT", "/v1/subjects/sub_nope/contact", map[string]string{"email": addr}); r.status != 404 {
		t.Errorf("contact of an unknown subject: %d", r.status)
	}
	if r := e.call(likeness.RoleAdmin, "DELETE", path, nil); r.status != 204 {
		t.Fatalf("DELETE contact: %d %s", r.status, r.body)
	}
	e.call(likeness.RoleAdmin, "GET", "/v1/subjects/"+sub, nil).json(t, &out)
	if out.HasContact {
		t.Fatal("the contact address survived its deletion")
	}
}
