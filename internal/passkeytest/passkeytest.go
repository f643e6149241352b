// Package passkeytest is a software WebAuthn authenticator for tests: it
// makes credentials (P-256, Ed25519 or RSA keys), answers registration
// ceremonies with "none" attestation and assertion ceremonies with the
// JSON a browser sends (PublicKeyCredential.toJSON()), and lets a test
// bend every part an attacker could (origin, RP ID, flags, counter,
// challenge, signature).
//
// It is written from the WebAuthn Level 3 and CTAP 2.1 formats, not from
// the code it tests: the gateway parses what it produces with go-webauthn,
// the ledger checks it with its own verifier.
package passkeytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"

	"github.com/fxamacker/cbor/v2"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Key algorithms.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// Credential is one discoverable credential held by the authenticator.
type Credential struct {
	ID         []byte
	UserHandle []byte
	Alg        string
	Key        crypto.Signer
	Counter    uint32 // the next assertion uses Counter+1 unless Options.Counter is set
	// BackupEligible and BackupState are the BE and BS flags it reports.
	BackupEligible, BackupState bool
}

// New makes a credential for a user handle with a fresh key of alg.
func New(alg string, userHandle []byte) *Credential {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	var key crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		alg = ES256
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		panic(err)
	}
	return &Credential{ID: id, UserHandle: userHandle, Alg: alg, Key: key}
}

// IDString is the credential id in base64url.
func (c *Credential) IDString() string { return b64(c.ID) }

// KeyID is the credential's passkey id on the ledger.
func (c *Credential) KeyID() string { return model.PasskeyKeyID(c.ID) }

// JWK is the credential's public key as a JWK.
func (c *Credential) JWK() model.JWK {
	switch k := c.Key.Public().(type) {
	case *ecdsa.PublicKey:
		j, _ := model.PublicJWK(k)
		return j
	case ed25519.PublicKey:
		return model.JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k), Alg: model.AlgEdDSA}
	case *rsa.PublicKey:
		return model.JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes()), Alg: model.AlgRS256}
	}
	panic("unknown key")
}

// COSEKey is the credential's public key in COSE_Key form (RFC 9053).
func (c *Credential) COSEKey() []byte {
	var m map[int]any
	switch k := c.Key.Public().(type) {
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		m = map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:]}
	case ed25519.PublicKey:
		m = map[int]any{1: 1, 3: -8, -1: 6, -2: []byte(k)}
	case *rsa.PublicKey:
		m = map[int]any{1: 3, 3: -257, -1: k.N.Bytes(), -2: big.NewInt(int64(k.E)).Bytes()}
	}
	em, _ := cbor.CTAP2EncOptions().EncMode()
	b, err := em.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// Options bend a ceremony. The zero value is an honest answer for the
// origin and RP ID given to Register or Assert.
type Options struct {
	Origin      string // default: the ceremony's origin
	RPID        string // the RP ID hashed into authenticator data; default: the ceremony's
	Type        string // client data type; default webauthn.create / webauthn.get
	Challenge   []byte // default: the ceremony's
	CrossOrigin bool
	NoUV        bool // clear the user-verified flag
	NoUP        bool // clear the user-present flag
	Counter     *uint32
	BadSig      bool // flip a bit of the signature
}

// Assertion is the three signed parts of an assertion.
type Assertion struct {
	CredentialID      []byte
	UserHandle        []byte
	AuthenticatorData []byte
	ClientDataJSON    []byte
	Signature         []byte
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (c *Credential) flags(o Options, extra byte) byte {
	f := extra
	if !o.NoUP {
		f |= 0x01
	}
	if !o.NoUV {
		f |= 0x04
	}
	if c.BackupEligible {
		f |= 0x08
	}
	if c.BackupState {
		f |= 0x10
	}
	return f
}

func clientData(typ string, challenge []byte, origin string, cross bool) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": b64(challenge), "origin": origin, "crossOrigin": cross})
	return b
}

