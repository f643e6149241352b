package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/web/webtest"
)

// browserConsole: the console's forms say every problem at its field
// before anything happens; the merge asks to confirm naming both eIDs;
// read-only roles are offered no registration; the console has its own
// footer and room above it; secrets shown once can be copied and the
// activation code printed as a slip; and a resident signing in in the same
// browser leaves the administrator signed in (separate session cookies).
func browserConsole(t *testing.T, s *stack, br *webtest.Browser, base string) {
	tab := br.Tab(t, base)
	tab.SignInAdmin(s.demo.Admin.Username, s.demo.Admin.Password)
	tab.SwitchLang("en")

	// The data-type form: every problem at once, each at its field.
	tab.Open("/admin/datatypes")
	tab.Fill(map[string]string{"f-code": "Tax Return"})
	tab.Eval(`(() => { document.getElementById("f-schema").value = "[1]"; return "set"; })()`)
	tab.Expect(http.StatusBadRequest)
	tab.Submit("register a bad data type", `form[action="/admin/datatypes"] button[type=submit]`)
	tab.OK("data type form errors")
	summary := tab.Text("#error-summary")
	mustHave(t, summary, "A code is lower-case words joined by dots", "Enter a name.", "The schema must be a JSON object", "Choose at least one department")
	if strings.Contains(summary, "^[a-z]") {
		t.Errorf("the form shows the rule's regular expression: %s", summary)
	}
	for _, id := range []string{"f-code", "f-name", "f-schema"} {
		if got := tab.Eval(`document.getElementById(` + webtest.JS(id) + `).getAttribute("aria-invalid") || ""`); got != "true" {
			t.Errorf("%s is not marked invalid (%q)", id, got)
		}
	}
	if tab.Eval(`document.getElementById("f-owners").classList.contains("has-error") ? "yes" : "no"`) != "yes" {
		t.Error("the owners are not highlighted")
	}
	tab.Screenshot("admin-datatype-errors-en")

	// The merge: field errors first, then a confirmation naming both eIDs.
	from, into := s.demo.Residents[2].EID, s.demo.Residents[3].EID
	tab.Open("/admin/residents/" + from)
	tab.Fill(map[string]string{"f-into": "did:eidgate:" + strings.Repeat("0", 32)})
	tab.Expect(http.StatusBadRequest)
	tab.Submit("merge into an unknown eID", `form[action$="/merge"] button[type=submit]`)
	tab.OK("merge field errors")
	mustHave(t, tab.Text("#error-summary"), "No eID with this identifier exists.", "Give a reason.")
	if tab.Eval(`document.getElementById("merge-confirm") ? "yes" : "no"`) != "no" {
		t.Error("the confirmation shows before the fields are right")
	}
	tab.Fill(map[string]string{"f-into": into, "f-merge_reason": "same person, two cards"})
	tab.Submit("check the merge", `form[action$="/merge"] button[type=submit]`)
	tab.OK("merge check")
	mustHave(t, tab.Text("#merge-confirm"), "Merge "+from+" into "+into+"?", "same person, two cards")
	tab.Screenshot("admin-merge-confirm-en")
	tab.Navigation("cancel the merge", chromedp.Click(chromedp.CSS(`#merge-confirm a.button`)))
	tab.OK("merge cancelled")
	if id, err := s.m.agent.GetEID(t.Context(), from); err != nil || id.Status != "active" {
		t.Fatalf("the cancelled merge changed %s: %+v %v", from, id, err)
	}

	// The console's own footer, with room above it: the last button of
	// a department's page does not touch it.
	tab.Open("/admin/departments/edu-bureau")
	mustHave(t, tab.Text(".site-footer"), "administration console")
	if strings.Contains(tab.Text(".site-footer"), "Every use of your data") {
		t.Error("the console shows the residents' footer")
	}
	gap, _ := strconv.Atoi(tab.Eval(`(() => {
		const b = [...document.querySelectorAll("main button")].find(x => x.textContent.trim() === "Issue API key");
		return String(Math.round(document.querySelector(".site-footer").getBoundingClientRect().top - b.getBoundingClientRect().bottom));
	})()`))
	if gap < 32 {
		t.Errorf("the Issue API key button is %dpx above the footer", gap)
	}

	// A new API key is copied with one click (the clipboard is stubbed:
	// headless Chromium has none to read back).
	tab.Fill(map[string]string{"f-key_name": "browser copy test"})
	tab.Submit("issue an API key", `form[action$="/apikeys"] button[type=submit]`)
	tab.OK("issue API key")
	key := strings.TrimSpace(tab.Text("#secret-value"))
	if !strings.HasPrefix(key, "egk_") {
		t.Fatalf("issued key %q", key)
	}
	tab.Eval(`(() => { navigator.clipboard.writeText = async (v) => { window.copied = v; }; return "stubbed"; })()`)
	tab.Do("copy the key", chromedp.Click(chromedp.CSS(`button[data-copy]`)))
	tab.WaitText(".copy-status", "Copied to the clipboard.")
	if got := tab.Eval(`window.copied`); got != key {
		t.Errorf("copied %q, want the key", got)
	}
	tab.OK("copy")

	// A new activation code prints as a slip: the code and what to do
	// with it, without the console around it.
	last := s.demo.Residents[len(s.demo.Residents)-1].EID
	tab.Open("/admin/residents/" + last)
	tab.Submit("new activation code", `form[action$="/activation-code"] button[type=submit]`)
	tab.OK("activation code")
	if tab.Eval(`document.querySelector("button[data-print]").hidden ? "hidden" : "shown"`) != "shown" {
		t.Error("no print button for the activation code")
	}
	media := func(m string) {
		if _, err := chromedp.Call(tab.Context(), emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m}); err != nil {
			t.Fatal(err)
		}
	}
	media("print")
	shown := func(sel string) string {
		return tab.Eval(`getComputedStyle(document.querySelector(` + webtest.JS(sel) + `)).display`)
	}
	if shown(".site-header") != "none" || shown(".site-footer") != "none" || shown("button[data-print]") == "" || shown(".print-only") == "none" {
		t.Errorf("printed slip: header %s, footer %s, slip text %s", shown(".site-header"), shown(".site-footer"), shown(".print-only"))
	}
	mustHave(t, tab.Text(".print-only"), "/portal/activate")
	tab.Screenshot("admin-activation-slip-print")
	media("")

	// A resident signs in on the portal in the same browser: the
	// administrator stays signed in to the console, and signing the
	// resident out leaves the console signed in too.
	resident := s.demo.Residents[0]
	signInResident(tab, resident)
	tab.Open("/admin")
	if loc := tab.Location(); loc != "/admin" {
		t.Fatalf("the resident's sign-in signed the administrator out (at %s)", loc)
	}
	mustHave(t, tab.Text(".signed-in"), s.demo.Admin.Username)
	tab.Open("/portal")
	tab.Submit("resident signs out", `form.logout button`)
	tab.OK("resident sign out")
	tab.Open("/admin")
	if loc := tab.Location(); loc != "/admin" {
		t.Fatalf("the resident's sign-out signed the administrator out (at %s)", loc)
	}

	// A read-only role is offered no registration.
	var auditor *accountsLogin
	for _, u := range s.demo.Staff {
		if u.Role == accounts.RoleAuditor {
			auditor = &accountsLogin{u.Username, u.Password}
		}
	}
	if auditor == nil {
		t.Fatal("the demo has no auditor")
	}
	ro := br.Tab(t, base)
	ro.SignInAdmin(auditor.username, auditor.password)
	ro.SwitchLang("en")
	ro.Open("/admin")
	if home := ro.Text("main"); strings.Contains(home, "Register") {
		t.Errorf("the auditor's home offers to register: %s", home)
	}
	ro.OK("auditor home")
}

type accountsLogin struct{ username, password string }
