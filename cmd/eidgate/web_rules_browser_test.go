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

	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/web/webtest"
)

// browserStandingRule: a resident with a passkey picks "Employers' HR may
// verify my degree for employment", confirms its exact terms and signs
// them with the passkey; the HR bureau's next resolve succeeds without a
// consent request and the portal's log says which rule allowed it (its id
// only in the details); the resident revokes it with the passkey after a
// dialog that says what happens, and the next resolve is refused (the
// department must ask again). Then the
// HR bureau reads the rule from the ledger with its own identity and
// checks the resident's signatures offline, as `eidgate verify` does. Times
// follow the zone the resident chose.
func browserStandingRule(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	base = strings.Replace(base, "://127.0.0.1:", "://localhost:", 1)
	const who = 0 // 王小明 holds a degree
	r := s.demo.Residents[who]
	res := browser.Tab(t, base)
	virtualAuthenticator(t, res)
	signInResident(res, r)
	res.SwitchLang("en")
	res.Open("/portal/security")
	click(res, "add a passkey", "button[data-passkey-register]")
	waitLocation(t, res, "/portal/security?done=passkey_added")
	res.Fill(map[string]string{"time_zone": "Asia/Tokyo"})
	res.Submit("save the time zone", `form[action="/portal/time-zone"] button`)
	if loc := res.Location(); loc != "/portal/security?done=time_zone" {
		t.Fatalf("after saving the zone at %s: %s", loc, res.Text("main"))
	}
	mustHave(t, res.Text("main"), "Asia/Tokyo")

	res.Open("/portal/rules")
	mustHave(t, res.Text("main"), "Employers' HR may verify my degree for employment", "You have no active standing rule")
	res.Navigation("choose the common choice", chromedp.Click(chromedp.CSS(`a[data-preset="employer-degree"]`)))
	if res.Eval(`String(document.querySelector('input[name="roles"][value="employer-hr"]').checked)`) != "true" ||
		res.Eval(`String(document.querySelector('input[name="data_types"][value="edu.degree"]').checked)`) != "true" {
		t.Fatalf("the choice did not fill the form: %s", res.Text("main"))
	}
	res.Fill(map[string]string{"f-uses": "3", "f-note": "Degree check for jobs"})
	res.Screenshot("portal-rules-new-en")
	res.Submit("review the rule", `#new form button[type=submit]`)
	mustHave(t, res.Text("#rule-statement"), "employers' HR departments", "Degree certificate", "employment", "at most 3 times", "JST")
	res.Screenshot("portal-rule-confirm-en")
	click(res, "approve with the passkey", "#rule-approve")
	waitLocation(t, res, "/portal/rules?done=rule_created")
	id := res.Eval(`document.querySelector("article[data-rule]").dataset.rule`)
	card := res.Text(`article[data-rule="` + id + `"]`)
	mustHave(t, card, "Degree check for jobs", "signed with your passkey: anyone can check it", "used 0 of at most 3 times", "Download the proof")
	if strings.Contains(card, id) {
		t.Errorf("the rule's card shows its id outside the details: %q", card)
	}
	res.Screenshot("portal-rules-active-en")

	// The HR bureau's resolve succeeds without a request.
	requests := func() int {
		l := s.do(s.dept("hrss"), http.MethodGet, "/v1/consents", nil)
		list, _ := l.body["consents"].([]any)
		return len(list)
	}
	before := requests()
	got := s.resolveDegree(who)
	if got.status != http.StatusOK || got.str("consent_id") != id {
		t.Fatalf("resolve under the rule: %d %v", got.status, got.body)
	}
	if after := requests(); after != before {
		t.Fatalf("the resolve opened a consent request: %d → %d", before, after)
	}
	res.Open("/portal/access")
	row := res.Text("table.access-log tbody tr")
	mustHave(t, row, "Allowed by your standing rule “Degree check for jobs”", "JST")
	if strings.Contains(row, id) {
		t.Errorf("the log shows the rule id outside the details: %q", row)
	}
	res.Do("open the details", chromedp.Click(chromedp.CSS(`table.access-log tbody tr details.codes summary`)))
	mustHave(t, res.Text(`table.access-log tbody tr details.codes`), "Standing rule id", id)
	res.Screenshot("portal-access-rule-en")

	// Revoke, signed, after the dialog says what happens.
	res.Open("/portal/rules")
	mustHave(t, res.Text(`article[data-rule="`+id+`"]`), "used 1 of at most 3 times")
	res.Do("open the revoke dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/revoke"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-rrevoke-"+id)))
	mustHave(t, res.Text("#dlg-rrevoke-"+id), "will need your consent again", "Uses already made stay in your access log", "takes effect at once", "passkey will sign the revocation")
	res.Screenshot("portal-rule-revoke-dialog-en")
	res.Do("confirm with the passkey", chromedp.Click(chromedp.CSS("#dlg-rrevoke-"+id+" button[data-dialog=confirm]")))
	waitLocation(t, res, "/portal/rules?done=rule_revoked")
	mustHave(t, res.Text(`article[data-rule="`+id+`"]`), "revoked by you")
	res.OK("standing rule")
	// Without the rule the department must ask again (consent_required),
	// or wait out an earlier refusal (consent_revoked), as before it.
	if got := s.resolveDegree(who); got.status != http.StatusForbidden || !strings.HasPrefix(got.errCode(), "consent_") {
		t.Fatalf("resolve after the rule's revocation: %d %v", got.status, got.body)
	}

	// The separate check, from the ledger with the HR bureau's identity.
	proof := ruleProofFromLedger(t, s, "hrss", id)
	rep := approval.VerifyRule(proof)
	if !rep.Valid || !rep.SignedByResident || !rep.Creation.Verified || rep.Revoke == nil || !rep.Revoke.Verified {
		t.Fatalf("the rule on the ledger does not verify: %+v creation %+v revocation %+v", rep, rep.Creation, rep.Revoke)
	}
	if rep.Terms.MaxUses != 3 || len(rep.Terms.Roles) != 1 || rep.Terms.Roles[0] != "employer-hr" || rep.Terms.Note != "Degree check for jobs" {
		t.Fatalf("signed terms: %+v", rep.Terms)
	}
	file := filepath.Join(t.TempDir(), "rule-proof.json")
	raw, _ := json.Marshal(proof)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "verify", "--offline", file); code != 0 || !strings.Contains(out, `"signed_by_resident": true`) {
		t.Fatalf("eidgate verify --offline: exit %d\n%s\n%s", code, out, errOut)
	}
	proof.Rule.MaxUses = 0
	raw, _ = json.Marshal(proof)
	_ = os.WriteFile(file, raw, 0o600)
	if code, out, _ := runCLI(t, "verify", "--offline", file); code != 1 || !strings.Contains(out, model.AssertionWrongChallenge) {
		t.Fatalf("eidgate verify accepted wider terms: exit %d\n%s", code, out)
	}
}

// ruleProofFromLedger reads a standing rule and its resident's keys with
// department dept's own ledger identity.
func ruleProofFromLedger(t *testing.T, s *stack, dept, id string) *approval.RuleProof {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := ledgerAs(ctx, t, s, dept, devnet.DepartmentSystemName)
	r, err := lc.GetStandingRule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lc.ListPasskeys(ctx, r.EID)
	if err != nil {
		t.Fatal(err)
	}
	return &approval.RuleProof{Format: approval.RuleProofFormat, Rule: *r, Passkeys: keys,
		Ledger: approval.LedgerRef{Channel: "eidgate", Chaincode: "eidgate", DID: r.EID}, ExportedAt: model.FormatTime(time.Now())}
}
