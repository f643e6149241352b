package model

import (
	"crypto/ecdsa"
	"encoding/base64"
	"strings"
)

// IssuerDIDPrefix starts the DID of a department acting as an issuer of
// credentials: did:eidgate:dept:<department id>. It cannot be mistaken for
// a resident's eID, whose method-specific id is 32 hex digits.
const IssuerDIDPrefix = "did:eidgate:dept:"

// IssuerDIDContext is the JSON-LD context of an issuer's DID document. DID
// Core v1.1 defines JsonWebKey verification methods, publicKeyJwk and the
// revoked property (from Controlled Identifiers v1.0).
const IssuerDIDContext = "https://www.w3.org/ns/did/v1.1"

// VerificationMethodJWK is the verification method type of a department key.
const VerificationMethodJWK = "JsonWebKey"

// IssuerDID returns the DID of department dept.
func IssuerDID(dept string) string { return IssuerDIDPrefix + dept }

// ParseIssuerDID returns the department of an issuer DID.
func ParseIssuerDID(did string) (string, bool) {
	dept, ok := strings.CutPrefix(did, IssuerDIDPrefix)
	return dept, ok && ValidDepartmentID(dept)
}

// VerificationMethodID returns the DID URL of a department's key: the
// issuer DID with the key id as fragment. Credentials name it as the JWS kid.
func VerificationMethodID(dept, kid string) string { return IssuerDID(dept) + "#" + kid }

// JWK is a public key as a JSON Web Key (RFC 7517/7518/8037), the members
// a verifier needs and nothing private: P-256 (kty EC) for department keys;
// P-256, Ed25519 (kty OKP) or RSA for residents' passkeys.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty" metadata:",optional"`
	X   string `json:"x,omitempty" metadata:",optional"`
	Y   string `json:"y,omitempty" metadata:",optional"`
	N   string `json:"n,omitempty" metadata:",optional"`
	E   string `json:"e,omitempty" metadata:",optional"`
	Alg string `json:"alg,omitempty" metadata:",optional"`
}

// PublicJWK renders a P-256 public key as a JWK with alg ES256.
func PublicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	ek, err := pub.ECDH()
	if err != nil {
		return JWK{}, err
	}
	raw := ek.Bytes() // 0x04 ‖ X ‖ Y, 32 bytes each for P-256
	enc := base64.RawURLEncoding
	return JWK{Kty: "EC", Crv: "P-256", X: enc.EncodeToString(raw[1:33]), Y: enc.EncodeToString(raw[33:]), Alg: "ES256"}, nil
}

// VerificationMethod is one key in a DID document.
type VerificationMethod struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Controller   string `json:"controller"`
	PublicKeyJWK JWK    `json:"publicKeyJwk"`
	// Revoked is when the key was declared compromised (Controlled
	// Identifiers v1.0 §2.2): nothing it signed is to be trusted.
	Revoked string `json:"revoked,omitempty" metadata:",optional"`
}

// KeyLifecycle is the history of one department key, in the DID document
// metadata: when it became valid, stopped signing, or was revoked. A
// credential verifies with a key only if it was issued while the key was
// active (ValidFrom ≤ issued < RetiredAt) and the key is not revoked.
type KeyLifecycle struct {
	ID            string `json:"id"` // the verification method id
	Status        string `json:"status"`
	ValidFrom     string `json:"validFrom"`
	RetiredAt     string `json:"retiredAt,omitempty" metadata:",optional"`
	RetiredReason string `json:"retiredReason,omitempty" metadata:",optional"`
	RevokedAt     string `json:"revokedAt,omitempty" metadata:",optional"`
	RevokedReason string `json:"revokedReason,omitempty" metadata:",optional"`
}

// IssuerResolution renders the department as the DID resolution result of
// its issuer DID. Every key ever registered is a verification method, so
// signatures of retired keys still verify; active and retired keys are
// assertion methods, revoked keys are not and carry revoked. The metadata
// lists each key's lifecycle.
func (d Department) IssuerResolution() DIDResolution {
	did := IssuerDID(d.ID)
	doc := DIDDocument{Context: []string{IssuerDIDContext}, ID: did, Controller: did}
	meta := DIDDocumentMetadata{Created: d.CreatedAt, Updated: d.UpdatedAt, VersionID: d.UpdatedAt}
	for _, k := range d.SigningKeys {
		pub, err := ParsePublicKey(k.PublicKeyPEM)
		if err != nil {
			continue // the ledger only holds keys that parsed when registered
		}
		jwk, err := PublicJWK(pub)
		if err != nil {
			continue
		}
		id := VerificationMethodID(d.ID, k.KID)
		vm := VerificationMethod{ID: id, Type: VerificationMethodJWK, Controller: did, PublicKeyJWK: jwk}
		if k.Status == KeyRevoked {
			vm.Revoked = k.RevokedAt
		} else {
			doc.AssertionMethod = append(doc.AssertionMethod, id)
		}
		doc.VerificationMethod = append(doc.VerificationMethod, vm)
		from := k.ValidFrom
		if from == "" {
			from = d.CreatedAt
		}
		status := k.Status
		if status == "" {
			status = KeyActive
		}
		meta.KeyHistory = append(meta.KeyHistory, KeyLifecycle{ID: id, Status: status, ValidFrom: from,
			RetiredAt: k.RetiredAt, RevokedAt: k.RevokedAt, RevokedReason: k.RevokedReason})
	}
	return DIDResolution{DIDDocument: doc, DIDDocumentMetadata: meta,
		DIDResolutionMetadata: DIDResolutionMetadata{ContentType: DIDContentType}}
}
