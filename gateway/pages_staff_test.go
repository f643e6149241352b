package gateway_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/audit"
)

// TestAdminStaffPages: the administrators' page disables, re-enables,
// re-roles and resets a staff account; the reset member activates with
// the code shown once; the last administrator stays; the officials' acts
// page lists each act.
func TestAdminStaffPages(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	if r := b.submit("/admin/users", "/admin/users", url.Values{"username": {"clerk"}, "password": {"a sufficiently long one"}, "role": {"auditor"}}); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.status)
	}
	if r := b.submit("/admin/users", "/admin/users/clerk/status", url.Values{"action": {"disable"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	mustContain(t, b.get("/admin/users").body, `data-user="clerk"`, "Re-enable")
	if r := b.submit("/admin/users", "/admin/users/clerk/status", url.Values{"action": {"enable"}}); r.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.status)
	}
	if r := b.submit("/admin/users", "/admin/users/clerk/role", url.Values{"role": {"mapping-officer"}}); r.status != http.StatusSeeOther {
		t.Fatalf("role: %d %s", r.status, r.body)
	}
	r := b.submit("/admin/users", "/admin/users/clerk/reset", nil)
	if r.status != http.StatusOK {
		t.Fatalf("reset: %d", r.status)
	}
	m := regexp.MustCompile(`<output id="secret-value"[^>]*>([^<]+)</output>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no code on the reset page:\n%s", r.body)
	}
	clerk := e.browser()
	clerk.lang = "en"
	r = clerk.submit("/admin/activate", "/admin/activate", url.Values{"username": {"clerk"}, "code": {m[1]}, "password": {"a brand new passphrase"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("r.status != http.StatusSeeOther: activation: %d %s\n%s", r.status, r.location(), r.body)
	}
	if !strings.HasPrefix(r.location(), "/admin") {
		t.Fatalf("!strings.HasPrefix(r.location(), \"/admin\"): activation: %d %s\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, clerk.get("/admin/residents").body, "clerk")

	r = b.submit("/admin/users", "/admin/users/root/status", url.Values{"action": {"disable"}})
	if r.status != http.StatusConflict {
		t.Fatalf("disabling the last administrator: %d", r.status)
	}
	mustContain(t, r.body, "last enabled administrator")
	acts := e.adminSignIn("auditor")
	acts.lang = "en"
	body := acts.get("/admin/acts?official=admin%3Aroot").body
	mustContain(t, body, "Staff account disabled", "Staff account re-enabled", "Staff role changed", "Staff account reset", "Failed")
}

// TestProposalPages: with four eyes on deactivations, the console's
// deactivation becomes a proposal shown on the approvals page; the
// proposer sees no buttons on it; another official approves it there.
func TestProposalPages(t *testing.T) {
	e := newPagesEnv(t)
	e.w.trail.SetFourEyes(audit.FourEyes{Store: e.w.db, Acts: map[string]bool{audit.FourEyesDeactivate: true}})
	eid := e.w.residentEIDs[0]
	officer := e.adminSignIn("mapper")
	officer.lang = "en"
	r := officer.submit("/admin/residents/"+eid, "/admin/residents/"+eid+"/deactivate", url.Values{"deactivate_reason": {"resident deceased"}, "confirm": {"yes"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("r.status != http.StatusSeeOther: deactivate under four eyes: %d %s\n%s", r.status, r.location(), r.body)
	}
	if !strings.HasPrefix(r.location(), "/admin/proposals") {
		t.Fatalf("!strings.HasPrefix(r.location(), \"/admin/proposals\"): deactivate under four eyes: %d %s\n%s", r.status, r.location(), r.body)
	}
	page := officer.get("/admin/proposals").body
	mustContain(t, page, "eID deactivated", "Your proposal: another official decides", "admin:mapper")
	mustNotContain(t, page, `value="approve"`)
	root := e.adminSignIn("root")
	root.lang = "en"
	m := regexp.MustCompile(`action="/admin/proposals/(prop_[0-9a-f]+)"`).FindStringSubmatch(root.get("/admin/proposals").body)
	if m == nil {
		t.Fatal("no decision form for another official")
	}
	r = root.submit("/admin/proposals", "/admin/proposals/"+m[1], url.Values{"decision": {"approve"}, "note": {"certificate seen"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("r.status != http.StatusSeeOther: approve: %d %s\n%s", r.status, r.location(), r.body)
	}
	if !strings.Contains(r.location(), "proposal_approved") {
		t.Fatalf("!strings.Contains(r.location(), \"proposal_approved\"): approve: %d %s\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, root.get("/admin/proposals").body, "Approved and done", "certificate seen")
}
