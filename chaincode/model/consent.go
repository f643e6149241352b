package model

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Consent statuses.
const (
	ConsentRequested = "requested"
	ConsentActive    = "active"
	ConsentDenied    = "denied"
	ConsentRevoked   = "revoked"
	ConsentExpired   = "expired"
)

// ProviderAny in Consent.Provider lets the requester read from any provider.
const ProviderAny = "*"

// ConsentIDPrefix starts every consent id.
const ConsentIDPrefix = "cs-"

// Reasons returned by Consent.Allows when it refuses.
const (
	DenyNotActive      = "consent_not_active"
	DenyNotYetValid    = "consent_not_yet_valid"
	DenyExpired        = "consent_expired"
	DenyUsesExhausted  = "consent_uses_exhausted"
	DenyWrongRequester = "consent_other_requester"
	DenyWrongProvider  = "consent_other_provider"
	DenyDataType       = "consent_data_type_not_covered"
	DenyPurpose        = "consent_other_purpose"
	DenyBadWindow      = "consent_window_unreadable"
)

// Consent is a resident's permission for Requester to read DataTypes from
// Provider (or any provider) for one purpose, within a window and a number
// of uses.
type Consent struct {
	ID             string   `json:"id"`
	EID            string   `json:"eid"`
	Requester      string   `json:"requester"`
	Provider       string   `json:"provider"` // a department id or "*"
	DataTypes      []string `json:"data_types,omitempty" metadata:",optional"`
	PurposeCode    string   `json:"purpose_code"`
	PurposeText    string   `json:"purpose_text,omitempty" metadata:",optional"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	MaxUses        uint64   `json:"max_uses"` // 0 = unlimited
	Uses           uint64   `json:"uses"`
	Status         string   `json:"status"`
	RequestedAt    string   `json:"requested_at"`
	DecidedAt      string   `json:"decided_at,omitempty" metadata:",optional"`
	DecidedBy      string   `json:"decided_by,omitempty" metadata:",optional"`
	DecisionMethod string   `json:"decision_method,omitempty" metadata:",optional"`
	RevokedAt      string   `json:"revoked_at,omitempty" metadata:",optional"`
	RevokedBy      string   `json:"revoked_by,omitempty" metadata:",optional"`
	UpdatedAt      string   `json:"updated_at"`
	TxID           string   `json:"tx_id"` // the transaction of the last change

	// GrantAssurance says how the grant can be shown to be the resident's:
	// AssurancePasskey when GrantSignature holds the resident's signature
	// over the consent terms, AssurancePassword when the platform recorded
	// it for a signed-in resident without one. RevokeAssurance and
	// RevokeSignature are the same for a revocation.
	GrantAssurance  string            `json:"grant_assurance,omitempty" metadata:",optional"`
	GrantSignature  *PasskeySignature `json:"grant_signature,omitempty" metadata:",optional"`
	RevokeAssurance string            `json:"revoke_assurance,omitempty" metadata:",optional"`
	RevokeSignature *PasskeySignature `json:"revoke_signature,omitempty" metadata:",optional"`

	// DecidedByGuardian and DecidedUnder name the guardian who granted or
	// denied the consent for the resident and the relation under which
	// they acted; RevokedByGuardian and RevokedUnder the same for a
	// revocation. Empty when the resident acted.
	DecidedByGuardian string `json:"decided_by_guardian,omitempty" metadata:",optional"`
	DecidedUnder      string `json:"decided_under,omitempty" metadata:",optional"`
	RevokedByGuardian string `json:"revoked_by_guardian,omitempty" metadata:",optional"`
	RevokedUnder      string `json:"revoked_under,omitempty" metadata:",optional"`
}

// Assurances of a consent decision.
const (
	// AssurancePasskey: the resident's passkey signed the consent terms
	// (a WebAuthn assertion over the statement digest); the signature is
	// on the ledger and anyone can check it.
	AssurancePasskey = "passkey"
	// AssurancePassword: the platform recorded the decision for a
	// resident signed in with a password (or at a counter); nothing the
	// resident signed shows they approved these terms.
	AssurancePassword = "password-only"
)

// GrantedWith returns the grant's assurance: "" when the consent was never
// granted, AssurancePassword for grants recorded before assurances were
// (they carry no signature).
func (c Consent) GrantedWith() string {
	// A consent was granted when it was decided and not denied (a request
	// that expired undecided has no decision time).
	if c.DecidedAt == "" || c.Status == ConsentDenied {
		return ""
	}
	if c.GrantAssurance == "" {
		return AssurancePassword
	}
	return c.GrantAssurance
}

// Assured returns the consent with its assurances spelled out: a grant or
// revocation recorded before assurances were is password-only.
func (c Consent) Assured() Consent {
	c.GrantAssurance, c.RevokeAssurance = c.GrantedWith(), c.RevokedWith()
	return c
}

// RevokedWith returns the revocation's assurance ("" when not revoked).
func (c Consent) RevokedWith() string {
	if c.RevokedAt == "" {
		return ""
	}
	if c.RevokeAssurance == "" {
		return AssurancePassword
	}
	return c.RevokeAssurance
}

// ConsentRequest asks a resident for consent. ValidFrom may be empty (from
// the request's transaction time); MaxUses 0 means unlimited.
type ConsentRequest struct {
	EID         string   `json:"eid"`
	Requester   string   `json:"requester"`
	Provider    string   `json:"provider"`
	DataTypes   []string `json:"data_types,omitempty" metadata:",optional"`
	PurposeCode string   `json:"purpose_code"`
	PurposeText string   `json:"purpose_text,omitempty" metadata:",optional"`
	ValidFrom   string   `json:"valid_from,omitempty" metadata:",optional"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses,omitempty" metadata:",optional"`
}

