// Package gateway is eidgate's HTTP API: the department API under /v1, the
// resident API under /v1/me, the admin API under /v1/admin, DID resolution,
// JWKS, health, readiness and metrics. Every route is registered in
// routes.go; handlers parse, call a service and render. Errors are one
// envelope, {"error":{"code","message","request_id"}}, with the status
// chosen from the error kind in one function (statusOf).
//
// The services it uses are declared here as small interfaces in the
// domain's types and wired in cmd/eidgate.
package gateway

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// The services the gateway serves, declared here as the small interfaces
// its handlers use, in the domain's own types; the domain services
// implement them as they are and cmd/eidgate wires them. A handler parses
// the request, calls one of them and renders the answer: business rules,
// ledger writes and cache invalidation are the services'.

// Resolver answers "department A needs data item X about a resident"
// (*routing.Resolver).
type Resolver interface {
	Resolve(ctx context.Context, req routing.ResolveRequest) (*routing.ResolveResult, error)
}

// Proxy fetches a resolved record from its provider and checks it against
// the on-chain digest (*routing.Proxy).
type Proxy interface {
	Fetch(ctx context.Context, res *routing.ResolveResult) (*routing.ProxiedRecord, error)
}

// Consents moves consents through their states for departments and
// residents (*routing.ConsentService).
type Consents interface {
	Request(ctx context.Context, requester string, d routing.ConsentDraft) (*model.Consent, error)
	ForDepartment(ctx context.Context, dept, id string) (*model.Consent, error)
	ForResident(ctx context.Context, eid, id string) (*model.Consent, error)
	ListForRequester(ctx context.Context, dept string) ([]routing.ConsentView, error)
	ListForResident(ctx context.Context, eid string) ([]routing.ConsentView, error)
	Grant(ctx context.Context, eid, id, method string) (*model.Consent, error)
	Deny(ctx context.Context, eid, id, method string) (*model.Consent, error)
	Revoke(ctx context.Context, eid, id string) (*model.Consent, error)
	StateFor(ctx context.Context, eid, department, dataType, purpose string) (state, id string)
	Waiting(ctx context.Context, eid string) int
}

// Disputes keeps residents' disputes of accesses (*audit.Disputes: the
// dispute service with each step audited).
type Disputes interface {
	Raise(ctx context.Context, eid, accessID, reason, text string) (*routing.Dispute, error)
	Answer(ctx context.Context, dept, official, id, answer string) (*routing.Dispute, error)
	Close(ctx context.Context, id, outcome, note string) (*routing.Dispute, error)
	Get(ctx context.Context, id string) (*routing.Dispute, error)
	ForResident(ctx context.Context, eid, id string) (*routing.Dispute, error)
	ForDepartment(ctx context.Context, dept, id string) (*routing.Dispute, error)
	List(ctx context.Context, f routing.DisputeFilter) ([]routing.Dispute, error)
}

// Rules keeps residents' standing rules (*routing.RuleService).
type Rules interface {
	Create(ctx context.Context, eid string, d routing.RuleDraft) (*model.StandingRule, error)
	// Prepare checks a draft and returns the terms it would record.
	Prepare(ctx context.Context, eid string, d routing.RuleDraft) (model.RuleDraft, error)
	Revoke(ctx context.Context, eid, id string) (*model.StandingRule, error)
	ListForResident(ctx context.Context, eid string) ([]routing.RuleView, error)
}

// Verifier checks a record against its on-chain digest (*routing.Verifier).
type Verifier interface {
	Verify(ctx context.Context, env routing.RecordEnvelope) (*routing.Verification, error)
}

// Routes publishes and revokes departments' signed digests
// (*routing.Routes).
type Routes interface {
	Publish(ctx context.Context, department string, batch []model.SignedRoute) ([]model.RouteOutcome, error)
	Revoke(ctx context.Context, department, eid, dataType, reason string) (*model.RouteEntry, error)
	Of(ctx context.Context, eid string) ([]model.RouteEntry, error)
}

// Registry is the register of departments and data types
// (*routing.Registry).
type Registry interface {
	Department(ctx context.Context, id string) (*model.Department, error)
	Departments(ctx context.Context) ([]model.Department, error)
	DataType(ctx context.Context, code string) (*model.DataType, error)
	DataTypes(ctx context.Context) ([]model.DataType, error)
	RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error)
	SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error)
	RevokeSigningKey(ctx context.Context, dept, kid, reason string) (*model.Department, error)
	RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
	UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error)
}

