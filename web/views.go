package web

import (
	"strings"
	"time"
)

// The view types are what the gateway's page handlers hand the templates:
// plain values, so this package needs nothing but the standard library.

// Consent is a consent as the portal and console show it.
type Consent struct {
	ID          string
	Requester   string
	Provider    string // a department id or "*"
	DataTypes   []string
	PurposeCode string
	PurposeText string
	ValidFrom   string // RFC 3339
	ValidUntil  string
	RequestedAt string
	DecidedAt   string
	RevokedAt   string
	MaxUses     uint64 // 0 = unlimited
	Uses        uint64
	Status      string // the effective status: requested, active, expired, denied, revoked
	// GrantAssurance and RevokeAssurance say how the decisions can be
	// shown to be the resident's: "passkey" (signed) or "password-only".
	GrantAssurance  string
	RevokeAssurance string
	// DecidedBy and RevokedBy say who acted when it was not the resident
	// themselves: "guardian" (the resident's guardian, for them) or
	// "you_as_guardian" (the viewer, acting for the resident as their
	// guardian); GuardianDecided and GuardianRevoked are that guardian's eID.
	DecidedBy, RevokedBy             string
	GuardianDecided, GuardianRevoked string
}

// Access is one access record as the access log and the audit show it.
type Access struct {
	ID            string
	Seq           uint64
	Time          time.Time
	Requester     string
	Official      string // a pseudonym on the resident's log
	Provider      string
	EID           string
	DataType      string
	Purpose       string
	ConsentID     string
	PolicyVersion int64
	Outcome       string
	Reason        string
	Anchored      bool
	Block         uint64
	BatchID       string
	Flagged       bool
	// LegalBasis is set on a break-glass access (made without consent
	// under a statutory purpose); the review is the auditors'.
	LegalBasis   string
	VisibleAfter time.Time // auditors: when the resident sees it
	ReviewedAt   time.Time
	ReviewedBy   string
	ReviewNote   string
	// Count is how many refusals of one kind the row stands for on a
	// resident's log (routing.FoldRefusals), FirstTime when the first was.
	Count     int
	FirstTime time.Time
	// Rule is the resident's standing rule that allowed the access (nil
	// when a consent did).
	Rule *Rule
}

// ProviderName is who the consent lets the requester read from.
func (p *Page) ProviderName(c Consent) string {
	if c.Provider == "*" || c.Provider == "" {
		return p.T("consent.any_provider")
	}
	return p.Dept(c.Provider)
}

// Purpose is the department's purpose text, or without one the purpose
// in plain words (PurposeName); the code itself is for the details.
func (p *Page) Purpose(c Consent) string {
	if c.PurposeText == "" || c.PurposeText == c.PurposeCode {
		return p.PurposeName(c.PurposeCode)
	}
	return p.T("consent.purpose_quoted", c.PurposeText)
}

// PurposeName is a purpose code in plain words ("purpose.<code>" in the
// catalogues), the code itself for a purpose the catalogues do not know.
func (p *Page) PurposeName(code string) string { return p.Enum("purpose", code) }

// Uses describes how many uses the consent allows.
func (p *Page) Uses(c Consent) string {
	if c.MaxUses == 0 {
		return p.T("consent.uses_unlimited")
	}
	return p.T("consent.uses_max", c.MaxUses)
}

// Grants states exactly what approving c allows: who, what, from whom,
// why, for how long and how often.
func (p *Page) Grants(c Consent) string {
	return p.T("consent.grants", p.Dept(c.Requester), p.DataTypes(c.DataTypes), p.ProviderName(c),
		p.Purpose(c), p.DateTime(c.ValidFrom), p.DateTime(c.ValidUntil), p.Uses(c))
}

// Revokes states what revoking c stops.
func (p *Page) Revokes(c Consent) string {
	return p.T("consent.revokes", p.Dept(c.Requester), p.DataTypes(c.DataTypes), p.Purpose(c))
}

// Credential is a credential as the resident's wallet shows it.
type Credential struct {
	ID         string
	Issuer     string // department id
	IssuerDID  string
	IssuerName LocalName
	TypeName   LocalName
	DataType   string
	Claims     []Claim
	IssuedAt   time.Time
	ValidUntil time.Time // zero: no end
	Status     string    // valid, suspended, revoked, expired
	Version    uint64
	Digest     string
}

// Claim is one claim with its label.
type Claim struct {
	Name  string
	Label LocalName // empty: the page labels it from the data type's schema
	Value string
}

// Verification is a credential or presentation check as the public
// verifier shows it.
type Verification struct {
	Valid      bool
	Code       string
	Kind       string // credential or presentation
	Issuer     string // department id
	IssuerDID  string
	KeyID      string
	Subject    string
	DataType   string
	Claims     []Claim
	ValidFrom  string
	ValidUntil string
	IssuedAt   string
	Audience   string
	Nonce      string
	Digest     string
	Status     []StatusView
	Anchor     *AnchorView
	Answer     *AnswerView
	Checks     []CheckView
}

