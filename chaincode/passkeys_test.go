package chaincode_test

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

const (
	rpID   = "eid.example.gov.cn"
	origin = "https://eid.example.gov.cn"
)

func registration(eid string, c *passkeytest.Credential) model.PasskeyRegistration {
	return model.PasskeyRegistration{EID: eid, CredentialID: c.IDString(), PublicKeyJWK: c.JWK(), RPID: rpID}
}

// addPasskey registers a fresh credential of alg for eid.
func (e *consentEnv) addPasskey(eid, alg string) (*passkeytest.Credential, model.Passkey) {
	c := passkeytest.New(alg, []byte("user-"+eid))
	pk := decode[model.Passkey](e.t, e.ok(e.agent, model.FnRegisterPasskey, registration(eid, c)))
	return c, pk
}

func nonce(s string) string {
	b := make([]byte, 16)
	copy(b, s)
	return base64.RawURLEncoding.EncodeToString(b)
}

// approve signs statement kind over consent cs with c.
func approve(t testingT, kind string, cs model.Consent, signer string, c *passkeytest.Credential, n string, o passkeytest.Options) model.PasskeyApproval {
	d, err := model.ConsentStatement(kind, cs, signer, n).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return c.Assert(rpID, origin, d[:], o).Approval(model.PasskeyMethodID(signer, c.KeyID()), n)
}

type testingT interface {
	Fatal(args ...any)
}

