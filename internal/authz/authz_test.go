package authz_test

import (
	"context"
	"strings"
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

func TestNamedOperatorsHoldOnlyWhatTheirRoleHolds(t *testing.T) {
	const sub = "sub_a"
	op := func(r likeness.OperatorRole) likeness.Actor {
		return likeness.Actor{Role: likeness.Role(r), Operator: "rita"}
	}
	for _, r := range []likeness.OperatorRole{likeness.OperatorAdmin, likeness.OperatorPrivacyOfficer, likeness.OperatorReviewer} {
		if !authz.Allowed(op(r), authz.ValidateConsent, sub) {
			t.Errorf("operator role %s may not validate consent", r)
		}
		for _, c := range []authz.Capability{authz.Erase, authz.ExportContent, authz.IssuePortalLink} {
			if authz.Allowed(op(r), c, sub) {
				t.Errorf("operator role %s holds %s", r, c)
			}
		}
	}
	if authz.Allowed(op(likeness.OperatorAuditor), authz.ValidateConsent, sub) {
		t.Error("an auditor operator may validate consent")
	}
	// An operator name beside a key id is not a named operator.
	if authz.Allowed(likeness.Actor{KeyID: "key_1", Role: likeness.RoleAuditor, Operator: "rita"}, authz.ValidateConsent, sub) {
		t.Error("an auditor key with an operator name validates consent")
	}
	err := authz.Check(likeness.WithActor(context.Background(), op(likeness.OperatorAuditor)), authz.ValidateConsent, sub)
	if likeness.ErrorCode(err) != likeness.EFORBIDDEN || !strings.Contains(likeness.ErrorMessage(err), "reviewer") {
		t.Errorf("auditor operator: %v", err)
	}
}
