package model_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

func TestValidRPID(t *testing.T) {
	for s, want := range map[string]bool{
		"localhost": true, "eid.example.gov.cn": true, "example.com": true, "a-b.example": true,
		"": false, "com": false, "Example.com": false, "192.168.1.1": false, "example.com.": false,
		"-a.example": false, "a_b.example": false, "exa mple.com": false, "xn--fiqs8s.cn": true,
	} {
		if model.ValidRPID(s) != want {
			t.Errorf("ValidRPID(%q) = %v", s, !want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	for _, tc := range []struct {
		origin, rpID string
		want         bool
	}{
		{"https://eid.example.gov.cn", "eid.example.gov.cn", true},
		{"https://eid.example.gov.cn:8443", "eid.example.gov.cn", true},
		{"https://portal.eid.example.gov.cn", "eid.example.gov.cn", true},
		{"https://example.gov.cn", "eid.example.gov.cn", false},
		{"https://evil-eid.example.gov.cn", "eid.example.gov.cn", false},
		{"https://eid.example.gov.cn.evil.com", "eid.example.gov.cn", false},
		{"http://eid.example.gov.cn", "eid.example.gov.cn", false},
		{"http://localhost:8080", "localhost", true},
		{"http://localhost", "localhost", true},
		{"http://127.0.0.1:8080", "localhost", false},
		{"https://eid.example.gov.cn/", "eid.example.gov.cn", false},
		{"https://user@eid.example.gov.cn", "eid.example.gov.cn", false},
		{"https://eid.example.gov.cn:", "eid.example.gov.cn", false},
		{"https://eid.example.gov.cn:99999x", "eid.example.gov.cn", false},
		{"android:apk-key-hash:abc", "eid.example.gov.cn", false},
		{"", "localhost", false},
	} {
		if got := model.OriginAllowed(tc.origin, tc.rpID); got != tc.want {
			t.Errorf("OriginAllowed(%q, %q) = %v", tc.origin, tc.rpID, got)
		}
	}
}

func TestJWKPublicKey(t *testing.T) {
	for _, alg := range []string{passkeytest.ES256, passkeytest.EdDSA, passkeytest.RS256} {
		if _, err := passkeytest.New(alg, nil).JWK().PublicKey(); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	ec := passkeytest.New(passkeytest.ES256, nil).JWK()
	ed := passkeytest.New(passkeytest.EdDSA, nil).JWK()
	bad := map[string]model.JWK{
		"empty":           {},
		"symmetric":       {Kty: "oct"},
		"EC with RS256":   {Kty: "EC", Crv: "P-256", X: ec.X, Y: ec.Y, Alg: "RS256"},
		"EC short x":      {Kty: "EC", Crv: "P-256", X: ec.X[:20], Y: ec.Y},
		"EC padded":       {Kty: "EC", Crv: "P-256", X: ec.X + "=", Y: ec.Y},
		"EC with n":       {Kty: "EC", Crv: "P-256", X: ec.X, Y: ec.Y, N: "AQAB"},
		"OKP X25519":      {Kty: "OKP", Crv: "X25519", X: ed.X},
		"OKP with y":      {Kty: "OKP", Crv: "Ed25519", X: ed.X, Y: ed.X},
		"RSA without alg": {Kty: "RSA", N: ed.X, E: "AQAB"},
		"RSA even e":      {Kty: "RSA", Alg: "RS256", N: base64.RawURLEncoding.EncodeToString(append([]byte{0x80}, make([]byte, 255)...)), E: "Ag"},
	}
	for name, k := range bad {
		if _, err := k.PublicKey(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPasskeyActiveAt(t *testing.T) {
	p := model.Passkey{Status: model.PasskeyRetired, RegisteredAt: "2026-03-01T09:00:00Z", RetiredAt: "2026-03-02T09:00:00Z"}
	for at, want := range map[string]bool{
		"2026-03-01T08:59:59Z": false, "2026-03-01T09:00:00Z": true, "2026-03-02T08:59:59Z": true,
		"2026-03-02T09:00:00Z": false, "never": false,
	} {
		if p.ActiveAt(at) != want {
			t.Errorf("ActiveAt(%s) = %v", at, !want)
		}
	}
	p.Status = model.PasskeyActive
	if !p.ActiveAt("2030-01-01T00:00:00Z") {
		t.Error("an active key is not active later")
	}
}

const (
	testRPID   = "eid.example.gov.cn"
	testOrigin = "https://eid.example.gov.cn"
)

func passkeyOf(c *passkeytest.Credential, eid string) model.Passkey {
	return model.Passkey{ID: model.PasskeyMethodID(eid, c.KeyID()), EID: eid, CredentialID: c.IDString(),
		PublicKeyJWK: c.JWK(), RPID: testRPID, Status: model.PasskeyActive, RegisteredAt: "2026-03-01T00:00:00Z"}
}

// TestVerifyAssertionAgreesWithGoWebAuthn checks every assertion both with
// eidgate's verifier and with go-webauthn's, an independent implementation
// of the same WebAuthn steps; they must agree on honest and bent ones.
func TestVerifyAssertionAgreesWithGoWebAuthn(t *testing.T) {
	cs := sampleConsent()
	st := model.ConsentStatement(model.StatementConsentGrant, cs, cs.EID, "AAECAwQFBgcICQoLDA0ODw")
	d, err := st.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{passkeytest.ES256, passkeytest.EdDSA, passkeytest.RS256} {
		c := passkeytest.New(alg, []byte("user"))
		key := passkeyOf(c, cs.EID)
		for _, tc := range []struct {
			name string
			o    passkeytest.Options
			want string
		}{
			{"honest", passkeytest.Options{}, ""},
			{"subdomain origin", passkeytest.Options{Origin: "https://m.eid.example.gov.cn"}, ""},
			{"other challenge", passkeytest.Options{Challenge: make([]byte, 32)}, model.AssertionWrongChallenge},
			{"other origin", passkeytest.Options{Origin: "https://evil.example"}, model.AssertionWrongOrigin},
			{"other RP ID", passkeytest.Options{RPID: "example.gov.cn"}, model.AssertionWrongRPID},
			{"no UV", passkeytest.Options{NoUV: true}, model.AssertionUserNotVerified},
			{"no UP", passkeytest.Options{NoUP: true}, model.AssertionUserNotPresent},
			{"create type", passkeytest.Options{Type: "webauthn.create"}, model.AssertionWrongType},
			{"bad signature", passkeytest.Options{BadSig: true}, model.AssertionBadSignature},
		} {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				a := c.Assert(testRPID, testOrigin, d[:], tc.o)
				err := model.VerifyAssertion(key, d, a.AuthenticatorData, a.ClientDataJSON, a.Signature)
				var ae *model.AssertionError
				switch {
				case tc.want == "" && err != nil:
					t.Fatalf("refused: %v", err)
				case tc.want != "" && (!errors.As(err, &ae) || ae.Reason != tc.want):
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				parsed, perr := protocol.ParseCredentialRequestResponseBytes(a.JSON())
				if perr != nil {
					t.Fatalf("go-webauthn cannot parse the assertion: %v", perr)
				}
				origins := []string{testOrigin, "https://m.eid.example.gov.cn"}
				verr := parsed.Verify(base64.RawURLEncoding.EncodeToString(d[:]), testRPID, "", origins, nil, nil,
					protocol.TopOriginExplicitVerificationMode, false, true, true, c.COSEKey(), protocol.SignaturePolicy{})
				if (verr == nil) != (err == nil) {
					t.Fatalf("eidgate says %v, go-webauthn says %v", err, verr)
				}
			})
		}
	}
}

func TestCheckApproval(t *testing.T) {
	cs := sampleConsent()
	c := passkeytest.New(passkeytest.ES256, nil)
	key := passkeyOf(c, cs.EID)
	n := "AAECAwQFBgcICQoLDA0ODw"
	st := model.ConsentStatement(model.StatementConsentGrant, cs, cs.EID, n)
	d, _ := st.Digest()
	a := c.Assert(testRPID, testOrigin, d[:], passkeytest.Options{}).Approval(key.ID, n)
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	sig, err := model.CheckApproval(key, st, a, at)
	if err != nil {
		t.Fatalf("err = %v, want nil; CheckApproval: %+v %v", err, sig, err)
	}
	if sig.Digest != model.FormatDigest(d) {
		t.Fatalf("sig.Digest = %v, want model.FormatDigest(d); CheckApproval: %+v %v", sig.Digest, sig, err)
	}
	if sig.SignedAt != at {
		t.Fatalf("sig.SignedAt = %v, want at; CheckApproval: %+v %v", sig.SignedAt, sig, err)
	}
	if sig.Signer != cs.EID {
		t.Fatalf("sig.Signer = %v, want cs.EID; CheckApproval: %+v %v", sig.Signer, sig, err)
	}
	reason := func(err error) string {
		var ae *model.AssertionError
		if errors.As(err, &ae) {
			return ae.Reason
		}
		return "?"
	}
	shortNonce := a
	shortNonce.Nonce = "AAEC"
	if _, err := model.CheckApproval(key, st, shortNonce, at); reason(err) != model.AssertionNonceMalformed {
		t.Errorf("short nonce: %v", err)
	}
	if _, err := model.CheckApproval(key, st, a, "2026-02-01T00:00:00Z"); reason(err) != model.AssertionKeyNotActive {
		t.Errorf("before registration: %v", err)
	}
	other := key
	other.EID = model.DeriveEID("other", 0)
	if _, err := model.CheckApproval(other, st, a, at); reason(err) != model.AssertionKeyOfOtherSigner {
		t.Errorf("other signer's key: %v", err)
	}
	garbage := a
	garbage.ClientDataJSON = base64.RawURLEncoding.EncodeToString([]byte("not json"))
	if _, err := model.CheckApproval(key, st, garbage, at); reason(err) != model.AssertionMalformed {
		t.Errorf("garbage client data: %v", err)
	}
}

// FuzzVerifyAssertion feeds arbitrary assertion parts to the verifier the
// chaincode runs on outside input: it must refuse without panicking, and
// never accept what the honest key did not sign.
func FuzzVerifyAssertion(f *testing.F) {
	cs := sampleConsent()
	c := passkeytest.New(passkeytest.ES256, nil)
	key := passkeyOf(c, cs.EID)
	d, _ := model.ConsentStatement(model.StatementConsentGrant, cs, cs.EID, "n").Digest()
	a := c.Assert(testRPID, testOrigin, d[:], passkeytest.Options{})
	f.Add(a.AuthenticatorData, a.ClientDataJSON, a.Signature)
	f.Add([]byte{}, []byte("{}"), []byte{0x30, 0})
	f.Fuzz(func(t *testing.T, auth, cdj, sig []byte) {
		err := model.VerifyAssertion(key, d, auth, cdj, sig)
		if err == nil && (string(auth) != string(a.AuthenticatorData) || string(cdj) != string(a.ClientDataJSON)) {
			t.Fatalf("accepted altered signed data")
		}
		approval := model.PasskeyApproval{Key: key.ID, Nonce: "AAECAwQFBgcICQoLDA0ODw",
			AuthenticatorData: string(auth), ClientDataJSON: string(cdj), Signature: string(sig)}
		_, _, _, _ = model.DecodeApproval(approval)
	})
}

// FuzzJWK: key parsing never panics on outside input.
func FuzzJWK(f *testing.F) {
	j := passkeytest.New(passkeytest.RS256, nil).JWK()
	f.Add(j.Kty, j.Crv, j.X, j.Y, j.N, j.E, j.Alg)
	e := passkeytest.New(passkeytest.ES256, nil).JWK()
	f.Add(e.Kty, e.Crv, e.X, e.Y, e.N, e.E, e.Alg)
	f.Fuzz(func(t *testing.T, kty, crv, x, y, n, e, alg string) {
		_, _ = model.JWK{Kty: kty, Crv: crv, X: x, Y: y, N: n, E: e, Alg: alg}.PublicKey()
	})
}
