package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/web/webtest"
)

// browserGuardians: an officer registers, in the console, a legal
// representative for a resident (a relation to oneself is refused at its
// field); the representative signs in with a passkey, acts for the ward
// and approves a department's request in the dialog, signing with their
// own passkey; the ward's portal says their guardian decided, in both
// languages. Then a separate check reads the consent, the relation and the
// representative's keys from the ledger with the platform administrator's
// own identity and verifies the signature offline.
func browserGuardians(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	base = strings.Replace(base, "://127.0.0.1:", "://localhost:", 1)
	ward, guardian := s.demo.Residents[1], s.demo.Residents[0]
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")

	adm := browser.Tab(t, base)
	adm.SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	adm.SwitchLang("en")
	adm.Open("/admin/residents/" + ward.EID)
	fill := func(g string) {
		adm.Fill(map[string]string{"f-guardian": g, "f-evidence_reference": "GZ2026-0042"})
		adm.Eval(`(() => { document.getElementById("f-kind").value = "legal_representative";
			document.getElementById("f-evidence_kind").value = "notarised_authorisation";
			document.getElementById("f-valid_until").value = ` + webtest.JS(until) + `; return "set"; })()`)
	}
	fill(ward.EID)
	adm.Expect(http.StatusConflict)
	adm.Submit("register the resident as their own guardian", `#register-guardian button[type=submit]`)
	adm.OK("a relation to oneself is refused")
	mustHave(t, adm.Text("#error-summary"), "A resident cannot be their own guardian.")
	if strings.Contains(adm.Text("main"), "GZ2026-0042") {
		t.Error("the console echoes the evidence number")
	}
	fill(guardian.EID)
	adm.Submit("register the representative", `#register-guardian button[type=submit]`)
	adm.OK("representative registered")
	mustHave(t, adm.Text("main"), "The guardian is registered on the ledger.", "legal representative", "in force", "GZ******42")
	adm.Screenshot("admin-resident-guardian-en")

	// The representative: a passkey of their own, then the ward's request.
	g := browser.Tab(t, base)
	virtualAuthenticator(t, g)
	signInResident(g, guardian)
	g.SwitchLang("en")
	g.Open("/portal/security")
	click(g, "add a passkey", "button[data-passkey-register]")
	waitLocation(t, g, "/portal/security?done=passkey_added")

	civil := s.dept("civil-affairs")
	rq := s.do(civil, http.MethodPost, "/v1/consents", map[string]any{
		"eid": ward.EID, "data_types": []string{"hrss.employment"}, "purpose_code": "social_assistance",
		"purpose_text": "Check employment for social assistance",
		"valid_until":  time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if rq.status != http.StatusCreated {
		t.Fatalf("consent request: %d %v", rq.status, rq.body)
	}
	id := rq.str("id")
	g.Open("/portal/wards")
	mustHave(t, g.Text("main"), "People I act for", "you are their legal representative", "in force")
	g.Screenshot("portal-wards-en")
	click(g, "act for the ward", `a[href="/portal/wards/`+ward.EID+`"]`)
	waitLocation(t, g, "/portal/wards/"+ward.EID)
	mustHave(t, g.Text("main"), "You are acting for someone in your care", "Their open requests", "Civil Affairs")
	g.Do("open the dialog", chromedp.Click(chromedp.CSS(`form[data-consent="`+id+`"][data-sign=grant] button`)), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	mustHave(t, g.Text("#dlg-grant-"+id), "You will confirm with your own passkey")
	g.Screenshot("portal-ward-sign-en")
	g.Do("confirm with the passkey", chromedp.Click(chromedp.CSS("#dlg-grant-"+id+" button[data-dialog=confirm]")))
	waitLocation(t, g, "/portal/wards/"+ward.EID+"?done=granted")
	mustHave(t, g.Text(`article[aria-labelledby="a-`+id+`"]`), "You, as their guardian")
	g.OK("the representative approved for the ward")

	// The ward sees who decided, in both languages.
	w := browser.Tab(t, base)
	signInResident(w, ward)
	w.SwitchLang("en")
	w.Open("/portal/consents")
	mustHave(t, w.Text(`article[aria-labelledby="c-`+id+`"]`), "Your guardian, on your behalf")
	w.Open("/portal/wards")
	mustHave(t, w.Text("main"), "Who may act for me", "Your legal representative")
	w.SwitchLang("zh-CN")
	w.Open("/portal/consents")
	mustHave(t, w.Text(`article[aria-labelledby="c-`+id+`"]`), "您的监护人代您决定")
	w.Screenshot("portal-consents-guardian-zh")
	w.OK("the ward sees who acted")

	// The separate check, from the ledger and not through the gateway.
	proof := guardianProofFromLedger(t, s, id)
	rep := approval.Verify(proof)
	if !rep.Valid || !rep.SignedByGuardian || rep.Guardian != guardian.EID || rep.SignedByResident {
		t.Fatalf("the consent on the ledger: %+v grant %+v", rep, rep.Grant)
	}
	if r := proof.Representations[0]; r.Ward != ward.EID || r.Guardian != guardian.EID || r.Kind != model.RepresentationAgent ||
		strings.Contains(r.Evidence.MaskedRef, "2026-00") || !strings.HasPrefix(r.Evidence.HashedRef, "v") {
		t.Fatalf("the relation on the ledger: %+v", r)
	}
	// A proof of other terms, or without the relation, does not verify.
	proof.Consent.PurposeText = "something else"
	if approval.Verify(proof).Valid {
		t.Fatal("a guardian's signature verified over other terms")
	}
}

// guardianProofFromLedger reads the consent, the relation it names and the
// signer's passkeys with the platform administrator's own ledger client.
func guardianProofFromLedger(t *testing.T, s *stack, id string) *approval.ConsentProof {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := ledgerAs(ctx, t, s, devnet.PlatformOrg, devnet.AdminName)
	c, err := lc.GetConsent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.GrantSignature == nil || c.DecidedUnder == "" || c.DecidedByGuardian != c.GrantSignature.Signer {
		t.Fatalf("consent on the ledger: %+v", c)
	}
	rel, err := lc.GetRepresentation(ctx, c.DecidedUnder)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lc.ListPasskeys(ctx, c.GrantSignature.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return &approval.ConsentProof{Format: approval.ProofFormat, Consent: *c, Passkeys: keys, Representations: []model.Representation{*rel},
		Ledger: approval.LedgerRef{Channel: "eidgate", Chaincode: "eidgate", DID: c.EID}, ExportedAt: model.FormatTime(time.Now())}
}
