package accounts

import (
	"context"
	"strings"

	"github.com/eidgate/eidgate/routing"
)

// Login kinds (the kind half of a login-attempt key).
const (
	KindResident = "resident"
	KindAdmin    = "admin"
)

// guard applies the lockout rule. Failures are counted per login name in
// the database, whether or not the account exists, so every replica sees
// the same count and a locked answer does not reveal that a name is real.
type guard struct {
	attempts LoginAttemptStore
	cfg      Config
}

// admit refuses a name that is locked right now.
func (g guard) admit(ctx context.Context, op, kind, subject string) (LoginState, error) {
	st, err := g.attempts.LoginState(ctx, kind, subject)
	if err != nil {
		return st, routing.Wrap(op, err)
	}
	now := g.cfg.Clock.Now()
	if now.Before(st.LockedUntil) {
		return st, accountLocked(op, st.LockedUntil, now)
	}
	return st, nil
}

// fail counts a failed sign-in; the answer is invalid_credentials, or
// account_locked when this failure locked the name.
func (g guard) fail(ctx context.Context, op, kind, subject string) error {
	now := g.cfg.Clock.Now()
	st, err := g.attempts.RecordLoginFailure(ctx, kind, subject, now, g.cfg.MaxFailures, g.cfg.LockFor)
	if err != nil {
		return routing.Wrap(op, err)
	}
	if now.Before(st.LockedUntil) {
		return accountLocked(op, st.LockedUntil, now)
	}
	return invalidCredentials(op)
}

// succeed clears the failures of a name that had any.
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