// StatusView is one status entry's state.
type StatusView struct {
	Purpose string
	Set     bool
}

// AnchorView is the route entry that anchors a credential.
type AnchorView struct {
	Provider    string
	Version     uint64
	Status      string
	PublishedAt string
	TxID        string
	Superseded  bool
}

// AnswerView is a yes/no answer.
type AnswerView struct {
	Name   LocalName
	Answer bool
}

// CheckView is one check of a verification.
type CheckView struct {
	Name    string
	Passed  bool
	Code    string
	Message string
}

// Local picks a name in the page's language.
func (p *Page) Local(n LocalName) string { return p.L(n.ZH, n.EN) }

// ClaimLabel is a claim's label: its own, else the data type schema's,
// else its name.
func (p *Page) ClaimLabel(dataType string, c Claim) string {
	if c.Label.ZH != "" || c.Label.EN != "" {
		return p.Local(c.Label)
	}
	if n, ok := p.Names.Claims[dataType+"/"+c.Name]; ok {
		return p.Local(n)
	}
	return c.Name
}

// Shown lists the claims a verified presentation disclosed (its record's
// reason reads "disclosed: a,b").
func (a Access) Shown() []string {
	rest, ok := strings.CutPrefix(a.Reason, "disclosed: ")
	if !ok || rest == "" {
		return nil
	}
	return strings.Split(rest, ",")
}

// Question is the predicate a yes/no question asked (its record's reason
// reads "predicate: id").
func (a Access) Question() string {
	q, _ := strings.CutPrefix(a.Reason, "predicate: ")
	if q == a.Reason {
		return ""
	}
	return q
}

// Predicate is a predicate's display name (its id when unknown).
func (p *Page) Predicate(dataType, id string) string {
	if n, ok := p.Names.Predicates[dataType+"#"+id]; ok {
		return p.Local(n)
	}
	return id
}

// ShownLabels are the labels of the claims a presentation disclosed.
func (p *Page) ShownLabels(a Access) string {
	var out []string
	for _, n := range a.Shown() {
		out = append(out, p.ClaimLabel(a.DataType, Claim{Name: n}))
	}
	sep := "、"
	if p.Lang == LangEN {
		sep = ", "
	}
	return strings.Join(out, sep)
}

// Rule is a resident's standing rule as the portal shows it.
type Rule struct {
	ID          string
	Departments []string
	Roles       []string // department roles (hospital, employer-hr …)
	DataTypes   []string
	PurposeCode string
	Note        string // the resident's own words
	ValidFrom   string // RFC 3339
	ValidUntil  string
	CreatedAt   string
	RevokedAt   string
	MaxUses     uint64 // 0 = unlimited
	Uses        uint64
	Status      string // the effective status: active, revoked, expired, used_up
	// Assurance and RevokeAssurance say how the creation and the
	// revocation can be shown to be the resident's: "passkey" (signed) or
	// "password-only".
	Assurance       string
	RevokeAssurance string
}

// RoleName is a department role in plain words ("deptrole.<role>" in the
// catalogues), the role itself when the catalogues do not know it.
func (p *Page) RoleName(role string) string { return p.Enum("deptrole", role) }

// RuleWho names who a rule lets read: its departments and the kinds of
// department its roles stand for.
func (p *Page) RuleWho(r Rule) string {
	var names []string
	for _, role := range r.Roles {
		names = append(names, p.RoleName(role))
	}
	for _, d := range r.Departments {
		names = append(names, p.Dept(d))
	}
	return p.join(names)
}

func (p *Page) join(names []string) string {
	sep := "、"
	if p.Lang == LangEN {
		sep = ", "
	}
	return strings.Join(names, sep)
}

// RuleName is a rule's plain name: the resident's own words when they
// gave some, else who may read what for which purpose.
func (p *Page) RuleName(r Rule) string {
	if r.Note != "" {
		return r.Note
	}
	return p.T("rule.name", p.RuleWho(r), p.DataTypes(r.DataTypes), p.PurposeName(r.PurposeCode))
}

// RuleAllows states exactly what approving r allows.
func (p *Page) RuleAllows(r Rule) string {
	uses := p.T("consent.uses_unlimited")
	if r.MaxUses != 0 {
		uses = p.T("consent.uses_max", r.MaxUses)
	}
	return p.T("rule.allows", p.RuleWho(r), p.DataTypes(r.DataTypes), p.PurposeName(r.PurposeCode),
		p.DateTime(r.ValidFrom), p.DateTime(r.ValidUntil), uses)
}

// RuleRevokes states what revoking r does.
func (p *Page) RuleRevokes(r Rule) string {
	return p.T("rule.revokes", p.RuleWho(r), p.DataTypes(r.DataTypes), p.PurposeName(r.PurposeCode))
}

// RuleUses says how often a rule was used, out of how many.
func (p *Page) RuleUses(r Rule) string {
	if r.MaxUses == 0 {
		return p.T("rule.used", r.Uses)
	}
	return p.T("rule.used_of", r.Uses, r.MaxUses)
}
