package model

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"regexp"
	"strings"
)

// Passkeys on the ledger.
//
// A resident's passkey (a WebAuthn credential) is registered on the ledger
// with its public key, so that anyone can check what the resident signed
// with it without trusting the gateway: the key is a verification method of
// the resident's DID document (type JsonWebKey), listed under
// authentication and assertionMethod while it is active. A retired key
// (lost, removed) stays a verification method, so signatures it made while
// it was active still verify; the DID document metadata lists each key's
// lifecycle.

// Passkey statuses.
const (
	PasskeyActive  = "active"
	PasskeyRetired = "retired"
)

// PasskeyIDPrefix starts the fragment of a passkey's verification method.
const PasskeyIDPrefix = "pk-"

// Limits.
const (
	MaxPasskeysPerEID      = 20
	MaxCredentialIDBytes   = 1023 // WebAuthn: credential ids are at most 1023 bytes
	MaxAuthenticatorData   = 4096
	MaxClientDataJSON      = 4096
	MaxAssertionSignature  = 1024
	minRSABits             = 2048
	maxRSABits             = 8192
	passkeyReasonMaxLength = 32
)

var rpIDLabelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidRPID reports whether s can be a WebAuthn relying party id: a
// lowercase DNS name of at least two labels (the gateway's registrable
// domain or a name under it), or "localhost" for development.
func ValidRPID(s string) bool {
	if s == "localhost" {
		return true
	}
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if !rpIDLabelRe.MatchString(l) {
			return false
		}
	}
	// A name whose last label is all digits is an IP address, which
	// WebAuthn does not accept as an RP ID.
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// OriginAllowed reports whether a WebAuthn client origin belongs to relying
// party rpID, as a browser enforces it: https://<rpID or a name under it>
// with an optional port, or http://localhost[:port] when rpID is localhost.
func OriginAllowed(origin, rpID string) bool {
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@") {
		return false
	}
	host := rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host = rest[:i]
		port := rest[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	switch scheme {
	case "https":
	case "http":
		if rpID != "localhost" {
			return false
		}
	default:
		return false
	}
	return host == rpID || strings.HasSuffix(host, "."+rpID)
}

// PasskeyKeyID returns the verification method fragment of a credential:
// "pk-" + the first 16 bytes of SHA-256(credential id) in hex.
func PasskeyKeyID(credentialID []byte) string {
	sum := sha256.Sum256(credentialID)
	return PasskeyIDPrefix + hex.EncodeToString(sum[:16])
}

// ValidPasskeyKeyID reports whether s is "pk-" + 32 lowercase hex.
func ValidPasskeyKeyID(s string) bool {
	rest, ok := strings.CutPrefix(s, PasskeyIDPrefix)
	return ok && len(rest) == 32 && strings.Trim(rest, "0123456789abcdef") == ""
}

// PasskeyMethodID returns the DID URL of a resident's passkey: the eID with
// the key id as fragment.
func PasskeyMethodID(eid, keyID string) string { return eid + "#" + keyID }

// SplitPasskeyMethodID splits a passkey's DID URL into eID and key id.
func SplitPasskeyMethodID(s string) (eid, keyID string, ok bool) {
	eid, keyID, found := strings.Cut(s, "#")
	return eid, keyID, found && ValidDID(eid) && ValidPasskeyKeyID(keyID)
}

// PasskeyRegistration is what the gateway puts on the ledger when a
// resident registers a passkey.
type PasskeyRegistration struct {
	EID          string `json:"eid"`
	CredentialID string `json:"credential_id"` // base64url without padding
	PublicKeyJWK JWK    `json:"public_key_jwk"`
	RPID         string `json:"rp_id"`
}

// Passkey is a resident's registered passkey as the ledger keeps it.
type Passkey struct {
	ID            string `json:"id"` // the verification method id: <eID>#pk-<32 hex>
	EID           string `json:"eid"`
	CredentialID  string `json:"credential_id"`
	PublicKeyJWK  JWK    `json:"public_key_jwk"`
	RPID          string `json:"rp_id"`
	Status        string `json:"status"`
	RegisteredAt  string `json:"registered_at"`
	RetiredAt     string `json:"retired_at,omitempty" metadata:",optional"`
	RetiredReason string `json:"retired_reason,omitempty" metadata:",optional"`
	TxID          string `json:"tx_id"` // the transaction of the last change
}

