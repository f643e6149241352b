package model

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Signed statements.
//
// What a person approves with a passkey is a Statement: a fixed JSON
// structure naming the act (its Type), whose data it concerns (Subject),
// who signs (Signer), a single-use nonce from the gateway, and the terms of
// the act. Its digest is
//
//	SHA-256( "eidgate.signed-statement.v1" ‖ 0x00 ‖ JCS(statement) )
//
// where JCS is the RFC 8785 canonical form. The digest is the WebAuthn
// challenge, so the authenticator's signature covers exactly these terms.
// Everything in a statement is on the ledger with the act it approves
// (the consent's terms, the nonce and the signer in the signature record),
// so anyone can rebuild the statement from the ledger, recompute the
// digest and check the signature with the signer's registered key.
//
// The structure is fixed per statement type; this file writes its
// canonical form directly (every value is a string, a string list or an
// integer below 2^53), which a test checks against an independent JCS
// implementation.
//
// Statement types:
//
//	consent.grant   the subject allows a department to read data (ConsentTerms)
//	consent.revoke  the subject withdraws that consent (the same ConsentTerms)
//	rule.create     the subject approves a class of use in advance (RuleTerms)
//	rule.revoke     the subject withdraws that standing rule (the same RuleTerms)
//
// New acts (a standing rule) add a type and a terms structure; the digest,
// the signature record and its checks stay as they are. A statement whose
// Signer is not its Subject names the relation (Representation) under
// which the signer acts; it is valid only where the ledger records that
// relation, between these two, valid at the time of signing.
const StatementDomain = "eidgate.signed-statement.v1"

// Statement types.
const (
	StatementConsentGrant  = "consent.grant"
	StatementConsentRevoke = "consent.revoke"
	StatementRuleCreate    = "rule.create"
	StatementRuleRevoke    = "rule.revoke"
)

// Nonce sizes (bytes) of a statement; in text it is base64url without
// padding.
const (
	MinStatementNonce = 16
	MaxStatementNonce = 64
)

// Terms are the terms of one kind of act, written in canonical form.
type Terms interface {
	// members lists the terms' JSON members; canonical() sorts them.
	members() []member
}

// member is one JSON object member of a canonical structure. Value is a
// string, []string, uint64 or a nested []member.
type member struct {
	name  string
	value any
}

// Statement is one act a person approves with a passkey.
type Statement struct {
	Type    string `json:"type"`
	Subject string `json:"subject"` // the eID whose data or consent the act concerns
	Signer  string `json:"signer"`  // the eID of the person who signs
	Nonce   string `json:"nonce"`   // base64url, from the gateway, single use
	Terms   Terms  `json:"terms"`
	// Representation is the id of the relation under which Signer acts
	// for Subject; empty when the subject signs. It is a member of the
	// canonical form only when set, so statements a subject signed are
	// unchanged by it.
	Representation string `json:"representation,omitempty"`
}

// ConsentTerms are the terms of a consent as the resident approves them:
// the consent's id, who may read what from whom, for which purpose (code
// and the text the resident was shown), in which window, how many times.
// DataTypes are sorted: their order carries no meaning.
type ConsentTerms struct {
	Consent     string   `json:"consent"`
	Requester   string   `json:"requester"`
	Provider    string   `json:"provider"`
	DataTypes   []string `json:"data_types"`
	Purpose     string   `json:"purpose"`
	PurposeText string   `json:"purpose_text"`
	ValidFrom   string   `json:"valid_from"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses"` // 0 = unlimited
}

// TermsOf returns the terms of a consent.
func TermsOf(c Consent) ConsentTerms {
	dts := append([]string{}, c.DataTypes...)
	slices.Sort(dts)
	return ConsentTerms{
		Consent: c.ID, Requester: c.Requester, Provider: c.Provider, DataTypes: dts,
		Purpose: c.PurposeCode, PurposeText: c.PurposeText, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil,
		MaxUses: c.MaxUses,
	}
}

func (t ConsentTerms) members() []member {
	dts := t.DataTypes
	if dts == nil {
		dts = []string{}
	}
	return []member{
		{"consent", t.Consent}, {"requester", t.Requester}, {"provider", t.Provider},
		{"data_types", dts}, {"purpose", t.Purpose}, {"purpose_text", t.PurposeText},
		{"valid_from", t.ValidFrom}, {"valid_until", t.ValidUntil}, {"max_uses", t.MaxUses},
	}
}

// ConsentStatement returns the statement a resident signs to grant
// (StatementConsentGrant) or revoke (StatementConsentRevoke) consent c.
func ConsentStatement(kind string, c Consent, signer, nonce string) Statement {
	return Statement{Type: kind, Subject: c.EID, Signer: signer, Nonce: nonce, Terms: TermsOf(c)}
}

