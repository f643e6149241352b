package credential

import (
	"context"
	"crypto"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Ledger is what the service needs from the chaincode; the typed client in
// ledger/ implements it with one method per contract function.
type Ledger interface {
	GetDepartment(ctx context.Context, id string) (*model.Department, error)
	GetDataType(ctx context.Context, code string) (*model.DataType, error)
	GetEID(ctx context.Context, eid string) (*model.Identity, error)
	GetRoutes(ctx context.Context, eid, dataType string) ([]model.RouteEntry, error)
	GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error)
	PublishRoutes(ctx context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error)
	AnchorStatusList(ctx context.Context, a model.StatusListAnchor) (*model.StatusListAnchor, error)
	GetStatusListAnchor(ctx context.Context, issuer, listID string) (*model.StatusListAnchor, error)
}

// IssuerKeys gives the private keys a gateway holds on departments'
// behalf (a key directory, an HSM). The service uses a key only if its
// public key is an active key of the department on the ledger.
type IssuerKeys interface {
	// IssuerKey returns the department's signing key and its key id, or a
	// *routing.Error of kind not_found when the gateway holds none.
	IssuerKey(ctx context.Context, department string) (kid string, key crypto.Signer, err error)
}

// HolderKeys gives a resident's holder key (the key whose public part is
// the cnf.jwk of their credentials), for presentations the portal builds
// on the resident's behalf.
type HolderKeys interface {
	HolderKey(ctx context.Context, eid string) (crypto.Signer, error)
}

// StatusList is one status list of an issuer as the store keeps it.
type StatusList struct {
	Issuer    string
	ListID    string
	Purpose   string
	Size      int
	Allocated int    // indexes handed out
	Bits      []byte // the expanded bitstring
	Version   uint64 // increases with every change of Bits
	Token     string // the signed status list credential of Version
	Digest    string // its digest
	Anchored  uint64 // the newest version anchored on the ledger
	UpdatedAt time.Time
}

// StatusRef is where a credential's status is kept.
type StatusRef struct {
	Purpose string
	ListID  string
	Index   int
}

// IssuedCredential is the store's record of an issued credential: the
// resident's wallet copy (the token holds their claims) and where its
// status is kept.
type IssuedCredential struct {
	ID         string
	Issuer     string
	EID        string
	DataType   string
	Version    uint64
	Digest     string
	Token      string
	Status     []StatusRef
	IssuedAt   time.Time
	ValidUntil time.Time // zero: no end
	Revoked    bool
	Suspended  bool
}

// Challenge is a verifier's nonce for one presentation.
type Challenge struct {
	Nonce     string
	Verifier  string // department id
	Audience  string // the verifier's DID
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store keeps status lists, issued credentials and challenges. Every method
// is one database transaction.
type Store interface {
	// AllocateStatus hands out one index of a list of issuer for purpose
	// that has room, creating a list (its id from newListID, size bits)
	// when none has; pick chooses a free index among the list's size
	// (called again while it picks a used one). An index is never handed
	// out twice.
	AllocateStatus(ctx context.Context, issuer, purpose string, size int, newListID func() string, pick func(size int) int) (StatusRef, error)
	// UpdateStatusList changes a list in one transaction: it loads it, lets
	// change set bits and sign the new version, and stores the result.
	// change returns false when nothing changed (nothing is written).
	UpdateStatusList(ctx context.Context, issuer, listID string, change func(l *StatusList) (bool, error)) (*StatusList, error)
	GetStatusList(ctx context.Context, issuer, listID string) (*StatusList, error)
	// MarkStatusAnchored records that version of a list is on the ledger.
	MarkStatusAnchored(ctx context.Context, issuer, listID string, version uint64) error

	SaveCredential(ctx context.Context, c IssuedCredential) error
	GetCredential(ctx context.Context, id string) (*IssuedCredential, error)
	ListCredentials(ctx context.Context, eid string) ([]IssuedCredential, error)
	// SetCredentialStatus records the revoked and suspended flags.
	SetCredentialStatus(ctx context.Context, id string, revoked, suspended bool) error

	SaveChallenge(ctx context.Context, c Challenge) error
	// ConsumeChallenge marks a challenge used and returns it; a challenge
	// that is unknown, used, expired at at, or of another verifier is a
	// *routing.Error (code challenge_invalid).
	ConsumeChallenge(ctx context.Context, nonce, verifier string, at time.Time) (*Challenge, error)
}

// AccessLog appends access records durably (routing.AccessStore does).
type AccessLog interface {
	AppendAccess(ctx context.Context, recs []*routing.AccessRecord) ([]error, error)
}

// Answerer asks the provider that holds a record for a yes/no answer (the
// provider's predicate endpoint, or the built-in demo provider).
type Answerer interface {
	Answer(ctx context.Context, q Question) (token string, err error)
}

// Question is what a provider is asked.
type Question struct {
	Provider    string
	EID         string
	DataType    string
	PredicateID string
	Requester   string // department id
	AccessID    string
	Ticket      string // the access ticket the gateway issued for the question
}