// KeyID is the fragment of the passkey's verification method id.
func (p Passkey) KeyID() string {
	_, k, _ := strings.Cut(p.ID, "#")
	return k
}

// ActiveAt reports whether the passkey could sign at time at (RFC 3339):
// registered no later than at and not retired by then.
func (p Passkey) ActiveAt(at string) bool {
	t, err := ParseTime(at)
	if err != nil {
		return false
	}
	reg, err := ParseTime(p.RegisteredAt)
	if err != nil || t.Before(reg) {
		return false
	}
	if p.Status == PasskeyActive {
		return true
	}
	ret, err := ParseTime(p.RetiredAt)
	return err == nil && t.Before(ret)
}

// KeyID returns the key id of the registered credential ("" when its id is
// not base64url).
func (r PasskeyRegistration) KeyID() string {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(r.CredentialID)
	if err != nil {
		return ""
	}
	return PasskeyKeyID(raw)
}

// Validate checks the registration's syntax and key.
func (r PasskeyRegistration) Validate() error {
	if !ValidDID(r.EID) {
		return Invalid("eid must be a did:eidgate: identifier")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(r.CredentialID)
	if err != nil || len(raw) == 0 || len(raw) > MaxCredentialIDBytes {
		return Invalid("credential_id must be 1 to %d bytes in base64url without padding", MaxCredentialIDBytes)
	}
	if !ValidRPID(r.RPID) {
		return Invalid("rp_id must be a DNS name or localhost")
	}
	if _, err := r.PublicKeyJWK.PublicKey(); err != nil {
		return Invalid("public_key_jwk: %v", err)
	}
	return nil
}

// ValidRetireReason reports whether s names why passkeys were retired
// ("lost", "removed", …).
func ValidRetireReason(s string) bool {
	return len(s) <= passkeyReasonMaxLength && methodRe.MatchString(s)
}

// JWK algorithms of passkeys (COSE ES256, EdDSA with Ed25519, RS256).
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// PublicKey returns the key the JWK describes: an ECDSA P-256 key (kty EC,
// alg ES256 or none), an Ed25519 key (kty OKP, crv Ed25519) or an RSA key
// of 2048 to 8192 bits (kty RSA, alg RS256). Other keys are refused.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	enc := base64.RawURLEncoding.Strict()
	switch k.Kty {
	case "EC":
		if k.Crv != "P-256" || (k.Alg != "" && k.Alg != AlgES256) || k.N != "" || k.E != "" {
			return nil, errorString("an EC key must be P-256 with alg ES256")
		}
		x, err1 := enc.DecodeString(k.X)
		y, err2 := enc.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errorString("x and y must be 32 bytes in base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errorString("the point is not on P-256")
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != AlgEdDSA) || k.Y != "" || k.N != "" || k.E != "" {
			return nil, errorString("an OKP key must be Ed25519 with alg EdDSA")
		}
		x, err := enc.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errorString("x must be 32 bytes in base64url")
		}
		return ed25519.PublicKey(x), nil
	case "RSA":
		if k.Alg != AlgRS256 || k.Crv != "" || k.X != "" || k.Y != "" {
			return nil, errorString("an RSA key must have alg RS256")
		}
		n, err1 := enc.DecodeString(k.N)
		e, err2 := enc.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) == 0 || n[0] == 0 || e[0] == 0 {
			return nil, errorString("n and e must be unsigned big-endian integers in base64url")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits || pub.E < 3 || pub.E%2 == 0 {
			return nil, errorString("an RSA key must have 2048 to 8192 bits and an odd exponent")
		}
		return pub, nil
	}
	return nil, errorString("kty must be EC, OKP or RSA")
}

type errorString string

func (e errorString) Error() string { return string(e) }
