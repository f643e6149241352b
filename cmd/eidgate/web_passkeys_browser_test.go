package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/mapping/mappingtest"
	"github.com/eidgate/eidgate/web/webtest"
)

// Passkeys in Chromium, with the DevTools protocol's virtual authenticator
// (CTAP 2, internal transport, resident keys, user verification) standing
// in for the person's device. WebAuthn needs a secure context and an RP ID
// that is a host name, so the pages are opened at http://localhost, the
// origin the gateway's relying party defaults to.

// virtualAuthenticator gives the tab's page a platform authenticator that
// holds discoverable credentials and verifies the user.
func virtualAuthenticator(t *testing.T, tb *webtest.Tab) webauthn.AuthenticatorID {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), webtest.StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	r, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return r.AuthenticatorID
}

// credentialsOf lists what the virtual authenticator holds.
func credentialsOf(t *testing.T, tb *webtest.Tab, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	r, err := chromedp.Call(tb.Context(), webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatal(err)
	}
	return r.Credentials
}

// waitLocation waits until the page is at want (a passkey ceremony ends in
// a script's navigation, not a form's).
func waitLocation(t *testing.T, tb *webtest.Tab, want string) {
	t.Helper()
	deadline := time.Now().Add(webtest.StepTimeout)
	for {
		got := tb.Location()
		if got == want && tb.Eval(`document.readyState`) == "complete" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page stayed at %s (want %s): %s", got, want, tb.Text("main"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func click(tb *webtest.Tab, step, sel string) {
	tb.Do(step, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// browserPasskeys: a resident registers a passkey, signs in with it alone,
// signs a consent grant and its revocation in the confirmation dialog; the
// signed consent is then read from the ledger by the requesting
// department's own identity and checked offline, and `eidgate verify`
// checks the proof file. A staff member does the same in the console and
// sees the consent's signature verified on the auditors' page.
func browserPasskeys(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	base = strings.Replace(base, "://127.0.0.1:", "://localhost:", 1)
	r := s.demo.Residents[3]

	res := browser.Tab(t, base)
	auth := virtualAuthenticator(t, res)
	signInResident(res, r)
	res.SwitchLang("en")
	res.Open("/portal/security")
	mustHave(t, res.Text("main"), "You have no passkey yet", "DID document on the ledger")
	res.Screenshot("portal-security-empty-en")
	click(res, "add a passkey", "button[data-passkey-register]")
	waitLocation(t, res, "/portal/security?done=passkey_added")
	mustHave(t, res.Text("main"), "Passkey added", "In use", "On the ledger as")
	res.Screenshot("portal-security-passkey-en")
	held := credentialsOf(t, res, auth)
	if len(held) != 1 {
		t.Fatalf("len(held) = %v, want 1; the authenticator holds %+v, want one discoverable credential for localhost", len(held), held)
	}
	if !held[0].IsResidentCredential {
		t.Fatalf("held[0].IsResidentCredential is false; the authenticator holds %+v, want one discoverable credential for localhost", held)
	}
	if held[0].RpID != "localhost" {
		t.Fatalf("held[0].RpID = %q, want \"localhost\"; the authenticator holds %+v, want one discoverable credential for localhost", held[0].RpID, held)
	}
	res.OK("register a passkey")

	// Sign out, then in again with the passkey alone: no document, no
	// password.
	res.Submit("sign out", "form.logout button")
	res.Open("/portal/login")
	click(res, "sign in with a passkey", "button[data-passkey-login]")
	waitLocation(t, res, "/portal")
	mustHave(t, res.Text("main"), r.EID)
	res.OK("passkey sign-in")

	// civil-affairs asks for the resident's employment record; the
	// resident signs the grant in the dialog.
	civil := s.dept("civil-affairs")
	rq := s.do(civil, http.MethodPost, "/v1/consents", map[string]any{
		"eid": r.EID, "data_types": []string{"hrss.employment"}, "purpose_code": "social_assistance",
		"purpose_text": "Check employment for social assistance", "max_uses": 2,
		"valid_until": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if rq.status != http.StatusCreated {
		t.Fatalf("consent request: %d %v", rq.status, rq.body)
	}
	id := rq.str("id")
	res.Open("/portal/inbox")
	res.Do("open the dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/grant"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	mustHave(t, res.Text("#dlg-grant-"+id), "You will confirm with your passkey")
	res.Screenshot("portal-inbox-sign-en")
	res.Do("confirm with the passkey", chromedp.Click(chromedp.CSS("#dlg-grant-"+id+" button[data-dialog=confirm]")))
	waitLocation(t, res, "/portal/inbox?done=granted")
	res.OK("signed grant")
	res.Open("/portal/consents")
	card := res.Text(`article[aria-labelledby="c-` + id + `"]`)
	mustHave(t, card, "signed with your passkey: anyone can check it", "Download the proof")
	res.Screenshot("portal-consents-signed-en")

	resolve := map[string]any{"subject": map[string]string{"eid": r.EID}, "data_type": "hrss.employment", "purpose": "social_assistance"}
	if got := s.do(civil, http.MethodPost, "/v1/routes/resolve", resolve); got.status != http.StatusOK {
		t.Fatalf("resolve after the signed grant: %d %v", got.status, got.body)
	}

	// The revocation, signed the same way.
	res.Do("open the revoke dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/revoke"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-revoke-"+id)))
	res.Do("confirm with the passkey", chromedp.Click(chromedp.CSS("#dlg-revoke-"+id+" button[data-dialog=confirm]")))
	waitLocation(t, res, "/portal/consents?done=revoked")
	res.OK("signed revocation")
	if got := s.do(civil, http.MethodPost, "/v1/routes/resolve", resolve); got.status != http.StatusForbidden {
		t.Fatalf("resolve after the signed revocation: %d %v", got.status, got.body)
	}

	// The separate check: civil-affairs reads the consent and the
	// resident's keys from the ledger with its own identity, not through
	// the gateway, and checks the signatures offline.
	proof := proofFromLedger(t, s, "civil-affairs", id)
	rep := approval.Verify(proof)
	if !rep.Valid {
		t.Fatalf("rep.Valid is false; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if !rep.SignedByResident {
		t.Fatalf("rep.SignedByResident is false; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if rep.Grant == nil {
		t.Fatalf("rep.Grant is nil; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if !rep.Grant.Verified {
		t.Fatalf("rep.Grant.Verified is false; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if rep.Revoke == nil {
		t.Fatalf("rep.Revoke is nil; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if !rep.Revoke.Verified {
		t.Fatalf("rep.Revoke.Verified is false; the consent on the ledger does not verify: %+v grant %+v revocation %+v", rep, rep.Grant, rep.Revoke)
	}
	if rep.Terms.Requester != "civil-affairs" {
		t.Fatalf("rep.Terms.Requester = %q, want \"civil-affairs\"; signed terms: %+v", rep.Terms.Requester, rep.Terms)
	}
	if rep.Terms.MaxUses != 2 {
		t.Fatalf("rep.Terms.MaxUses = %v, want 2; signed terms: %+v", rep.Terms.MaxUses, rep.Terms)
	}
	if rep.Terms.PurposeText != "Check employment for social assistance" {
		t.Fatalf("rep.Terms.PurposeText = %q, want \"Check employment for social assistance\"; signed terms: %+v", rep.Terms.PurposeText, rep.Terms)
	}
	// ... and eidgate verify checks the same proof file without anything else.
	file := filepath.Join(t.TempDir(), "proof.json")
	raw, _ := json.Marshal(proof)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "verify", "--offline", file)
	if code != 0 || !strings.Contains(out, `"signed_by_resident": true`) {
		t.Fatalf("eidgate verify --offline: exit %d\n%s\n%s", code, out, errOut)
	}
	proof.Consent.MaxUses = 20
	raw, _ = json.Marshal(proof)
	_ = os.WriteFile(file, raw, 0o600)
	if code, out, _ := runCLI(t, "verify", "--offline", file); code != 1 || !strings.Contains(out, model.AssertionWrongChallenge) {
		t.Fatalf("eidgate verify accepted other terms: exit %d\n%s", code, out)
	}

	// Staff: a passkey in the console, then a sign-in with it, then the
	// consent's page for auditors.
	adm := browser.Tab(t, base)
	staffAuth := virtualAuthenticator(t, adm)
	adm.SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	adm.SwitchLang("en")
	adm.Open("/admin/security")
	click(adm, "add a staff passkey", "button[data-passkey-register]")
	waitLocation(t, adm, "/admin?done=staff_passkey_added")
	if held := credentialsOf(t, adm, staffAuth); len(held) != 1 {
		t.Fatalf("the staff authenticator holds %d credentials", len(held))
	}
	adm.Submit("sign out", "form.logout button")
	adm.Open("/admin/login")
	click(adm, "sign in with a passkey", "button[data-passkey-login]")
	waitLocation(t, adm, "/admin")
	adm.Open("/admin/consents/" + id)
	mustHave(t, adm.Text("main"), "signed by the resident's passkey", "The signature verifies with the resident's key on the ledger.",
		"The record matches the ledger.")
	adm.Screenshot("admin-consent-signed-en")
	adm.OK("staff passkey")
}

// proofFromLedger builds a consent proof from what a department's own
// ledger client reads: the consent and the resident's passkeys.
func proofFromLedger(t *testing.T, s *stack, dept, id string) *approval.ConsentProof {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := ledgerAs(ctx, t, s, dept, devnet.DepartmentSystemName)
	c, err := lc.GetConsent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lc.ListPasskeys(ctx, c.EID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := lc.ResolveDID(ctx, c.EID)
	if err != nil {
		t.Fatalf("err = %v, want nil; the resident's DID document names %+v, the ledger holds %d passkeys (%v)", err, res, len(keys), err)
	}
	if len(res.DIDDocument.VerificationMethod) != len(keys) {
		t.Fatalf("len(res.DIDDocument.VerificationMethod) = %v, want len(keys); the resident's DID document names %+v, the ledger holds %d passkeys (%v)", len(res.DIDDocument.VerificationMethod), res, len(keys), err)
	}
	return &approval.ConsentProof{Format: approval.ProofFormat, Consent: *c, Passkeys: keys,
		Ledger: approval.LedgerRef{Channel: "eidgate", Chaincode: "eidgate", DID: c.EID}, ExportedAt: model.FormatTime(time.Now())}
}

// ledgerAs is a ledger client of identity name of org on the stack's
// ledger, dialled directly, not through the gateway; closed with the test.
func ledgerAs(ctx context.Context, t *testing.T, s *stack, org, name string) *ledger.Client {
	t.Helper()
	prof, err := s.m.peer.Profile(org, name)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ledger.Dial(ctx, prof)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close() })
	return lc
}

// browserPasskeyActivation: a new resident activates with a passkey and no
// password, signs in with it; then, having lost it, gets a new activation
// code at the counter, after which the old passkey signs nothing in and is
// retired on the ledger.
func browserPasskeyActivation(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	base = strings.Replace(base, "://127.0.0.1:", "://localhost:", 1)
	officer := s.admin()
	number := mappingtest.ResidentNumber(913)
	created := s.do(officer, http.MethodPost, "/v1/admin/eids", map[string]any{
		"documents": []map[string]string{{"type": "cn-resident", "number": number}}})
	if created.status != http.StatusCreated {
		t.Fatalf("KYC: %d %v", created.status, created.body)
	}
	eid, code := created.str("eid"), created.str("activation_code")

	tb := browser.Tab(t, base)
	virtualAuthenticator(t, tb)
	tb.Open("/portal/activate")
	tb.SwitchLang("en")
	tb.Fill(map[string]string{"f-type": "cn-resident", "f-number": number, "f-code": code})
	tb.Screenshot("portal-activate-passkey-en")
	click(tb, "activate with a passkey", "button[data-passkey-activate]")
	waitLocation(t, tb, "/portal?done=activated")
	mustHave(t, tb.Text("main"), eid)
	tb.Open("/portal/security")
	mustHave(t, tb.Text("main"), "In use")
	tb.OK("activate with a passkey")
	// No password was set: the passkey is the only way in, so it stays.
	tb.Expect(http.StatusConflict)
	tb.Submit("remove the only passkey", `form[action="/portal/passkeys/remove"] button`)
	mustHave(t, tb.Text("#error-summary"), "This is your only way to sign in")
	tb.OK("keep the last passkey")

	tb.Submit("sign out", "form.logout button")
	tb.Open("/portal/login")
	click(tb, "sign in with a passkey", "button[data-passkey-login]")
	waitLocation(t, tb, "/portal")
	tb.OK("passkey sign-in after activation")

	// Lost: the counter issues a new code, which revokes the passkey and
	// ends the session.
	if r := s.do(officer, http.MethodPost, "/v1/admin/eids/"+eid+"/activation-code", nil); r.status != http.StatusCreated {
		t.Fatalf("new activation code: %d %v", r.status, r.body)
	}
	tb.Open("/portal")
	if loc := tb.Location(); loc != "/portal/login" {
		t.Fatalf("the session outlived the new activation code: at %s", loc)
	}
	tb.Expect(http.StatusUnauthorized)
	click(tb, "sign in with the revoked passkey", "button[data-passkey-login]")
	tb.WaitText("[data-passkey-status]", "This passkey is not registered here or was removed.")
	tb.Screenshot("portal-login-revoked-passkey-en")
	tb.OK("revoked passkey refused")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := ledgerAs(ctx, t, s, "civil-affairs", devnet.DepartmentSystemName)
	res, err := lc.ResolveDID(ctx, eid)
	if err != nil {
		t.Fatalf("err = %v, want nil; the lost passkey on the ledger: %+v %v", err, res, err)
	}
	if len(res.DIDDocument.VerificationMethod) != 1 {
		t.Fatalf("len(res.DIDDocument.VerificationMethod) = %v, want 1; the lost passkey on the ledger: %+v %v", len(res.DIDDocument.VerificationMethod), res, err)
	}
	if len(res.DIDDocument.Authentication) != 0 {
		t.Fatalf("len(res.DIDDocument.Authentication) = %v, want 0; the lost passkey on the ledger: %+v %v", len(res.DIDDocument.Authentication), res, err)
	}
	if res.DIDDocumentMetadata.KeyHistory[0].Status != model.PasskeyRetired {
		t.Fatalf("res.DIDDocumentMetadata.KeyHistory[0].Status = %v, want model.PasskeyRetired; the lost passkey on the ledger: %+v %v", res.DIDDocumentMetadata.KeyHistory[0].Status, res, err)
	}
	if res.DIDDocumentMetadata.KeyHistory[0].RetiredReason != "lost" {
		t.Fatalf("res.DIDDocumentMetadata.KeyHistory[0].RetiredReason = %q, want \"lost\"; the lost passkey on the ledger: %+v %v", res.DIDDocumentMetadata.KeyHistory[0].RetiredReason, res, err)
	}
}