// RuleTerms are the terms of a standing rule as the resident approves
// them: which departments, or departments of which roles, may read what
// (from any provider), for which purpose, with the resident's own note, in
// which window, how many times. Rule is the rule's id, "" when creating it
// (the id derives from the transaction that records it). Lists are sorted:
// their order carries no meaning.
type RuleTerms struct {
	Rule        string   `json:"rule"`
	Departments []string `json:"departments"`
	Roles       []string `json:"roles"`
	DataTypes   []string `json:"data_types"`
	Purpose     string   `json:"purpose"`
	Note        string   `json:"note"`
	ValidFrom   string   `json:"valid_from"`
	ValidUntil  string   `json:"valid_until"`
	MaxUses     uint64   `json:"max_uses"` // 0 = unlimited
}

// RuleTermsOf returns the terms of standing rule r.
func RuleTermsOf(r StandingRule) RuleTerms {
	return RuleTerms{
		Rule: r.ID, Departments: sortedCopy(r.Departments), Roles: sortedCopy(r.Roles), DataTypes: sortedCopy(r.DataTypes),
		Purpose: r.PurposeCode, Note: r.Note, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, MaxUses: r.MaxUses,
	}
}

func sortedCopy(v []string) []string {
	out := append([]string{}, v...)
	slices.Sort(out)
	return out
}

func (t RuleTerms) members() []member {
	list := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return []member{
		{"rule", t.Rule}, {"departments", list(t.Departments)}, {"roles", list(t.Roles)},
		{"data_types", list(t.DataTypes)}, {"purpose", t.Purpose}, {"note", t.Note},
		{"valid_from", t.ValidFrom}, {"valid_until", t.ValidUntil}, {"max_uses", t.MaxUses},
	}
}

// RuleStatement returns the statement a resident signs to create
// (StatementRuleCreate, r.ID empty) or revoke (StatementRuleRevoke)
// standing rule r.
func RuleStatement(kind string, r StandingRule, signer, nonce string) Statement {
	t := RuleTermsOf(r)
	if kind == StatementRuleCreate {
		t.Rule = ""
	}
	return Statement{Type: kind, Subject: r.EID, Signer: signer, Nonce: nonce, Terms: t}
}

// GuardianConsentStatement returns the statement a guardian signs to
// grant or revoke consent c of their ward under relation representation.
func GuardianConsentStatement(kind string, c Consent, guardian, nonce, representation string) Statement {
	st := ConsentStatement(kind, c, guardian, nonce)
	st.Representation = representation
	return st
}

// maxSafeInteger is the largest integer every JCS implementation writes
// exactly (2^53 - 1).
const maxSafeInteger = 1<<53 - 1

// Canonical returns the RFC 8785 canonical JSON of the statement.
func (s Statement) Canonical() ([]byte, error) {
	if s.Terms == nil {
		return nil, Invalid("the statement has no terms")
	}
	var b strings.Builder
	ms := []member{
		{"type", s.Type}, {"subject", s.Subject}, {"signer", s.Signer}, {"nonce", s.Nonce},
		{"terms", s.Terms.members()},
	}
	if s.Representation != "" {
		ms = append(ms, member{"representation", s.Representation})
	}
	err := writeObject(&b, ms)
	if err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// Digest returns SHA-256(StatementDomain ‖ 0x00 ‖ JCS(statement)), the
// WebAuthn challenge of the statement.
func (s Statement) Digest() ([sha256.Size]byte, error) {
	c, err := s.Canonical()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte(StatementDomain))
	h.Write([]byte{0})
	h.Write(c)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out, nil
}

// FormatDigest renders a statement digest as "sha256:" + 64 hex.
func FormatDigest(d [sha256.Size]byte) string { return "sha256:" + hex.EncodeToString(d[:]) }

// writeObject writes members as a JCS object: members sorted by name (all
// names here are ASCII, so byte order is UTF-16 order).
func writeObject(b *strings.Builder, ms []member) error {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, func(x, y member) int { return strings.Compare(x.name, y.name) })
	b.WriteByte('{')
	for i, m := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeString(b, m.name); err != nil {
			return err
		}
		b.WriteByte(':')
		if err := writeValue(b, m.value); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func writeValue(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case string:
		return writeString(b, v)
	case []string:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeString(b, s); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case uint64:
		if v > maxSafeInteger {
			return Invalid("a number in the statement exceeds 2^53-1")
		}
		b.WriteString(strconv.FormatUint(v, 10))
		return nil
	case []member:
		return writeObject(b, v)
	}
	return Invalid("the statement holds a value of an unsupported type")
}

// writeString writes s as JCS does (ECMAScript JSON.stringify): only the
// quote, the backslash and control characters are escaped, with the short
// forms where they exist and \u00xx (lowercase hex) otherwise. Invalid
// UTF-8 cannot be represented and is refused.
func writeString(b *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return Invalid("the statement holds text that is not valid UTF-8")
	}
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return nil
}
