package accounts

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Passkey is a WebAuthn credential of a resident or an administrator, as
// the database keeps it. Only its public key is known to eidgate.
type Passkey struct {
	ID         []byte // the credential id the authenticator gave
	Kind       string // KindResident or KindAdmin
	Subject    string // eID or user name
	UserHandle []byte // the account's WebAuthn user handle
	PublicKey  []byte // COSE_Key
	Algorithm  int64  // COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256)
	// KeyID is the key's id on the ledger (a resident's passkey is a
	// verification method of their DID document); empty for staff.
	KeyID             string
	AAGUID            []byte
	Transports        []string
	AttestationFormat string
	SignCount         uint32
	BackupEligible    bool // fixed at registration (WebAuthn: BE never changes)
	BackupState       bool // as last reported
	Name              string
	CreatedAt         time.Time
	LastUsedAt        time.Time
	RevokedAt         time.Time // zero while it may be used
	RevokedReason     string
}

// Active reports whether the passkey may still be used.
func (p Passkey) Active() bool { return p.RevokedAt.IsZero() }

// PasskeyUser is an account's WebAuthn user handle: 32 random bytes, so
// an authenticator never holds the eID or the user name.
type PasskeyUser struct {
	Kind      string
	Subject   string
	Handle    []byte
	CreatedAt time.Time
}

// Ceremony is a WebAuthn ceremony begun by the gateway and not finished
// yet: its challenge (the key), what it is for, whose it is, and the
// library's session data. It is kept in the database, so any replica can
// finish it, and it can be finished once, before it expires.
type Ceremony struct {
	Challenge string // base64url without padding, as the client echoes it
	Purpose   string // CeremonyRegister, CeremonyLogin, or a statement type
	Kind      string // KindResident or KindAdmin
	Subject   string // empty for a sign-in, where the user is not known yet
	Session   []byte // go-webauthn SessionData as JSON
	Context   string // what the ceremony is about (e.g. the consent and nonce of a statement)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Ceremony purposes besides the statement types of model (consent.grant,
// consent.revoke), which sign a statement.
const (
	CeremonyRegister = "register"
	CeremonyLogin    = "login"
)

// PasskeyStore keeps passkeys, user handles and ceremonies.
type PasskeyStore interface {
	// EnsurePasskeyUser returns the account's user handle, creating it
	// with handle when the account has none.
	EnsurePasskeyUser(ctx context.Context, u PasskeyUser) (*PasskeyUser, error)
	PasskeyUserByHandle(ctx context.Context, handle []byte) (*PasskeyUser, error)
	// AddPasskey stores a new passkey; a credential id stored before is a
	// conflict (passkey_exists).
	AddPasskey(ctx context.Context, p Passkey) error
	GetPasskey(ctx context.Context, id []byte) (*Passkey, error)
	// ListPasskeys returns an account's passkeys, revoked ones included,
	// oldest first.
	ListPasskeys(ctx context.Context, kind, subject string) ([]Passkey, error)
	// RecordPasskeyUse stores the counter and backup state of a use at at,
	// provided the stored counter is still prev; it reports false, changing
	// nothing, when another use got there first or the key was revoked.
	RecordPasskeyUse(ctx context.Context, id []byte, prev, next uint32, backupState bool, at time.Time) (bool, error)
	// RevokePasskeys revokes the listed passkeys of an account, or all
	// when ids is empty, and returns the ones it revoked.
	RevokePasskeys(ctx context.Context, kind, subject string, ids [][]byte, reason string, at time.Time) ([]Passkey, error)
	// HasPassword reports whether the account can sign in with a password.
	HasPassword(ctx context.Context, kind, subject string) (bool, error)

	// PutCeremony stores a ceremony (and forgets ones long expired).
	PutCeremony(ctx context.Context, c Ceremony) error
	// ConsumeCeremony marks the ceremony with this challenge used at at and
	// returns it with true, provided it is unused and unexpired; otherwise
	// it returns the stored ceremony (if any) with false, changing nothing.
	ConsumeCeremony(ctx context.Context, challenge string, at time.Time) (*Ceremony, bool, error)
}

// PasskeyLedger puts residents' passkeys on the ledger, where anyone can
// check what they signed (routing.PasskeyLedger, the ledger client).
type PasskeyLedger interface {
	RegisterPasskey(ctx context.Context, reg model.PasskeyRegistration) (*model.Passkey, error)
	RetirePasskeys(ctx context.Context, eid string, keyIDs []string, reason string) ([]model.Passkey, error)
}
