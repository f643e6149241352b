package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

// A browser's side of the passkey ceremonies, played by the software
// authenticator of passkeytest against the API.

// creationOptions is what the options operations answer for a registration.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
		RP struct {
			ID string `json:"id"`
		} `json:"rp"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		UserVerification string `json:"userVerification"`
	} `json:"publicKey"`
}

func b64d(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not base64url: %v", s, err)
	}
	return b
}

// registerPasskey registers a fresh credential through prefix
// (/v1/me or /v1/admin) for the signed-in caller.
func registerPasskey(t *testing.T, c *caller, prefix, alg string) *passkeytest.Credential {
	t.Helper()
	var o creationOptions
	c.call(post, prefix+"/passkeys/options", nil, http.StatusOK).decode(&o)
	if o.PublicKey.RP.ID != passkeyRPID {
		t.Fatalf("rp id %q", o.PublicKey.RP.ID)
	}
	cred := passkeytest.New(alg, b64d(t, o.PublicKey.User.ID))
	body := map[string]any{"credential": json.RawMessage(cred.Register(passkeyRPID, passkeyOrigin, b64d(t, o.PublicKey.Challenge), passkeytest.Options{})), "name": "phone"}
	c.call(post, prefix+"/passkeys", body, http.StatusCreated)
	return cred
}

// assertion is the body answering a request-options challenge.
func assertion(t *testing.T, cred *passkeytest.Credential, challenge string, o passkeytest.Options) map[string]any {
	t.Helper()
	return map[string]any{"credential": json.RawMessage(cred.Assert(passkeyRPID, passkeyOrigin, b64d(t, challenge), o).JSON())}
}

// signOptions asks for the statement of action on a consent.
func signOptions(t *testing.T, c *caller, consent, action string) (approval.Challenge, requestOptions) {
	t.Helper()
	r := c.call(post, "/v1/me/consents/"+consent+"/"+action+"/options", nil, http.StatusOK)
	var ch struct {
		Options   requestOptions `json:"options"`
		Canonical string         `json:"canonical"`
		Digest    string         `json:"digest"`
	}
	r.decode(&ch)
	return approval.Challenge{Canonical: ch.Canonical, Digest: ch.Digest}, ch.Options
}

// signConsent grants or revokes a consent with cred.
func signConsent(t *testing.T, c *caller, cred *passkeytest.Credential, consent, action string) reply {
	t.Helper()
	_, o := signOptions(t, c, consent, action)
	return c.call(post, "/v1/me/consents/"+consent+"/"+action, assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{}), http.StatusOK)
}

// passkeySignIn signs in at base (/v1/me or /v1/admin) with cred.
func passkeySignIn(t *testing.T, w *world, base string, cred *passkeytest.Credential) *caller {
	t.Helper()
	var o requestOptions
	w.anonymous().call(post, base+"/login/passkey/options", nil, http.StatusOK).decode(&o)
	if len(o.PublicKey.AllowCredentials) != 0 {
		t.Fatalf("len(o.PublicKey.AllowCredentials) = %v, want 0; sign-in options name accounts or skip verification: %+v", len(o.PublicKey.AllowCredentials), o)
	}
	if o.PublicKey.UserVerification != "required" {
		t.Fatalf("o.PublicKey.UserVerification = %q, want \"required\"; sign-in options name accounts or skip verification: %+v", o.PublicKey.UserVerification, o)
	}
	return w.signIn(base+"/login/passkey", assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{}))
}

// requestConsent has hr-bureau ask alice for her degree.
func requestConsent(t *testing.T, w *world, maxUses int) string {
	t.Helper()
	return w.department(w.hrToken).call(post, "/v1/consents", map[string]any{"eid": w.alice, "provider": eduBureau,
		"data_types": []string{"edu.degree"}, "purpose_code": purpose, "purpose_text": "Degree check",
		"valid_until": w.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339), "max_uses": maxUses}, http.StatusCreated).field("id")
}

func (w *world) activeAlice(t *testing.T) *caller {
	t.Helper()
	return w.signIn("/v1/me/activate", map[string]any{"document": w.aliceDoc, "code": w.activationCode(w.alice), "password": "a long passphrase"})
}

// TestSignedConsentThroughTheAPI: alice registers a passkey, signs a
// grant, signs in with the passkey alone and signs the revocation; the
// proof she downloads verifies at the public operation, and the
// department gets the same proof.
func TestSignedConsentThroughTheAPI(t *testing.T) {
	w := newWorld(t)
	alice := w.activeAlice(t)
	cred := registerPasskey(t, alice, "/v1/me", passkeytest.ES256)
	var keys struct {
		Passkeys []accounts.PasskeyInfo `json:"passkeys"`
	}
	alice.call(get, "/v1/me/passkeys", nil, http.StatusOK).decode(&keys)
	if len(keys.Passkeys) != 1 {
		t.Fatalf("len(keys.Passkeys) = %v, want 1; passkeys: %+v", len(keys.Passkeys), keys)
	}
	if keys.Passkeys[0].MethodID != w.alice+"#"+cred.KeyID() {
		t.Fatalf("keys.Passkeys[0].MethodID = %v, want w.alice+\"#\"+cred.KeyID(); passkeys: %+v", keys.Passkeys[0].MethodID, keys)
	}
	if keys.Passkeys[0].Name != "phone" {
		t.Fatalf("keys.Passkeys[0].Name = %q, want \"phone\"; passkeys: %+v", keys.Passkeys[0].Name, keys)
	}
	// The resident's DID document now names the key.
	var did struct {
		Doc model.DIDDocument `json:"didDocument"`
	}
	w.anonymous().call(get, "/1.0/identifiers/"+w.alice, nil, http.StatusOK).decode(&did)
	if len(did.Doc.VerificationMethod) != 1 {
		t.Fatalf("len(did.Doc.VerificationMethod) = %v, want 1; DID document: %+v", len(did.Doc.VerificationMethod), did.Doc)
	}
	if did.Doc.VerificationMethod[0].PublicKeyJWK != cred.JWK() {
		t.Fatalf("did.Doc.VerificationMethod[0].PublicKeyJWK = %v, want cred.JWK(); DID document: %+v", did.Doc.VerificationMethod[0].PublicKeyJWK, did.Doc)
	}
	if len(did.Doc.Authentication) != 1 {
		t.Fatalf("len(did.Doc.Authentication) = %v, want 1; DID document: %+v", len(did.Doc.Authentication), did.Doc)
	}

	id := requestConsent(t, w, 2)
	ch, _ := signOptions(t, alice, id, "grant")
	if !strings.Contains(ch.Canonical, `"consent":"`+id+`"`) {
		t.Fatalf("strings.Contains(ch.Canonical, `\"consent\":\"`+id+`\"`) is false; statement: %+v", ch)
	}
	if !strings.Contains(ch.Canonical, `"purpose_text":"Degree check"`) {
		t.Fatalf("strings.Contains(ch.Canonical, `\"purpose_text\":\"Degree check\"`) is false; statement: %+v", ch)
	}
	if !strings.HasPrefix(ch.Digest, "sha256:") {
		t.Fatalf("strings.HasPrefix(ch.Digest, \"sha256:\") is false; statement: %+v", ch)
	}
	granted := signConsent(t, alice, cred, id, "grant")
	if granted.field("grant_assurance") != model.AssurancePasskey || granted.field("status") != model.ConsentActive {
		t.Fatalf("granted: %s", granted.body)
	}

	again := passkeySignIn(t, w, "/v1/me", cred)
	if again.call(get, "/v1/me", nil, http.StatusOK).field("eid") != w.alice {
		t.Fatal("the passkey session is not alice's")
	}
	revoked := signConsent(t, again, cred, id, "revoke")
	if revoked.field("revoke_assurance") != model.AssurancePasskey {
		t.Fatalf("revoked: %s", revoked.body)
	}

	proof := again.call(get, "/v1/me/consents/"+id+"/proof", nil, http.StatusOK)
	if !strings.Contains(proof.resp.Header.Get("Content-Disposition"), "consent-proof-"+id+".json") {
		t.Errorf("proof is not served as a file: %v", proof.resp.Header)
	}
	var report approval.Report
	w.anonymous().call(post, "/v1/consent-proofs/verify", proof.body, http.StatusOK).decode(&report)
	if !report.Valid {
		t.Fatalf("report.Valid is false; report: %+v", report)
	}
	if !report.SignedByResident {
		t.Fatalf("report.SignedByResident is false; report: %+v", report)
	}
	if !report.Grant.Verified {
		t.Fatalf("report.Grant.Verified is false; report: %+v", report)
	}
	if !report.Revoke.Verified {
		t.Fatalf("report.Revoke.Verified is false; report: %+v", report)
	}
	if !report.Ledger.Matches {
		t.Fatalf("report.Ledger.Matches is false; report: %+v", report)
	}
	deptProof := w.department(w.hrToken).call(get, "/v1/consents/"+id+"/proof", nil, http.StatusOK)
	var dp approval.ConsentProof
	deptProof.decode(&dp)
	if dp.Consent.GrantSignature == nil {
		t.Errorf("dp.Consent.GrantSignature is nil; department proof: %+v", dp)
	} else if dp.Consent.GrantSignature.Signature != report.Grant.Key && dp.Passkeys[0].ID != report.Grant.Key {
		t.Errorf("dp.Consent.GrantSignature.Signature != report.Grant.Key && dp.Passkeys[0].ID != report.Grant.Key holds; department proof: %+v", dp)
	}

	// A tampered proof is reported, not accepted.
	var p approval.ConsentProof
	proof.decode(&p)
	p.Consent.MaxUses = 99
	w.anonymous().call(post, "/v1/consent-proofs/verify", p, http.StatusOK).decode(&report)
	if report.Valid {
		t.Fatalf("report.Valid is true; tampered report: %+v %+v", report, report.Grant)
	}
	if report.SignedByResident {
		t.Fatalf("report.SignedByResident is true; tampered report: %+v %+v", report, report.Grant)
	}
	if report.Grant.Reason != model.AssertionWrongChallenge {
		t.Fatalf("report.Grant.Reason = %v, want model.AssertionWrongChallenge; tampered report: %+v %+v", report.Grant.Reason, report, report.Grant)
	}
	if report.Ledger.Matches {
		t.Fatalf("report.Ledger.Matches is true; tampered report: %+v %+v", report, report.Grant)
	}
	w.v.Check(t)
}

