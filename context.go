package likeness

import "context"

// Context is context.Context, named here so the interfaces read short.
type Context = context.Context

// Actor is who performs an operation: an API key and its role, or a named
// operator, recorded in consent events ("collector") and the audit log.
type Actor struct {
	KeyID string `json:"key_id"`
	Role  Role   `json:"role"`
	// Operator names the person signed in to the console, if one is.
	Operator string `json:"operator,omitempty"`
}

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
