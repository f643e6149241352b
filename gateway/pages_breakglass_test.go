package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/policies"
)

const pagesLegalBasis = "Emergency Medical Services Law art. 12"

// seedBreakGlass grants hrss break-glass for edu.degree and emergency
// care with no seal (shown to the resident at once) and resolves resident
// i under it; it returns the access id.
func seedBreakGlass(t *testing.T, e *pagesEnv, i int) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.w.policy.AddRule(ctx, "seed", policies.Rule{Subject: "hrss", DataType: "edu.degree", Purpose: "emergency_care", Effect: policies.EffectAllow}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.policy.SetBreakGlass(ctx, "seed", policies.Grant{Subject: "hrss", DataType: "edu.degree", Purpose: "emergency_care"}); err != nil {
		t.Fatal(err)
	}
	st, out := e.api(http.MethodPost, "/v1/routes/resolve", map[string]any{"subject": map[string]any{"eid": e.w.residentEIDs[i]},
		"data_type": "edu.degree", "purpose": "emergency_care", "break_glass": map[string]any{"legal_basis": pagesLegalBasis}})
	if st != http.StatusOK {
		t.Fatalf("break-glass resolve: %d %v", st, out)
	}
	return out["access_id"].(string)
}

// The console: the policy page lists and sets grants (errors on the
// grant's fields), removing one asks for confirmation first; the
// break-glass page lists accesses with their legal basis, filters by
// review and records a review; the resident's log says in plain words
// that the access was made without consent and names the legal basis.
func TestBreakGlassPages(t *testing.T) {
	e := newPagesEnv(t)
	id := seedBreakGlass(t, e, 0)
	adm := e.adminSignIn("root")

	page := adm.get("/admin/policies")
	mustContain(t, page.body, "emergency_care", `id="grants"`)
	r := adm.submit("/admin/policies", "/admin/policies/break-glass", url.Values{"grant_subject": {"*"}, "grant_data_type": {"edu.degree"},
		"grant_purpose": {"emergency_care"}, "seal_days": {"30"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-grant_subject"`) {
		t.Errorf("grant to every department: %d, error on its field: %v", r.status, strings.Contains(r.body, "e-grant_subject"))
	}
	r = adm.submit("/admin/policies", "/admin/policies/break-glass", url.Values{"grant_subject": {"hrss"}, "grant_data_type": {"edu.*"},
		"grant_purpose": {"criminal_investigation"}, "seal_days": {"90"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("set grant: %d %s", r.status, r.body)
	}
	grants, _ := e.w.policy.BreakGlassGrants(context.Background())
	if len(grants) != 2 {
		t.Fatalf("grants after the form: %+v", grants)
	}
	remove := url.Values{"subject": {"hrss"}, "data_type": {"edu.*"}, "purpose": {"criminal_investigation"}}
	if r := adm.submit("/admin/policies", "/admin/policies/break-glass/delete", remove); r.status != http.StatusOK || !strings.Contains(r.body, "confirmed") {
		t.Fatalf("removal without confirmation: %d", r.status)
	}
	if grants, _ := e.w.policy.BreakGlassGrants(context.Background()); len(grants) != 2 {
		t.Fatal("the grant was removed before confirmation")
	}
	remove.Set("confirmed", "yes")
	if r := adm.submit("/admin/policies", "/admin/policies/break-glass/delete", remove); r.status != http.StatusSeeOther {
		t.Fatalf("confirmed removal: %d %s", r.status, r.body)
	}
	if grants, _ := e.w.policy.BreakGlassGrants(context.Background()); len(grants) != 1 {
		t.Fatalf("grants after removal: %+v", grants)
	}

	list := adm.get("/admin/break-glass?reviewed=no")
	mustContain(t, list.body, id, pagesLegalBasis, `data-reviewed="no"`)
	if r := adm.submit("/admin/break-glass", "/admin/break-glass/"+id+"/review", url.Values{"note": {""}}); r.status != http.StatusBadRequest {
		t.Errorf("review without a note: %d", r.status)
	}
	if r := adm.submit("/admin/break-glass", "/admin/break-glass/"+id+"/review", url.Values{"note": {"ambulance call log matches"}}); r.status != http.StatusSeeOther {
		t.Fatalf("review: %d %s", r.status, r.body)
	}
	if r := adm.get("/admin/break-glass?reviewed=no"); strings.Contains(r.body, id) {
		t.Error("a reviewed access is listed as not reviewed")
	}
	mustContain(t, adm.get("/admin/break-glass?reviewed=yes").body, id, "ambulance call log matches", `data-reviewed="yes"`)

	for lang, plain := range map[string]string{"en": "without asking you", "zh-CN": "未征得您的同意"} {
		b := e.residentSignIn(0)
		b.lang = lang
		mustContain(t, b.get("/portal/access").body, id, plain, pagesLegalBasis)
	}
}
