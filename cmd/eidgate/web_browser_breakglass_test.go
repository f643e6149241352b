package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/web/webtest"
)

// browserBreakGlass: hrss resolves a resident's degree for emergency care
// under a break-glass grant with no seal; the resident's access log shows
// it in plain words with the legal basis, and its proof (a break-glass
// leaf) verifies in the page.
func browserBreakGlass(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	ctx := context.Background()
	pol := s.m.audited.policies
	if _, err := pol.Engine.AddRule(ctx, "test", policies.Rule{Subject: "hrss", DataType: "edu.degree", Purpose: "emergency_care", Effect: policies.EffectAllow}); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Engine.SetBreakGlass(ctx, "test", policies.Grant{Subject: "hrss", DataType: "edu.degree", Purpose: "emergency_care"}); err != nil {
		t.Fatal(err)
	}
	const basis = "Emergency Medical Services Law art. 12; patient unconscious"
	body := resolveBody(s.demo.Residents[1], "edu.degree", "emergency_care")
	body["break_glass"] = map[string]string{"legal_basis": basis}
	r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", body)
	if r.status != http.StatusOK {
		t.Fatalf("break-glass resolve: %d %v", r.status, r.body)
	}
	id := r.str("access_id")

	tab := browser.Tab(t, base)
	signInResident(tab, s.demo.Residents[1])
	tab.SwitchLang("en")
	verify := `button.verify[data-access="` + id + `"]`
	for deadline := time.Now().Add(30 * time.Second); ; {
		tab.Open("/portal/access")
		if tab.Eval(`document.querySelector(`+webtest.JS(verify)+`) ? "yes" : "no"`) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the break-glass access was not anchored in time: %s", tab.Text("main"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustHave(t, tab.Text("#a-"+id), "without asking you", basis)
	tab.Do("verify", chromedp.Click(chromedp.CSS(verify)))
	tab.WaitText("#vr-"+id, "Verified in block")
	tab.Screenshot("portal-access-break-glass-en")
	if strings.Contains(tab.Text("#a-"+id), "Not verified") {
		t.Error("the break-glass proof did not verify")
	}
	tab.OK("break-glass row")
}
