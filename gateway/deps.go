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

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
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
	ResolveDID(ctx context.Context, did string) (*model.DIDResolution, error)
	GetEID(ctx context.Context, eid string) (*model.Identity, error)
	ListLinks(ctx context.Context, eid string) ([]model.AccountLink, error)
}

// Document is an identity document as typed by a department or an
// officer. Number is the resident's document number: never log it.
type Document struct {
	Type    string `json:"type"`
	Number  string `json:"number"`
	Country string `json:"country,omitempty"`
}

// MaskedDocument is a document as it may be shown.
type MaskedDocument struct {
	Type       string    `json:"type"`
	Country    string    `json:"country,omitempty"`
	Masked     string    `json:"masked"`
	KeyVersion string    `json:"key_version"`
	Ref        string    `json:"ref"` // opaque handle for removal (never the number)
	AddedAt    time.Time `json:"added_at"`
}

// CreatedIdentity is the KYC counter's result; the activation code is
// shown once.
type CreatedIdentity struct {
	EID            string           `json:"eid"`
	ActivationCode string           `json:"activation_code"`
	Documents      []MaskedDocument `json:"documents"`
}

// Identities is the mapping service: documents to eIDs, the eID lifecycle
// and department account links.
type Identities interface {
	Create(ctx context.Context, docs []Document, officer string) (*CreatedIdentity, error)
	AddDocument(ctx context.Context, eid string, doc Document, officer string) (*MaskedDocument, error)
	RemoveDocument(ctx context.Context, eid, ref, officer string) error
	Merge(ctx context.Context, from, into, reason, officer string) error
	Deactivate(ctx context.Context, eid, reason, officer string) error
	Find(ctx context.Context, doc Document) (string, error)
	Documents(ctx context.Context, eid string) ([]MaskedDocument, error)
	NewActivationCode(ctx context.Context, eid, officer string) (string, error)
	LinkAccount(ctx context.Context, department, localAccount string, doc Document) (*model.AccountLink, error)
	LookupAccount(ctx context.Context, department, localAccount string) (string, error)
	UnlinkAccount(ctx context.Context, department, eid string) error
}

// ImportJob is a bulk import's progress.
type ImportJob struct {
	ID         string    `json:"id"`
	FileName   string    `json:"file_name"`
	Status     string    `json:"status"`
	Total      int64     `json:"total"`
	Done       int64     `json:"done"`
	Created    int64     `json:"created"`
	Existing   int64     `json:"existing"`
	Rejected   int64     `json:"rejected"`
	RowsPerSec float64   `json:"rows_per_second"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Importer runs bulk imports.
type Importer interface {
	Start(ctx context.Context, fileName string, body io.Reader, officer string) (*ImportJob, error)
	Job(ctx context.Context, id string) (*ImportJob, error)
	Jobs(ctx context.Context, limit int) ([]ImportJob, error)
	// WriteRejects writes the reject report (CSV: row, masked number, reason).
	WriteRejects(ctx context.Context, id string, w io.Writer) error
}

// Session is an authenticated browser session.
type Session struct {
	Kind      string // "resident" or "admin"
	Subject   string // eID or admin username
	Role      string // admin role
	Lang      string
	CSRFToken string
	ExpiresAt time.Time
}

// Session kinds and admin roles.
const (
	SessionResident = "resident"
	SessionAdmin    = "admin"

	RoleAdmin          = "admin"
	RoleMappingOfficer = "mapping-officer"
	RoleAuditor        = "auditor"
)

// APIKey describes a department API key (never its secret).
type APIKey struct {
	ID         string    `json:"id"`
	Department string    `json:"department"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// AdminUser describes an administrator account.
type AdminUser struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
}

// Accounts holds residents, administrators, API keys and sessions.
type Accounts interface {
	Activate(ctx context.Context, eid, code, password string) error
	ResidentLogin(ctx context.Context, eid, password string) error
	SetResidentLang(ctx context.Context, eid, lang string) error
	ResidentLang(ctx context.Context, eid string) (string, error)

	AdminLogin(ctx context.Context, username, password string) (role string, err error)
	CreateAdmin(ctx context.Context, username, password, role string) error
	Admins(ctx context.Context) ([]AdminUser, error)

	IssueAPIKey(ctx context.Context, department, name string) (token string, key *APIKey, err error)
	AuthenticateAPIKey(ctx context.Context, token string) (department, keyID string, err error)
	RevokeAPIKey(ctx context.Context, id string) error
	APIKeys(ctx context.Context, department string) ([]APIKey, error)

	NewSession(ctx context.Context, s Session) (token string, out *Session, err error)
	LookupSession(ctx context.Context, token string) (*Session, error)
	RevokeSession(ctx context.Context, token string) error
}

// PolicyRule is one Casbin rule as the API shows it.
type PolicyRule struct {
	Kind    string `json:"kind"` // "p" (rule) or "g" (role membership)
	Subject string `json:"subject"`
	Object  string `json:"object,omitempty"`
	Action  string `json:"action,omitempty"`
	Effect  string `json:"effect,omitempty"`
	Role    string `json:"role,omitempty"`
}

// PolicyVersion is one entry of the policy history.
type PolicyVersion struct {
	Version   int64     `json:"version"`
	ChangedBy string    `json:"changed_by"`
	Summary   string    `json:"summary"`
	CreatedAt time.Time `json:"created_at"`
}

// Explanation is a policy decision with every matching rule.
type Explanation struct {
	Allowed bool         `json:"allowed"`
	Rule    string       `json:"rule"`
	Version int64        `json:"policy_version"`
	Reason  string       `json:"reason"`
	Matched []PolicyRule `json:"matched_rules"`
}

// Policies administers the Casbin policy.
type Policies interface {
	Explain(ctx context.Context, department, dataType, purpose string) (*Explanation, error)
	Rules(ctx context.Context) ([]PolicyRule, error)
	AddRule(ctx context.Context, r PolicyRule, by string) (int64, error)
	RemoveRule(ctx context.Context, r PolicyRule, by string) (int64, error)
	History(ctx context.Context, limit int) ([]PolicyVersion, error)
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

// Deps are the services behind the API.
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
	Accounts   Accounts
	Policies   Policies
	Tickets    Tickets
	Limiter    RateLimiter
	// Credentials issues, holds, presents and verifies credentials;
	// Questions answers yes/no questions (docs/credentials.md).
	Credentials *credential.Service
	Questions   *credential.Questions
	// Ready reports readiness checks (database, ledger, listener,
	// anchoring lag); the gateway is ready when all pass.
	Ready func(ctx context.Context) []Check
	Clock routing.Clock
}
