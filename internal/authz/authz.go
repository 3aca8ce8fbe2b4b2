// Package authz is the one table of capabilities that are more than a
// route's business: erasing a person, exporting a person's content
// (decrypted media), issuing a person's portal sign-in link and validating
// a person's consent. Each is held by the API key roles listed here, by
// the named operator roles listed here (people signed in to the console)
// and, where the table says so, by the person's own portal session. Every service that performs one of them
// calls Check with the caller's Actor from the context, whichever route
// reached it; routes that lead only to a capability take their roles from
// Roles, so route and service cannot disagree.
package authz

import (
	"context"
	"slices"
	"strings"

	"likeness"
)

// Capability is an act on one person that only some callers may perform.
type Capability string

const (
	// Erase erases a subject everywhere and issues the certificate.
	Erase Capability = "erase"
	// ExportContent hands out a subject's decrypted media (the export of
	// GDPR Art. 15/20), and completes access and export requests.
	ExportContent Capability = "export_content"
	// IssuePortalLink creates a sign-in link to a person's privacy portal.
	// Whoever holds the link reads and exports everything about the person,
	// so it is issued only by admins, who send it on the person's own
	// channel; a collector sends consent links, which sign in to nothing.
	IssuePortalLink Capability = "issue_portal_link"
	// ValidateConsent approves or rejects a consent the policy holds for
	// a reviewer, and plays the recording it rests on to decide. Nobody
	// validates a consent they recorded themselves (four eyes): the
	// service that records the verdict checks that too.
	ValidateConsent Capability = "validate_consent"
)

type rule struct {
	roles      []likeness.Role
	operators  []likeness.OperatorRole // named operators holding it
	ownSession bool                    // the person's own portal session holds it too
}

var table = map[Capability]rule{
	Erase:           {roles: []likeness.Role{likeness.RoleAdmin}, ownSession: true},
	ExportContent:   {roles: []likeness.Role{likeness.RoleAdmin}, ownSession: true},
	IssuePortalLink: {roles: []likeness.Role{likeness.RoleAdmin}},
	ValidateConsent: {roles: []likeness.Role{likeness.RoleAdmin},
		operators: []likeness.OperatorRole{likeness.OperatorAdmin, likeness.OperatorPrivacyOfficer, likeness.OperatorReviewer}},
}

// Capabilities lists every capability, for tests and documentation.
func Capabilities() []Capability {
	return []Capability{Erase, ExportContent, IssuePortalLink, ValidateConsent}
}

// OperatorRoles returns the named operator roles that hold c.
func OperatorRoles(c Capability) []likeness.OperatorRole { return slices.Clone(table[c].operators) }

// Roles returns the API key roles that hold c: the roles of a route that
// leads only to c.
func Roles(c Capability) []likeness.Role { return slices.Clone(table[c].roles) }

// Allowed reports whether a may perform c on the subject subjectID. A
// person holds a capability only for themselves.
func Allowed(a likeness.Actor, c Capability, subjectID string) bool {
	r, ok := table[c]
	if !ok {
		return false
	}
	switch {
	case a.Role == likeness.RolePerson:
		return r.ownSession && a.SubjectID != "" && a.SubjectID == subjectID
	case a.Operator != "":
		// A named operator's role is an operator role, even where its
		// name is also an API key role ("admin").
		return a.KeyID == "" && slices.Contains(r.operators, likeness.OperatorRole(a.Role))
	}
	return a.KeyID != "" && slices.Contains(r.roles, a.Role)
}

// Check returns EFORBIDDEN unless the actor in ctx may perform c on
// subjectID. A context without an actor is refused: in-process callers
// (the CLI, the retention sweep) name themselves with likeness.WithActor.
func Check(ctx context.Context, c Capability, subjectID string) error {
	a := likeness.ActorFrom(ctx)
	if Allowed(a, c, subjectID) {
		return nil
	}
	who := string(a.Role)
	if who == "" {
		who = "an unnamed caller"
	}
	return likeness.Errorf(likeness.EFORBIDDEN, "%s may not %s: %s", who, verb(c), holders(c))
}

func verb(c Capability) string {
	switch c {
	case Erase:
		return "erase a person"
	case ExportContent:
		return "export a person's content"
	case IssuePortalLink:
		return "issue a person's portal sign-in link"
	case ValidateConsent:
		return "validate a person's consent"
	}
	return string(c)
}

func holders(c Capability) string {
	s := "reserved to admin keys"
	if ops := table[c].operators; len(ops) > 0 {
		names := make([]string, len(ops))
		for i, o := range ops {
			names[i] = string(o)
		}
		s += " and operators with role " + strings.Join(names, ", ")
	}
	if table[c].ownSession {
		s += " and the person's own portal session"
	}
	return s
}
