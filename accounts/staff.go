package accounts

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// CodeLastAdmin refuses disabling or demoting the last enabled
// administrator with the admin role: nobody could manage staff after it.
const CodeLastAdmin = "last_admin"

// AdminActivation is a staff member's one-time activation code after a
// reset, kept only as an argon2id hash.
type AdminActivation struct {
	Username       string
	CodeHash       string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         time.Time
	FailedAttempts int
}

// StaffStore keeps what staff management needs beyond AdminStore.
type StaffStore interface {
	// ResetAdmin removes the administrator's password and stores code as
	// their only activation code, in one transaction (not_found when there
	// is no such administrator).
	ResetAdmin(ctx context.Context, code AdminActivation) error
	GetAdminActivation(ctx context.Context, username string) (*AdminActivation, error)
	// RecordAdminActivationFailure counts a wrong code against the code
	// with hash codeHash; 0 when that code is no longer stored.
	RecordAdminActivationFailure(ctx context.Context, username, codeHash string) (int, error)
	// ConsumeAdminActivation marks the code used and sets the password
	// hash in one transaction; false, changing nothing, when the code is
	// used, replaced or expired at at.
	ConsumeAdminActivation(ctx context.Context, username, codeHash, passwordHash string, at time.Time) (bool, error)
}

// Reset takes an administrator's password away, ends their sessions and
// revokes their passkeys, and issues a one-time activation code with which
// they choose a new password (ActivateAdmin). The code is shown once.
func (a *Admins) Reset(ctx context.Context, username string) (string, time.Time, error) {
	const op = "accounts.ResetAdmin"
	st, ok := a.store.(StaffStore)
	if !ok {
		return "", time.Time{}, routing.MissingDependency(op, "a store for staff activation codes")
	}
	if _, err := a.Get(ctx, username); err != nil {
		return "", time.Time{}, err
	}
	display, canonical, err := newActivationCode()
	if err != nil {
		return "", time.Time{}, routing.Wrap(op, err)
	}
	h, err := a.cfg.Hasher.Hash(ctx, canonical)
	if err != nil {
		return "", time.Time{}, routing.Wrap(op, err)
	}
	now := a.cfg.Clock.Now().UTC()
	exp := now.Add(a.cfg.ActivationTTL)
	if err := st.ResetAdmin(ctx, AdminActivation{Username: username, CodeHash: h, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return "", time.Time{}, a.notFoundAs(op, err)
	}
	if a.cfg.Passkeys != nil {
		if err := a.cfg.Passkeys.RevokeAll(ctx, KindAdmin, username, "reset"); err != nil {
			return "", time.Time{}, routing.Wrap(op, err)
		}
	}
	if err := a.revoke(ctx, op, username); err != nil {
		return "", time.Time{}, err
	}
	return display, exp, nil
}

// ActivateAdmin sets a reset administrator's new password with the
// activation code. A wrong code, an unknown name and a name without a
// code get the same answer; too many wrong codes burn the code.
func (a *Admins) ActivateAdmin(ctx context.Context, username, code, newPassword string) (*Admin, error) {
	const op = "accounts.ActivateAdmin"
	st, ok := a.store.(StaffStore)
	if !ok {
		return nil, routing.MissingDependency(op, "a store for staff activation codes")
	}
	canonical, perr := ParseActivationCode(code)
	if why := CheckPassword(newPassword, username, canonical, code); why != "" {
		return nil, weakPassword(op, why)
	}
	bad := newErr(routing.KindUnauthenticated, CodeActivationInvalid, op, "the activation code is not right")
	ac, err := st.GetAdminActivation(ctx, username)
	if routing.IsKind(err, routing.KindNotFound) {
		a.cfg.Hasher.Burn(ctx, code)
		return nil, bad
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if ac.FailedAttempts >= a.cfg.MaxActivationAttempts {
		return nil, newErr(routing.KindForbidden, CodeActivationAttempts, op, "too many wrong activation codes; ask an administrator to reset the account again")
	}
	match := false
	if perr == nil {
		if match, _, err = a.cfg.Hasher.Verify(ctx, canonical, ac.CodeHash); err != nil {
			return nil, routing.Wrap(op, err)
		}
	} else {
		a.cfg.Hasher.Burn(ctx, code)
	}
	if !match {
		if _, err := st.RecordAdminActivationFailure(ctx, username, ac.CodeHash); err != nil {
			return nil, routing.Wrap(op, err)
		}
		return nil, bad
	}
	now := a.cfg.Clock.Now().UTC()
	if !ac.UsedAt.IsZero() {
		return nil, newErr(routing.KindConflict, CodeActivationUsed, op, "this activation code was already used; sign in with your password")
	}
	if !now.Before(ac.ExpiresAt) {
		return nil, newErr(routing.KindUnauthenticated, CodeActivationExpired, op, "the activation code has expired; ask an administrator for a new one")
	}
	h, err := a.cfg.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	consumed, err := st.ConsumeAdminActivation(ctx, username, ac.CodeHash, h, now)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if !consumed {
		return nil, newErr(routing.KindConflict, CodeActivationUsed, op, "this activation code was already used; sign in with your password")
	}
	acc, err := a.store.GetAdmin(ctx, username)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if acc.Disabled {
		return nil, newErr(routing.KindForbidden, CodeAccountDisabled, op, "this administrator account is disabled")
	}
	return adminOf(*acc), nil
}