// DIDs resolves eIDs as DIDs (*routing.Directory, from its cache).
type DIDs interface {
	DID(ctx context.Context, did string) (*model.DIDResolution, error)
}

// AccessRecords lists access records and proves a resident's are anchored
// (*routing.AccessRecords).
type AccessRecords interface {
	List(ctx context.Context, f routing.AccessFilter) ([]routing.AccessRecord, error)
	// ForResident lists what the resident may see now: break-glass
	// accesses only once their seal has ended.
	ForResident(ctx context.Context, eid string, f routing.AccessFilter) ([]routing.AccessRecord, error)
	Proof(ctx context.Context, eid, id string) (*routing.AccessProof, error)
	ResidentRecord(ctx context.Context, eid, id string) (*routing.AccessRecord, error)
	// Review records the acting auditor's review of a break-glass access.
	Review(ctx context.Context, id, note string) (*routing.AccessRecord, error)
}

// Anchoring is the state of this replica's anchoring (*routing.Anchorer).
type Anchoring interface {
	Status() routing.AnchorStatus
	// Check fails while anchoring lags past its bound.
	Check(ctx context.Context) error
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
	Identity(ctx context.Context, eid string) (*mapping.IdentityDetail, error)
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

// SignIn opens sessions for residents and administrators
// (*accounts.SignIn).
type SignIn interface {
	Activate(ctx context.Context, doc mapping.Input, code, password string) (token string, sess *accounts.Session, err error)
	Resident(ctx context.Context, doc mapping.Input, password string) (token string, sess *accounts.Session, err error)
	Admin(ctx context.Context, username, password string) (token string, sess *accounts.Session, err error)
	ActivateAdmin(ctx context.Context, username, code, password string) (token string, sess *accounts.Session, err error)
	ResidentPasskey(ctx context.Context, body []byte) (token string, sess *accounts.Session, err error)
	AdminPasskey(ctx context.Context, body []byte) (token string, sess *accounts.Session, err error)
}

// Residents holds residents' language choice (*accounts.Residents).
type Residents interface {
	// Language is the resident's language, the default when none was
	// chosen; ChosenLanguage is "" then.
	Language(ctx context.Context, eid string) (string, error)
	ChosenLanguage(ctx context.Context, eid string) (string, error)
	SetLanguage(ctx context.Context, eid, lang string) error
	// TimeZone is the zone the resident chose for the portal's times, nil
	// when none; SetTimeZone stores an IANA name ("" for the default).
	TimeZone(ctx context.Context, eid string) (*time.Location, error)
	SetTimeZone(ctx context.Context, eid, zone string) error
}

// Admins holds administrator accounts (*accounts.Admins).
type Admins interface {
	CreateAdmin(ctx context.Context, username, password, role string) (*accounts.Admin, error)
	List(ctx context.Context) ([]accounts.Admin, error)
	Disable(ctx context.Context, username string) error
	Enable(ctx context.Context, username string) error
	SetRole(ctx context.Context, username, role string) error
	// Reset takes the password away and returns a one-time activation
	// code (shown once) and its expiry.
	Reset(ctx context.Context, username string) (code string, expires time.Time, err error)
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
	BreakGlassGrants(ctx context.Context) ([]policies.Grant, error)
	SetBreakGlass(ctx context.Context, by string, g policies.Grant) (int64, error)
	RemoveBreakGlass(ctx context.Context, by string, g policies.Grant) (int64, error)
}

// AuditTrail is the officials' audit trail (*audit.Trail): browsing,
// filtering and proving its records, and the acts on a resident's eID.
type AuditTrail interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Get(ctx context.Context, id string) (*audit.Record, error)
	Proof(ctx context.Context, id, eid string) (*audit.Proof, error)
	ForResident(ctx context.Context, eid string, limit int) ([]audit.ResidentView, error)
	// Four eyes: the proposals waiting for (or decided by) a second
	// official, and the decisions.
	Proposals(ctx context.Context, status string) ([]audit.Proposal, error)
	Approve(ctx context.Context, id, note string) (*audit.Proposal, error)
	Reject(ctx context.Context, id, note string) (*audit.Proposal, error)
}

