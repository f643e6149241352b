package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/web/webtest"
)

// Browser tests of the portal and the console on the real stack (embedded
// devnet, SQLite, every service, the demo consortium), in headless
// Chromium. Each step fails on a console error, an uncaught exception, a
// CSP report, a failed request or an unexpected HTTP error (see webtest).
// Screenshots of every main page are saved (the path is in the log).

// requestConsent has hrss ask resident i for a degree, for employment.
func (s *stack) requestConsent(i, maxUses int) string {
	s.t.Helper()
	r := s.do(s.dept("hrss"), http.MethodPost, "/v1/consents", map[string]any{
		"eid": s.demo.Residents[i].EID, "data_types": []string{"edu.degree"}, "purpose_code": "employment",
		"purpose_text": "核实应聘者学历", "valid_until": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339), "max_uses": maxUses,
	})
	if r.status != http.StatusCreated {
		s.t.Fatalf("consent request: %d %v", r.status, r.body)
	}
	return r.str("id")
}

func (s *stack) resolveDegree(i int) reply {
	s.t.Helper()
	return s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(s.demo.Residents[i], "edu.degree", "employment"))
}

func signInResident(tb *webtest.Tab, r demo.ResidentLogin) {
	tb.SignInResident(r.DocType, r.DocNumber, r.Country, r.Password)
}

func mustHave(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%q lacks %q", text, w)
		}
	}
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	browser := webtest.Start(t)
	s := startDemo(t, nil)
	base := s.m.URL()
	t.Run("ConsentApproveVerifyRevoke", func(t *testing.T) { browserConsentFlow(t, s, browser, base) })
	t.Run("KeyboardOnly", func(t *testing.T) { browserKeyboard(t, s, browser, base) })
	t.Run("ActivationCodeWorksOnce", func(t *testing.T) { browserActivation(t, s, browser, base) })
	t.Run("ImportProgressAndRejects", func(t *testing.T) { browserImport(t, s, browser, base) })
	t.Run("CredentialsPresentAndPublicVerifier", func(t *testing.T) { browserCredentials(t, s, browser, base) })
	t.Run("EveryPage", func(t *testing.T) { browserEveryPage(t, s, browser, base) })
	t.Run("PasskeysAndSignedConsent", func(t *testing.T) { browserPasskeys(t, s, browser, base) })
	t.Run("PasskeyActivationAndRecovery", func(t *testing.T) { browserPasskeyActivation(t, s, browser, base) })
	t.Run("NoPestering", func(t *testing.T) { browserNoPestering(t, s, browser, base) })
	t.Run("Console", func(t *testing.T) { browserConsole(t, s, browser, base) })
	t.Run("StandingRuleSignedWithPasskey", func(t *testing.T) { browserStandingRule(t, s, browser, base) })
	t.Run("BreakGlassDisclosedAndVerified", func(t *testing.T) { browserBreakGlass(t, s, browser, base) })
}

