package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/web/webtest"
)

// TestBrowserDisputes: a resident disputes an access from the portal's
// access log ("I did not expect this"); the department that made it
// answers through its API; an auditor records the outcome in the console;
// the resident reads the answer and the outcome in plain words, in both
// languages. Then a separate check: the department reads the dispute from
// the ledger with its own identity and ties it to the anchored access and
// to the words shown.
func TestBrowserDisputes(t *testing.T) {
	t.Parallel()
	browser := webtest.Start(t)
	s := startDemo(t, nil)
	const (
		words  = "I never applied for a job there."
		answer = "You applied for post 42 on our site; we checked your degree for it."
		note   = "The department showed the job application; the check was in order."
	)
	consent := s.requestConsent(1, 3)
	me := s.resident(1)
	if r := s.do(me, http.MethodPost, "/v1/me/consents/"+consent+"/grant", nil); r.status != http.StatusOK {
		t.Fatalf("grant: %d %v", r.status, r.body)
	}
	r := s.resolveDegree(1)
	if r.status != http.StatusOK {
		t.Fatalf("resolve: %d %v", r.status, r.body)
	}
	accessID := r.str("access_id")

	res := browser.Tab(t, s.m.URL())
	signInResident(res, s.demo.Residents[1])
	res.SwitchLang("en")
	link := `a.dispute-link[href="/portal/access/` + accessID + `/dispute"]`
	for deadline := time.Now().Add(30 * time.Second); ; {
		res.Open("/portal/access")
		if res.Eval(`document.querySelector(`+webtest.JS(link)+`) ? "yes" : "no"`) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access was not anchored in time: %s", res.Text("#a-"+accessID))
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.Navigation("open the dispute form", chromedp.Click(chromedp.CSS(link)))
	res.OK("dispute form")
	mustHave(t, res.Text("main"), "I did not expect this", "I never agreed to this", "Degree")
	res.Do("pick a reason", chromedp.Click(chromedp.ID("r-not_consented")))
	res.Do("write the reason", chromedp.SendKeys(chromedp.ID("f-text"), words))
	res.Screenshot("portal-dispute-form-en")
	res.Submit("send the dispute", `form.dispute-form button[type=submit]`)
	res.OK("send the dispute")
	if loc := res.Location(); loc != "/portal/access?done=disputed" {
		t.Fatalf("after the dispute at %s", loc)
	}
	mustHave(t, res.Text("#a-"+accessID), "You disputed this")
	mustHave(t, res.Text("#disputes"), "I never agreed to this", words, "waiting for their answer")

	// The department of the access answers through its API; another
	// department cannot.
	hrss := s.dept("hrss")
	list, _ := s.do(hrss, http.MethodGet, "/v1/disputes?status=open", nil).body["disputes"].([]any)
	id := ""
	for _, d := range list {
		if d, _ := d.(map[string]any); d["access_id"] == accessID {
			id, _ = d["id"].(string)
		}
	}
	if id == "" {
		t.Fatalf("hrss does not see the dispute of %s: %v", accessID, list)
	}
	if r := s.do(s.dept("civil-affairs"), http.MethodPost, "/v1/disputes/"+id+"/answer", map[string]any{"answer": "not ours"}); r.status != http.StatusNotFound {
		t.Fatalf("another department's answer: %d %v", r.status, r.body)
	}
	if r := s.do(hrss, http.MethodPost, "/v1/disputes/"+id+"/answer", map[string]any{"answer": answer}); r.status != http.StatusOK {
		t.Fatalf("answer: %d %v", r.status, r.body)
	}

	// An auditor finds it in the console and records the outcome.
	var auditor *accountsLogin
	for _, u := range s.demo.Staff {
		if u.Role == accounts.RoleAuditor {
			auditor = &accountsLogin{u.Username, u.Password}
		}
	}
	if auditor == nil {
		t.Fatal("the demo has no auditor")
	}
	adm := browser.Tab(t, s.m.URL())
	adm.SignInAdmin(auditor.username, auditor.password)
	adm.SwitchLang("en")
	adm.Open("/admin/disputes")
	adm.Fill(map[string]string{"f-status": "answered", "f-department": "hrss"})
	adm.Submit("filter", `form.filters button[type=submit]`)
	adm.OK("filter")
	if n := adm.Eval(`String(document.querySelectorAll("#disputes tbody tr").length)`); n != "1" {
		t.Fatalf("%s answered disputes of hrss, want 1: %s", n, adm.Text("main"))
	}
	mustHave(t, adm.Text("#disputes"), "I never agreed to this", "Answered, waiting for an auditor")
	adm.Screenshot("admin-disputes-en")
	adm.Navigation("open the dispute", chromedp.Click(chromedp.CSS(`#disputes a[href="/admin/disputes/`+id+`"]`)))
	adm.OK("dispute page")
	mustHave(t, adm.Text("#dispute"), words, answer, accessID)
	adm.Do("pick the outcome", chromedp.Click(chromedp.ID("o-dismissed")))
	adm.Do("write the note", chromedp.SendKeys(chromedp.ID("f-note"), note))
	adm.Submit("record the outcome", `form.close-dispute button[type=submit]`)
	adm.OK("record the outcome")
	if loc := adm.Location(); loc != "/admin/disputes/"+id+"?done=dispute_closed" {
		t.Fatalf("after closing at %s", loc)
	}
	mustHave(t, adm.Text("#dispute"), "Decided", "Dismissed", note)
	if adm.Eval(`document.querySelector("form.close-dispute") ? "yes" : "no"`) != "no" {
		t.Error("a closed dispute still offers the outcome form")
	}

	// The resident reads the answer and the outcome in plain words.
	res.Open("/portal/access")
	card := res.Text("#d-" + id)
	mustHave(t, card, "Dismissed: the auditor found that this access was in order.", answer, note)
	if strings.Contains(card, id) || strings.Contains(card, "not_consented") {
		t.Errorf("the dispute shows codes outside its details: %q", card)
	}
	res.Screenshot("portal-dispute-outcome-en")
	res.SwitchLang("zh-CN")
	mustHave(t, res.Text("#d-"+id), "异议不成立", "审计员的结论")
	res.Screenshot("portal-dispute-outcome-zh-CN")
	res.OK("outcome in Chinese")

	// The separate check, from the ledger with hrss's own identity.
	onChain := disputeFromLedger(t, s, "hrss", id)
	if onChain.Status != model.DisputeClosed || onChain.Outcome != model.DisputeDismissed || onChain.AccessID != accessID ||
		onChain.EID != s.demo.Residents[1].EID || onChain.Reason != "not_consented" {
		t.Fatalf("on the ledger: %+v", onChain)
	}
	for _, d := range []struct{ digest, text string }{
		{onChain.TextDigest, words}, {onChain.AnswerDigest, answer}, {onChain.OutcomeDigest, note},
	} {
		if d.digest != model.TextDigest(d.text) {
			t.Errorf("the ledger's digest %s is not that of %q", d.digest, d.text)
		}
	}
	proof := s.do(s.resident(1), http.MethodGet, "/v1/me/access/"+accessID+"/proof", nil)
	leaf, _ := proof.body["proof"].(map[string]any)
	if proof.body["verified"] != true || leaf["leaf_hash"] != onChain.LeafHash || proof.str("batch_id") != onChain.BatchID {
		t.Errorf("the dispute is not tied to the anchored access: ledger %s in %s, proof %v", onChain.LeafHash, onChain.BatchID, proof.body)
	}
}

// disputeFromLedger reads a dispute as department dept sees it on the
// ledger, with its own identity (not through the gateway).
func disputeFromLedger(t *testing.T, s *stack, dept, id string) model.Dispute {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc := ledgerAs(ctx, t, s, dept, devnet.DepartmentSystemName)
	list, err := lc.ListDisputesByDepartment(ctx, dept)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("dispute %s is not on the ledger for %s: %+v", id, dept, list)
	return model.Dispute{}
}
