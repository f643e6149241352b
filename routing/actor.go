package routing

import "context"

// Actor is who performs an administrative act: the official (an
// administrator "admin:<user name>", or the operator of a command "cli:…")
// and the request it came with. The gateway puts it in the context of an
// administrator's request; the audit trail reads it from there.
type Actor struct {
	Official  string
	Role      string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries; ok is false when there is none.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Official != ""
}
