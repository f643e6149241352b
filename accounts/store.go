package accounts

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// The stores below are what accounts needs from the database; store.DB
// implements all of them (Store). Not-found answers are *routing.Error of
// kind not_found; a database that is down answers kind unavailable.

// DepartmentRegistry answers whether a department is registered (the
// routing registry): its error for an unknown one is kind not_found.
type DepartmentRegistry interface {
	Department(ctx context.Context, id string) (*model.Department, error)
}

// Store is every store the account services use.
type Store interface {
	ResidentStore
	LoginAttemptStore
	AdminStore
	APIKeyStore
	SessionStore
}

// ActivationCode is a resident's one-time activation code, kept only as an
// argon2id hash.
type ActivationCode struct {
	EID            string
	CodeHash       string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         time.Time // zero while unused
	FailedAttempts int
}

// ResidentAccount is a resident's portal account.
type ResidentAccount struct {
	EID          string
	PasswordHash string // empty until activated
	Lang         string
	TimeZone     string // IANA name; "" for the default of the language
	ActivatedAt  time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ResidentStore keeps residents' accounts and activation codes.
type ResidentStore interface {
	// PutActivationCode stores c as the resident's only activation code,
	// replacing an earlier one (used or not), and creates the resident's
	// account row when missing.
	PutActivationCode(ctx context.Context, c ActivationCode) error
	GetActivationCode(ctx context.Context, eid string) (*ActivationCode, error)
	// RecordActivationFailure counts a wrong code against the stored code
	// whose hash is codeHash and returns the new count (0 when that code
	// is no longer stored).
	RecordActivationFailure(ctx context.Context, eid, codeHash string) (int, error)
	// ConsumeActivationCode marks the code with hash codeHash used and sets
	// the resident's password hash, in one transaction. It reports false,
	// changing nothing, when that code is already used, replaced or
	// expired at at.
	ConsumeActivationCode(ctx context.Context, eid, codeHash, passwordHash string, at time.Time) (bool, error)
	GetResident(ctx context.Context, eid string) (*ResidentAccount, error)
	SetResidentPassword(ctx context.Context, eid, passwordHash string, at time.Time) error
	SetResidentLang(ctx context.Context, eid, lang string, at time.Time) error
	SetResidentTimeZone(ctx context.Context, eid, zone string, at time.Time) error
}

// LoginState is the failure count and lock of one login name.
type LoginState struct {
	Failures    int
	LockedUntil time.Time
}

// LoginAttemptStore counts failed logins per (kind, login name), whether or
// not an account with that name exists.
type LoginAttemptStore interface {
	LoginState(ctx context.Context, kind, subject string) (LoginState, error)
	// RecordLoginDelay adds a failure at at (failures older than
	// d.Window are forgotten first) and makes the name wait d.After(count)
	// from at, never shortening a wait already set. It returns the new
	// state.
	RecordLoginDelay(ctx context.Context, kind, subject string, at time.Time, d Delays) (LoginState, error)
	ResetLoginFailures(ctx context.Context, kind, subject string) error
}

// AdminAccount is an administrator.
type AdminAccount struct {
	Username     string
	PasswordHash string
	Role         string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AdminStore keeps administrator accounts.
type AdminStore interface {
	// CreateAdmin fails with kind conflict (code "admin_exists") when the
	// username is taken.
	CreateAdmin(ctx context.Context, a AdminAccount) error
	GetAdmin(ctx context.Context, username string) (*AdminAccount, error)
	ListAdmins(ctx context.Context) ([]AdminAccount, error)
	// SetAdminRole and SetAdminDisabled refuse, with kind conflict and
	// code "last_admin", a change that would leave no enabled
	// administrator with the admin role; the check and the change are one
	// atomic step, so two officials disabling each other at once cannot
	// both succeed.
	SetAdminRole(ctx context.Context, username, role string, at time.Time) error
	SetAdminDisabled(ctx context.Context, username string, disabled bool, at time.Time) error
	SetAdminPassword(ctx context.Context, username, passwordHash string, at time.Time) error
}

// APIKey describes a department API key; the secret is never part of it.
type APIKey struct {
	ID         string    `json:"id"`
	Department string    `json:"department"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// APIKeyStore keeps API keys with the SHA-256 of their secrets.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey, secretSHA256 string) error
	// GetAPIKey returns the key and the hex SHA-256 of its secret.
	GetAPIKey(ctx context.Context, id string) (*APIKey, string, error)
	ListAPIKeys(ctx context.Context, department string) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey sets the last-used time to at unless it is already after
	// at-minGap, so replicas write it at most about once per minGap.
	TouchAPIKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error
}

// SessionRecord is a stored session, keyed by the SHA-256 of its token.
type SessionRecord struct {
	TokenHash  string
	Kind       string
	Subject    string
	Role       string
	Lang       string
	AuthMethod string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// SessionStore keeps sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s SessionRecord) error
	GetSession(ctx context.Context, tokenHash string) (*SessionRecord, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteSessionsFor(ctx context.Context, subject string) (int64, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error)
}