func TestRegisterPasskey(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	c, pk := e.addPasskey(e.a, passkeytest.ES256)
	if pk.ID != e.a+"#"+c.KeyID() {
		t.Fatalf("pk.ID = %v, want e.a+\"#\"+c.KeyID(); passkey: %+v", pk.ID, pk)
	}
	if pk.Status != model.PasskeyActive {
		t.Fatalf("pk.Status = %v, want model.PasskeyActive; passkey: %+v", pk.Status, pk)
	}
	if pk.RegisteredAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("pk.RegisteredAt = %q, want \"2026-03-01T09:00:00Z\"; passkey: %+v", pk.RegisteredAt, pk)
	}
	if pk.RPID != rpID {
		t.Fatalf("pk.RPID = %v, want rpID; passkey: %+v", pk.RPID, pk)
	}
	if pk.PublicKeyJWK != c.JWK() {
		t.Fatalf("pk.PublicKeyJWK = %v, want c.JWK(); passkey: %+v", pk.PublicKeyJWK, pk)
	}
	if pk.CredentialID != c.IDString() {
		t.Fatalf("pk.CredentialID = %v, want c.IDString(); passkey: %+v", pk.CredentialID, pk)
	}
	ed, _ := e.addPasskey(e.a, passkeytest.EdDSA)
	rs, _ := e.addPasskey(e.a, passkeytest.RS256)

	// The DID document names every key, active ones for authentication
	// and assertions.
	res := decode[model.DIDResolution](t, e.ok(e.edu.User, model.FnResolveDID, e.a))
	doc := res.DIDDocument
	if len(doc.VerificationMethod) != 3 {
		t.Fatalf("len(doc.VerificationMethod) = %v, want 3; DID document: %+v", len(doc.VerificationMethod), res)
	}
	if len(doc.Authentication) != 3 {
		t.Fatalf("len(doc.Authentication) = %v, want 3; DID document: %+v", len(doc.Authentication), res)
	}
	if len(doc.AssertionMethod) != 3 {
		t.Fatalf("len(doc.AssertionMethod) = %v, want 3; DID document: %+v", len(doc.AssertionMethod), res)
	}
	if doc.Context[0] != model.IssuerDIDContext {
		t.Fatalf("doc.Context[0] = %v, want model.IssuerDIDContext; DID document: %+v", doc.Context[0], res)
	}
	if len(res.DIDDocumentMetadata.KeyHistory) != 3 {
		t.Fatalf("len(res.DIDDocumentMetadata.KeyHistory) = %v, want 3; DID document: %+v", len(res.DIDDocumentMetadata.KeyHistory), res)
	}
	for _, vm := range doc.VerificationMethod {
		if vm.Type != model.VerificationMethodJWK {
			t.Fatalf("vm.Type = %v, want model.VerificationMethodJWK; verification method %+v", vm.Type, vm)
		}
		if vm.Controller != e.a {
			t.Fatalf("vm.Controller = %v, want e.a; verification method %+v", vm.Controller, vm)
		}
		if _, err := vm.PublicKeyJWK.PublicKey(); err != nil {
			t.Fatalf("%s: %v", vm.ID, err)
		}
	}
	// Any channel member reads the keys.
	if got := decode[[]model.Passkey](t, e.ok(e.hr.User, model.FnListPasskeys, e.a)); len(got) != 3 {
		t.Fatalf("passkeys: %+v", got)
	}
	if got := decode[[]model.Passkey](t, e.ok(e.agent, model.FnListPasskeys, e.b)); len(got) != 0 {
		t.Fatalf("passkeys of b: %+v", got)
	}

	other := passkeytest.New(passkeytest.ES256, nil)
	with := func(f func(*model.PasskeyRegistration)) model.PasskeyRegistration {
		r := registration(e.a, other)
		f(&r)
		return r
	}
	deact := e.newEID(9)
	e.ok(e.agent, model.FnDeactivateEID, deact, "deceased")
	for _, tc := range []struct {
		name string
		reg  model.PasskeyRegistration
		code model.Code
		want string
	}{
		{"twice", registration(e.a, ed), model.CodeConflict, "already registered"},
		{"bad rp id", with(func(r *model.PasskeyRegistration) { r.RPID = "192.168.1.1" }), model.CodeInvalid, "rp_id"},
		{"bad credential id", with(func(r *model.PasskeyRegistration) { r.CredentialID = "a+b" }), model.CodeInvalid, "credential_id"},
		{"P-384", with(func(r *model.PasskeyRegistration) { r.PublicKeyJWK.Crv = "P-384" }), model.CodeInvalid, "P-256"},
		{"off curve", with(func(r *model.PasskeyRegistration) { r.PublicKeyJWK.Y = r.PublicKeyJWK.X }), model.CodeInvalid, "not on P-256"},
		{"short RSA", with(func(r *model.PasskeyRegistration) {
			r.PublicKeyJWK = model.JWK{Kty: "RSA", N: base64.RawURLEncoding.EncodeToString(make([]byte, 64)[1:]), E: "AQAB", Alg: "RS256"}
		}), model.CodeInvalid, "n and e"},
		{"deactivated eID", with(func(r *model.PasskeyRegistration) { r.EID = deact }), model.CodeConflict, "is deactivated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.fail(e.agent, tc.code, []string{tc.want}, model.FnRegisterPasskey, tc.reg)
		})
	}
	e.t = t
	e.fail(e.edu.User, model.CodeForbidden, []string{"agent role"}, model.FnRegisterPasskey, registration(e.a, other))
	e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnRegisterPasskey, registration(e.a, other))

	// Retire one key, then every remaining one (the KYC counter).
	e.l.Advance(time.Hour)
	r := e.ok(e.agent, model.FnRetirePasskeys, e.a, []string{rs.KeyID()}, "removed")
	if got := decode[[]model.Passkey](t, r); len(got) != 1 {
		t.Fatalf("len(got) = %v, want 1; retired: %+v", len(got), got)
	} else if got[0].Status != model.PasskeyRetired {
		t.Fatalf("got[0].Status = %v, want model.PasskeyRetired; retired: %+v", got[0].Status, got)
	} else if got[0].RetiredAt != "2026-03-01T10:00:00Z" {
		t.Fatalf("got[0].RetiredAt = %q, want \"2026-03-01T10:00:00Z\"; retired: %+v", got[0].RetiredAt, got)
	}
	if ch := changes(t, r); len(ch) != 1 {
		t.Fatalf("len(ch) = %v, want 1; event: %+v", len(ch), ch)
	} else if ch[0] != (model.Change{Kind: model.KindPasskey, Op: model.OpRetired, ID: e.a + "#" + rs.KeyID(), EID: e.a}) {
		t.Fatalf("ch[0] = %v, want (model.Change{Kind: model.KindPasskey, Op: model.OpRetired, ID: e.a + \"#\" + rs.KeyID(), EID: e.a}); event: %+v", ch[0], ch)
	}
	if got := decode[[]model.Passkey](t, e.ok(e.agent, model.FnRetirePasskeys, e.a, []string{}, "lost")); len(got) != 2 {
		t.Fatalf("retired all: %+v", got)
	}
	res = decode[model.DIDResolution](t, e.ok(e.nobody, model.FnResolveDID, e.a))
	if len(res.DIDDocument.VerificationMethod) != 3 {
		t.Fatalf("len(res.DIDDocument.VerificationMethod) = %v, want 3; after retiring: %+v", len(res.DIDDocument.VerificationMethod), res.DIDDocument)
	}
	if len(res.DIDDocument.Authentication) != 0 {
		t.Fatalf("len(res.DIDDocument.Authentication) = %v, want 0; after retiring: %+v", len(res.DIDDocument.Authentication), res.DIDDocument)
	}
	if len(res.DIDDocument.AssertionMethod) != 0 {
		t.Fatalf("len(res.DIDDocument.AssertionMethod) = %v, want 0; after retiring: %+v", len(res.DIDDocument.AssertionMethod), res.DIDDocument)
	}
	for _, h := range res.DIDDocumentMetadata.KeyHistory {
		if h.Status != model.PasskeyRetired {
			t.Fatalf("h.Status = %v, want model.PasskeyRetired; history: %+v", h.Status, h)
		}
		if h.RetiredAt == "" {
			t.Fatalf("h.RetiredAt == \"\", want it different; history: %+v", h)
		}
		if h.RetiredReason != "lost" && h.RetiredReason != "removed" {
			t.Fatalf("h.RetiredReason != \"lost\" && h.RetiredReason != \"removed\" holds; history: %+v", h)
		}
	}
	// Nothing left to retire: the call succeeds and changes nothing.
	if r := e.ok(e.agent, model.FnRetirePasskeys, e.a, []string{}, "lost"); writes(r) != 0 {
		t.Fatal("retiring nothing wrote")
	}
	e.fail(e.agent, model.CodeNotFound, []string{"is not registered"}, model.FnRetirePasskeys, e.a, []string{other.KeyID()}, "lost")
	e.fail(e.agent, model.CodeInvalid, []string{"key_ids[0]"}, model.FnRetirePasskeys, e.a, []string{"pk-1"}, "lost")
	e.fail(e.agent, model.CodeInvalid, []string{"reason"}, model.FnRetirePasskeys, e.a, []string{}, "Lost!")
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnRetirePasskeys, e.a, []string{}, "lost")
	_ = c
}

