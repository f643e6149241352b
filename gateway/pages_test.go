package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/web"
)

func TestPageSecurityHeadersAndCookies(t *testing.T) {
	e := newPagesEnv(t)
	b := e.browser()
	for _, p := range []string{"/portal/login", "/admin/login", "/portal/nowhere", "/static/app.css"} {
		r := b.get(p)
		if got := r.header.Get("Content-Security-Policy"); got != web.CSP {
			t.Errorf("%s: CSP %q", p, got)
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", p, h, got, want)
			}
		}
		if !strings.HasPrefix(p, "/static/") && r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: pages must not be cached, Cache-Control %q", p, r.header.Get("Cache-Control"))
		}
	}
	// The sign-in form's nonce cookie and the session cookie are Secure,
	// HttpOnly and SameSite=Strict.
	b = e.browser()
	r := b.get("/portal/login")
	checkCookie(t, r.header, gateway.FormCookie)
	r = b.post("/portal/login", docForm("", e.w.residentDocs[0], url.Values{"password": {residentPassword}, "csrf": {csrfField.FindStringSubmatch(r.body)[1]}}))
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	checkCookie(t, r.header, gateway.SessionCookie)
}

func checkCookie(t *testing.T, h http.Header, name string) {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie %s: Secure=%v HttpOnly=%v SameSite=%v", name, c.Secure, c.HttpOnly, c.SameSite)
			}
			return
		}
	}
	t.Errorf("no %s cookie was set", name)
}

func TestResidentSignIn(t *testing.T) {
	e := newPagesEnv(t)
	doc := e.w.residentDocs[0]
	for _, tc := range []struct {
		name      string
		form      url.Values
		csrf      string // "" uses the page's token
		status    int
		wantText  string
		signedIn  bool
		fieldAria string
	}{
		{name: "no token", form: docForm("", doc, url.Values{"password": {residentPassword}}), csrf: "-", status: http.StatusForbidden, wantText: "did not come from this site"},
		{name: "forged token", form: docForm("", doc, url.Values{"password": {residentPassword}}), csrf: "AAAA", status: http.StatusForbidden},
		{name: "wrong password", form: docForm("", doc, url.Values{"password": {"not the password"}}), status: http.StatusUnauthorized, wantText: "The document, code or password is not correct."},
		{name: "unknown document", form: docForm("", mapping.Input{Type: "cn-resident", Number: "11010519491231002X"}, url.Values{"password": {"x"}}), status: http.StatusUnauthorized, wantText: "The document, code or password is not correct."},
		{name: "malformed number", form: docForm("", mapping.Input{Type: "cn-resident", Number: "110105194912310021"}, url.Values{"password": {"x"}}), status: http.StatusUnauthorized, wantText: "The document, code or password is not correct."},
		{name: "missing fields", form: url.Values{}, status: http.StatusBadRequest, wantText: "Enter the document number.", fieldAria: `aria-describedby="h-number e-number"`},
		{name: "right password", form: docForm("", doc, url.Values{"password": {residentPassword}}), status: http.StatusSeeOther, signedIn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.lang = "en"
			form := tc.form
			switch tc.csrf {
			case "":
				form.Set("csrf", b.csrf("/portal/login"))
			case "-":
				b.get("/portal/login")
				form.Del("csrf")
			default:
				b.get("/portal/login")
				form.Set("csrf", tc.csrf)
			}
			r := b.post("/portal/login", form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			mustContain(t, r.body, tc.wantText, tc.fieldAria)
			mustNotContain(t, r.body, doc.Number, "11010519491231002X", "110105194912310021")
			if tc.signedIn {
				home := b.get("/portal")
				if home.status != http.StatusOK {
					t.Fatalf("/portal after sign-in: %d", home.status)
				}
				mustContain(t, home.body, e.w.residentEIDs[0], "1101**********1239", "Resident identity card")
				mustNotContain(t, home.body, doc.Number)
			} else if b.get("/portal").status != http.StatusSeeOther {
				t.Error("a failed sign-in left a session")
			}
		})
	}
}

func TestPagesNeedTheRightSession(t *testing.T) {
	e := newPagesEnv(t)
	anon := e.browser()
	for _, p := range []string{"/portal", "/portal/inbox", "/portal/access"} {
		if r := anon.get(p); r.status != http.StatusSeeOther || r.location() != "/portal/login" {
			t.Errorf("anonymous %s: %d → %q", p, r.status, r.location())
		}
	}
	for _, p := range []string{"/admin", "/admin/audit", "/admin/residents"} {
		if r := anon.get(p); r.status != http.StatusSeeOther || r.location() != "/admin/login" {
			t.Errorf("anonymous %s: %d → %q", p, r.status, r.location())
		}
	}
	// A resident's session does not open the console, nor an
	// administrator's the portal.
	if r := e.residentSignIn(0).get("/admin"); r.status != http.StatusSeeOther || r.location() != "/admin/login" {
		t.Errorf("resident on /admin: %d → %q", r.status, r.location())
	}
	if r := e.adminSignIn("root").get("/portal/inbox"); r.status != http.StatusSeeOther || r.location() != "/portal/login" {
		t.Errorf("administrator on /portal/inbox: %d → %q", r.status, r.location())
	}
	// A signed-in resident going to the sign-in page goes home.
	if r := e.residentSignIn(0).get("/portal/login"); r.status != http.StatusSeeOther || r.location() != "/portal" {
		t.Errorf("signed-in resident on /portal/login: %d → %q", r.status, r.location())
	}
}