func (c *Credential) counter(o Options) uint32 {
	if o.Counter != nil {
		return *o.Counter
	}
	c.Counter++
	return c.Counter
}

// Register answers a registration ceremony for rpID at origin with
// "none" attestation, as the JSON a browser sends.
func (c *Credential) Register(rpID, origin string, challenge []byte, o Options) []byte {
	fill(&o, rpID, origin, challenge, "webauthn.create")
	rpHash := sha256.Sum256([]byte(o.RPID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, c.flags(o, 0x40))
	auth = binary.BigEndian.AppendUint32(auth, c.Counter)
	auth = append(auth, make([]byte, 16)...) // AAGUID: none
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(c.ID)))
	auth = append(auth, c.ID...)
	auth = append(auth, c.COSEKey()...)
	em, _ := cbor.CTAP2EncOptions().EncMode()
	att, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		panic(err)
	}
	cd := clientData(o.Type, o.Challenge, o.Origin, o.CrossOrigin)
	alg := map[string]int{ES256: -7, EdDSA: -8, RS256: -257}[c.Alg]
	b, _ := json.Marshal(map[string]any{
		"id": b64(c.ID), "rawId": b64(c.ID), "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
		"response": map[string]any{
			"clientDataJSON": b64(cd), "attestationObject": b64(att), "transports": []string{"internal"},
			"authenticatorData": b64(auth), "publicKeyAlgorithm": alg,
		},
	})
	return b
}

func fill(o *Options, rpID, origin string, challenge []byte, typ string) {
	if o.Origin == "" {
		o.Origin = origin
	}
	if o.RPID == "" {
		o.RPID = rpID
	}
	if o.Type == "" {
		o.Type = typ
	}
	if o.Challenge == nil {
		o.Challenge = challenge
	}
}

// Assert signs challenge for rpID at origin.
func (c *Credential) Assert(rpID, origin string, challenge []byte, o Options) Assertion {
	fill(&o, rpID, origin, challenge, "webauthn.get")
	rpHash := sha256.Sum256([]byte(o.RPID))
	auth := append([]byte{}, rpHash[:]...)
	auth = append(auth, c.flags(o, 0))
	auth = binary.BigEndian.AppendUint32(auth, c.counter(o))
	cd := clientData(o.Type, o.Challenge, o.Origin, o.CrossOrigin)
	sig := c.sign(auth, cd)
	if o.BadSig {
		sig[len(sig)/2] ^= 0x01
	}
	return Assertion{CredentialID: c.ID, UserHandle: c.UserHandle, AuthenticatorData: auth, ClientDataJSON: cd, Signature: sig}
}

func (c *Credential) sign(auth, cd []byte) []byte {
	cdHash := sha256.Sum256(cd)
	msg := append(append([]byte{}, auth...), cdHash[:]...)
	var sig []byte
	var err error
	switch k := c.Key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, msg)
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(msg)
		sig, err = ecdsa.SignASN1(rand.Reader, k, h[:])
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	}
	if err != nil {
		panic(err)
	}
	return sig
}

// JSON is the assertion as the JSON a browser sends.
func (a Assertion) JSON() []byte {
	b, _ := json.Marshal(map[string]any{
		"id": b64(a.CredentialID), "rawId": b64(a.CredentialID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64(a.ClientDataJSON), "authenticatorData": b64(a.AuthenticatorData),
			"signature": b64(a.Signature), "userHandle": b64(a.UserHandle),
		},
	})
	return b
}

// Approval is the assertion as the ledger takes it.
func (a Assertion) Approval(methodID, nonce string) model.PasskeyApproval {
	return model.PasskeyApproval{Key: methodID, Nonce: nonce, AuthenticatorData: b64(a.AuthenticatorData),
		ClientDataJSON: b64(a.ClientDataJSON), Signature: b64(a.Signature)}
}