// A department requests consent through the API; the resident sees it,
// approves in the dialog; the resolve succeeds; the access shows in the
// log, anchored, and its Merkle proof verifies in the page (a forged
// answer does not); the resident revokes and the next resolve is refused.
func browserConsentFlow(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	id := s.requestConsent(0, 3)
	res := browser.Tab(t, base)
	signInResident(res, s.demo.Residents[0])
	res.SwitchLang("en")
	res.Screenshot("portal-home-en")

	res.Open("/portal/inbox")
	mustHave(t, res.Text("#c-"+id), "Request from")
	card := res.Text(`article[aria-labelledby="c-` + id + `"]`)
	mustHave(t, card, "Degree certificate", "核实应聘者学历", "at most 3 times", "(30 days)", "Codes for checking")
	if strings.Contains(card, "edu.degree") {
		t.Errorf("the request shows codes outside its details: %q", card)
	}
	res.Do("open the codes", chromedp.Click(chromedp.CSS(`article[aria-labelledby="c-`+id+`"] details.codes summary`)))
	mustHave(t, res.Text(`article[aria-labelledby="c-`+id+`"] details.codes`), "edu.degree", "employment", id)
	res.Do("open the dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/grant"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	mustHave(t, res.Text("#dlg-grant-"+id+"-d"), "You allow", "to obtain your", "for the purpose “核实应聘者学历”", "at most 3 times")
	res.Screenshot("portal-inbox-dialog-en")
	res.Submit("confirm approval", "#dlg-grant-"+id+" button[data-dialog=confirm]")
	if loc := res.Location(); loc != "/portal/inbox?done=granted" {
		t.Fatalf("after approval at %s", loc)
	}
	res.OK("approve")

	r := s.resolveDegree(0)
	if r.status != http.StatusOK {
		t.Fatalf("resolve after approval: %d %v", r.status, r.body)
	}
	accessID := r.str("access_id")

	// The anchorer runs in the background; the log shows the block once
	// the record is on the ledger.
	verify := `button.verify[data-access="` + accessID + `"]`
	for deadline := time.Now().Add(30 * time.Second); ; {
		res.Open("/portal/access")
		if res.Eval(`document.querySelector(`+webtest.JS(verify)+`) ? "yes" : "no"`) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access was not anchored in time: %s", res.Text("main"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustHave(t, res.Text("#a-"+accessID), "Granted", "Recorded on the ledger", "employment (checking a job applicant)")
	if row := res.Text("#a-" + accessID); strings.Contains(row, "official-") || strings.Contains(row, "cs-") {
		t.Errorf("the access log shows codes outside its details: %q", row)
	}
	res.Do("open the details", chromedp.Click(chromedp.CSS("#a-"+accessID+" details.codes summary")))
	mustHave(t, res.Text("#a-"+accessID+" details.codes"), "official-", "Ledger block", "edu.degree", "employment")
	if strings.Contains(res.Text("main"), "clerk-hrss") {
		t.Error("the access log shows the official's staff id")
	}
	res.Do("verify", chromedp.Click(chromedp.CSS(verify)))
	res.WaitText("#vr-"+accessID, "Verified in block")
	res.Screenshot("portal-access-verified-en")
	res.OK("verify proof")

	// A forged answer (another anchor root, or a leaf of another record)
	// must not verify.
	for _, tc := range []struct{ patch, want string }{
		{`p.anchor.merkle_root = "ab".repeat(32)`, "Not verified: the proof does not match the anchor"},
		{`p.leaf_fields[11] = "policy_denied"`, "Not verified: the proof is for a different record"},
	} {
		res.Eval(`(() => {
			const real = window.realFetch || window.fetch;
			window.realFetch = real;
			window.fetch = async (...args) => {
				const r = await real(...args);
				const p = await r.json();
				` + tc.patch + `;
				return new Response(JSON.stringify(p), {status: r.status, headers: {"Content-Type": "application/json"}});
			};
			return "patched";
		})()`)
		res.Do("verify a forged answer", chromedp.Click(chromedp.CSS(verify)))
		res.WaitText("#vr-"+accessID, tc.want)
	}
	res.Screenshot("portal-access-forged-en")
	res.OK("forged proofs")

	res.Open("/portal/consents")
	res.Do("open the revoke dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/revoke"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-revoke-"+id)))
	mustHave(t, res.Text("#dlg-revoke-"+id+"-d"), "will no longer be able to obtain your", "takes effect at once")
	res.Screenshot("portal-consents-revoke-dialog-en")
	res.Submit("confirm revocation", "#dlg-revoke-"+id+" button[data-dialog=confirm]")
	if loc := res.Location(); loc != "/portal/consents?done=revoked" {
		t.Fatalf("after revocation at %s", loc)
	}
	res.OK("revoke")
	if r := s.resolveDegree(0); r.status != http.StatusForbidden || r.errCode() != "consent_revoked" {
		t.Fatalf("resolve after revocation: %d %v", r.status, r.body)
	}
	res.SwitchLang("zh-CN")
	mustHave(t, res.Text("main"), "已撤回")
	res.Screenshot("portal-consents-zh-CN")
	res.OK("consents in Chinese")
}

// The portal works with the keyboard alone: the skip link comes first and
// is visible, Tab reaches the approval in reading order, the dialog takes
// focus, Escape gives it back, Enter confirms.
func browserKeyboard(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	id := s.requestConsent(1, 0)
	res := browser.Tab(t, base)
	signInResident(res, s.demo.Residents[1])
	res.Open("/portal/inbox")
	res.Do("first tab", chromedp.KeyEvent(kb.Tab))
	if got := res.Eval(`document.activeElement.className`); got != "skip" {
		t.Fatalf("the first Tab focuses %q, not the skip link", got)
	}
	if top := res.Eval(`String(document.activeElement.getBoundingClientRect().top)`); strings.HasPrefix(top, "-") {
		t.Errorf("the focused skip link is off screen (top %s)", top)
	}
	if res.Eval(`getComputedStyle(document.activeElement).outlineStyle`) == "none" {
		t.Error("the focused skip link has no visible outline")
	}
	approve := webtest.JS(`form[action$="/` + id + `/grant"] button`)
	for i := 0; res.Eval(`document.activeElement.matches(`+approve+`) ? "yes" : "no"`) != "yes"; i++ {
		if i > 40 {
			t.Fatal("the approve button is not reachable with Tab")
		}
		res.Do("tab", chromedp.KeyEvent(kb.Tab))
	}
	res.Do("enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	if got := res.Eval(`document.activeElement.closest("dialog") ? document.activeElement.dataset.dialog : "outside"`); got != "confirm" {
		t.Fatalf("focus in the open dialog: %q", got)
	}
	res.Do("escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("dlg-grant-"+id)))
	if res.Eval(`document.activeElement.matches(`+approve+`) ? "yes" : "no"`) != "yes" {
		t.Error("closing the dialog did not return focus to the approve button")
	}
	res.Do("enter again", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	res.Navigation("confirm with Enter", chromedp.KeyEvent(kb.Enter))
	if loc := res.Location(); loc != "/portal/inbox?done=granted" {
		t.Fatalf("after confirming with Enter at %s", loc)
	}
	res.OK("keyboard approval")
	// Focus is visible on every control the keyboard reaches.
	res.Open("/portal/consents")
	for i := 0; i < 12; i++ {
		res.Do("tab", chromedp.KeyEvent(kb.Tab))
		if res.Eval(`document.activeElement === document.body ? "body" : ""`) == "body" {
			break // past the last control
		}
		if res.Eval(`getComputedStyle(document.activeElement).outlineStyle`) == "none" {
			t.Errorf("no focus outline on %s", res.Eval(`document.activeElement.outerHTML.slice(0, 80)`))
		}
	}
}

// An officer creates an eID at the KYC counter; the activation code works
// once and only once.
func browserActivation(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	officer := s.demo.Staff[0]
	adm := browser.Tab(t, base)
	adm.SignInAdmin(officer.Username, officer.Password)
	adm.SwitchLang("en")
	adm.Open("/admin/residents")
	adm.Screenshot("admin-residents-en")
	number := "11010519491231002X"
	adm.Fill(map[string]string{"f-doc1_type": "cn-resident", "f-doc1_number": number,
		"f-doc2_type": "passport", "f-doc2_number": "L898902C3", "f-doc2_country": "USA"})
	adm.Submit("create eID", `form[action="/admin/residents"] button[type=submit]`)
	code := adm.Text("#secret-value")
	eid := regexp.MustCompile(`did:eidgate:[0-9a-f]{32}`).FindString(adm.Text("main"))
	if code == "" || eid == "" {
		t.Fatalf("no code or eID shown: %s", adm.Text("main"))
	}
	if strings.Contains(adm.Eval(`document.documentElement.outerHTML`), number) || strings.Contains(adm.Location(), number) {
		t.Error("the document number is in the page or the URL")
	}
	mustHave(t, adm.Text("main"), "1101**********002X", "shown only once")
	adm.Screenshot("admin-kyc-activation-code-en")
	adm.OK("KYC")

	activate := func() *webtest.Tab {
		tb := browser.Tab(t, base)
		tb.Open("/portal/activate")
		tb.SwitchLang("zh-CN")
		tb.Fill(map[string]string{"f-type": "cn-resident", "f-number": number, "f-code": code,
			"f-password": "a long new password 1", "f-password2": "a long new password 1"})
		return tb
	}
	first := activate()
	first.Screenshot("portal-activate-zh-CN")
	first.Submit("activate", "main form button[type=submit]")
	if loc := first.Location(); loc != "/portal?done=activated" {
		t.Fatalf("activation ended at %s: %s", loc, first.Text("main"))
	}
	mustHave(t, first.Text("main"), eid, "账户已激活")
	first.OK("activate")

	second := activate()
	second.Expect(http.StatusUnauthorized, http.StatusConflict, http.StatusBadRequest)
	second.Submit("activate again", "main form button[type=submit]")
	if loc := second.Location(); loc != "/portal/activate" {
		t.Fatalf("a second activation went to %s", loc)
	}
	if second.Eval(`document.activeElement.id`) != "error-summary" {
		t.Error("the error summary did not take focus")
	}
	second.Screenshot("portal-activate-again-zh-CN")
	t.Logf("second activation answered: %s", second.Text("#error-summary"))
	second.OK("activate again")
	// The password set with the code signs in.
	third := browser.Tab(t, base)
	third.SignInResident("cn-resident", number, "", "a long new password 1")
}

// An import with bad rows: the page follows the job live, then offers the
// reject report, whose numbers are masked.
func browserImport(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	var b strings.Builder
	b.WriteString("type,number\n")
	const rows = 3000
	born := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	var bad []string
	for i := 0; i < rows; i++ {
		number := gb11643("320102" + born.AddDate(0, 0, i).Format("20060102") + fmt.Sprintf("%03d", i%1000))
		switch i {
		case 10, 1500, 2999: // a wrong check character
			last := number[17]
			number = number[:17] + map[bool]string{true: "1", false: "0"}[last == '0']
			bad = append(bad, number)
		case 20:
			number = "12345"
			bad = append(bad, number)
		}
		b.WriteString("cn-resident," + number + "\n")
	}
	file := filepath.Join(t.TempDir(), "residents.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	adm := browser.Tab(t, base)
	adm.SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	adm.SwitchLang("en")
	adm.Open("/admin/imports")
	adm.Do("choose the file", chromedp.SetUploadFiles(chromedp.ID("f-file"), []string{file}))
	adm.Submit("upload", `form[action="/admin/imports"] button[type=submit]`)
	if !strings.HasPrefix(adm.Location(), "/admin/imports/") {
		t.Fatalf("after upload at %s: %s", adm.Location(), adm.Text("main"))
	}
	runningAtLoad := adm.Eval(`document.getElementById("import-progress").dataset.finished`) != "yes"
	adm.Eval(`window.stayed = "yes"; window.seen = [document.getElementById("imp-done").innerText];
		new MutationObserver(() => window.seen.push(document.getElementById("imp-done").innerText))
			.observe(document.getElementById("imp-done"), {childList: true, characterData: true, subtree: true}); "ok"`)
	if runningAtLoad {
		adm.Screenshot("admin-import-running-en")
	}
	adm.WaitText("#imp-status", "Finished")
	adm.WaitText("#imp-done", strconv.Itoa(rows))
	if adm.Eval(`window.stayed || "reloaded"`) != "yes" {
		t.Error("the page reloaded instead of following the job")
	}
	seen := adm.Eval(`window.seen.join(" ")`)
	t.Logf("rows done as the page showed them: %s (running when the page loaded: %v)", seen, runningAtLoad)
	if runningAtLoad && !strings.HasSuffix(seen, strconv.Itoa(rows)) {
		t.Errorf("the page did not follow the job to the end: %s", seen)
	}
	mustHave(t, adm.Text("#imp-rejected"), strconv.Itoa(len(bad)))
	if adm.Eval(`document.getElementById("imp-rejects").hidden ? "hidden" : "shown"`) != "shown" {
		t.Fatal("the reject report link is not shown when the import finished")
	}
	report := adm.Eval(`fetch(document.querySelector("#imp-rejects a").href).then(r => r.text())`)
	mustHave(t, report, "row,masked_number,reason")
	for _, n := range bad {
		if strings.Contains(report, n) {
			t.Errorf("the reject report shows the number %s", n)
		}
	}
	if got := strings.Count(strings.TrimSpace(report), "\n"); got != len(bad) {
		t.Errorf("the reject report has %d rows, want %d:\n%s", got, len(bad), report)
	}
	adm.Screenshot("admin-import-finished-en")
	adm.OK("import")
}

// Every page in both languages: no console errors, no failed requests,
// <html lang> set, nothing untranslated, nothing wider than a 1280 px
// window or a 360 px phone; a screenshot of each.
func browserEveryPage(t *testing.T, s *stack, browser *webtest.Browser, base string) {
	s.requestConsent(2, 0) // something in an inbox
	type page struct{ name, who, path string }
	eid := s.demo.Residents[1].EID
	imports := s.do(s.admin(), http.MethodGet, "/v1/admin/imports", nil)
	var jobPath string
	if list, _ := imports.body["imports"].([]any); len(list) > 0 {
		jobPath = "/admin/imports/" + list[0].(map[string]any)["id"].(string)
	}
	pages := []page{
		{"portal-login", "anon", "/portal/login"},
		{"portal-activate", "anon", "/portal/activate"},
		{"admin-login", "anon", "/admin/login"},
		{"not-found", "anon", "/portal/nowhere"},
		{"portal-home", "resident", "/portal"},
		{"portal-data", "resident", "/portal/data"},
		{"portal-inbox", "resident", "/portal/inbox"},
		{"portal-rules", "resident", "/portal/rules"},
		{"portal-consents", "resident", "/portal/consents"},
		{"portal-access", "resident", "/portal/access"},
		{"portal-credentials", "resident", "/portal/credentials"},
		{"portal-verify", "anon", "/portal/verify"},
		{"portal-security", "resident", "/portal/security"},
		{"admin-home", "admin", "/admin"},
		{"admin-departments", "admin", "/admin/departments"},
		{"admin-department", "admin", "/admin/departments/edu-bureau"},
		{"admin-datatypes", "admin", "/admin/datatypes"},
		{"admin-datatype", "admin", "/admin/datatypes/edu.degree"},
		{"admin-residents", "admin", "/admin/residents"},
		{"admin-resident", "admin", "/admin/residents/" + eid},
		{"admin-imports", "admin", "/admin/imports"},
		{"admin-policies", "admin", "/admin/policies"},
		{"admin-audit", "admin", "/admin/audit"},
		{"admin-acts", "admin", "/admin/acts"},
		{"admin-disputes", "admin", "/admin/disputes"},
		{"admin-users", "admin", "/admin/users"},
		{"admin-security", "admin", "/admin/security"},
		{"auditor-home", "auditor", "/admin"},
	}
	if jobPath != "" {
		pages = append(pages, page{"admin-import", "admin", jobPath})
	}
	tabs := map[string]*webtest.Tab{}
	for _, who := range []string{"anon", "resident", "admin", "auditor"} {
		tabs[who] = browser.Tab(t, base)
	}
	signInResident(tabs["resident"], s.demo.Residents[2])
	tabs["admin"].SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	for _, u := range s.demo.Staff {
		if u.Role == "auditor" {
			tabs["auditor"].SignInAdmin(u.Username, u.Password)
		}
	}
	home := map[string]string{"anon": "/portal/login", "resident": "/portal", "admin": "/admin", "auditor": "/admin"}
	for _, lang := range []string{"zh-CN", "en"} {
		for who, tb := range tabs {
			tb.Open(home[who])
			tb.SwitchLang(lang)
		}
		for _, p := range pages {
			tb := tabs[p.who]
			if p.name == "not-found" {
				tb.Expect(http.StatusNotFound)
			}
			tb.Open(p.path)
			if got := tb.Lang(); got != lang {
				t.Errorf("%s: <html lang=%q>, want %q", p.path, got, lang)
			}
			if strings.Contains(tb.Text("body"), "⟦") {
				t.Errorf("%s (%s): an untranslated message", p.path, lang)
			}
			if over := tb.Overflow(); over > 0 {
				t.Errorf("%s (%s): %d px wider than a 1280 px window", p.path, lang, over)
			}
			tb.Screenshot(p.name + "-" + lang)
			tb.Do("phone width", chromedp.EmulateViewport(360, 740))
			if over := tb.Overflow(); over > 0 {
				t.Errorf("%s (%s): %d px wider than a 360 px phone", p.path, lang, over)
			}
			if lang == "zh-CN" && (p.who == "resident" || p.name == "portal-login") {
				tb.Screenshot(p.name + "-phone-" + lang)
			}
			tb.Do("window width", chromedp.EmulateViewport(1280, 900))
			tb.OK(p.path + " " + lang)
		}
	}
	// The auditor's console offers only the auditor's pages.
	nav := tabs["auditor"].Text("nav")
	for _, hidden := range []string{"Residents", "Bulk import", "Administrators"} {
		if strings.Contains(nav, hidden) {
			t.Errorf("the auditor's navigation offers %s", hidden)
		}
	}
}
