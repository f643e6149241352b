// Package credential is the domain of verifiable credentials in eidgate:
// W3C Verifiable Credentials Data Model 2.0 documents about residents,
// secured per W3C VC-JOSE-COSE with SD-JWT (media type
// application/vc+sd-jwt, typ vc+sd-jwt, ES256 with the issuing department's
// registered P-256 key), their status in W3C Bitstring Status Lists,
// presentations with SD-JWT key binding, yes/no answers to catalogued
// predicates, and a verifier that answers every check with a stable code.
//
// Invariants:
//   - A credential's digest is SHA-256 of its JWS signing input (the bytes
//     its ES256 signature covers). That digest is the digest of the route
//     entry (eID, data type, issuer) on the ledger, whose statement the
//     issuer signs with the same key: the ledger holds one object per
//     credential, the route, never a second copy.
//   - Only ES256 is accepted, with keys resolved from the issuer's DID
//     document on the ledger; a key verifies only what was issued while it
//     was active, and nothing once it is revoked.
//   - Every claim of the record is selectively disclosable; what a verifier
//     needs to check the credential (context, type, issuer, subject id,
//     schema, status, validity) is not.
package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// Formats and vocabularies.
const (
	ContextV2   = "https://www.w3.org/ns/credentials/v2"
	TypeVC      = "VerifiableCredential"
	MediaType   = "application/vc+sd-jwt"
	TypHeader   = "vc+sd-jwt" // VC-JOSE-COSE §3.2.1
	CtyHeader   = "vc"
	JSONSchema  = "JsonSchema"
	TypeStatus  = "BitstringStatusListEntry"
	TypeList    = "BitstringStatusListCredential"
	TypeListSub = "BitstringStatusList"
	TypeAnswer  = "PredicateAnswerCredential"
	// RouteSchemaPrefix starts the schema of a route entry whose digest is
	// a credential's digest: "vc+sd-jwt:" + data type code.
	RouteSchemaPrefix = "vc+sd-jwt:"
)

// StatusEntry is a credentialStatus entry (Bitstring Status List §2.1).
type StatusEntry struct {
	ID                   string `json:"id,omitempty"`
	Type                 string `json:"type"`
	StatusPurpose        string `json:"statusPurpose"`
	StatusListIndex      string `json:"statusListIndex"`
	StatusListCredential string `json:"statusListCredential"`
}

// SchemaRef is a credentialSchema entry.
type SchemaRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Signer is an issuing key: the department's P-256 key registered on the
// ledger under KID (a private key the gateway holds for the department, an
// HSM, or a remote signer behind crypto.Signer).
type Signer struct {
	Department string
	KID        string
	Key        crypto.Signer
}

func (s Signer) vmID() string { return model.VerificationMethodID(s.Department, s.KID) }

// Template is what a credential says.
type Template struct {
	ID         string // "urn:uuid:…"; empty makes one
	Subject    string // the resident's eID (credentialSubject.id)
	DataType   model.DataType
	SchemaURL  string          // where the data type's JSON Schema is served
	Claims     json.RawMessage // the record, a JSON object following the schema
	Holder     sdjwt.JWK       // the resident's key, for key binding (cnf.jwk)
	Status     []StatusEntry
	IssuedAt   time.Time
	ValidFrom  time.Time
	ValidUntil time.Time // zero: no end
	Version    uint64    // the route version this credential publishes
}

// Issued is a signed credential with what goes on the ledger.
type Issued struct {
	ID     string
	Token  string // compact SD-JWT with every disclosure, ending in "~"
	Digest string // "sha256:" + hex of the JWS signing input
	Route  model.SignedRoute
}

// Codes of issuing.
const (
	CodeClaims = "claims_invalid"
)

