package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Login kinds (the kind half of a login-attempt key).
const (
	KindResident = "resident"
	KindAdmin    = "admin"
	// KindDocument counts a resident's sign-ins by the document given
	// (keyed, not in clear), known or not.
	KindDocument = "document"
	// KindClient counts the failed sign-ins of one client address.
	KindClient = "client"
)

// Delays is how failed sign-ins slow the next: after Free failures in a
// row every further failure makes the next try wait, Base the first time
// and twice as long each time after, up to Max. Failures older than Window
// are forgotten. Nothing ever locks: the longest a resident waits is Max,
// and passkey sign-in never waits.
type Delays struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// The default delays: a name waits at most a minute (enough to make
// guessing one password hopeless, too little to keep its owner out); a
// client that fails many names waits up to a quarter of an hour.
var (
	DefaultNameDelays   = Delays{Free: 5, Base: time.Second, Max: time.Minute, Window: time.Hour}
	DefaultClientDelays = Delays{Free: 20, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour}
)

func (d Delays) withDefaults(def Delays) Delays {
	if d.Free <= 0 {
		d.Free = def.Free
	}
	if d.Base <= 0 {
		d.Base = def.Base
	}
	if d.Max <= 0 {
		d.Max = def.Max
	}
	if d.Window <= 0 {
		d.Window = def.Window
	}
	return d
}

// After is the wait after failures failures in a row.
func (d Delays) After(failures int) time.Duration {
	over := failures - d.Free
	if over <= 0 {
		return 0
	}
	wait := d.Base
	for i := 1; i < over && wait < d.Max; i++ {
		wait *= 2
	}
	return min(wait, d.Max)
}

type ctxClientKey struct{}

// WithClient tells the sign-in services which client (its address) is
// asking, so its failures are counted too.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, ctxClientKey{}, client)
}

func clientOf(ctx context.Context) string {
	c, _ := ctx.Value(ctxClientKey{}).(string)
	c, _ = loginName(c)
	return c
}

// guard applies the delays. Failures are counted per login name in the
// database, whether or not the account exists, and per client, so every
// replica sees the same counts and a wait does not reveal that a name is
// real.
type guard struct {
	attempts LoginAttemptStore
	cfg      Config
}

// admit refuses a name or a client that must wait right now.
func (g guard) admit(ctx context.Context, op, kind, subject string) (LoginState, error) {
	now := g.cfg.Clock.Now()
	if client := clientOf(ctx); client != "" {
		cs, err := g.attempts.LoginState(ctx, KindClient, client)
		if err != nil {
			return cs, routing.Wrap(op, err)
		}
		if now.Before(cs.LockedUntil) {
			return cs, tooManyAttempts(op, cs.LockedUntil, now)
		}
	}
	st, err := g.attempts.LoginState(ctx, kind, subject)
	if err != nil {
		return st, routing.Wrap(op, err)
	}
	if now.Before(st.LockedUntil) {
		return st, tooManyAttempts(op, st.LockedUntil, now)
	}
	return st, nil
}

// fail counts a failed sign-in of the name and the client; the answer is
// always invalid_credentials (the wait applies to the next try).
func (g guard) fail(ctx context.Context, op, kind, subject string) error {
	now := g.cfg.Clock.Now()
	if _, err := g.attempts.RecordLoginDelay(ctx, kind, subject, now, g.cfg.NameDelays); err != nil {
		return routing.Wrap(op, err)
	}
	if client := clientOf(ctx); client != "" {
		if _, err := g.attempts.RecordLoginDelay(ctx, KindClient, client, now, g.cfg.ClientDelays); err != nil {
			return routing.Wrap(op, err)
		}
	}
	return invalidCredentials(op)
}

// busy counts a sign-in refused as busy against the client, so that one
// client flooding the sign-in soon waits instead of being refused at no
// cost to it; it returns err.
func (g guard) busy(ctx context.Context, err error) error {
	if client := clientOf(ctx); client != "" && routing.CodeOf(err) == CodeSignInBusy {
		_, _ = g.attempts.RecordLoginDelay(ctx, KindClient, client, g.cfg.Clock.Now(), g.cfg.ClientDelays)
	}
	return err
}

// succeed clears the failures of a name that had any (not the client's:
// one right password does not excuse a client's guesses at others).
func (g guard) succeed(ctx context.Context, op, kind, subject string, st LoginState) error {
	if st.Failures == 0 && st.LockedUntil.IsZero() {
		return nil
	}
	if err := g.attempts.ResetLoginFailures(ctx, kind, subject); err != nil {
		return routing.Wrap(op, err)
	}
	return nil
}

// loginName bounds what is stored as a login-attempt key: anything longer
// or stranger than a real name cannot be one.
func loginName(s string) (string, bool) {
	if s == "" || len(s) > 200 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "", false
		}
	}
	return strings.Clone(s), true
}