// The whole consent cycle through the pages, with the department's API
// calls in between.
func TestConsentApproveUseAndRevoke(t *testing.T) {
	e := newPagesEnv(t)
	b := e.residentSignIn(0)
	b.lang = "en"

	if st, out := e.resolve(0); st != http.StatusForbidden {
		t.Fatalf("resolve before consent: %d %v", st, out)
	}
	// The refused resolve opened a request; the department asks for one
	// more explicitly, with a use limit.
	id := e.requestConsent(0, 2)
	inbox := b.get("/portal/inbox")
	mustContain(t, inbox.body, id, "Request from Human Resources and Social Security Bureau", "Degree certificate",
		"核实应聘者学历", "hiring", "at most 2 times", "(30 days)", "You allow Human Resources and Social Security Bureau to obtain your Degree certificate from any department that holds it")

	// Without the dialog (no JavaScript) approving first shows the exact
	// statement and changes nothing.
	form := url.Values{"csrf": {b.csrf("/portal/inbox")}}
	r := b.post("/portal/consents/"+id+"/grant", form)
	if r.status != http.StatusOK {
		t.Fatalf("grant without confirmation: %d\n%s", r.status, r.body)
	}
	mustContain(t, r.body, "Confirm your approval", "for the purpose “核实应聘者学历” (hiring)", `name="confirmed" value="yes"`)
	if c, _ := e.w.ledger.GetConsent(context.Background(), id); c.Status != model.ConsentRequested {
		t.Fatalf("an unconfirmed grant changed the consent to %s", c.Status)
	}
	form.Set("confirmed", "yes")
	r = b.post("/portal/consents/"+id+"/grant", form)
	if r.status != http.StatusSeeOther || r.location() != "/portal/inbox?done=granted" {
		t.Fatalf("confirmed grant: %d → %q\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, b.get(r.location()).body, "Approved. The department may now obtain the data")
	if c, _ := e.w.ledger.GetConsent(context.Background(), id); c.Status != model.ConsentActive || c.DecisionMethod != "portal" {
		t.Fatalf("consent after grant: %s by %q", c.Status, c.DecisionMethod)
	}

	st, out := e.resolve(0)
	if st != http.StatusOK {
		t.Fatalf("resolve after grant: %d %v", st, out)
	}
	accessID := out["access_id"].(string)
	e.w.anchor()
	log := b.get("/portal/access")
	mustContain(t, log.body, accessID, "Human Resources and Social Security Bureau", "from Education Bureau", "Granted", "block ", `data-access="`+accessID+`"`)
	mustNotContain(t, log.body, "hr.clerk.17") // officials appear only as pseudonyms
	if !regexp.MustCompile(`official-[0-9a-f]{16}`).MatchString(log.body) {
		t.Error("the access log shows no official pseudonym")
	}

	consents := b.get("/portal/consents")
	mustContain(t, consents.body, `Active <span class="count">(1)</span>`, "Revoke", "will no longer be able to obtain your Degree certificate")
	form = url.Values{"csrf": {b.csrf("/portal/consents")}, "confirmed": {"yes"}}
	r = b.post("/portal/consents/"+id+"/revoke", form)
	if r.status != http.StatusSeeOther || r.location() != "/portal/consents?done=revoked" {
		t.Fatalf("revoke: %d → %q", r.status, r.location())
	}
	if st, out := e.resolve(0); st != http.StatusForbidden {
		t.Fatalf("resolve after revoke: %d %v", st, out)
	}
	mustContain(t, b.get("/portal/consents").body, `Revoked <span class="count">(1)</span>`)

	// Revoking again is a conflict shown on the page, not a crash.
	r = b.post("/portal/consents/"+id+"/revoke", form)
	if r.status != http.StatusConflict {
		t.Fatalf("second revoke: %d", r.status)
	}
	mustContain(t, r.body, "This consent has changed meanwhile")
}

func TestConsentFormsRefuseForgedRequests(t *testing.T) {
	e := newPagesEnv(t)
	id := e.requestConsent(0, 0)
	b := e.residentSignIn(0)
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{"confirmed": {"yes"}}},
		{"wrong token", url.Values{"confirmed": {"yes"}, "csrf": {"0123456789abcdef"}}},
	} {
		if r := b.post("/portal/consents/"+id+"/grant", tc.form); r.status != http.StatusForbidden {
			t.Errorf("%s: status %d", tc.name, r.status)
		}
	}
	// Another resident cannot decide it: it does not exist for them.
	other := e.browser()
	if r := other.submit("/portal/activate", "/portal/activate", docForm("", e.w.residentDocs[1], url.Values{"code": {"x"}, "password": {"y"}, "password2": {"y"}})); r.status == http.StatusSeeOther {
		t.Fatal("activation with a wrong code succeeded")
	}
	if c, _ := e.w.ledger.GetConsent(context.Background(), id); c.Status != model.ConsentRequested {
		t.Fatalf("a forged grant changed the consent to %s", c.Status)
	}
}

