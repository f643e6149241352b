package main

import (
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/web/webtest"
)

// TestBrowserAuditTrail: an administrator issues an API key in the
// console; the officials' acts page lists the act under its filter, with
// the official and, once the audit anchorer has run, its block; the CSV
// export behind the page's link holds the same record.
func TestBrowserAuditTrail(t *testing.T) {
	t.Parallel()
	browser := webtest.Start(t)
	s := startDemo(t, nil)
	dept := s.demo.Departments[0].ID
	adm := browser.Tab(t, s.m.URL())
	adm.SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	adm.SwitchLang("en")
	adm.Open("/admin/departments/" + dept)
	adm.Fill(map[string]string{"f-key_name": "audit trail key"})
	adm.Submit("issue an API key", `form[action="/admin/departments/`+dept+`/apikeys"] button[type=submit]`)
	adm.OK("issue an API key")

	adm.Open("/admin/acts")
	adm.Fill(map[string]string{"f-act": "apikey.issue"})
	adm.Submit("filter by act", `form[action="/admin/acts"] button[type=submit]`)
	adm.OK("filter by act")
	if loc := adm.Location(); !strings.Contains(loc, "act=apikey.issue") {
		t.Fatalf("after filtering at %s", loc)
	}
	if n := adm.Eval(`String(document.querySelectorAll("#acts tbody tr").length)`); n != "1" {
		t.Fatalf("%s rows under the filter, want the one key issued: %s", n, adm.Text("main"))
	}
	row := adm.Text("#acts tbody tr")
	mustHave(t, row, "API key issued", "admin:"+s.demo.Admin.Username, dept, "Done")

	// The audit anchorer runs every 250 ms: reload until the act is on the ledger.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(adm.Text("#acts tbody tr"), "block") {
		if time.Now().After(deadline) {
			t.Fatalf("the act was not anchored within 20 s: %s", adm.Text("#acts tbody tr"))
		}
		time.Sleep(300 * time.Millisecond)
		adm.Open(adm.Location())
	}
	adm.Screenshot("admin-acts-en")

	csv := adm.Eval(`fetch(document.querySelector('a[href*="format=csv"]').href).then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "seq,id,at") || !strings.Contains(lines[1], "apikey.issue") ||
		strings.Contains(csv, "egk_") {
		t.Errorf("CSV export under the filter = %q", csv)
	}
	adm.SwitchLang("zh-CN")
	mustHave(t, adm.Text("#acts tbody tr"), "签发 API 密钥")
	adm.OK("acts")
}
