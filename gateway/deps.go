// Package gateway is eidgate's HTTP API: the department API under /v1, the
// resident API under /v1/me, the admin API under /v1/admin, DID resolution,
// JWKS, health, readiness and metrics. Every route is registered in
// routes.go; handlers parse, call a service and render. Errors are one
// envelope, {"error":{"code","message","request_id"}}, with the status
// chosen from the error kind in one function (statusOf).
//
// The services it uses are declared here as small interfaces and wired in
// cmd/eidgate.
package gateway

import (
	"context"
	"io"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// AdminLedger holds the registry writes only administrators make.
type AdminLedger interface {
	RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error)
	RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
	UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
}

// AgentLedger holds what the gateway does on the ledger for departments
// and residents with its own identity.
type AgentLedger interface {
	PublishRoutes(ctx context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error)
	RevokeRoute(ctx context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error)
	GetRoutes(ctx context.Context, eid, dataType string) ([]model.RouteEntry, error)
	GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error)
	GetEID(ctx context.Context, eid string) (*model.Identity, error)
	ListLinks(ctx context.Context, eid string) ([]model.AccountLink, error)
}

// Identities is the mapping service: documents to eIDs, the eID lifecycle
// and department account links (*mapping.Service).
type Identities interface {
	Create(ctx context.Context, docs []mapping.Input, officer string) (*mapping.CreatedIdentity, error)
	AddDocument(ctx context.Context, eid string, doc mapping.Input, officer string) (*mapping.MaskedDocument, error)
	RemoveDocument(ctx context.Context, eid, ref, officer string) error
	Merge(ctx context.Context, from, into, reason, officer string) error
	Deactivate(ctx context.Context, eid, reason, officer string) error
	Find(ctx context.Context, doc mapping.Input) (string, error)
	Documents(ctx context.Context, eid string) ([]mapping.MaskedDocument, error)
	NewActivationCode(ctx context.Context, eid, officer string) (string, error)
	LinkAccount(ctx context.Context, department, localAccount string, doc mapping.Input) (*model.AccountLink, error)
	LookupAccount(ctx context.Context, department, localAccount string) (string, error)
	UnlinkAccount(ctx context.Context, department, eid string) error
}

// Importer runs bulk imports (*mapping.Importer).
type Importer interface {
	Start(ctx context.Context, fileName string, body io.Reader, officer string) (*mapping.ImportJob, error)
	Job(ctx context.Context, id string) (*mapping.ImportJob, error)
	Jobs(ctx context.Context, limit int) ([]mapping.ImportJob, error)
	// WriteRejects writes the reject report (CSV: row, masked number, reason).
	WriteRejects(ctx context.Context, id string, w io.Writer) error
}

// Residents holds residents' portal accounts (*accounts.Residents).
type Residents interface {
	Activate(ctx context.Context, eid, code, password string) error
	Login(ctx context.Context, eid, password string) (*accounts.Resident, error)
	// Language is the resident's language, the default when none was
	// chosen; ChosenLanguage is "" then.
	Language(ctx context.Context, eid string) (string, error)
	ChosenLanguage(ctx context.Context, eid string) (string, error)
	SetLanguage(ctx context.Context, eid, lang string) error
}

// Admins holds administrator accounts (*accounts.Admins).
type Admins interface {
	Login(ctx context.Context, username, password string) (*accounts.Admin, error)
	CreateAdmin(ctx context.Context, username, password, role string) (*accounts.Admin, error)
	List(ctx context.Context) ([]accounts.Admin, error)
	// PasskeySignIn admits an administrator whose passkey sign-in the
	// passkey service checked.
	PasskeySignIn(ctx context.Context, username string) (*accounts.Admin, error)
}

// APIKeys holds departments' API keys (*accounts.APIKeys).
type APIKeys interface {
	IssueAPIKey(ctx context.Context, department, name string) (token string, key accounts.APIKey, err error)
	Authenticate(ctx context.Context, token string) (department, keyID string, err error)
	RevokeAPIKey(ctx context.Context, id string) error
	ListAPIKeys(ctx context.Context, department string) ([]accounts.APIKey, error)
}

// Sessions holds browser sessions (*accounts.Sessions).
type Sessions interface {
	NewSession(ctx context.Context, in accounts.Session) (token string, out *accounts.Session, err error)
	Lookup(ctx context.Context, token string) (*accounts.Session, error)
	Revoke(ctx context.Context, token string) error
}

// Policies administers the access policy (*policies.Engine).
type Policies interface {
	Explain(ctx context.Context, department, dataType, purpose string) (*policies.Explanation, error)
	Lines(ctx context.Context) ([]policies.Line, error)
	AddLine(ctx context.Context, by string, l policies.Line) (int64, error)
	RemoveLine(ctx context.Context, by string, l policies.Line) (int64, error)
	History(ctx context.Context, limit int) ([]policies.Version, error)
}

// Tickets serves ticket verification to providers and the key set.
type Tickets interface {
	// Introspect verifies a ticket for provider and consumes it (RFC
	// 7662-like answer).
	Introspect(ctx context.Context, provider, token string) (map[string]any, error)
	JWKS() ([]byte, error)
}

// RateLimiter limits requests per department.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Check is one readiness check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Deps are the services behind the API and the pages; Limiter, Ready and
// Clock are optional, the others required.
type Deps struct {
	Resolver   *routing.Resolver
	Consents   *routing.ConsentService
	Verifier   *routing.Verifier
	Proxy      *routing.Proxy
	Anchorer   *routing.Anchorer
	Access     routing.AccessStore
	Dir        *routing.Directory
	Admin      AdminLedger
	Agent      AgentLedger
	Identities Identities
	Importer   Importer
	Residents  Residents
	Admins     Admins
	APIKeys    APIKeys
	Sessions   Sessions
	Policies   Policies
	Tickets    Tickets
	Passkeys   Passkeys
	Approvals  Approvals
	Limiter    RateLimiter
	// Ready reports readiness checks (database, ledger, listener,
	// anchoring lag); the gateway is ready when all pass.
	Ready func(ctx context.Context) []Check
	Clock routing.Clock
}

// check refuses Deps that lack a required service.
func (d Deps) check() error {
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"Resolver", d.Resolver == nil}, {"Consents", d.Consents == nil}, {"Verifier", d.Verifier == nil},
		{"Proxy", d.Proxy == nil}, {"Anchorer", d.Anchorer == nil}, {"Access", d.Access == nil}, {"Dir", d.Dir == nil},
		{"Admin", d.Admin == nil}, {"Agent", d.Agent == nil}, {"Identities", d.Identities == nil},
		{"Importer", d.Importer == nil}, {"Residents", d.Residents == nil}, {"Admins", d.Admins == nil},
		{"APIKeys", d.APIKeys == nil}, {"Sessions", d.Sessions == nil}, {"Policies", d.Policies == nil},
		{"Tickets", d.Tickets == nil}, {"Passkeys", d.Passkeys == nil}, {"Approvals", d.Approvals == nil},
	} {
		if dep.missing {
			return routing.MissingDependency("gateway.New", "Deps."+dep.name)
		}
	}
	return nil
}