func TestKYCActivationCodeWorksOnce(t *testing.T) {
	e := newPagesEnv(t)
	officer := e.adminSignIn("mapper")
	officer.lang = "en"
	doc := mapping.Input{Type: "cn-resident", Number: "11010519491231002X"}
	passport := mapping.Input{Type: "passport", Number: "L898902C3", Country: "USA"}
	r := officer.submit("/admin/residents", "/admin/residents", docForm("doc2_", passport, docForm("doc1_", doc, nil)))
	if r.status != http.StatusOK {
		t.Fatalf("KYC: %d\n%s", r.status, r.body)
	}
	m := regexp.MustCompile(`<output id="secret-value"[^>]*>([^<]+)</output>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no activation code on the page:\n%s", r.body)
	}
	code := m[1]
	eid := regexp.MustCompile(`did:eidgate:[0-9a-f]{32}`).FindString(r.body)
	mustContain(t, r.body, "This is shown only once", "1101**********002X", "Foreign passport")
	mustNotContain(t, r.body, doc.Number, passport.Number)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("the page with the code may be cached")
	}
	// The resident page lists the documents masked, never the code.
	detail := officer.get("/admin/residents/" + eid)
	mustContain(t, detail.body, "1101**********002X")
	mustNotContain(t, detail.body, code, doc.Number)

	activate := func(b *browser, pw2 string) pageResp {
		return b.submit("/portal/activate", "/portal/activate", docForm("", doc, url.Values{"code": {code}, "password": {"a long new password"}, "password2": {pw2}}))
	}
	resident := e.browser()
	resident.lang = "en"
	if r := activate(resident, "a different one"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "The two passwords are not the same.") {
		t.Fatalf("mismatched passwords: %d", r.status)
	}
	r = activate(resident, "a long new password")
	if r.status != http.StatusSeeOther || r.location() != "/portal?done=activated" {
		t.Fatalf("activation: %d → %q\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, resident.get(r.location()).body, eid, "Your account is activated.")
	again := e.browser()
	again.lang = "en"
	r = activate(again, "a long new password")
	if r.status == http.StatusSeeOther {
		t.Fatal("the activation code worked twice")
	}
	mustContain(t, r.body, "This activation code has already been used.")
	// The new password signs in.
	b := e.browser()
	if r := b.submit("/portal/login", "/portal/login", docForm("", doc, url.Values{"password": {"a long new password"}})); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in with the new password: %d", r.status)
	}
}

func TestLanguageChoice(t *testing.T) {
	e := newPagesEnv(t)
	langOf := func(body string) string {
		return regexp.MustCompile(`<html lang="([^"]+)">`).FindStringSubmatch(body)[1]
	}
	b := e.browser()
	if got := langOf(b.get("/portal/login").body); got != "zh-CN" {
		t.Errorf("default language %s", got)
	}
	b.lang = "en-GB,en;q=0.9"
	if got := langOf(b.get("/portal/login").body); got != "en" {
		t.Errorf("Accept-Language en: %s", got)
	}
	// The switch before sign-in sets a cookie that beats Accept-Language.
	r := b.submit("/portal/login", "/portal/lang", url.Values{"lang": {"zh-CN"}, "next": {"/portal/activate"}})
	if r.status != http.StatusSeeOther || r.location() != "/portal/activate" {
		t.Fatalf("switch: %d → %q", r.status, r.location())
	}
	if got := langOf(b.get("/portal/activate").body); got != "zh-CN" {
		t.Errorf("after switching: %s", got)
	}
	// A signed-in resident's choice is stored with the account and wins
	// on any browser.
	res := e.residentSignIn(0)
	if r := res.submit("/portal", "/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal/access"}}); r.location() != "/portal/access" {
		t.Fatalf("switch: → %q", r.location())
	}
	if lang, _ := e.w.residents.Language(context.Background(), e.w.residentEIDs[0]); lang != "en" {
		t.Fatalf("stored language %q", lang)
	}
	other := e.residentSignIn(0)
	other.lang = "zh-CN"
	if got := langOf(other.get("/portal").body); got != "en" {
		t.Errorf("stored preference not used: %s", got)
	}
	// The switch refuses a forged form and a target off the site.
	if r := b.post("/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal"}}); r.status != http.StatusForbidden {
		t.Errorf("switch without a token: %d", r.status)
	}
	if r := b.submit("/portal/login", "/portal/lang", url.Values{"lang": {"en"}, "next": {"https://evil.example/"}}); r.location() != "/portal" {
		t.Errorf("off-site next: → %q", r.location())
	}
	if r := b.submit("/portal/login", "/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal/../../evil"}}); r.location() != "/portal" {
		t.Errorf("next climbing out of the portal: → %q", r.location())
	}
	if r := b.submit("/portal/login", "/portal/lang", url.Values{"lang": {"fr"}, "next": {"/portal"}}); r.status != http.StatusBadRequest {
		t.Errorf("unknown language: %d", r.status)
	}
}

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/portal/access", "/portal/access"},
		{"/admin/audit?outcome=issued&done=x", "/admin/audit?outcome=issued"},
		{"/admin", "/admin"},
		{"//evil.example/portal", "/portal"},
		{"https://evil.example/admin", "/portal"},
		{"/\\evil.example", "/portal"},
		{"/v1/me", "/portal"},
		{"/portalx", "/portal"},
		{"", "/portal"},
		{"javascript:alert(1)", "/portal"},
		{"/portal/../../evil", "/portal"},
		{"/portal/%2e%2e/%2E%2E/evil", "/portal"},
		{"/portal/./access", "/portal"},
		{"/portal//evil.example", "/portal"},
		{"/portal/%5cevil", "/portal"},
		{"/portal/a%0d%0aSet-Cookie:x", "/portal"},
		{"/admin/eids/", "/admin/eids/"},
	} {
		if got := gateway.LocalPath(tc.in); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/portal", "/admin/audit?a=b", "//x", "/portal/../../etc", "%2F%2Fevil", "/portal/%0d%0a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := gateway.LocalPath(in)
		if p := strings.SplitN(out, "?", 2)[0]; strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/./") {
			t.Fatalf("localPath(%q) = %q keeps a dot segment", in, out)
		}
		if strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n") || !gateway.IsPagePath(strings.SplitN(out, "?", 2)[0]) {
			t.Fatalf("localPath(%q) = %q", in, out)
		}
		u, err := url.Parse(out)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("localPath(%q) = %q leaves the site", in, out)
		}
	})
}

