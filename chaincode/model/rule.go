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

// MaxRuleDepartments bounds the departments one rule names.
const MaxRuleDepartments = 64

// StandingRule is a resident's approval, given in advance, of a class of
// use: any of Departments may read DataTypes (from any provider) for
// PurposeCode within the window, at most MaxUses times (0 = unlimited),
// until the resident revokes it. A resolve it covers needs no request.
// The gateway records it for the signed-in resident (the agent), like a
// consent decision; Assurance says so (AssurancePassword).
type StandingRule struct {
	ID          string   `json:"id"`
	EID         string   `json:"eid"`
	Departments []string `json:"departments"`
	DataTypes   []string `json:"data_types"`
	PurposeCode string   `json:"purpose_code"`
	Note        string   `json:"note,omitempty" metadata:",optional"` // the resident's own words
	ValidFrom   string   `json:"valid_from"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses"`
	Uses        uint64   `json:"uses"`
	Status      string   `json:"status"`
	Assurance   string   `json:"assurance"`
	CreatedAt   string   `json:"created_at"`
	CreatedBy   string   `json:"created_by"`
	RevokedAt   string   `json:"revoked_at,omitempty" metadata:",optional"`
	RevokedBy   string   `json:"revoked_by,omitempty" metadata:",optional"`
	UpdatedAt   string   `json:"updated_at"`
	TxID        string   `json:"tx_id"`
}

// RuleDraft is what a resident approves in advance; ValidFrom may be empty
// (from the transaction time).
type RuleDraft struct {
	EID         string   `json:"eid"`
	Departments []string `json:"departments"`
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
	if len(d.Departments) == 0 || len(d.Departments) > MaxRuleDepartments {
		return Invalid("departments must name 1 to %d departments", MaxRuleDepartments)
	}
	for i, dept := range d.Departments {
		if !ValidDepartmentID(dept) {
			return Invalid("departments[%d] is not a department id", i)
		}
		if slices.Contains(d.Departments[:i], dept) {
			return Invalid("departments[%d] %q is listed twice", i, dept)
		}
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

// Allows reports whether the rule lets requester read dataType for purpose
// at time at, and if not, why (a Deny* reason).
func (r StandingRule) Allows(requester, dataType, purpose string, at time.Time) (bool, string) {
	switch {
	case r.Status != RuleActive:
		return false, DenyNotActive
	case !slices.Contains(r.Departments, requester):
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
