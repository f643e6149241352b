package web

import "time"

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
}

// ProviderName is who the consent lets the requester read from.
func (p *Page) ProviderName(c Consent) string {
	if c.Provider == "*" || c.Provider == "" {
		return p.T("consent.any_provider")
	}
	return p.Dept(c.Provider)
}

// Purpose is the purpose text with its code.
func (p *Page) Purpose(c Consent) string {
	if c.PurposeText == "" || c.PurposeText == c.PurposeCode {
		return c.PurposeCode
	}
	return p.T("consent.purpose_with_code", c.PurposeText, c.PurposeCode)
}

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
