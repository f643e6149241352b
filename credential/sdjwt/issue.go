package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"time"
)

// Issue signs payload as an SD-JWT whose disclosures are ds, and returns
// the compact form ending in "~". The caller has put the disclosures'
// digests into the payload (see Conceal); Issue adds _sd_alg.
func Issue(key crypto.Signer, h Header, payload map[string]any, ds []Disclosure) (string, error) {
	if len(ds) > 0 {
		payload["_sd_alg"] = "sha-256"
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	jws, err := SignJWS(key, h, b)
	if err != nil {
		return "", err
	}
	t := &Token{JWS: &JWS{Raw: jws}, Disclosures: ds}
	return t.String(), nil
}

// Conceal replaces every property of obj by a disclosure and returns obj
// with an _sd array of their digests (sorted, so the order says nothing
// about the claims) and the disclosures.
func Conceal(obj map[string]any, keep ...string) (map[string]any, []Disclosure, error) {
	out := make(map[string]any, len(keep)+1)
	kept := make(map[string]bool, len(keep))
	for _, k := range keep {
		kept[k] = true
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	var ds []Disclosure
	digests := []string{}
	for _, k := range names {
		if kept[k] {
			out[k] = obj[k]
			continue
		}
		d, err := NewDisclosure(k, obj[k])
		if err != nil {
			return nil, nil, err
		}
		ds = append(ds, d)
		digests = append(digests, d.Digest)
	}
	sort.Strings(digests)
	if len(digests) > 0 {
		out["_sd"] = digests
	}
	return out, ds, nil
}

// KBPayload is the payload of a key binding JWT (RFC 9901 §4.3).
type KBPayload struct {
	IAT    int64  `json:"iat"`
	Aud    string `json:"aud"`
	Nonce  string `json:"nonce"`
	SDHash string `json:"sd_hash"`
}

// KBType is the typ of a key binding JWT.
const KBType = "kb+jwt"

// Present builds a presentation of an issued SD-JWT: only the disclosures
// keepDigest selects, and, when holder is not nil, a key binding JWT for
// the verifier's nonce and audience signed with the holder's key.
func Present(issued *Token, keep func(Disclosure) bool, holder crypto.Signer, aud, nonce string, at time.Time) (string, error) {
	t := &Token{JWS: issued.JWS}
	for _, d := range issued.Disclosures {
		if keep(d) {
			t.Disclosures = append(t.Disclosures, d)
		}
	}
	s := t.String()
	if holder == nil {
		return s, nil
	}
	b, err := json.Marshal(KBPayload{IAT: at.Unix(), Aud: aud, Nonce: nonce, SDHash: SDHash(s)})
	if err != nil {
		return "", err
	}
	kb, err := SignJWS(holder, Header{Typ: KBType}, b)
	if err != nil {
		return "", err
	}
	return s + kb, nil
}

// SDHash is the sd_hash a KB-JWT carries: base64url(SHA-256(the SD-JWT up
// to and including the last "~")).
func SDHash(presented string) string {
	sum := sha256.Sum256([]byte(presented))
	return b64.EncodeToString(sum[:])
}

// KeyBindingCheck says what a verifier expects of a key binding JWT.
type KeyBindingCheck struct {
	Holder   *ecdsa.PublicKey // from the SD-JWT's cnf.jwk
	Audience string
	Nonce    string
	At       time.Time
	MaxAge   time.Duration // how old the KB-JWT may be
	Skew     time.Duration // how far in the future its iat may lie
}

// VerifyKeyBinding checks the token's KB-JWT against c: typ kb+jwt, ES256
// by the holder key, the expected audience and nonce, a fresh iat and an
// sd_hash covering exactly this presentation.
func (t *Token) VerifyKeyBinding(c KeyBindingCheck) (*KBPayload, error) {
	if t.KB == nil {
		return nil, errorf(CodeKBMissing, "the presentation has no key binding JWT")
	}
	if c.Holder == nil {
		return nil, errorf(CodeNoHolderKey, "the credential names no holder key (cnf.jwk)")
	}
	if t.KB.Header.Typ != KBType {
		return nil, errorf(CodeKBInvalid, "the key binding JWT's typ must be kb+jwt")
	}
	if err := t.KB.Verify(c.Holder); err != nil {
		return nil, errorf(CodeKBInvalid, "the key binding JWT is not signed by the holder key")
	}
	var p KBPayload
	if err := json.Unmarshal(t.KB.Payload, &p); err != nil || p.SDHash == "" || p.IAT == 0 {
		return nil, errorf(CodeKBInvalid, "the key binding JWT lacks iat, aud, nonce or sd_hash")
	}
	switch {
	case p.Nonce != c.Nonce:
		return &p, errorf(CodeKBNonce, "the key binding JWT answers another nonce")
	case p.Aud != c.Audience:
		return &p, errorf(CodeKBAudience, "the key binding JWT is addressed to another verifier")
	case p.SDHash != SDHash(t.KBInput):
		return &p, errorf(CodeKBHash, "the key binding JWT does not cover this presentation")
	}
	iat := time.Unix(p.IAT, 0)
	if iat.After(c.At.Add(c.Skew)) || iat.Before(c.At.Add(-c.MaxAge)) {
		return &p, errorf(CodeKBStale, "the key binding JWT was not made just now")
	}
	return &p, nil
}
