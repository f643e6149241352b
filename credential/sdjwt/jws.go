package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// AlgES256 is the only signature algorithm accepted: ECDSA P-256 with
// SHA-256 (RFC 7518 §3.4), the algorithm of every department key. "none",
// HMAC and every other value are refused before a key is looked at, so a
// public key can never be used as an HMAC secret.
const AlgES256 = "ES256"

// Header is the protected header of a JWS.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Cty string `json:"cty,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// JWS is a parsed compact JWS (RFC 7515 §7.1).
type JWS struct {
	Raw          string // header.payload.signature as received
	SigningInput string // header.payload
	Header       Header
	Payload      []byte // the decoded payload
	Signature    []byte // r ‖ s, 32 bytes each
}

var b64 = base64.RawURLEncoding.Strict()

// ParseJWS parses a compact JWS whose header names ES256. It checks the
// form only; Verify checks the signature.
func ParseJWS(s string) (*JWS, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errorf(CodeMalformed, "a JWS has three dot-separated parts")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errorf(CodeMalformed, "the JWS header is not base64url")
	}
	var h Header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, errorf(CodeMalformed, "the JWS header is not a JSON object")
	}
	var crit struct {
		Crit json.RawMessage `json:"crit"`
	}
	_ = json.Unmarshal(hb, &crit)
	if crit.Crit != nil {
		return nil, errorf(CodeMalformed, "the JWS header has critical extensions this verifier does not understand")
	}
	if h.Alg != AlgES256 {
		return nil, errorf(CodeAlgorithm, "the JWS algorithm must be ES256")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errorf(CodeMalformed, "the JWS payload is not base64url")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errorf(CodeMalformed, "the JWS signature is not a 64-byte ES256 signature")
	}
	return &JWS{Raw: s, SigningInput: parts[0] + "." + parts[1], Header: h, Payload: payload, Signature: sig}, nil
}

// Verify checks the signature with pub, which must be a P-256 key.
func (j *JWS) Verify(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return errorf(CodeAlgorithm, "the verification key is not a P-256 key")
	}
	sum := sha256.Sum256([]byte(j.SigningInput))
	if !ecdsa.VerifyASN1(pub, sum[:], rawToDER(j.Signature)) {
		return errorf(CodeSignature, "the signature does not verify")
	}
	return nil
}

// SignJWS signs header and payload with key (an ECDSA P-256 private key or
// any crypto.Signer holding one, e.g. a key in an HSM) and returns the
// compact serialisation.
func SignJWS(key crypto.Signer, h Header, payload []byte) (string, error) {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", errorf(CodeAlgorithm, "the signing key is not a P-256 key")
	}
	h.Alg = AlgES256
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	der, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	raw, err := derToRaw(der)
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(raw), nil
}

// rawToDER turns an r ‖ s signature into ASN.1 DER; malformed input gives
// bytes that do not verify.
func rawToDER(sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[32:]))
	})
	der, err := b.Bytes()
	if err != nil {
		return nil
	}
	return der
}

func derToRaw(der []byte) ([]byte, error) {
	var r, s big.Int
	in := cryptobyte.String(der)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() || !inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, errorf(CodeSignature, "the signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// JWK is a public EC key in JWK form (RFC 7517), as cnf.jwk and
// publicKeyJwk carry it.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	// D is present only in private keys; a JWK carrying it is refused
	// wherever a public key is expected.
	D string `json:"d,omitempty"`
}

// PublicKey returns the P-256 public key of a JWK. Keys of other types or
// curves, keys with private members and keys whose alg is not ES256 are
// refused, as are points not on the curve.
func (k JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if k.D != "" {
		return nil, errorf(CodeKey, "the JWK holds private key material")
	}
	if k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != AlgES256) {
		return nil, errorf(CodeKey, "the JWK is not an ES256 P-256 key")
	}
	x, errX := b64.DecodeString(k.X)
	y, errY := b64.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errorf(CodeKey, "the JWK coordinates are not 32-byte base64url values")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, errorf(CodeKey, "the JWK is not a point on P-256")
	}
	return pub, nil
}

// PublicJWK renders a P-256 public key as a JWK with alg ES256.
func PublicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	raw, err := pub.Bytes()
	if err != nil || len(raw) != 65 {
		return JWK{}, errorf(CodeKey, "not a P-256 public key")
	}
	return JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:]), Alg: AlgES256}, nil
}

// Equal reports whether two JWKs name the same public key.
func (k JWK) Equal(o JWK) bool {
	return k.Kty == o.Kty && k.Crv == o.Crv && k.X == o.X && k.Y == o.Y
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errorf(CodeMalformed, "not a JSON object")
	}
	if dec.More() {
		return nil, errorf(CodeMalformed, "trailing data after the JSON object")
	}
	return m, nil
}