func TestSignedConsent(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{passkeytest.ES256, passkeytest.EdDSA, passkeytest.RS256} {
		t.Run(alg, func(t *testing.T) {
			e := newConsentEnv(t)
			c, pk := e.addPasskey(e.a, alg)
			cs := e.request(e.hr.User, func(r *model.ConsentRequest) { r.DataTypes = []string{"edu.degree"} })
			e.l.Advance(time.Minute)
			a := approve(t, model.StatementConsentGrant, cs, e.a, c, nonce("grant"), passkeytest.Options{})
			r := e.ok(e.agent, model.FnGrantConsentSigned, cs.ID, a)
			got := decode[model.Consent](t, r)
			sig := got.GrantSignature
			if got.Status != model.ConsentActive {
				t.Fatalf("got.Status = %v, want model.ConsentActive; granted: %+v %+v", got.Status, got, sig)
			}
			if got.GrantAssurance != model.AssurancePasskey {
				t.Fatalf("got.GrantAssurance = %v, want model.AssurancePasskey; granted: %+v %+v", got.GrantAssurance, got, sig)
			}
			if got.GrantedWith() != model.AssurancePasskey {
				t.Fatalf("got.GrantedWith() != model.AssurancePasskey; granted: %+v %+v", got, sig)
			}
			if got.DecisionMethod != "passkey" {
				t.Fatalf("got.DecisionMethod = %q, want \"passkey\"; granted: %+v %+v", got.DecisionMethod, got, sig)
			}
			if sig == nil {
				t.Fatalf("sig is nil; granted: %+v %+v", got, sig)
			}
			if sig.Key != pk.ID {
				t.Fatalf("sig.Key = %v, want pk.ID; granted: %+v %+v", sig.Key, got, sig)
			}
			if sig.Signer != e.a {
				t.Fatalf("sig.Signer = %v, want e.a; granted: %+v %+v", sig.Signer, got, sig)
			}
			if sig.SignedAt != got.DecidedAt {
				t.Fatalf("sig.SignedAt = %v, want got.DecidedAt; granted: %+v %+v", sig.SignedAt, got, sig)
			}
			if sig.Statement != model.StatementConsentGrant {
				t.Fatalf("sig.Statement = %v, want model.StatementConsentGrant; granted: %+v %+v", sig.Statement, got, sig)
			}
			if sig.Signature != a.Signature {
				t.Fatalf("sig.Signature = %v, want a.Signature; granted: %+v %+v", sig.Signature, got, sig)
			}
			// The record on the ledger verifies on its own: the statement
			// rebuilt from the consent as stored gives the digest signed.
			st := model.ConsentStatement(model.StatementConsentGrant, got, sig.Signer, sig.Nonce)
			if _, err := model.CheckApproval(pk, st, sig.Approval(), sig.SignedAt); err != nil {
				t.Fatalf("stored grant does not verify: %v", err)
			}
			if ch := changes(t, r); len(ch) != 1 {
				t.Fatalf("len(ch) = %v, want 1; event: %+v", len(ch), ch)
			} else if ch[0].Op != model.OpGranted {
				t.Fatalf("ch[0].Op = %v, want model.OpGranted; event: %+v", ch[0].Op, ch)
			}

			e.l.Advance(time.Minute)
			rv := approve(t, model.StatementConsentRevoke, got, e.a, c, nonce("revoke"), passkeytest.Options{})
			got = decode[model.Consent](t, e.ok(e.agent, model.FnRevokeConsentSigned, cs.ID, rv))
			if got.Status != model.ConsentRevoked {
				t.Fatalf("got.Status = %v, want model.ConsentRevoked; revoked: %+v", got.Status, got)
			}
			if got.RevokedWith() != model.AssurancePasskey {
				t.Fatalf("got.RevokedWith() != model.AssurancePasskey; revoked: %+v", got)
			}
			if got.RevokeSignature == nil {
				t.Fatalf("got.RevokeSignature is nil; revoked: %+v", got)
			}
			if got.GrantSignature == nil {
				t.Fatalf("got.GrantSignature is nil; revoked: %+v", got)
			}
			if got.RevokeSignature.Statement != model.StatementConsentRevoke {
				t.Fatalf("got.RevokeSignature.Statement = %v, want model.StatementConsentRevoke; revoked: %+v", got.RevokeSignature.Statement, got)
			}
		})
	}
}

