package routing

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
)

// The ledger interfaces are what the domain needs from the chaincode; the
// typed client in ledger/ implements all of them with one method per
// contract function. They are split by consumer so each service names only
// what it uses.

// RegistryLedger reads and writes departments and data types.
type RegistryLedger interface {
	GetDepartment(ctx context.Context, id string) (*model.Department, error)
	ListDepartments(ctx context.Context) ([]model.Department, error)
	GetDataType(ctx context.Context, code string) (*model.DataType, error)
	ListDataTypes(ctx context.Context) ([]model.DataType, error)
}

// RouteLedger reads and writes route entries.
type RouteLedger interface {
	GetRoutes(ctx context.Context, eid, dataType string) ([]model.RouteEntry, error)
	PublishRoutes(ctx context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error)
	RevokeRoute(ctx context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error)
}

// ConsentLedger moves consents through their states.
type ConsentLedger interface {
	RequestConsent(ctx context.Context, req model.ConsentRequest) (*model.Consent, error)
	GrantConsent(ctx context.Context, id, method string) (*model.Consent, error)
	DenyConsent(ctx context.Context, id, method string) (*model.Consent, error)
	RevokeConsent(ctx context.Context, id string) (*model.Consent, error)
	ExpireConsents(ctx context.Context, ids []string) ([]string, error)
	GetConsent(ctx context.Context, id string) (*model.Consent, error)
	ListConsentsByEID(ctx context.Context, eid string) ([]model.Consent, error)
	ListConsentsByRequester(ctx context.Context, requester string) ([]model.Consent, error)
	// GrantConsentSigned and RevokeConsentSigned move a consent with the
	// resident's passkey signature, which the chaincode checks.
	GrantConsentSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.Consent, error)
	RevokeConsentSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.Consent, error)
}

// PasskeyLedger writes residents' passkeys (reading them is PasskeyReader).
type PasskeyLedger interface {
	PasskeyReader
	RegisterPasskey(ctx context.Context, reg model.PasskeyRegistration) (*model.Passkey, error)
	RetirePasskeys(ctx context.Context, eid string, keyIDs []string, reason string) ([]model.Passkey, error)
}
