package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/chaincode/model"
)

// An administrator gives the HR bureau the employer-hr role in the console
// (on the ledger, audited); the resident then approves "Employers' HR may
// verify my degree" without scripts (password-only): first the exact terms,
// then the rule. The bureau's resolve needs no request, the access log names
// the rule in plain words (its id only under the details) in the zone the
// resident chose, and the revocation first says what will happen.
func TestStandingRulePages(t *testing.T) {
	e := newPagesEnv(t)
	ctx := context.Background()
	adm := e.adminSignIn("root")
	r := adm.submit("/admin/departments/hrss", "/admin/departments/hrss", url.Values{
		"name": {"市人力资源和社会保障局"}, "name_en": {"Human Resources and Social Security Bureau"},
		"endpoints": {"https://hrss.example.gov.cn/records"}, "roles": {"employer-hr"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("setting the role: %d\n%s", r.status, r.body)
	}
	if d, _ := e.w.ledger.GetDepartment(ctx, "hrss"); len(d.Roles) != 1 || d.Roles[0] != "employer-hr" {
		t.Fatalf("roles on the ledger: %+v", d)
	}
	acts, err := e.w.trail.List(ctx, audit.Filter{Act: audit.ActDepartmentUpdate})
	if err != nil || len(acts) == 0 || !strings.Contains(string(acts[0].After), "employer-hr") {
		t.Fatalf("the role change is not an audit record: %+v %v", acts, err)
	}
	bad := adm.submit("/admin/departments/hrss", "/admin/departments/hrss", url.Values{
		"name": {"市人力资源和社会保障局"}, "endpoints": {"https://hrss.example.gov.cn/records"}, "roles": {"Employer HR"}})
	if bad.status != http.StatusBadRequest {
		t.Fatalf("a malformed role: %d", bad.status)
	}

	b := e.residentSignIn(0)
	b.lang = "en"
	page := b.get("/portal/rules")
	mustContain(t, page.body, "Employers&#39; HR may verify my degree for employment", "You have no active standing rule", "employers&#39; HR departments")
	mustNotContain(t, page.body, "Hospitals may read my allergy list") // no hospital and no allergy data here
	page = b.get("/portal/rules?preset=employer-degree")
	mustContain(t, page.body, `name="roles" value="employer-hr" checked`, `name="data_types" value="edu.degree" checked`)

	form := url.Values{"csrf": {b.csrf("/portal/rules")}, "roles": {"employer-hr"}, "data_types": {"edu.degree"},
		"purpose_code": {"hiring"}, "days": {"90"}, "max_uses": {"0"}}
	if r := b.post("/portal/rules", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Enter a whole number of at least 1") {
		t.Fatalf("zero uses: %d", r.status)
	}
	form.Set("max_uses", "2")
	form.Set("days", "7")
	if r := b.post("/portal/rules", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Choose how long the rule lasts") {
		t.Fatalf("an unoffered period: %d", r.status)
	}
	form.Set("days", "90")
	form.Set("purpose_code", "marketing")
	if r := b.post("/portal/rules", form); r.status != http.StatusForbidden {
		t.Fatalf("a rule the policy never allows: %d\n%s", r.status, r.body)
	}
	form.Set("purpose_code", "hiring")
	confirm := b.post("/portal/rules", form)
	mustContain(t, confirm.body, "Confirm your standing rule", "You allow employers&#39; HR departments to obtain your Degree certificate",
		"at most 2 times", "with your password only, not signed by you", `name="confirmed" value="yes"`)
	if rules, _ := e.w.ledger.ListStandingRulesByEID(ctx, e.w.residentEIDs[0]); len(rules) != 0 {
		t.Fatalf("an unconfirmed rule was recorded: %+v", rules)
	}
	form.Set("confirmed", "yes")
	form.Set("valid_until", formValue(t, confirm.body, "valid_until"))
	r = b.post("/portal/rules", form)
	if r.status != http.StatusSeeOther || r.location() != "/portal/rules?done=rule_created" {
		t.Fatalf("confirmed rule: %d → %q\n%s", r.status, r.location(), r.body)
	}
	rules, _ := e.w.ledger.ListStandingRulesByEID(ctx, e.w.residentEIDs[0])
	if len(rules) != 1 || rules[0].Roles[0] != "employer-hr" || rules[0].Assurance != model.AssurancePassword || rules[0].MaxUses != 2 {
		t.Fatalf("rules: %+v", rules)
	}
	id := rules[0].ID
	list := b.get(r.location())
	mustContain(t, list.body, "Standing rule approved", "used 0 of at most 2 times", "with your password only, not signed by you", "Revoke",
		"will need your consent again")

	st, out := e.resolve(0)
	if st != http.StatusOK || out["consent_id"] != id {
		t.Fatalf("resolve under the rule: %d %v", st, out)
	}
	if r := b.post("/portal/time-zone", url.Values{"csrf": {b.csrf("/portal/security")}, "time_zone": {"Mars/Olympus"}}); r.status != http.StatusBadRequest {
		t.Fatalf("an unknown zone: %d", r.status)
	}
	if r := b.post("/portal/time-zone", url.Values{"csrf": {b.csrf("/portal/security")}, "time_zone": {"Asia/Tokyo"}}); r.location() != "/portal/security?done=time_zone" {
		t.Fatalf("saving the zone: %d %q", r.status, r.location())
	}
	log := b.get("/portal/access").body
	mustContain(t, log, "Allowed by your standing rule “employers&#39; HR departments may obtain my Degree certificate for hiring”", " JST", id)
	row := log[strings.Index(log, "Allowed by your standing rule"):]
	if strings.Index(row, id) < strings.Index(row, `<details class="codes">`) {
		t.Error("the rule id shows outside the details")
	}

	// Revoking first states what will happen and changes nothing.
	rv := url.Values{"csrf": {b.csrf("/portal/rules")}}
	r = b.post("/portal/rules/"+id+"/revoke", rv)
	mustContain(t, r.body, "From now on employers&#39; HR departments may no longer obtain your Degree certificate", "Uses already made stay in your access log")
	rv.Set("confirmed", "yes")
	if r = b.post("/portal/rules/"+id+"/revoke", rv); r.location() != "/portal/rules?done=rule_revoked" {
		t.Fatalf("revoke: %d %q", r.status, r.location())
	}
	if st, _ := e.resolve(0); st != http.StatusForbidden {
		t.Fatalf("resolve after the revocation: %d", st)
	}
	e.w.anchor() // uses are counted on the ledger as the accesses are anchored
	mustContain(t, b.get("/portal/rules").body, "revoked by you", "used 1 of at most 2 times")
	if r = b.post("/portal/rules/"+id+"/revoke", rv); r.status != http.StatusConflict {
		t.Fatalf("second revoke: %d", r.status)
	}
}

// formValue is the value of the hidden field name in an HTML body.
func formValue(t *testing.T, body, name string) string {
	t.Helper()
	marker := `name="` + name + `" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no field %s", name)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}
