package authz_test

import (
	"context"
	"testing"

	"likeness"
	"likeness/internal/authz"
)

func TestOnlyAdminsAndThePersonHoldCapabilities(t *testing.T) {
	const sub = "sub_a"
	person := likeness.Actor{KeyID: "ps_1", Role: likeness.RolePerson, SubjectID: sub}
	for _, c := range authz.Capabilities() {
		if !authz.Allowed(likeness.Actor{KeyID: "key_1", Role: likeness.RoleAdmin}, c, sub) {
			t.Errorf("admin lacks %s", c)
		}
		for _, r := range []likeness.Role{likeness.RoleCollector, likeness.RolePipeline, likeness.RoleAuditor, ""} {
			if authz.Allowed(likeness.Actor{KeyID: "key_1", Role: r}, c, sub) {
				t.Errorf("role %q holds %s", r, c)
			}
		}
		if authz.Allowed(likeness.Actor{Role: likeness.RolePerson, SubjectID: "sub_b"}, c, sub) {
			t.Errorf("another person holds %s", c)
		}
		if err := authz.Check(context.Background(), c, sub); likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			t.Errorf("no actor: %s err = %v", c, err)
		}
	}
	if !authz.Allowed(person, authz.Erase, sub) || !authz.Allowed(person, authz.ExportContent, sub) {
		t.Error("the person may not erase or export themselves")
	}
	if authz.Allowed(person, authz.IssuePortalLink, sub) {
		t.Error("a portal session may issue portal links")
	}
}
