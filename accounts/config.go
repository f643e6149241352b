package accounts

import (
	"context"
	"log/slog"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Defaults.
const (
	DefaultActivationTTL         = 30 * 24 * time.Hour
	DefaultMaxActivationAttempts = 10
	DefaultSessionTTL            = 12 * time.Hour
	DefaultSessionIdle           = 30 * time.Minute
	DefaultTouchEvery            = time.Minute
)

// Config is what the account services are built from; one Config serves
// all four. Store is required; zero settings take the defaults.
type Config struct {
	// Store keeps the accounts (store.DB implements it).
	Store Store
	// Sessions, when set, lets Residents and Admins end a subject's
	// sessions when its password, role or state changes, so a change takes
	// effect at once instead of at session expiry (the Sessions service
	// implements it).
	Sessions SessionRevoker
	// Departments is the registry API keys are issued against (required
	// by NewAPIKeys): a key is issued for a registered department only.
	Departments DepartmentRegistry

	Clock  routing.Clock
	Hasher *Hasher // default: RecommendedParams
	Logger *slog.Logger

	// NameDelays slow down guessing one login name (a document, a user
	// name), ClientDelays one client (an address) guessing many; neither
	// ever locks anyone out.
	NameDelays   Delays
	ClientDelays Delays

	// ActivationTTL is how long an activation code stays valid;
	// MaxActivationAttempts wrong codes burn the current code.
	ActivationTTL         time.Duration
	MaxActivationAttempts int

	// SessionTTL is a session's absolute lifetime, SessionIdle how long it
	// survives without use.
	SessionTTL  time.Duration
	SessionIdle time.Duration

	// TouchEvery bounds how often last-used and last-seen times are
	// written for one API key or session.
	TouchEvery time.Duration

	// Passkeys, when set, lets issuing a new activation code revoke the
	// resident's passkeys (a resident who lost them, at the counter), and
	// lets RequireStaffPasskeys hold staff to them.
	Passkeys PasskeyAccounts
	// RequireStaffPasskeys makes administrators sign in with a passkey: a
	// password sign-in of one who has a passkey is refused, and one who has
	// none gets a session that may only register one.
	RequireStaffPasskeys bool
}

// PasskeyAccounts is what the account services need of the passkey
// service (*Passkeys).
type PasskeyAccounts interface {
	RevokeAll(ctx context.Context, kind, subject, reason string) error
	CountActive(ctx context.Context, kind, subject string) (int, error)
}

// check refuses a Config without a store and fills the defaults.
func (c Config) check(op string) (Config, error) {
	if c.Store == nil {
		return c, routing.MissingDependency(op, "an account store")
	}
	return c.withDefaults(), nil
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = routing.SystemClock{}
	}
	if c.Hasher == nil {
		c.Hasher = NewHasher(RecommendedParams(), 0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.NameDelays = c.NameDelays.withDefaults(DefaultNameDelays)
	c.ClientDelays = c.ClientDelays.withDefaults(DefaultClientDelays)
	if c.ActivationTTL <= 0 {
		c.ActivationTTL = DefaultActivationTTL
	}
	if c.MaxActivationAttempts <= 0 {
		c.MaxActivationAttempts = DefaultMaxActivationAttempts
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.TouchEvery <= 0 {
		c.TouchEvery = DefaultTouchEvery
	}
	return c
}
