package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/web/webtest"
)

// No pestering, as a resident lives it: a department's resolve puts a
// request in the inbox (its count on the navigation), the resident denies
// it in the portal, and the department's next resolve for that data type
// and purpose answers 403 consent_denied with the time it may ask again —
// and opens no new request: the inbox stays empty, the badge gone, and
// the access log names the refusal in words.
func browserNoPestering(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	r := s.demo.Residents[2]
	ask := func() reply {
		return s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(r, "civil.household", "social_assistance"))
	}
	first := ask()
	id := first.str("error", "details", "consent_id")
	if first.status != http.StatusForbidden || first.errCode() != "consent_required" || id == "" {
		t.Fatalf("first resolve: %d %v", first.status, first.body)
	}
	res := browser.Tab(t, base)
	signInResident(res, r)
	res.SwitchLang("en")
	res.Open("/portal/inbox")
	if badge := res.Text(`a[href="/portal/inbox"] .badge`); !strings.HasPrefix(badge, "1") && !strings.HasPrefix(badge, "2") {
		t.Fatalf("inbox badge %q", badge)
	}
	res.Submit("deny", `form[action="/portal/consents/`+id+`/deny"] button`)
	res.OK("deny")

	again := ask()
	if again.status != http.StatusForbidden || again.errCode() != "consent_denied" || again.str("error", "details", "retry_after") == "" {
		t.Fatalf("resolve after the denial: %d %v", again.status, again.body)
	}
	ask() // asking once more adds to the same row of the log
	res.Open("/portal/inbox")
	if strings.Contains(res.Text("main"), "civil") || strings.Contains(res.Eval(`document.body.innerHTML`), `/consents/`+id+`/`) {
		t.Errorf("the denied request, or a new one, is in the inbox: %s", res.Text("main"))
	}
	n := 0
	list, _ := s.do(s.resident(2), http.MethodGet, "/v1/me/consents", nil).body["consents"].([]any)
	for _, c := range list {
		if types, _ := c.(map[string]any)["data_types"].([]any); len(types) == 1 && types[0] == "civil.household" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d requests for the household record, want only the denied one", n)
	}
	res.Open("/portal/access")
	mustHave(t, res.Text("main"), "Refused: you declined", "2 times since", "social assistance")
	res.Screenshot("portal-access-refusals-en")
	res.OK("access log")
}