// TestPasskeyAPIRefusals: every bent answer gets a clear, stable code and
// changes nothing — the consent stays requested and the key's counter and
// last use stay as they were.
func TestPasskeyAPIRefusals(t *testing.T) {
	w := newWorld(t)
	alice := w.activeAlice(t)
	cred := registerPasskey(t, alice, "/v1/me", passkeytest.ES256)
	root := w.admin("root")
	staff := registerPasskey(t, root, "/v1/admin", passkeytest.EdDSA)
	// Bob activates without a password: his passkey is his only way in.
	bob := w.signIn("/v1/me/activate", map[string]any{"document": w.bobDoc, "code": w.activationCode(w.bob)})
	bobCred := registerPasskey(t, bob, "/v1/me", passkeytest.ES256)
	var bobKeys struct {
		Passkeys []accounts.PasskeyInfo `json:"passkeys"`
	}
	bob.call(get, "/v1/me/passkeys", nil, http.StatusOK).decode(&bobKeys)
	if e := bob.call(del, "/v1/me/passkeys/"+bobKeys.Passkeys[0].ID, nil, http.StatusConflict).apiError(); e.Code != accounts.CodeLastSignInMethod {
		t.Errorf("removing bob's only way in: %+v", e)
	}
	if e := w.anonymous().call(post, "/v1/me/login", map[string]any{"document": w.bobDoc, "password": "anything at all"}, http.StatusUnauthorized).apiError(); e.Code != accounts.CodeInvalidCredentials {
		t.Errorf("a password sign-in of a passkey-only account: %+v", e)
	}
	a, b, other := requestConsent(t, w, 1), requestConsent(t, w, 5), requestConsent(t, w, 7)

	// One honest signature, kept to be replayed.
	_, o := signOptions(t, alice, a, "grant")
	honest := assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{})
	grantA := alice.call(post, "/v1/me/consents/"+a+"/grant", honest, http.StatusOK)
	if grantA.field("grant_assurance") != model.AssurancePasskey {
		t.Fatal(string(grantA.body))
	}
	keyState := func() string {
		var keys struct {
			Passkeys []accounts.PasskeyInfo `json:"passkeys"`
		}
		alice.call(get, "/v1/me/passkeys", nil, http.StatusOK).decode(&keys)
		b, _ := json.Marshal(keys)
		return string(b)
	}
	before := keyState()
	nine := uint32(0)

	for _, tc := range []struct {
		name   string
		body   func() any
		status int
		code   string
	}{
		{"replayed assertion", func() any { return honest }, http.StatusConflict, accounts.CodeChallengeUsed},
		{"a signature of another consent's terms", func() any {
			_, o := signOptions(t, alice, other, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{})
		}, http.StatusForbidden, approval.CodeTermsMismatch},
		{"challenge for other terms", func() any {
			// alice asks to sign B's terms but answers with a statement
			// digest she made up for other terms.
			signOptions(t, alice, b, "grant")
			forged := model.ConsentStatement(model.StatementConsentGrant, model.Consent{ID: b, EID: w.alice, MaxUses: 500}, w.alice, "AAECAwQFBgcICQoLDA0ODw")
			d, _ := forged.Digest()
			return assertion(t, cred, base64.RawURLEncoding.EncodeToString(d[:]), passkeytest.Options{})
		}, http.StatusBadRequest, accounts.CodeChallengeUnknown},
		{"other credential (bob's)", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, bobCred, o.PublicKey.Challenge, passkeytest.Options{})
		}, http.StatusForbidden, accounts.CodeWrongUser},
		{"other user (a staff key)", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, staff, o.PublicKey.Challenge, passkeytest.Options{})
		}, http.StatusForbidden, accounts.CodeWrongUser},
		{"counter regression", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{Counter: &nine})
		}, http.StatusForbidden, accounts.CodeCounterRegressed},
		{"wrong origin", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{Origin: "http://localhost:9999"})
		}, http.StatusForbidden, accounts.CodeOriginMismatch},
		{"wrong RP ID", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{RPID: "example.com"})
		}, http.StatusForbidden, accounts.CodeRPIDMismatch},
		{"user not verified", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{NoUV: true})
		}, http.StatusForbidden, accounts.CodeUserNotVerified},
		{"bad signature", func() any {
			_, o := signOptions(t, alice, b, "grant")
			return assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{BadSig: true})
		}, http.StatusUnauthorized, accounts.CodeAssertionInvalid},
		{"no credential", func() any { return map[string]any{"credential": nil} }, http.StatusBadRequest, "invalid"},
		{"not a credential", func() any { return map[string]any{"credential": map[string]string{"id": "x"}} }, http.StatusBadRequest, accounts.CodePasskeyMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := alice.call(post, "/v1/me/consents/"+b+"/grant", tc.body(), tc.status).apiError()
			if e.Code != tc.code {
				t.Fatalf("e.Code = %v, want tc.code; got %+v, want %s", e.Code, e, tc.code)
			}
			if e.Message == "" {
				t.Fatalf("e.Message == \"\", want it different; got %+v, want %s", e, tc.code)
			}
			if e.RequestID == "" {
				t.Fatalf("e.RequestID == \"\", want it different; got %+v, want %s", e, tc.code)
			}
			for _, id := range []string{b, other} {
				if got := w.department(w.hrToken).call(get, "/v1/consents/"+id, nil, http.StatusOK).field("status"); got != model.ConsentRequested {
					t.Fatalf("consent %s is %s", id, got)
				}
			}
			if after := keyState(); after != before {
				t.Fatalf("the passkey changed:\n%s\n%s", before, after)
			}
		})
	}
	// A revocation's answer at the grant operation, and a grant's answer
	// replayed as bob's sign-in, are refused too.
	_, o = signOptions(t, alice, a, "revoke")
	e := alice.call(post, "/v1/me/consents/"+b+"/grant", assertion(t, cred, o.PublicKey.Challenge, passkeytest.Options{}), http.StatusForbidden).apiError()
	if e.Code != accounts.CodeCeremonyMismatch {
		t.Errorf("revocation answer at grant: %+v", e)
	}
	if e := w.anonymous().call(post, "/v1/me/login/passkey", honest, http.StatusConflict).apiError(); e.Code != accounts.CodeChallengeUsed {
		t.Errorf("replayed as a sign-in: %+v", e)
	}
	var lo requestOptions
	w.anonymous().call(post, "/v1/admin/login/passkey/options", nil, http.StatusOK).decode(&lo)
	if e := w.anonymous().call(post, "/v1/admin/login/passkey", assertion(t, cred, lo.PublicKey.Challenge, passkeytest.Options{}), http.StatusForbidden).apiError(); e.Code != accounts.CodeWrongUser {
		t.Errorf("a resident's passkey at the console: %+v", e)
	}
	// Alice's only passkey can go: she has a password.
	var keys struct {
		Passkeys []accounts.PasskeyInfo `json:"passkeys"`
	}
	alice.call(get, "/v1/me/passkeys", nil, http.StatusOK).decode(&keys)
	alice.call(del, "/v1/me/passkeys/"+keys.Passkeys[0].ID, nil, http.StatusOK)
	if e := alice.call(del, "/v1/me/passkeys/"+keys.Passkeys[0].ID, nil, http.StatusNotFound).apiError(); e.Code != accounts.CodePasskeyNotFound {
		t.Errorf("removing twice: %+v", e)
	}
	if e := alice.call(post, "/v1/me/consents/"+b+"/grant/options", nil, http.StatusConflict).apiError(); e.Code != accounts.CodeNoPasskey {
		t.Errorf("signing without a passkey: %+v", e)
	}
	w.v.Check(t) // every exchange, refusals included, matches openapi.yaml
}

