package likeness

import "context"

// Context is context.Context, named here so the interfaces read short.
type Context = context.Context

// Actor is who performs an operation: an API key and its role, or a named
// operator, recorded in consent events ("collector") and the audit log. A
// person acting for themselves in the privacy portal is an Actor with Role
// RolePerson, their own SubjectID and the reference of their portal session
// (never its secret) in KeyID.
type Actor struct {
	KeyID string `json:"key_id"`
	Role  Role   `json:"role"`
	// Operator names the person signed in to the console, if one is.
	Operator  string `json:"operator,omitempty"`
	SubjectID string `json:"subject_id,omitempty"` // set only for RolePerson
}

// Name is who the actor is, as consent events record it (collector,
// reviewer): the API key id, or "operator:" and the name of an operator
// signed in to the console; "" for an unnamed caller.
func (a Actor) Name() string {
	if a.KeyID != "" {
		return a.KeyID
	}
	if a.Operator != "" {
		return "operator:" + a.Operator
	}
	return ""
}

// RolePerson is the role of a person in their own portal session. It is
// never an API key's role (ValidRole refuses it).
const RolePerson Role = "person"

type actorKey struct{}

// WithActor returns a context carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or the zero Actor.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}
