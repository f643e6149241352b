package accounts

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Administrator roles.
const (
	RoleAdmin          = "admin"
	RoleMappingOfficer = "mapping-officer"
	RoleAuditor        = "auditor"
)

// ValidRole reports whether role is an administrator role.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleMappingOfficer || role == RoleAuditor
}

// Admin is an administrator as callers see it (never the password hash);
// the API shows the name, role and whether the account is disabled.
type Admin struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
	// MustRegisterPasskey is set on a password sign-in while staff must use
	// passkeys and this administrator has none yet: the session may only
	// register one.
	MustRegisterPasskey bool `json:"must_register_passkey,omitempty"`
}

// SessionRevoker ends every session of a subject (Sessions implements it).
type SessionRevoker interface {
	RevokeAllFor(ctx context.Context, subject string) error
}

// Admins manages administrator accounts.
type Admins struct {
	store AdminStore
	guard guard
	cfg   Config
	// revoker, when set, ends an administrator's sessions when the account
	// is disabled, its role changes or its password is reset, so a change
	// takes effect at once instead of at session expiry.
	revoker SessionRevoker
}

// NewAdmins checks cfg and builds the administrator account service.
func NewAdmins(cfg Config) (*Admins, error) {
	cfg, err := cfg.check("accounts.NewAdmins")
	if err != nil {
		return nil, err
	}
	return &Admins{store: cfg.Store, guard: guard{attempts: cfg.Store, cfg: cfg}, cfg: cfg, revoker: cfg.Sessions}, nil
}

