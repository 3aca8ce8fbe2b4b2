// Package authz is the one table of capabilities that are more than a
// route's business: erasing a person, exporting a person's content
// (decrypted media) and issuing a person's portal sign-in link. Each is
// held by the roles listed here, and, where the table says so, by the
// person's own portal session. Every service that performs one of them
// calls Check with the caller's Actor from the context, whichever route
// reached it; routes that lead only to a capability take their roles from
// Roles, so route and service cannot disagree.
package authz

import (
	"context"
	"slices"

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
)

type rule struct {
	roles      []likeness.Role
	ownSession bool // the person's own portal session holds it too
}

var table = map[Capability]rule{
	Erase:           {roles: []likeness.Role{likeness.RoleAdmin}, ownSession: true},
	ExportContent:   {roles: []likeness.Role{likeness.RoleAdmin}, ownSession: true},
	IssuePortalLink: {roles: []likeness.Role{likeness.RoleAdmin}},
}

// Capabilities lists every capability, for tests and documentation.
func Capabilities() []Capability { return []Capability{Erase, ExportContent, IssuePortalLink} }

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
	if a.Role == likeness.RolePerson {
		return r.ownSession && a.SubjectID != "" && a.SubjectID == subjectID
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
	}
	return string(c)
}

func holders(c Capability) string {
	s := "reserved to admin keys"
	if table[c].ownSession {
		s += " and the person's own portal session"
	}
	return s
}