// Tickets serves ticket verification to providers and the key set.
type Tickets interface {
	// Introspect verifies a ticket for provider and consumes it (RFC
	// 7662-like answer).
	Introspect(ctx context.Context, provider, token string) (map[string]any, error)
	JWKS() ([]byte, error)
}

// Credentials issues, revokes, holds, presents and verifies verifiable
// credentials, and serves issuer DIDs, status lists and schemas
// (*credential.Service).
type Credentials interface {
	ResolveIssuer(ctx context.Context, did string) (*model.DIDResolution, error)
	Issue(ctx context.Context, req credential.IssueRequest) (*credential.IssuedCredential, error)
	SetStatus(ctx context.Context, issuer, credentialID, action string) (*credential.IssuedCredential, error)
	StatusListCredential(ctx context.Context, issuer, listID string) (string, error)
	Schema(ctx context.Context, code string) (json.RawMessage, error)
	NewChallenge(ctx context.Context, verifier, purpose string) (*credential.Challenge, error)
	VerifyPresentation(ctx context.Context, req credential.PresentationRequest) (*credential.Result, error)
	Verify(ctx context.Context, token string, presentation bool, audience, nonce string) (*credential.Result, error)
	VerifyToken(ctx context.Context, token, audience, nonce string) (*credential.Result, error)
	Wallet(ctx context.Context, eid string) ([]credential.WalletEntry, error)
	WalletCredential(ctx context.Context, eid, id string) (*credential.WalletCredential, error)
	Present(ctx context.Context, req credential.PresentRequest) (string, error)
	BaseURL() string
}

// Questions answers a department's yes/no question about a resident
// (*credential.Questions).
type Questions interface {
	Ask(ctx context.Context, in credential.Inquiry) (*credential.Answered, error)
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

// Deps are the services behind the API and the pages; Limiter and Ready
// are optional, the others required.
type Deps struct {
	Resolver   Resolver
	Proxy      Proxy
	Consents   Consents
	Rules      Rules
	Disputes   Disputes
	Verifier   Verifier
	Routes     Routes
	Registry   Registry
	DIDs       DIDs
	Access     AccessRecords
	Anchoring  Anchoring
	Identities Identities
	Importer   Importer
	SignIn     SignIn
	Residents  Residents
	Admins     Admins
	APIKeys    APIKeys
	Sessions   Sessions
	Policies   Policies
	Tickets    Tickets
	Passkeys   Passkeys
	Approvals  Approvals
	Limiter    RateLimiter
	// Audit is the officials' audit trail; AuditAnchoring the anchoring
	// of its records.
	Audit          AuditTrail
	AuditAnchoring Anchoring
	// Credentials issues, holds, presents and verifies credentials;
	// Questions answers yes/no questions (docs/credentials.md).
	Credentials Credentials
	Questions   Questions
	// Ready reports readiness checks (database, ledger, listener); the
	// gateway is ready when they and anchoring pass.
	Ready func(ctx context.Context) []Check
}

// check refuses Deps that lack a required service.
func (d Deps) check() error {
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"Resolver", d.Resolver == nil}, {"Proxy", d.Proxy == nil}, {"Consents", d.Consents == nil}, {"Rules", d.Rules == nil},
		{"Disputes", d.Disputes == nil},
		{"Verifier", d.Verifier == nil}, {"Routes", d.Routes == nil}, {"Registry", d.Registry == nil},
		{"DIDs", d.DIDs == nil}, {"Access", d.Access == nil}, {"Anchoring", d.Anchoring == nil},
		{"Identities", d.Identities == nil}, {"Importer", d.Importer == nil}, {"SignIn", d.SignIn == nil},
		{"Residents", d.Residents == nil}, {"Admins", d.Admins == nil}, {"APIKeys", d.APIKeys == nil},
		{"Sessions", d.Sessions == nil}, {"Policies", d.Policies == nil}, {"Tickets", d.Tickets == nil},
		{"Credentials", d.Credentials == nil}, {"Questions", d.Questions == nil},
		{"Passkeys", d.Passkeys == nil}, {"Approvals", d.Approvals == nil},
		{"Audit", d.Audit == nil}, {"AuditAnchoring", d.AuditAnchoring == nil},
	} {
		if dep.missing {
			return routing.MissingDependency("gateway.New", "Deps."+dep.name)
		}
	}
	return nil
}