// ValidUsername reports whether name can be an administrator's user name:
// 3 to 64 characters from a-z, 0-9, '.', '_' and '-', starting with a
// letter or digit (never ':', so it cannot be mistaken for an eID).
func ValidUsername(name string) bool {
	if len(name) < 3 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func badUsername(op string) error {
	e := newErr(routing.KindInvalid, CodeInvalidUsername, op,
		"a user name has 3 to 64 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	e.Field = "username"
	return e
}

func badRole(op string) error {
	e := newErr(routing.KindInvalid, CodeInvalidRole, op, "the role must be admin, mapping-officer or auditor")
	e.Field = "role"
	return e
}

func adminNotFound(op string) error {
	return newErr(routing.KindNotFound, CodeAdminNotFound, op, "no such administrator")
}

// CreateAdmin adds an administrator.
func (a *Admins) CreateAdmin(ctx context.Context, username, password, role string) (*Admin, error) {
	const op = "accounts.CreateAdmin"
	if !ValidUsername(username) {
		return nil, badUsername(op)
	}
	if !ValidRole(role) {
		return nil, badRole(op)
	}
	if why := CheckPassword(password, username); why != "" {
		return nil, weakPassword(op, why)
	}
	h, err := a.cfg.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	now := a.cfg.Clock.Now().UTC()
	acc := AdminAccount{Username: username, PasswordHash: h, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := a.store.CreateAdmin(ctx, acc); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return adminOf(acc), nil
}

func adminOf(a AdminAccount) *Admin {
	return &Admin{Username: a.Username, Role: a.Role, Disabled: a.Disabled, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// Login checks an administrator's password, with the same delays and the
// same answer for unknown names as residents get. A disabled account is
// refused with account_disabled only after its password was right.
func (a *Admins) Login(ctx context.Context, username, password string) (*Admin, error) {
	const op = "accounts.AdminLogin"
	name, ok := loginName(username)
	if !ok {
		if err := a.cfg.Hasher.Burn(ctx, password); err != nil {
			return nil, err
		}
		return nil, invalidCredentials(op)
	}
	st, err := a.guard.admit(ctx, op, KindAdmin, name)
	if err != nil {
		return nil, err
	}
	acc, err := a.store.GetAdmin(ctx, name)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	if acc == nil || acc.PasswordHash == "" {
		// No account, or one reset and waiting for its activation code:
		// the same answer after the same work.
		if err := a.cfg.Hasher.Burn(ctx, password); err != nil {
			return nil, err
		}
		return nil, a.guard.fail(ctx, op, KindAdmin, name)
	}
	match, rehash, err := a.cfg.Hasher.Verify(ctx, password, acc.PasswordHash)
	if err != nil {
		return nil, hashError(op, err)
	}
	if !match {
		return nil, a.guard.fail(ctx, op, KindAdmin, name)
	}
	if err := a.guard.succeed(ctx, op, KindAdmin, name, st); err != nil {
		return nil, err
	}
	if acc.Disabled {
		return nil, newErr(routing.KindForbidden, CodeAccountDisabled, op, "this administrator account is disabled")
	}
	out := adminOf(*acc)
	if a.cfg.RequireStaffPasskeys && a.cfg.Passkeys != nil {
		n, err := a.cfg.Passkeys.CountActive(ctx, KindAdmin, name)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		if n > 0 {
			return nil, newErr(routing.KindForbidden, CodePasskeyRequired, op, "staff sign in with their passkey here, not a password")
		}
		out.MustRegisterPasskey = true
	}
	if rehash {
		if h, err := a.cfg.Hasher.Hash(ctx, password); err == nil {
			if err := a.store.SetAdminPassword(ctx, name, h, a.cfg.Clock.Now().UTC()); err != nil {
				a.cfg.Logger.Warn("password hash upgrade failed", "err", err)
			}
		}
	}
	return out, nil
}

// PasskeySignIn admits an administrator whose passkey sign-in the passkey
// service checked: the account must exist and not be disabled.
func (a *Admins) PasskeySignIn(ctx context.Context, username string) (*Admin, error) {
	const op = "accounts.AdminPasskeySignIn"
	acc, err := a.store.GetAdmin(ctx, username)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, invalidCredentials(op)
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if acc.Disabled {
		return nil, newErr(routing.KindForbidden, CodeAccountDisabled, op, "this administrator account is disabled")
	}
	return adminOf(*acc), nil
}

// Get returns one administrator.
func (a *Admins) Get(ctx context.Context, username string) (*Admin, error) {
	const op = "accounts.GetAdmin"
	acc, err := a.store.GetAdmin(ctx, username)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, adminNotFound(op)
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return adminOf(*acc), nil
}

// List returns every administrator by user name.
func (a *Admins) List(ctx context.Context) ([]Admin, error) {
	accs, err := a.store.ListAdmins(ctx)
	if err != nil {
		return nil, routing.Wrap("accounts.ListAdmins", err)
	}
	out := make([]Admin, len(accs))
	for i := range accs {
		out[i] = *adminOf(accs[i])
	}
	return out, nil
}

// SetRole changes an administrator's role and ends their sessions.
func (a *Admins) SetRole(ctx context.Context, username, role string) error {
	const op = "accounts.SetRole"
	if !ValidRole(role) {
		return badRole(op)
	}
	if err := a.store.SetAdminRole(ctx, username, role, a.cfg.Clock.Now().UTC()); err != nil {
		return a.notFoundAs(op, err)
	}
	return a.revoke(ctx, op, username)
}

// Disable stops an administrator from signing in and ends their sessions.
func (a *Admins) Disable(ctx context.Context, username string) error {
	const op = "accounts.Disable"
	if err := a.store.SetAdminDisabled(ctx, username, true, a.cfg.Clock.Now().UTC()); err != nil {
		return a.notFoundAs(op, err)
	}
	return a.revoke(ctx, op, username)
}

// Enable lets a disabled administrator sign in again.
func (a *Admins) Enable(ctx context.Context, username string) error {
	const op = "accounts.Enable"
	if err := a.store.SetAdminDisabled(ctx, username, false, a.cfg.Clock.Now().UTC()); err != nil {
		return a.notFoundAs(op, err)
	}
	return nil
}

// SetPassword replaces an administrator's password (an administrator
// resetting it, or the CLI) and ends their sessions.
func (a *Admins) SetPassword(ctx context.Context, username, password string) error {
	const op = "accounts.SetAdminPassword"
	if why := CheckPassword(password, username); why != "" {
		return weakPassword(op, why)
	}
	h, err := a.cfg.Hasher.Hash(ctx, password)
	if err != nil {
		return routing.Wrap(op, err)
	}
	if err := a.store.SetAdminPassword(ctx, username, h, a.cfg.Clock.Now().UTC()); err != nil {
		return a.notFoundAs(op, err)
	}
	return a.revoke(ctx, op, username)
}

func (a *Admins) notFoundAs(op string, err error) error {
	if routing.IsKind(err, routing.KindNotFound) {
		return adminNotFound(op)
	}
	return routing.Wrap(op, err)
}

func (a *Admins) revoke(ctx context.Context, op, username string) error {
	if a.revoker == nil {
		return nil
	}
	return routing.Wrap(op, a.revoker.RevokeAllFor(ctx, username))
}