// TypeName is the credential type of a data type: "edu.degree" gives
// "EduDegreeCredential".
func TypeName(code string) string {
	var b strings.Builder
	up := true
	for _, r := range code {
		if r == '.' || r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String() + "Credential"
}

// Issue builds and signs a credential: the claims are checked against the
// data type's schema, every claim becomes a disclosure, and the route
// statement (eID, data type, issuer, version, the credential's digest) is
// signed with the same key.
func Issue(s Signer, tpl Template) (*Issued, error) {
	const op = "credential.Issue"
	if !model.ValidDID(tpl.Subject) {
		return nil, routing.Invalid(op, "subject", "the subject must be a resident's eID")
	}
	if _, err := tpl.Holder.PublicKey(); err != nil {
		return nil, routing.Invalid(op, "holder_jwk", "the holder key must be a public P-256 JWK").WithCode(sdjwt.CodeKey)
	}
	if err := ValidateClaims(tpl.DataType.Schema, tpl.Claims); err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(tpl.Claims, &claims); err != nil || claims == nil {
		return nil, routing.Invalid(op, "claims", "the claims must be a JSON object").WithCode(CodeClaims)
	}
	if _, ok := claims["id"]; ok {
		return nil, routing.Invalid(op, "claims", "the claims may not hold id: it is the subject's eID").WithCode(CodeClaims)
	}
	claims["id"] = tpl.Subject
	subject, ds, err := sdjwt.Conceal(claims, "id")
	if err != nil {
		return nil, err
	}
	if tpl.ID == "" {
		tpl.ID = NewID()
	}
	vc := map[string]any{
		"@context":          []string{ContextV2},
		"id":                tpl.ID,
		"type":              []string{TypeVC, TypeName(tpl.DataType.Code)},
		"issuer":            model.IssuerDID(s.Department),
		"validFrom":         model.FormatTime(tpl.ValidFrom),
		"credentialSubject": subject,
		"credentialSchema":  SchemaRef{ID: tpl.SchemaURL, Type: JSONSchema},
		"iat":               tpl.IssuedAt.Unix(),
		"cnf":               map[string]any{"jwk": publicOnly(tpl.Holder)},
	}
	if !tpl.ValidUntil.IsZero() {
		vc["validUntil"] = model.FormatTime(tpl.ValidUntil)
	}
	if len(tpl.Status) > 0 {
		vc["credentialStatus"] = tpl.Status
	}
	token, err := sdjwt.Issue(s.Key, sdjwt.Header{Typ: TypHeader, Cty: CtyHeader, Kid: s.vmID()}, vc, ds)
	if err != nil {
		return nil, err
	}
	jws, _ := strings.CutSuffix(strings.SplitN(token, "~", 2)[0], "~")
	digest := DigestOf(jws)
	st := model.RouteStatement{EID: tpl.Subject, DataType: tpl.DataType.Code, Provider: s.Department,
		Version: tpl.Version, Digest: digest, Schema: RouteSchemaPrefix + tpl.DataType.Code}
	signed, err := SignRoute(s, st)
	if err != nil {
		return nil, err
	}
	return &Issued{ID: tpl.ID, Token: token, Digest: digest, Route: signed}, nil
}

// SignRoute signs a route statement with the issuing key the way
// model.SignRoute does (ASN.1 DER over SHA-256 of the canonical text,
// base64), for any crypto.Signer, and checks the result.
func SignRoute(s Signer, st model.RouteStatement) (model.SignedRoute, error) {
	if err := st.Validate(); err != nil {
		return model.SignedRoute{}, routing.Invalid("credential.SignRoute", "statement", "%s", strings.TrimPrefix(err.Error(), string(model.CodeInvalid)+" "))
	}
	pub, ok := s.Key.Public().(*ecdsa.PublicKey)
	if !ok {
		return model.SignedRoute{}, routing.Invalid("credential.SignRoute", "key", "the issuing key is not an ECDSA key")
	}
	sum := sha256.Sum256(st.Canonical())
	der, err := s.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return model.SignedRoute{}, routing.Wrap("credential.SignRoute", err)
	}
	signed := model.SignedRoute{Statement: st, KID: s.KID, Signature: base64.StdEncoding.EncodeToString(der)}
	if err := model.VerifyRouteKey(pub, signed); err != nil {
		return model.SignedRoute{}, routing.Wrap("credential.SignRoute", err)
	}
	return signed, nil
}

// DigestOf returns a credential's digest from its issuer-signed JWS
// (header.payload.signature): "sha256:" + hex(SHA-256(header.payload)),
// the very hash its ES256 signature signs, so a re-encoded signature (ECDSA
// signatures are malleable) does not change it.
func DigestOf(jws string) string {
	i := strings.LastIndexByte(jws, '.')
	if i < 0 {
		i = len(jws)
	}
	sum := sha256.Sum256([]byte(jws[:i]))
	return model.DigestPrefix + hex.EncodeToString(sum[:])
}

// NewID returns a fresh credential id, a UUID v4 URN.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("urn:uuid:%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

func publicOnly(k sdjwt.JWK) sdjwt.JWK {
	return sdjwt.JWK{Kty: k.Kty, Crv: k.Crv, X: k.X, Y: k.Y}
}
