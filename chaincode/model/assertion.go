package model

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
)

// PasskeyApproval is a WebAuthn assertion over a statement, as the gateway
// hands it to the ledger: which passkey signed, the statement's nonce, and
// the three parts of the assertion (base64url without padding).
type PasskeyApproval struct {
	Key               string `json:"key"` // the passkey's verification method id
	Nonce             string `json:"nonce"`
	AuthenticatorData string `json:"authenticator_data"`
	ClientDataJSON    string `json:"client_data_json"`
	Signature         string `json:"signature"`
	// Representation is the relation under which a guardian signs for the
	// ward; empty when the resident signs.
	Representation string `json:"representation,omitempty" metadata:",optional"`
}

// PasskeySignature is a resident's signature as the ledger keeps it with
// the act it approves: the approval, who signed, the statement type and
// digest it covers (the WebAuthn challenge), and the transaction time at
// which the ledger checked and accepted it.
type PasskeySignature struct {
	Statement         string `json:"statement"` // the statement type, e.g. consent.grant
	Signer            string `json:"signer"`    // the signer's eID
	Key               string `json:"key"`       // the signer's verification method id
	Nonce             string `json:"nonce"`
	Digest            string `json:"digest"` // "sha256:" + hex of the statement digest
	AuthenticatorData string `json:"authenticator_data"`
	ClientDataJSON    string `json:"client_data_json"`
	Signature         string `json:"signature"`
	SignedAt          string `json:"signed_at"`
	// Representation is the relation under which Signer, a guardian,
	// signed for the subject; empty when the subject signed.
	Representation string `json:"representation,omitempty" metadata:",optional"`
}

// Approval returns the approval the signature record holds.
func (s PasskeySignature) Approval() PasskeyApproval {
	return PasskeyApproval{Key: s.Key, Nonce: s.Nonce, AuthenticatorData: s.AuthenticatorData,
		ClientDataJSON: s.ClientDataJSON, Signature: s.Signature, Representation: s.Representation}
}

// Reasons an assertion is refused (the text after the INVALID: or
// FORBIDDEN: code of a chaincode error, and the reason in a proof report).
const (
	AssertionMalformed        = "assertion_malformed"
	AssertionWrongType        = "assertion_wrong_type"
	AssertionWrongChallenge   = "assertion_wrong_challenge"
	AssertionWrongOrigin      = "assertion_wrong_origin"
	AssertionCrossOrigin      = "assertion_cross_origin"
	AssertionWrongRPID        = "assertion_wrong_rp_id"
	AssertionUserNotPresent   = "assertion_user_not_present"
	AssertionUserNotVerified  = "assertion_user_not_verified"
	AssertionBadBackupFlags   = "assertion_bad_backup_flags"
	AssertionBadSignature     = "assertion_bad_signature"
	AssertionUnsupportedKey   = "assertion_unsupported_key"
	AssertionKeyNotActive     = "assertion_key_not_active"
	AssertionNonceMalformed   = "assertion_nonce_malformed"
	AssertionKeyOfOtherSigner = "assertion_key_of_other_signer"
)

// AssertionError is a refused assertion with one of the Assertion* reasons.
type AssertionError struct {
	Reason string
	Detail string
}

func (e *AssertionError) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func refuse(reason, detail string) error { return &AssertionError{Reason: reason, Detail: detail} }

// WebAuthn authenticator data flags.
const (
	flagUserPresent    = 0x01
	flagUserVerified   = 0x04
	flagBackupEligible = 0x08
	flagBackupState    = 0x10
)

// clientData is the part of CollectedClientData that is checked.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// DecodeApproval decodes the base64url parts of an approval and checks
// their sizes and the nonce.
func DecodeApproval(a PasskeyApproval) (authData, clientDataJSON, sig []byte, err error) {
	dec := base64.RawURLEncoding.Strict()
	if authData, err = dec.DecodeString(a.AuthenticatorData); err != nil || len(authData) < 37 || len(authData) > MaxAuthenticatorData {
		return nil, nil, nil, refuse(AssertionMalformed, "authenticator_data must be 37 to 4096 bytes in base64url")
	}
	if clientDataJSON, err = dec.DecodeString(a.ClientDataJSON); err != nil || len(clientDataJSON) == 0 || len(clientDataJSON) > MaxClientDataJSON {
		return nil, nil, nil, refuse(AssertionMalformed, "client_data_json must be 1 to 4096 bytes in base64url")
	}
	if sig, err = dec.DecodeString(a.Signature); err != nil || len(sig) == 0 || len(sig) > MaxAssertionSignature {
		return nil, nil, nil, refuse(AssertionMalformed, "signature must be 1 to 1024 bytes in base64url")
	}
	if n, err := dec.DecodeString(a.Nonce); err != nil || len(n) < MinStatementNonce || len(n) > MaxStatementNonce {
		return nil, nil, nil, refuse(AssertionNonceMalformed, "nonce must be 16 to 64 bytes in base64url")
	}
	return authData, clientDataJSON, sig, nil
}