// Validate checks the syntax of the request (not whether the eID, the
// departments and the data types exist).
func (r ConsentRequest) Validate() error {
	if !ValidDID(r.EID) {
		return Invalid("eid must be a did:eidgate: identifier")
	}
	if !ValidDepartmentID(r.Requester) {
		return Invalid("requester is not a department id")
	}
	if r.Provider != ProviderAny && !ValidDepartmentID(r.Provider) {
		return Invalid(`provider must be a department id or "*"`)
	}
	if len(r.DataTypes) == 0 {
		return Invalid("data_types must name at least one data type")
	}
	if len(r.DataTypes) > MaxConsentTypes {
		return Invalid("data_types has more than %d entries", MaxConsentTypes)
	}
	if err := checkScopeEntries(r.DataTypes); err != nil {
		return err
	}
	if !ValidPurposeCode(r.PurposeCode) {
		return Invalid("purpose_code must match ^[a-z][a-z0-9_.-]{1,63}$")
	}
	if err := checkText("purpose_text", r.PurposeText, false, MaxPurposeRunes); err != nil {
		return err
	}
	return checkWindow(r.ValidFrom, r.ValidUntil)
}

// checkScopeEntries checks the entries of a data_types list: each a data
// type code or a question scope, none listed twice.
func checkScopeEntries(entries []string) error {
	for i, dt := range entries {
		if !ValidConsentScope(dt) {
			return Invalid("data_types[%d] is not a data type code or <data type>#<predicate id>", i)
		}
		if slices.Contains(entries[:i], dt) {
			return Invalid("data_types[%d] %q is listed twice", i, dt)
		}
	}
	return nil
}

// checkWindow checks a validity window's syntax: validFrom (optional) and
// validUntil RFC 3339 times, validUntil after validFrom.
func checkWindow(validFrom, validUntil string) error {
	var from time.Time
	if validFrom != "" {
		t, err := ParseTime(validFrom)
		if err != nil {
			return Invalid("valid_from must be an RFC 3339 time")
		}
		from = t
	}
	until, err := ParseTime(validUntil)
	if err != nil {
		return Invalid("valid_until must be an RFC 3339 time")
	}
	if validFrom != "" && !until.After(from) {
		return Invalid("valid_until must be after valid_from")
	}
	return nil
}

// DeriveConsentID returns the consent id minted by transaction txID:
// "cs-" + hex of the first 12 bytes of SHA-256("consent" 0x00 txID).
func DeriveConsentID(txID string) string {
	sum := sha256.Sum256([]byte("consent\x00" + txID))
	return ConsentIDPrefix + hex.EncodeToString(sum[:12])
}

// ValidConsentID reports whether s is "cs-" + 24 lowercase hex.
func ValidConsentID(s string) bool {
	if len(s) != len(ConsentIDPrefix)+24 || s[:len(ConsentIDPrefix)] != ConsentIDPrefix {
		return false
	}
	for i := len(ConsentIDPrefix); i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Covers reports whether the consent names dataType.
//
// A consent entry is a data type code (the record) or a question scope,
// "<data type>#<predicate id>" (QuestionScope): only the yes/no answer to
// that predicate. A consent to the record also covers every question
// about it (an answer discloses less); a question scope never covers the
// record.
func (c Consent) Covers(dataType string) bool {
	for _, dt := range c.DataTypes {
		if dt == dataType {
			return true
		}
		if code, _, isQuestion := SplitQuestionScope(dataType); isQuestion && dt == code {
			return true
		}
	}
	return false
}

// ValidConsentScope reports whether s is a data type code or a question
// scope.
func ValidConsentScope(s string) bool {
	if code, predicate, ok := SplitQuestionScope(s); ok {
		return ValidDataTypeCode(code) && ValidPredicateID(predicate)
	}
	return ValidDataTypeCode(s)
}

// QuestionScope names the yes/no question predicate about dataType in a
// consent's data types: "<data type>#<predicate id>".
func QuestionScope(dataType, predicate string) string { return dataType + "#" + predicate }

// SplitQuestionScope splits a consent entry into its data type and
// predicate; ok is false for a plain data type code.
func SplitQuestionScope(entry string) (dataType, predicate string, ok bool) {
	dataType, predicate, ok = strings.Cut(entry, "#")
	return dataType, predicate, ok
}

// UsesLeft reports whether one more use fits.
func (c Consent) UsesLeft() bool { return c.MaxUses == 0 || c.Uses < c.MaxUses }

// Allows decides whether the consent lets requester read dataType from
// provider for purpose at time at: it must be active, at must lie within
// [ValidFrom, ValidUntil], uses must be left, and requester, provider, data
// type and purpose must match. When it refuses, reason is one of the Deny*
// constants.
func (c Consent) Allows(requester, provider, dataType, purpose string, at time.Time) (ok bool, reason string) {
	if c.Status != ConsentActive {
		return false, DenyNotActive
	}
	if requester != c.Requester {
		return false, DenyWrongRequester
	}
	if c.Provider != ProviderAny && provider != c.Provider {
		return false, DenyWrongProvider
	}
	if !c.Covers(dataType) {
		return false, DenyDataType
	}
	if purpose != c.PurposeCode {
		return false, DenyPurpose
	}
	from, err1 := ParseTime(c.ValidFrom)
	until, err2 := ParseTime(c.ValidUntil)
	if err1 != nil || err2 != nil {
		return false, DenyBadWindow
	}
	if at.Before(from) {
		return false, DenyNotYetValid
	}
	if at.After(until) {
		return false, DenyExpired
	}
	if !c.UsesLeft() {
		return false, DenyUsesExhausted
	}
	return true, ""
}
