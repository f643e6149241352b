package model

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// RouteStatementHeader is the first line of a canonical route statement; it
// names the format so a signature cannot be replayed as something else.
const RouteStatementHeader = "eidgate-route-v1"

// Route entry statuses.
const (
	RouteValid   = "valid"
	RouteRevoked = "revoked"
)

// Outcomes of publishing one signed route.
const (
	OutcomePublished = "published" // a new version was stored
	OutcomeUnchanged = "unchanged" // the same version and digest were already stored
)

// DigestPrefix starts every route digest.
const DigestPrefix = "sha256:"

// RouteStatement is what a provider department signs: it holds the record of
// data type DataType about resident EID whose digest is Digest.
type RouteStatement struct {
	EID      string `json:"eid"`
	DataType string `json:"data_type"`
	Provider string `json:"provider"`
	Version  uint64 `json:"version"`
	Digest   string `json:"digest"` // "sha256:" + 64 lowercase hex
	Schema   string `json:"schema"` // the schema the record follows, e.g. "edu.degree/1"
}

// Validate checks every field; a field may not hold a newline (or any other
// control character), so Canonical is unambiguous.
func (s RouteStatement) Validate() error {
	if !ValidDID(s.EID) {
		return Invalid("statement.eid must be a did:eidgate: identifier")
	}
	if !ValidDataTypeCode(s.DataType) {
		return Invalid("statement.data_type is not a data type code")
	}
	if !ValidDepartmentID(s.Provider) {
		return Invalid("statement.provider is not a department id")
	}
	if s.Version == 0 {
		return Invalid("statement.version must be at least 1")
	}
	if !ValidDigest(s.Digest) {
		return Invalid("statement.digest must be sha256: followed by 64 lowercase hex digits")
	}
	if len(s.Schema) > MaxRouteSchemaLen {
		return Invalid("statement.schema is longer than %d bytes", MaxRouteSchemaLen)
	}
	for _, r := range s.Schema {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return Invalid("statement.schema contains a control or invalid character")
		}
	}
	return nil
}

// ValidDigest reports whether s is "sha256:" + 64 lowercase hex.
func ValidDigest(s string) bool {
	rest, ok := strings.CutPrefix(s, DigestPrefix)
	return ok && ValidHex64(rest)
}

// Canonical returns the bytes a provider signs: the UTF-8 text
// "eidgate-route-v1\n" + eid + "\n" + data type + "\n" + provider + "\n" +
// decimal version + "\n" + digest + "\n" + schema. Call Validate first: a
// field holding "\n" would make the text ambiguous.
func (s RouteStatement) Canonical() []byte {
	var b strings.Builder
	b.Grow(len(RouteStatementHeader) + len(s.EID) + len(s.DataType) + len(s.Provider) + len(s.Digest) + len(s.Schema) + 26)
	for _, part := range []string{RouteStatementHeader, s.EID, s.DataType, s.Provider, strconv.FormatUint(s.Version, 10), s.Digest} {
		b.WriteString(part)
		b.WriteByte('\n')
	}
	b.WriteString(s.Schema)
	return []byte(b.String())
}

// SignedRoute is a route statement with the provider's signature: base64
// (standard, padded) of an ASN.1 DER ECDSA P-256 signature over
// SHA-256(Canonical()), made with the provider's key KID.
type SignedRoute struct {
	Statement RouteStatement `json:"statement"`
	KID       string         `json:"kid"`
	Signature string         `json:"signature"`
}

// MaxSignatureLen bounds the base64 signature text (a P-256 DER signature is
// at most 72 bytes).
const MaxSignatureLen = 128

// SignRoute signs stmt with priv (an ECDSA P-256 key registered as kid).
func SignRoute(priv *ecdsa.PrivateKey, kid string, stmt RouteStatement) (SignedRoute, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return SignedRoute{}, errors.New("route signing key must be ECDSA P-256")
	}
	if !ValidKID(kid) {
		return SignedRoute{}, Invalid("kid must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if err := stmt.Validate(); err != nil {
		return SignedRoute{}, err
	}
	sum := sha256.Sum256(stmt.Canonical())
	sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	if err != nil {
		return SignedRoute{}, err
	}
	return SignedRoute{Statement: stmt, KID: kid, Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

// VerifyRoute checks signed against the SPKI PEM public key pubPEM.
func VerifyRoute(pubPEM string, signed SignedRoute) error {
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		return Invalid("public key: %v", err)
	}
	return VerifyRouteKey(pub, signed)
}

// VerifyRouteKey checks signed against pub. It validates the statement first
// and never echoes the signature.
func VerifyRouteKey(pub *ecdsa.PublicKey, signed SignedRoute) error {
	if err := signed.Statement.Validate(); err != nil {
		return err
	}
	if !ValidKID(signed.KID) {
		return Invalid("kid must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if signed.Signature == "" || len(signed.Signature) > MaxSignatureLen {
		return Invalid("signature must be base64 of a DER ECDSA signature")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(signed.Signature)
	if err != nil {
		return Invalid("signature must be base64 of a DER ECDSA signature")
	}
	sum := sha256.Sum256(signed.Statement.Canonical())
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		return Forbidden("signature does not verify with key %q of department %s", signed.KID, signed.Statement.Provider)
	}
	return nil
}

// RouteEntry is the stored route of (EID, DataType, Provider): the latest
// signed statement and its status.
type RouteEntry struct {
	EID           string `json:"eid"`
	DataType      string `json:"data_type"`
	Provider      string `json:"provider"`
	Version       uint64 `json:"version"`
	Digest        string `json:"digest"`
	Schema        string `json:"schema"`
	KID           string `json:"kid"`
	Signature     string `json:"signature"`
	Status        string `json:"status"`
	RevokedReason string `json:"revoked_reason,omitempty" metadata:",optional"`
	PublishedAt   string `json:"published_at"` // when this version was published
	UpdatedAt     string `json:"updated_at"`   // last change (publication or revocation)
	TxID          string `json:"tx_id"`        // the transaction of the last change
}

// Statement returns the signed statement of the entry.
func (e RouteEntry) Statement() RouteStatement {
	return RouteStatement{EID: e.EID, DataType: e.DataType, Provider: e.Provider, Version: e.Version, Digest: e.Digest, Schema: e.Schema}
}

// Signed returns the entry as a SignedRoute, for re-verification.
func (e RouteEntry) Signed() SignedRoute {
	return SignedRoute{Statement: e.Statement(), KID: e.KID, Signature: e.Signature}
}

// RouteOutcome reports what happened to one signed route of a batch.
type RouteOutcome struct {
	EID      string `json:"eid"`
	DataType string `json:"data_type"`
	Provider string `json:"provider"`
	Version  uint64 `json:"version"`
	Outcome  string `json:"outcome"`
}

// RouteHistoryEntry is one committed change of a route entry, newest first.
type RouteHistoryEntry struct {
	TxID      string      `json:"tx_id"`
	Timestamp string      `json:"timestamp"`
	IsDelete  bool        `json:"is_delete"`
	Entry     *RouteEntry `json:"entry,omitempty" metadata:",optional"`
}