// Each role sees and does only what the API lets it do.
func TestAdminRoles(t *testing.T) {
	e := newPagesEnv(t)
	eid := e.w.residentEIDs[1]
	pages := []struct {
		path  string
		allow []string
	}{
		{"/admin", []string{"root", "mapper", "auditor"}},
		{"/admin/departments", []string{"root", "mapper", "auditor"}},
		{"/admin/departments/hrss", []string{"root", "mapper", "auditor"}},
		{"/admin/datatypes/edu.degree", []string{"root", "mapper", "auditor"}},
		{"/admin/residents", []string{"root", "mapper"}},
		{"/admin/residents/" + eid, []string{"root", "mapper"}},
		{"/admin/imports", []string{"root", "mapper"}},
		{"/admin/policies", []string{"root", "auditor"}},
		{"/admin/audit", []string{"root", "auditor"}},
		{"/admin/users", []string{"root"}},
	}
	forms := []struct {
		from, action string
		form         url.Values
		allow        []string
	}{
		{"/admin", "/admin/departments/hrss/status", url.Values{"status": {"suspended"}, "reason": {"audit"}}, []string{"root"}},
		{"/admin", "/admin/datatypes", url.Values{"code": {"x.y"}}, []string{"root"}},
		{"/admin", "/admin/residents/" + eid + "/deactivate", url.Values{"deactivate_reason": {""}}, []string{"root", "mapper"}},
		{"/admin", "/admin/policies/explain", url.Values{"department": {"hrss"}, "data_type": {"edu.degree"}, "purpose": {"hiring"}}, []string{"root", "auditor"}},
		{"/admin", "/admin/policies/rules", url.Values{"kind": {"p"}}, []string{"root"}},
		{"/admin", "/admin/users", url.Values{"username": {""}}, []string{"root"}},
	}
	for _, who := range []string{"root", "mapper", "auditor"} {
		b := e.adminSignIn(who)
		b.lang = "en"
		home := b.get("/admin").body
		for _, p := range pages {
			allowed := strings.Contains(strings.Join(p.allow, " "), who)
			r := b.get(p.path)
			if allowed && r.status != http.StatusOK {
				t.Errorf("%s GET %s: %d, want 200", who, p.path, r.status)
			}
			if !allowed {
				if r.status != http.StatusForbidden {
					t.Errorf("%s GET %s: %d, want 403", who, p.path, r.status)
				}
				if p.path != "/admin" && strings.Contains(home, `href="`+p.path+`"`) {
					t.Errorf("%s's navigation links to %s", who, p.path)
				}
			}
		}
		for _, f := range forms {
			allowed := strings.Contains(strings.Join(f.allow, " "), who)
			r := b.submit(f.from, f.action, f.form)
			if allowed == (r.status == http.StatusForbidden) {
				t.Errorf("%s POST %s: %d (allowed %v)", who, f.action, r.status, allowed)
			}
		}
		// Task cards promise only what the role may do; the console has
		// its own footer, not the residents'.
		if who != "root" && strings.Contains(home, "Register departments") {
			t.Errorf("%s's home offers to register departments", who)
		}
		if strings.Contains(home, "Every use of your data") || !strings.Contains(home, "administration console") {
			t.Errorf("%s: the console shows the residents' footer", who)
		}
		// Write controls appear only for roles that may use them.
		dept := b.get("/admin/departments/edu-bureau").body
		if (who == "root") != strings.Contains(dept, `action="/admin/departments/edu-bureau/apikeys"`) {
			t.Errorf("%s: API key form shown = %v", who, who != "root")
		}
		if who == "auditor" {
			pol := b.get("/admin/policies").body
			mustNotContain(t, pol, `action="/admin/policies/rules"`, `action="/admin/policies/rules/delete"`)
			mustContain(t, pol, `action="/admin/policies/explain"`)
		}
	}
	if d, _ := e.w.ledger.GetDepartment(context.Background(), "hrss"); d.Status != model.DepartmentSuspended {
		t.Error("the administrator could not suspend a department")
	}
}