// TestStaffPasskeysRequired: with the rule on, a password session of an
// administrator without a passkey may only register one; afterwards the
// password no longer signs in and the passkey does.
func TestStaffPasskeysRequired(t *testing.T) {
	w := newWorld(t, func(c *gateway.Config) { c.RequireStaffPasskeys = true })
	// The account service holds the same rule in a real deployment; here
	// the admins service is the stack's, without it, so the gateway's
	// session rule is what is tested.
	root := w.admin("root")
	if e := root.call(get, "/v1/admin/departments", nil, http.StatusForbidden).apiError(); e.Code != accounts.CodePasskeyRequired {
		t.Fatalf("a password session reads the registry: %+v", e)
	}
	var me struct {
		Must bool   `json:"must_register_passkey"`
		Auth string `json:"auth_method"`
	}
	root.call(get, "/v1/admin/me", nil, http.StatusOK).decode(&me)
	if !me.Must {
		t.Fatalf("me.Must is false; me: %+v", me)
	}
	if me.Auth != accounts.AuthPassword {
		t.Fatalf("me.Auth = %v, want accounts.AuthPassword; me: %+v", me.Auth, me)
	}
	cred := registerPasskey(t, root, "/v1/admin", passkeytest.ES256)
	byKey := passkeySignIn(t, w, "/v1/admin", cred)
	byKey.call(get, "/v1/admin/departments", nil, http.StatusOK)
	byKey.call(get, "/v1/admin/me", nil, http.StatusOK).decode(&me)
	if me.Must {
		t.Fatalf("me.Must is true; me with a passkey: %+v", me)
	}
	if me.Auth != accounts.AuthPasskey {
		t.Fatalf("me.Auth = %v, want accounts.AuthPasskey; me with a passkey: %+v", me.Auth, me)
	}
}