// VerifyAssertion checks a WebAuthn assertion of key over a statement
// digest, as WebAuthn Level 3 §7.2 does for a relying party, without the
// parts that need the relying party's private state (the sign counter):
//
//   - clientDataJSON has type webauthn.get, the digest as challenge
//     (base64url), an origin of the key's relying party (OriginAllowed) and
//     is not cross-origin;
//   - authenticatorData's RP ID hash is SHA-256 of the key's RP ID, the
//     user was present and verified, and the backup flags are consistent;
//   - the signature over authenticatorData ‖ SHA-256(clientDataJSON)
//     verifies with the key (ES256: ASN.1 DER; EdDSA; RS256: PKCS #1 v1.5).
//
// It returns an *AssertionError.
func VerifyAssertion(key Passkey, digest [sha256.Size]byte, authData, clientDataJSON, sig []byte) error {
	var cd clientData
	if err := json.Unmarshal(clientDataJSON, &cd); err != nil {
		return refuse(AssertionMalformed, "client_data_json is not a JSON object")
	}
	if cd.Type != "webauthn.get" {
		return refuse(AssertionWrongType, "client data type is not webauthn.get")
	}
	want := base64.RawURLEncoding.EncodeToString(digest[:])
	if subtle.ConstantTimeCompare([]byte(cd.Challenge), []byte(want)) != 1 {
		return refuse(AssertionWrongChallenge, "the assertion signs another challenge than this statement's digest")
	}
	if !OriginAllowed(cd.Origin, key.RPID) {
		return refuse(AssertionWrongOrigin, "the origin does not belong to the relying party "+key.RPID)
	}
	if cd.CrossOrigin {
		return refuse(AssertionCrossOrigin, "the assertion was made in a cross-origin frame")
	}
	if len(authData) < 37 {
		return refuse(AssertionMalformed, "authenticator data is shorter than 37 bytes")
	}
	rpHash := sha256.Sum256([]byte(key.RPID))
	if subtle.ConstantTimeCompare(authData[:32], rpHash[:]) != 1 {
		return refuse(AssertionWrongRPID, "the authenticator data is for another relying party than "+key.RPID)
	}
	flags := authData[32]
	switch {
	case flags&flagUserPresent == 0:
		return refuse(AssertionUserNotPresent, "the user was not present")
	case flags&flagUserVerified == 0:
		return refuse(AssertionUserNotVerified, "the user was not verified")
	case flags&flagBackupState != 0 && flags&flagBackupEligible == 0:
		return refuse(AssertionBadBackupFlags, "backup state is set on a credential that is not backup eligible")
	}
	pub, err := key.PublicKeyJWK.PublicKey()
	if err != nil {
		return refuse(AssertionUnsupportedKey, err.Error())
	}
	cdHash := sha256.Sum256(clientDataJSON)
	signed := make([]byte, 0, len(authData)+len(cdHash))
	signed = append(append(signed, authData...), cdHash[:]...)
	if !verifySignature(pub, signed, sig) {
		return refuse(AssertionBadSignature, "the signature does not verify with "+key.ID)
	}
	return nil
}

func verifySignature(pub crypto.PublicKey, signed, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(signed)
		return ecdsa.VerifyASN1(k, h[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, signed, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(signed)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
	}
	return false
}

// CheckApproval verifies an approval of statement st by passkey key at
// time at (RFC 3339, the transaction time): the key must belong to the
// statement's signer and be active at that time, the nonce must be the
// statement's, and the assertion must verify (VerifyAssertion). It returns
// the signature record to keep on the ledger.
func CheckApproval(key Passkey, st Statement, a PasskeyApproval, at string) (*PasskeySignature, error) {
	authData, cdj, sig, err := DecodeApproval(a)
	if err != nil {
		return nil, err
	}
	if a.Key != key.ID || key.EID != st.Signer {
		return nil, refuse(AssertionKeyOfOtherSigner, "the key does not belong to the signer")
	}
	if !key.ActiveAt(at) {
		return nil, refuse(AssertionKeyNotActive, "the key was not active at "+at)
	}
	if a.Nonce != st.Nonce || a.Representation != st.Representation {
		return nil, refuse(AssertionWrongChallenge, "the nonce or the relation is not the statement's")
	}
	d, err := st.Digest()
	if err != nil {
		return nil, err
	}
	if err := VerifyAssertion(key, d, authData, cdj, sig); err != nil {
		return nil, err
	}
	return &PasskeySignature{
		Statement: st.Type, Signer: st.Signer, Key: key.ID, Nonce: a.Nonce, Digest: FormatDigest(d),
		AuthenticatorData: a.AuthenticatorData, ClientDataJSON: a.ClientDataJSON, Signature: a.Signature,
		SignedAt: at, Representation: st.Representation,
	}, nil
}