func TestDepartmentPages(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	// A department with a bad MSP id comes back with the error next to
	// the form, and the fields refilled.
	form := url.Values{"id": {"tax-bureau"}, "name": {"市税务局"}, "name_en": {"Tax Bureau"}, "msp_id": {""}, "endpoints": {"https://tax.example.gov.cn/records"}}
	r := b.submit("/admin/departments", "/admin/departments", form)
	if r.status != http.StatusBadRequest {
		t.Fatalf("invalid department: %d", r.status)
	}
	mustContain(t, r.body, "msp_id is required", `value="Tax Bureau"`)
	form.Set("msp_id", "TaxMSP")
	r = b.submit("/admin/departments", "/admin/departments", form)
	if r.status != http.StatusSeeOther || r.location() != "/admin/departments/tax-bureau?done=department_registered" {
		t.Fatalf("register: %d → %q\n%s", r.status, r.location(), r.body)
	}
	page := b.get(r.location()).body
	mustContain(t, page, "Department registered.", "TaxMSP", "https://tax.example.gov.cn/records")

	r = b.submit("/admin/departments/tax-bureau", "/admin/departments/tax-bureau", url.Values{"name": {"市税务局"}, "name_en": {"Tax Bureau"},
		"endpoints": {"https://a.example.gov.cn/x\nhttps://b.example.gov.cn/y\n"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", r.status, r.body)
	}
	if d, _ := e.w.ledger.GetDepartment(context.Background(), "tax-bureau"); len(d.Endpoints) != 2 {
		t.Fatalf("endpoints after update: %v", d.Endpoints)
	}

	// An API key is shown once; the list shows only its name.
	r = b.submit("/admin/departments/tax-bureau", "/admin/departments/tax-bureau/apikeys", url.Values{"key_name": {"nightly sync"}})
	token := regexp.MustCompile(`egk_[a-z2-7]{8}_[a-z2-7]{40}`).FindString(r.body)
	if r.status != http.StatusOK || token == "" {
		t.Fatalf("issue key: %d\n%s", r.status, r.body)
	}
	page = b.get("/admin/departments/tax-bureau").body
	mustContain(t, page, "nightly sync")
	mustNotContain(t, page, token)
	keyID := regexp.MustCompile(`action="/admin/apikeys/([^/]+)/revoke"`).FindStringSubmatch(page)[1]
	r = b.submit("/admin/departments/tax-bureau", "/admin/apikeys/"+keyID+"/revoke", url.Values{"department": {"tax-bureau"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("revoke key: %d", r.status)
	}
	if _, _, err := e.w.apiKeys.Authenticate(context.Background(), token); err == nil {
		t.Error("a revoked key still authenticates")
	}

	// Suspension needs a reason, then takes effect.
	r = b.submit("/admin/departments/tax-bureau", "/admin/departments/tax-bureau/status", url.Values{"status": {"suspended"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("suspend without a reason: %d", r.status)
	}
	mustContain(t, r.body, "Give a reason.", `aria-invalid="true"`)
	r = b.submit("/admin/departments/tax-bureau", "/admin/departments/tax-bureau/status", url.Values{"status": {"suspended"}, "reason": {"audit finding"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("suspend: %d", r.status)
	}
	mustContain(t, b.get("/admin/departments/tax-bureau").body, "Suspended — audit finding", "Reactivate department")
}

func TestDataTypePages(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	// Every problem of the form at once, each at its field in words.
	r := b.submit("/admin/datatypes", "/admin/datatypes", url.Values{"code": {"Tax Return"}, "schema": {"[1,2]"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad form: %d", r.status)
	}
	mustContain(t, r.body, `<a href="#f-code">A code is lower-case words joined by dots`, `<a href="#f-name">Enter a name.`,
		`<a href="#f-schema">The schema must be a JSON object`, `<a href="#f-owners">Choose at least one department`,
		`id="e-code"`, `id="e-name"`, `id="e-schema"`, `class="field has-error" id="f-owners"`)
	mustNotContain(t, r.body, `^[a-z]`)
	form := url.Values{"code": {"tax.return"}, "name": {"纳税申报"}, "name_en": {"Tax return"}, "schema": {"[1,2]"}, "owners": {"hrss"}}
	r = b.submit("/admin/datatypes", "/admin/datatypes", form)
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad schema: %d", r.status)
	}
	mustContain(t, r.body, "The schema must be a JSON object", `id="owner-hrss" name="owners" value="hrss" checked`)
	form.Set("schema", `{"type":"object","properties":{"year":{"type":"integer"}}}`)
	r = b.submit("/admin/datatypes", "/admin/datatypes", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.status, r.body)
	}
	page := b.get("/admin/datatypes/tax.return").body
	mustContain(t, page, "Tax return", "&#34;year&#34;: {") // pretty-printed schema
	r = b.submit("/admin/datatypes/tax.return", "/admin/datatypes/tax.return", url.Values{"name": {"纳税申报"}, "name_en": {"Tax returns"},
		"schema": {`{"type":"object"}`}, "owners": {"hrss", "civil-affairs"}, "status": {"retired"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", r.status, r.body)
	}
	dt, _ := e.w.ledger.GetDataType(context.Background(), "tax.return")
	if dt.Status != model.DataTypeRetired {
		t.Fatalf("dt.Status = %v, want model.DataTypeRetired; after update: %+v", dt.Status, dt)
	}
	if len(dt.Owners) != 2 {
		t.Fatalf("len(dt.Owners) = %v, want 2; after update: %+v", len(dt.Owners), dt)
	}
	if dt.NameEN != "Tax returns" {
		t.Fatalf("dt.NameEN = %q, want \"Tax returns\"; after update: %+v", dt.NameEN, dt)
	}
}

func TestResidentSearchKeepsNumbersOutOfURLs(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("mapper")
	b.lang = "en"
	doc := e.w.residentDocs[1]
	r := b.submit("/admin/residents", "/admin/residents/search", docForm("", doc, nil))
	if r.status != http.StatusSeeOther || r.location() != "/admin/residents/"+e.w.residentEIDs[1] {
		t.Fatalf("search: %d → %q", r.status, r.location())
	}
	page := b.get(r.location()).body
	mustContain(t, page, "3101**********4567", "Chinese passport")
	mustNotContain(t, page, doc.Number)
	r = b.submit("/admin/residents", "/admin/residents/search", docForm("", mapping.Input{Type: "cn-resident", Number: "11010519491231002X"}, nil))
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown document: %d", r.status)
	}
	mustContain(t, r.body, "No eID holds this document.", `value="cn-resident" selected`)
	mustNotContain(t, r.body, "11010519491231002X")
}

func TestResidentMaintenance(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("mapper")
	b.lang = "en"
	from, into := e.w.residentEIDs[2], e.w.residentEIDs[3]
	page := "/admin/residents/" + from

	r := b.submit(page, page+"/documents", docForm("", mapping.Input{Type: "cn-passport", Number: "EA1234567"}, nil))
	if r.status != http.StatusSeeOther {
		t.Fatalf("add document: %d\n%s", r.status, r.body)
	}
	body := b.get(r.location()).body
	mustContain(t, body, "Document added.", "Chinese passport")
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(ref) != 2 {
		t.Fatalf("%d documents listed", len(ref))
	}
	if r := b.submit(page, page+"/documents/remove", url.Values{"ref": {ref[1][1]}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove document: %d", r.status)
	}
	r = b.submit(page, page+"/merge", url.Values{"into": {from}, "merge_reason": {"duplicate"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("merge into itself: %d", r.status)
	}
	mustContain(t, r.body, "An eID cannot be merged into itself.")
	// Field errors come before any confirmation: an unknown eID is said at
	// its field, with the missing reason.
	unknown := "did:eidgate:" + strings.Repeat("0", 32)
	r = b.submit(page, page+"/merge", url.Values{"into": {unknown}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("merge into an unknown eID: %d", r.status)
	}
	mustContain(t, r.body, `<a href="#f-into">No eID with this identifier exists.`, `<a href="#f-merge_reason">Give a reason.`)
	mustNotContain(t, r.body, `id="merge-confirm"`)
	// A checked form asks to confirm, naming both eIDs; nothing changes yet.
	r = b.submit(page, page+"/merge", url.Values{"into": {into}, "merge_reason": {"same person, two cards"}})
	if r.status != http.StatusOK {
		t.Fatalf("merge check: %d\n%s", r.status, r.body)
	}
	mustContain(t, r.body, `id="merge-confirm"`, "Merge "+from+" into "+into+"?", `name="confirmed" value="yes"`)
	if id, _ := e.w.ledger.GetEID(context.Background(), from); id.Status != model.EIDActive {
		t.Fatalf("merged before confirmation: %s", id.Status)
	}
	r = b.submit(page, page+"/merge", url.Values{"into": {into}, "merge_reason": {"same person, two cards"}, "confirmed": {"yes"}})
	if r.status != http.StatusSeeOther || r.location() != "/admin/residents/"+into+"?done=merged" {
		t.Fatalf("merge: %d → %q\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, b.get(r.location()).body, "Merged from", from)
	mustContain(t, b.get(page).body, "Merged into", "same person, two cards")

	r = b.submit("/admin/residents/"+into, "/admin/residents/"+into+"/deactivate", url.Values{"deactivate_reason": {"deceased"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", r.status)
	}
	mustContain(t, b.get("/admin/residents/"+into).body, "Deactivated", "deceased")

	r = b.submit("/admin/residents/"+e.w.residentEIDs[1], "/admin/residents/"+e.w.residentEIDs[1]+"/activation-code", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "One-time activation code for "+e.w.residentEIDs[1]) {
		t.Fatalf("new code: %d", r.status)
	}
	if r := b.get("/admin/residents/not-an-eid"); r.status != http.StatusNotFound {
		t.Errorf("malformed eID: %d", r.status)
	}
}

func TestImportPages(t *testing.T) {
	e := newPagesEnv(t)
	// The second batch (rows 4 and 5) waits on the ledger: the page shows
	// the import half-way.
	reached, release := e.w.ledger.Hold("CreateEIDs", 2)
	t.Cleanup(release)
	b := e.adminSignIn("mapper")
	b.lang = "en"
	// The CSRF token must come first and be right; the file is not read
	// otherwise.
	for _, fields := range [][][2]string{nil, {{"csrf", "wrong"}}} {
		if r := b.postMultipart("/admin/imports", fields, "x.csv", importCSV); r.status != http.StatusForbidden {
			t.Errorf("upload with token %v: %d", fields, r.status)
		}
	}
	if jobs, _ := e.w.importer.Jobs(context.Background(), 10); len(jobs) != 0 {
		t.Fatal("a forged upload started an import")
	}
	token := b.csrf("/admin/imports")
	if r := b.postMultipart("/admin/imports", [][2]string{{"csrf", token}}, "", ""); r.status != http.StatusBadRequest {
		t.Errorf("upload without a file: %d", r.status)
	}
	r := b.postMultipart("/admin/imports", [][2]string{{"csrf", token}}, "people.csv", importCSV)
	jobPage := r.location()
	if id := strings.TrimPrefix(jobPage, "/admin/imports/"); r.status != http.StatusSeeOther || !model.ValidHex64(id) {
		t.Fatalf("upload: %d → %q, want the page of the job named by the file's SHA-256\n%s", r.status, jobPage, r.body)
	}
	<-reached
	// The first batch's rows are recorded while the second waits.
	e.w.waitImportUntil(t, strings.TrimPrefix(jobPage, "/admin/imports/"), "to row 3", func(j *mapping.ImportJob) bool { return j.Done == 3 })
	page := b.get(jobPage).body
	// Three rows are done; the total is the file's line count until the
	// import has read it all.
	mustContain(t, page, "people.csv", "Running", `<progress id="imp-bar" max="6" value="3">`, `id="imp-rejects" hidden`)
	release()
	job := e.w.waitImport(t, strings.TrimPrefix(jobPage, "/admin/imports/"))
	page = b.get(jobPage).body
	mustContain(t, page, "Finished", `<span id="imp-done">5</span>`, `<dd id="imp-rejected">2</dd>`, `href="/v1/admin/imports/`+job.ID+`/rejects"`)
	mustNotContain(t, page, `id="imp-rejects" hidden`)
	report := b.get("/v1/admin/imports/" + job.ID + "/rejects")
	if report.status != http.StatusOK {
		t.Fatalf("reject report: %d", report.status)
	}
	// Rows are numbered by the file's lines; the header is line 1.
	mustContain(t, report.body, "row,masked_number,reason", "\n3,"+mapping.Mask(badNumber)+",checksum,", "\n6,12********12,type,")
	mustNotContain(t, report.body, badNumber, "123456789012")
	mustContain(t, b.get("/admin/imports").body, "people.csv", "5 / 5")
}

func TestPolicyPages(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	explain := func(form url.Values) pageResp { return b.submit("/admin/policies", "/admin/policies/explain", form) }
	r := explain(url.Values{"department": {"hrss"}, "data_type": {"edu.degree"}, "purpose": {"hiring"}, "eid": {e.w.residentEIDs[0]}})
	if r.status != http.StatusOK {
		t.Fatalf("explain: %d\n%s", r.status, r.body)
	}
	mustContain(t, r.body, "Allowed: Human Resources and Social Security Bureau may ask for Degree certificate for purpose hiring.",
		"p, hrss, edu.*, hiring, allow", "no consent")
	e.requestConsent(0, 0)
	r = explain(docForm("", e.w.residentDocs[0], url.Values{"department": {"hrss"}, "data_type": {"edu.degree"}, "purpose": {"hiring"}}))
	mustContain(t, r.body, "a request is waiting for the resident")
	r = explain(url.Values{"department": {"civil-affairs"}, "data_type": {"edu.degree"}, "purpose": {"hiring"}})
	mustContain(t, r.body, "Refused: Civil Affairs Bureau may not ask for Degree certificate for purpose hiring.", "no rule allows civil-affairs")
	r = explain(url.Values{"department": {"hrss"}, "data_type": {"edu.degree"}, "purpose": {"Not A Code"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad purpose: %d", r.status)
	}
	mustContain(t, r.body, "purpose must be a purpose code", `id="e-purpose"`)

	r = b.submit("/admin/policies", "/admin/policies/rules", url.Values{"kind": {"p"}, "subject": {"civil-affairs"}, "object": {"edu.degree"}, "action": {"hiring"}, "effect": {"deny"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("add rule: %d\n%s", r.status, r.body)
	}
	page := b.get(r.location()).body
	mustContain(t, page, "Rule added", "add rule p, civil-affairs, edu.degree, hiring, deny", "admin:root")
	r = b.submit("/admin/policies", "/admin/policies/rules/delete", url.Values{"kind": {"p"}, "subject": {"civil-affairs"}, "object": {"edu.degree"}, "action": {"hiring"}, "effect": {"deny"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("remove rule: %d", r.status)
	}
	if h, _ := e.w.policy.History(context.Background(), 10); len(h) != 4 {
		t.Errorf("%d policy versions", len(h))
	}
}

func TestAuditPage(t *testing.T) {
	e := newPagesEnv(t)
	e.resolve(0) // consent_required
	id := e.requestConsent(0, 0)
	res := e.residentSignIn(0)
	res.submit("/portal/inbox", "/portal/consents/"+id+"/grant", url.Values{"confirmed": {"yes"}})
	e.resolve(0) // issued
	e.w.anchor()
	b := e.adminSignIn("auditor")
	b.lang = "en"
	all := b.get("/admin/audit").body
	mustContain(t, all, "hr.clerk.17", "Granted", "Consent required", "Anchoring status", "OK: access records reach the ledger in time.")
	issued := b.get("/admin/audit?outcome=issued&requester=hrss").body
	mustContain(t, issued, "Granted", `<option value="issued" selected>`)
	mustNotContain(t, issued, `<td data-label="Outcome">Consent required`)
	none := b.get("/admin/audit?from=2027-01-01").body
	mustContain(t, none, "No records match.")
	r := b.get("/admin/audit?from=yesterday")
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad date: %d", r.status)
	}
	mustContain(t, r.body, "Enter a date as year-month-day.", `aria-describedby="e-from"`)
}

func TestAdminUsersPage(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	r := b.submit("/admin/users", "/admin/users", url.Values{"username": {"clerk"}, "password": {"short"}, "role": {"auditor"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("weak password: %d", r.status)
	}
	mustContain(t, r.body, "The password is too weak", `value="clerk"`)
	r = b.submit("/admin/users", "/admin/users", url.Values{"username": {"clerk"}, "password": {"a sufficiently long one"}, "role": {"superuser"}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad role: %d", r.status)
	}
	r = b.submit("/admin/users", "/admin/users", url.Values{"username": {"clerk"}, "password": {"a sufficiently long one"}, "role": {"auditor"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	mustContain(t, b.get("/admin/users").body, "clerk", "auditor")
}

func TestSignOut(t *testing.T) {
	e := newPagesEnv(t)
	for _, area := range []string{"portal", "admin"} {
		var b *browser
		if area == "portal" {
			b = e.residentSignIn(0)
		} else {
			b = e.adminSignIn("auditor")
		}
		token := b.cookie(gateway.SessionCookie)
		if area == "admin" {
			token = b.cookie(gateway.ConsoleSessionCookie)
		}
		if !e.w.sessionOpen(token) {
			t.Fatalf("%s: the signed-in browser's session is not open", area)
		}
		r := b.submit("/"+area, "/"+area+"/logout", nil)
		if r.status != http.StatusSeeOther || r.location() != "/"+area+"/login?done=logged_out" {
			t.Fatalf("%s sign-out: %d → %q", area, r.status, r.location())
		}
		if e.w.sessionOpen(token) {
			t.Errorf("%s sign-out left the session open: its cookie still signs in", area)
		}
		if r := b.get("/" + area); r.status != http.StatusSeeOther {
			t.Errorf("%s after sign-out: %d", area, r.status)
		}
	}
}

// A compromised key is revoked with its reason; the page shows it and the
// ledger holds it.
func TestRevokeSigningKeyPage(t *testing.T) {
	e := newPagesEnv(t)
	b := e.adminSignIn("root")
	b.lang = "en"
	d := demo.Departments[0].ID
	kid := d + "-1"
	page := "/admin/departments/" + d
	r := b.submit(page, page+"/keys/revoke", url.Values{"kid": {kid}})
	if r.status != http.StatusBadRequest {
		t.Fatalf("revoke without a reason: %d", r.status)
	}
	mustContain(t, r.body, "Give a reason.")
	r = b.submit(page, page+"/keys/revoke", url.Values{"kid": {kid}, "revoke_reason": {"key file leaked"}})
	if r.status != http.StatusSeeOther || r.location() != page+"?done=key_revoked" {
		t.Fatalf("revoke: %d → %q\n%s", r.status, r.location(), r.body)
	}
	mustContain(t, b.get(r.location()).body, "Signing key revoked.", "Revoked (compromised)", "key file leaked")
	got, err := e.w.ledger.GetDepartment(context.Background(), d)
	if err != nil {
		t.Fatalf("err = %v, want nil; on the ledger: %+v %v", err, got, err)
	}
	if got.SigningKeys[0].Status != model.KeyRevoked {
		t.Fatalf("got.SigningKeys[0].Status = %v, want model.KeyRevoked; on the ledger: %+v %v", got.SigningKeys[0].Status, got, err)
	}
	if got.SigningKeys[0].RevokedReason != "key file leaked" {
		t.Fatalf("got.SigningKeys[0].RevokedReason = %q, want \"key file leaked\"; on the ledger: %+v %v", got.SigningKeys[0].RevokedReason, got, err)
	}
	// Again: the ledger refuses, the page says why.
	if r = b.submit(page, page+"/keys/revoke", url.Values{"kid": {kid}, "revoke_reason": {"again"}}); r.status != http.StatusConflict {
		t.Fatalf("revoking twice: %d", r.status)
	}
}