// TestSignedConsentRefusals: every bent approval is refused and leaves the
// ledger as it was (e.fail checks the state hash).
func TestSignedConsentRefusals(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	c, _ := e.addPasskey(e.a, passkeytest.ES256)
	cb, _ := e.addPasskey(e.b, passkeytest.ES256)
	retired, _ := e.addPasskey(e.a, passkeytest.EdDSA)
	e.l.Advance(time.Minute)
	e.ok(e.agent, model.FnRetirePasskeys, e.a, []string{retired.KeyID()}, "lost")
	unregistered := passkeytest.New(passkeytest.ES256, nil)
	cs := e.request(e.hr.User, nil)
	other := e.request(e.hr.User, func(r *model.ConsentRequest) { r.MaxUses = 9 })
	n := nonce("n1")
	good := func() model.PasskeyApproval {
		return approve(t, model.StatementConsentGrant, cs, e.a, c, n, passkeytest.Options{})
	}
	bent := func(o passkeytest.Options) model.PasskeyApproval {
		return approve(t, model.StatementConsentGrant, cs, e.a, c, n, o)
	}
	otherNonce := good()
	otherNonce.Nonce = nonce("n2")
	wrongKey := good()
	wrongKey.Key = model.PasskeyMethodID(e.a, retired.KeyID())
	truncated := good()
	truncated.AuthenticatorData = base64.RawURLEncoding.EncodeToString(make([]byte, 20))
	for _, tc := range []struct {
		name string
		a    model.PasskeyApproval
		code model.Code
		want string
	}{
		{"terms of another consent", approve(t, model.StatementConsentGrant, other, e.a, c, n, passkeytest.Options{}), model.CodeInvalid, model.AssertionWrongChallenge},
		{"a revocation's signature", approve(t, model.StatementConsentRevoke, cs, e.a, c, n, passkeytest.Options{}), model.CodeInvalid, model.AssertionWrongChallenge},
		{"nonce swapped", otherNonce, model.CodeInvalid, model.AssertionWrongChallenge},
		{"another resident's key", approve(t, model.StatementConsentGrant, cs, e.b, cb, n, passkeytest.Options{}), model.CodeForbidden, model.AssertionKeyOfOtherSigner},
		{"unregistered key", approve(t, model.StatementConsentGrant, cs, e.a, unregistered, n, passkeytest.Options{}), model.CodeNotFound, "is not registered"},
		{"retired key", approve(t, model.StatementConsentGrant, cs, e.a, retired, n, passkeytest.Options{}), model.CodeForbidden, model.AssertionKeyNotActive},
		{"signature of another key", wrongKey, model.CodeForbidden, model.AssertionKeyNotActive},
		{"wrong origin", bent(passkeytest.Options{Origin: "https://evil.example"}), model.CodeInvalid, model.AssertionWrongOrigin},
		{"http origin", bent(passkeytest.Options{Origin: "http://eid.example.gov.cn"}), model.CodeInvalid, model.AssertionWrongOrigin},
		{"wrong RP ID", bent(passkeytest.Options{RPID: "example.gov.cn"}), model.CodeInvalid, model.AssertionWrongRPID},
		{"not verified", bent(passkeytest.Options{NoUV: true}), model.CodeInvalid, model.AssertionUserNotVerified},
		{"not present", bent(passkeytest.Options{NoUP: true}), model.CodeInvalid, model.AssertionUserNotPresent},
		{"registration data", bent(passkeytest.Options{Type: "webauthn.create"}), model.CodeInvalid, model.AssertionWrongType},
		{"cross origin", bent(passkeytest.Options{CrossOrigin: true}), model.CodeInvalid, model.AssertionCrossOrigin},
		{"bad signature", bent(passkeytest.Options{BadSig: true}), model.CodeInvalid, model.AssertionBadSignature},
		{"truncated authenticator data", truncated, model.CodeInvalid, model.AssertionMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.fail(e.agent, tc.code, []string{tc.want}, model.FnGrantConsentSigned, cs.ID, tc.a)
		})
	}
	e.t = t
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnGrantConsentSigned, cs.ID, good())
	e.fail(e.agent, model.CodeConflict, []string{"is requested, not active"}, model.FnRevokeConsentSigned, cs.ID,
		approve(t, model.StatementConsentRevoke, cs, e.a, c, n, passkeytest.Options{}))

	// The honest approval still works after all that, once.
	a := good()
	e.ok(e.agent, model.FnGrantConsentSigned, cs.ID, a)
	e.fail(e.agent, model.CodeConflict, []string{"is active, not requested"}, model.FnGrantConsentSigned, cs.ID, a)

	// A password-only grant is marked so.
	pw := decode[model.Consent](t, e.ok(e.agent, model.FnGrantConsent, other.ID, "portal"))
	if pw.GrantAssurance != model.AssurancePassword {
		t.Fatalf("pw.GrantAssurance = %v, want model.AssurancePassword; password grant: %+v", pw.GrantAssurance, pw)
	}
	if pw.GrantSignature != nil {
		t.Fatalf("pw.GrantSignature = %v, want nil; password grant: %+v", pw.GrantSignature, pw)
	}
	if pw.GrantedWith() != model.AssurancePassword {
		t.Fatalf("pw.GrantedWith() != model.AssurancePassword; password grant: %+v", pw)
	}
	pw = decode[model.Consent](t, e.ok(e.agent, model.FnRevokeConsent, other.ID))
	if pw.RevokedWith() != model.AssurancePassword {
		t.Fatalf("password revocation: %+v", pw)
	}
	if !slices.Contains(pw.DataTypes, "edu.degree") {
		t.Fatal("consent lost its data types")
	}
}

// approveRule signs statement kind over standing rule r with c.
func approveRule(t testingT, kind string, r model.StandingRule, signer string, c *passkeytest.Credential, n string, o passkeytest.Options) model.PasskeyApproval {
	d, err := model.RuleStatement(kind, r, signer, n).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return c.Assert(rpID, origin, d[:], o).Approval(model.PasskeyMethodID(signer, c.KeyID()), n)
}

// draftRule is the rule a draft describes, as far as its signed terms go.
func draftRule(d model.RuleDraft) model.StandingRule {
	return model.StandingRule{EID: d.EID, Departments: d.Departments, Roles: d.Roles, DataTypes: d.DataTypes,
		PurposeCode: d.PurposeCode, Note: d.Note, ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil, MaxUses: d.MaxUses}
}
