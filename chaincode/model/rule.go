package model

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// Standing rule statuses.
const (
	RuleActive  = "active"
	RuleRevoked = "revoked"
)

// RuleIDPrefix starts every standing rule id.
const RuleIDPrefix = "sr-"

// MaxRuleDepartments bounds the departments and roles one rule names
// together.
const MaxRuleDepartments = 64

// StandingRule is a resident's approval, given in advance, of a class of
// use: any of Departments, and any department holding one of Roles in the
// registry (Department.Roles), may read DataTypes (from any provider) for
// PurposeCode within the window, at most MaxUses times (0 = unlimited),
// until the resident revokes it. A resolve it covers needs no request; the
// access policy still decides first, so a rule never widens it.
//
// Assurance says how the creation can be shown to be the resident's:
// AssurancePasskey when Signature holds the resident's signature over the
// rule.create statement of its terms, AssurancePassword when the gateway
// recorded it for a signed-in resident without one. RevokeAssurance and
// RevokeSignature are the same for a revocation.
type StandingRule struct {
	ID          string   `json:"id"`
	EID         string   `json:"eid"`
	Departments []string `json:"departments,omitempty" metadata:",optional"`
	Roles       []string `json:"roles,omitempty" metadata:",optional"`
	DataTypes   []string `json:"data_types"`
	PurposeCode string   `json:"purpose_code"`
	Note        string   `json:"note,omitempty" metadata:",optional"` // the resident's own words
	ValidFrom   string   `json:"valid_from"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses"`
	Uses        uint64   `json:"uses"`
	Status      string   `json:"status"`
	Assurance   string   `json:"assurance"`
	// Signature is the resident's signature over the rule.create
	// statement (when Assurance is AssurancePasskey).
	Signature       *PasskeySignature `json:"signature,omitempty" metadata:",optional"`
	CreatedAt       string            `json:"created_at"`
	CreatedBy       string            `json:"created_by"`
	RevokedAt       string            `json:"revoked_at,omitempty" metadata:",optional"`
	RevokedBy       string            `json:"revoked_by,omitempty" metadata:",optional"`
	RevokeAssurance string            `json:"revoke_assurance,omitempty" metadata:",optional"`
	RevokeSignature *PasskeySignature `json:"revoke_signature,omitempty" metadata:",optional"`
	UpdatedAt       string            `json:"updated_at"`
	TxID            string            `json:"tx_id"`
}

// RevokedWith returns the revocation's assurance: "" while the rule is not
// revoked, AssurancePassword for revocations recorded without one.
func (r StandingRule) RevokedWith() string {
	if r.Status != RuleRevoked {
		return ""
	}
	if r.RevokeAssurance == "" {
		return AssurancePassword
	}
	return r.RevokeAssurance
}

// RuleDraft is what a resident approves in advance; ValidFrom may be empty
// (from the transaction time).
type RuleDraft struct {
	EID         string   `json:"eid"`
	Departments []string `json:"departments,omitempty" metadata:",optional"`
	Roles       []string `json:"roles,omitempty" metadata:",optional"`
	DataTypes   []string `json:"data_types"`
	PurposeCode string   `json:"purpose_code"`
	Note        string   `json:"note,omitempty" metadata:",optional"`
	ValidFrom   string   `json:"valid_from,omitempty" metadata:",optional"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses,omitempty" metadata:",optional"`
}

// Validate checks the syntax of the draft (not whether the departments
// and data types exist).
func (d RuleDraft) Validate() error {
	if !ValidDID(d.EID) {
		return Invalid("eid must be a did:eidgate: identifier")
	}
	if n := len(d.Departments) + len(d.Roles); n == 0 || n > MaxRuleDepartments {
		return Invalid("departments and roles must name 1 to %d departments or roles together", MaxRuleDepartments)
	}
	if err := checkNames("departments", "department id", d.Departments); err != nil {
		return err
	}
	if err := checkNames("roles", "role name", d.Roles); err != nil {
		return err
	}
	if len(d.DataTypes) == 0 || len(d.DataTypes) > MaxConsentTypes {
		return Invalid("data_types must name 1 to %d data types", MaxConsentTypes)
	}
	if err := checkScopeEntries(d.DataTypes); err != nil {
		return err
	}
	if !ValidPurposeCode(d.PurposeCode) {
		return Invalid("purpose_code must match ^[a-z][a-z0-9_.-]{1,63}$")
	}
	if err := checkText("note", d.Note, false, MaxPurposeRunes); err != nil {
		return err
	}
	return checkWindow(d.ValidFrom, d.ValidUntil)
}

// checkNames checks a list of department ids or role names (they share a
// syntax): each well formed, none twice.
func checkNames(field, what string, names []string) error {
	for i, n := range names {
		if !ValidDepartmentID(n) {
			return Invalid("%s[%d] is not a %s", field, i, what)
		}
		if slices.Contains(names[:i], n) {
			return Invalid("%s[%d] %q is listed twice", field, i, n)
		}
	}
	return nil
}

// DeriveRuleID returns the standing rule id minted by transaction txID:
// "sr-" + hex of the first 12 bytes of SHA-256("rule" 0x00 txID).
func DeriveRuleID(txID string) string {
	sum := sha256.Sum256([]byte("rule\x00" + txID))
	return RuleIDPrefix + hex.EncodeToString(sum[:12])
}

// ValidRuleID reports whether s is "sr-" + 24 lowercase hex.
func ValidRuleID(s string) bool {
	if len(s) != len(RuleIDPrefix)+24 || s[:len(RuleIDPrefix)] != RuleIDPrefix {
		return false
	}
	for i := len(RuleIDPrefix); i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidUseTarget reports whether s names what an access's use is counted
// against: a consent or a standing rule.
func ValidUseTarget(s string) bool { return ValidConsentID(s) || ValidRuleID(s) }

// Covers reports whether the rule names dataType, as Consent.Covers does:
// a rule for the record covers its yes/no questions too.
func (r StandingRule) Covers(dataType string) bool {
	return Consent{DataTypes: r.DataTypes}.Covers(dataType)
}

// Names reports whether the rule names requester, a department holding
// roles in the registry: by its id or by one of its roles.
func (r StandingRule) Names(requester string, roles []string) bool {
	if slices.Contains(r.Departments, requester) {
		return true
	}
	return slices.ContainsFunc(roles, func(role string) bool { return slices.Contains(r.Roles, role) })
}

// Allows reports whether the rule lets requester, a department holding
// roles, read dataType for purpose at time at, and if not, why (a Deny*
// reason).
func (r StandingRule) Allows(requester string, roles []string, dataType, purpose string, at time.Time) (bool, string) {
	switch {
	case r.Status != RuleActive:
		return false, DenyNotActive
	case !r.Names(requester, roles):
		return false, DenyWrongRequester
	case !r.Covers(dataType):
		return false, DenyDataType
	case purpose != r.PurposeCode:
		return false, DenyPurpose
	}
	from, err1 := ParseTime(r.ValidFrom)
	until, err2 := ParseTime(r.ValidUntil)
	switch {
	case err1 != nil || err2 != nil:
		return false, DenyBadWindow
	case at.Before(from):
		return false, DenyNotYetValid
	case !at.Before(until):
		return false, DenyExpired
	case r.MaxUses != 0 && r.Uses >= r.MaxUses:
		return false, DenyUsesExhausted
	}
	return true, ""
}
