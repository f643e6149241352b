package gateway

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/eidgate/eidgate/internal/testenv"
)

// Browser tests: Debian's Chromium, headless, drives the portal and the
// console. Every step fails on a console error, an uncaught exception, a
// CSP report, a failed request or an HTTP error the step did not expect.

// browserStack is the server under test, made by one function so the
// flows can move to cmd/eidgate's Main (embedded devnet, SQLite, --demo)
// when it can be started on a random port. Until then it is the gateway
// over the in-memory consortium, which wires the real routing services.
type browserStack struct {
	URL string
	env *pgEnv // the department's API calls, anchoring, and the data behind the pages
}

func startBrowserStack(t *testing.T) *browserStack {
	t.Helper()
	env := newPGEnvClock(t, &pgClock{}) // wall clock: the browser's cookies and times are real
	return &browserStack{URL: env.srv.URL, env: env}
}

// artifactDirs are where screenshots go: a directory under the test's temp
// dir (named in the log) and $EIDGATE_ARTIFACTS when set.
func artifactDirs(t *testing.T) []string {
	t.Helper()
	dirs := []string{filepath.Join(t.TempDir(), "screenshots")}
	if d := os.Getenv("EIDGATE_ARTIFACTS"); d != "" {
		dirs = append(dirs, filepath.Join(d, "web"))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots: %s", d)
	}
	return dirs
}

// browserCtx starts Chromium with a fresh profile.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// watch collects what must not happen on a page.
type watch struct {
	mu       sync.Mutex
	problems []string
	expected []int // HTTP statuses the current step provokes on purpose
}

func (w *watch) add(format string, args ...any) {
	w.mu.Lock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (w *watch) expect(status ...int) {
	w.mu.Lock()
	w.expected = status
	w.mu.Unlock()
}

func (w *watch) isExpected(status int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.expected {
		if s == status {
			return true
		}
	}
	return false
}

func (w *watch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.problems
	w.problems, w.expected = nil, nil
	return out
}

// tab is one browser profile (own cookies) with one page.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	w     *watch
	shots []string
}

var loadFailedStatus = regexp.MustCompile(`status of (\d{3})`)

func newTab(t *testing.T, browser context.Context, base string, shots []string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: base, w: &watch{}, shots: shots}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				tb.w.add("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.w.add("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				if m := loadFailedStatus.FindStringSubmatch(ev.Entry.Text); m != nil && tb.w.isExpected(atoiOr(m[1])) {
					return
				}
				tb.w.add("browser log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if !ev.Canceled {
				tb.w.add("request failed: %s %s %s", ev.Type, ev.ErrorText, ev.BlockedReason)
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 && !tb.w.isExpected(int(ev.Response.Status)) {
				tb.w.add("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return tb
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// ok fails the test with whatever the watch saw since the last check.
func (tb *tab) ok(step string) {
	tb.t.Helper()
	// Let late events (a failed favicon, a CSP report) arrive.
	_ = chromedp.Do(tb.ctx, chromedp.Sleep(50*time.Millisecond))
	for _, p := range tb.w.take() {
		tb.t.Errorf("%s: %s", step, p)
	}
}

func (tb *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
}

// open loads a page and checks it.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path))
	tb.ok("open " + path)
}

// submit clicks a button that submits a form and waits for the next page.
func (tb *tab) submit(step string, sel string) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
	return res
}

func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first match.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return tb.eval(`(document.querySelector(` + jsString(sel) + `)||{}).innerText||""`)
}

// waitText waits until the element's text contains want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	expr := `((document.querySelector(` + jsString(sel) + `)||{}).innerText||"").includes(` + jsString(want) + `)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
		tb.t.Fatalf("waiting for %q in %s (now %q): %v", want, sel, tb.text(sel), err)
	}
}

func (tb *tab) location() string { return tb.eval(`location.pathname + location.search`) }

func (tb *tab) lang() string { return tb.eval(`document.documentElement.lang`) }

// screenshot saves the whole page as name.png in every artifact dir.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range tb.shots {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// fill types into fields by id (selects get their value set).
func (tb *tab) fill(fields map[string]string) {
	tb.t.Helper()
	for id, v := range fields {
		tag := tb.eval(`document.getElementById(` + jsString(id) + `).tagName`)
		if tag == "SELECT" {
			tb.do("select "+id, chromedp.SetValue(chromedp.ID(id), v))
		} else {
			tb.do("type into "+id, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v))
		}
	}
}

func (tb *tab) signInResident(doc Document, password string) {
	tb.t.Helper()
	tb.open("/portal/login")
	tb.fill(map[string]string{"f-type": doc.Type, "f-number": doc.Number, "f-password": password})
	tb.submit("sign in", "main form button[type=submit]")
	if loc := tb.location(); loc != "/portal" {
		tb.t.Fatalf("after sign-in at %s: %s", loc, tb.text("main"))
	}
	tb.ok("sign in")
}

func (tb *tab) signInAdmin(name string) {
	tb.t.Helper()
	tb.open("/admin/login")
	tb.fill(map[string]string{"f-username": name, "f-password": pgAdminPassword})
	tb.submit("sign in", "main form button[type=submit]")
	if loc := tb.location(); loc != "/admin" {
		tb.t.Fatalf("after sign-in at %s: %s", loc, tb.text("main"))
	}
	tb.ok("admin sign in")
}

// switchLang uses the page's language switch until the page is in lang.
func (tb *tab) switchLang(lang string) {
	tb.t.Helper()
	if tb.lang() != lang {
		tb.submit("switch language", ".lang-switch button")
		tb.ok("switch language")
	}
	if got := tb.lang(); got != lang {
		tb.t.Fatalf("language switch: <html lang=%q>, want %q", got, lang)
	}
}

func TestBrowserConsentFlow(t *testing.T) {
	stack := startBrowserStack(t)
	browser := browserCtx(t)
	shots := artifactDirs(t)
	env := stack.env

	// A department asks for consent through the API.
	id := env.requestConsent(0, 3)

	res := newTab(t, browser, stack.URL, shots)
	res.signInResident(env.w.residentDocs[0], pgResidentPassword)
	res.switchLang("en")
	res.screenshot("portal-home-en")
	if !strings.Contains(res.text("main"), "1101**********1239") {
		t.Errorf("home does not show the masked document: %s", res.text("main"))
	}

	res.open("/portal/inbox")
	card := res.text("#c-" + id)
	if card != "Request from Human Resources and Social Security Bureau" {
		t.Errorf("request heading %q", card)
	}
	mustContain(t, res.text("main"), "Degree certificate", "核实应聘者学历", "hiring", "at most 3 times")
	// Approve: the dialog states exactly what is allowed; confirming
	// submits.
	res.do("open the dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/grant"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	statement := res.text("#dlg-grant-" + id + "-d")
	mustContain(t, statement, "You allow Human Resources and Social Security Bureau to obtain your Degree certificate from any department that holds it",
		"“核实应聘者学历” (hiring)", "at most 3 times")
	res.screenshot("portal-inbox-dialog-en")
	res.submit("confirm approval", "#dlg-grant-"+id+" button[data-dialog=confirm]")
	if loc := res.location(); loc != "/portal/inbox?done=granted" {
		t.Fatalf("after approval at %s", loc)
	}
	res.ok("approve")

	// The department's resolve succeeds; the access is anchored.
	st, out := env.resolve(0)
	if st != http.StatusOK {
		t.Fatalf("resolve after approval: %d %v", st, out)
	}
	accessID := out["access_id"].(string)
	env.w.anchor()

	// The resident sees the access and verifies its proof in the page.
	res.open("/portal/access")
	row := res.text("#a-" + accessID)
	mustContain(t, row, "Human Resources and Social Security Bureau", "Degree certificate", "hiring", "Granted", "block")
	res.do("verify", chromedp.Click(chromedp.CSS(`button.verify[data-access="`+accessID+`"]`)))
	res.waitText("#vr-"+accessID, "Verified in block")
	res.screenshot("portal-access-verified-en")
	res.ok("verify proof")

	// A forged anchor (a ledger answer with another root) is caught.
	rec, _ := env.w.store.GetAccess(context.Background(), accessID)
	env.w.ledger.tamperAnchor(rec.BatchID)
	res.do("verify a forged anchor", chromedp.Click(chromedp.CSS(`button.verify[data-access="`+accessID+`"]`)))
	res.waitText("#vr-"+accessID, "Not verified")
	res.ok("verify forged anchor")

	// Revoke with one confirmation; the next resolve is refused.
	res.open("/portal/consents")
	res.do("open the revoke dialog", chromedp.Click(chromedp.CSS(`form[action$="/`+id+`/revoke"] button`)), chromedp.WaitVisible(chromedp.ID("dlg-revoke-"+id)))
	mustContain(t, res.text("#dlg-revoke-"+id+"-d"), "will no longer be able to obtain your Degree certificate", "takes effect at once")
	res.screenshot("portal-consents-revoke-dialog-en")
	res.submit("confirm revocation", "#dlg-revoke-"+id+" button[data-dialog=confirm]")
	if loc := res.location(); loc != "/portal/consents?done=revoked" {
		t.Fatalf("after revocation at %s", loc)
	}
	res.ok("revoke")
	if st, out := env.resolve(0); st != http.StatusForbidden || out["error"].(map[string]any)["code"] != "consent_required" {
		t.Fatalf("resolve after revocation: %d %v", st, out)
	}
	res.switchLang("zh-CN")
	res.screenshot("portal-consents-zh")
}

// The portal works with the keyboard alone: the skip link comes first,
// the approval dialog takes focus, Escape returns it, Enter confirms.
func TestBrowserKeyboardOnly(t *testing.T) {
	stack := startBrowserStack(t)
	browser := browserCtx(t)
	env := stack.env
	id := env.requestConsent(0, 0)
	res := newTab(t, browser, stack.URL, artifactDirs(t))
	res.signInResident(env.w.residentDocs[0], pgResidentPassword)
	res.open("/portal/inbox")

	res.do("first tab", chromedp.KeyEvent(kb.Tab))
	if got := res.eval(`document.activeElement.className`); got != "skip" {
		t.Fatalf("the first Tab focuses %q, not the skip link", got)
	}
	if got := res.eval(`getComputedStyle(document.activeElement).top`); strings.HasPrefix(got, "-") {
		t.Errorf("the focused skip link is off screen (top %s)", got)
	}
	if got := res.eval(`getComputedStyle(document.activeElement).outlineStyle`); got == "none" {
		t.Error("the focused skip link has no visible outline")
	}
	// Tab on until the approve button has focus; the order is the
	// reading order, so it comes after the navigation.
	approve := `form[action$="/` + id + `/grant"] button`
	for i := 0; ; i++ {
		if i > 40 {
			t.Fatal("the approve button is not reachable with Tab")
		}
		res.do("tab", chromedp.KeyEvent(kb.Tab))
		if res.eval(`document.activeElement.matches(`+jsString(approve)+`) ? "yes" : "no"`) == "yes" {
			break
		}
	}
	res.do("enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	if got := res.eval(`document.activeElement.closest("dialog") ? document.activeElement.dataset.dialog : "outside"`); got != "confirm" {
		t.Fatalf("focus in the open dialog: %q", got)
	}
	res.do("escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("dlg-grant-"+id)))
	if res.eval(`document.activeElement.matches(`+jsString(approve)+`) ? "yes" : "no"`) != "yes" {
		t.Error("closing the dialog did not return focus to the approve button")
	}
	res.do("enter again", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("dlg-grant-"+id)))
	ctx, cancel := context.WithTimeout(res.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	if loc := res.location(); loc != "/portal/inbox?done=granted" {
		t.Fatalf("after confirming with Enter at %s", loc)
	}
	res.ok("keyboard approval")
}

func TestBrowserActivationCodeWorksOnce(t *testing.T) {
	stack := startBrowserStack(t)
	browser := browserCtx(t)
	shots := artifactDirs(t)
	adm := newTab(t, browser, stack.URL, shots)
	adm.signInAdmin("mapper")
	adm.switchLang("en")
	adm.open("/admin/residents")
	adm.screenshot("admin-residents-en")
	doc := Document{Type: "cn-resident", Number: "11010519491231002X"}
	adm.fill(map[string]string{"f-doc1_type": doc.Type, "f-doc1_number": doc.Number, "f-doc2_type": "passport", "f-doc2_number": "L898902C3", "f-doc2_country": "USA"})
	adm.submit("create eID", `form[action="/admin/residents"] button[type=submit]`)
	code := adm.text("#secret-value")
	eid := regexp.MustCompile(`did:eidgate:[0-9a-f]{32}`).FindString(adm.text("main"))
	if code == "" || eid == "" {
		t.Fatalf("no code or eID shown: %s", adm.text("main"))
	}
	if strings.Contains(adm.text("body"), doc.Number) || strings.Contains(adm.location(), doc.Number) {
		t.Error("the document number is on the page or in the URL")
	}
	adm.screenshot("admin-kyc-activation-code-en")
	adm.ok("KYC")

	activate := func() *tab {
		tb := newTab(t, browser, stack.URL, shots)
		tb.open("/portal/activate")
		tb.switchLang("zh-CN")
		tb.fill(map[string]string{"f-type": doc.Type, "f-number": doc.Number, "f-code": code,
			"f-password": "a long new password", "f-password2": "a long new password"})
		return tb
	}
	first := activate()
	first.screenshot("portal-activate-zh")
	first.submit("activate", "main form button[type=submit]")
	if loc := first.location(); loc != "/portal?done=activated" {
		t.Fatalf("activation ended at %s: %s", loc, first.text("main"))
	}
	mustContain(t, first.text("main"), eid)
	first.ok("activate")

	second := activate()
	second.w.expect(http.StatusConflict)
	second.submit("activate again", "main form button[type=submit]")
	if loc := second.location(); loc != "/portal/activate" {
		t.Fatalf("a second activation went to %s", loc)
	}
	mustContain(t, second.text("#error-summary"), "此激活码已经使用过")
	second.screenshot("portal-activate-used-zh")
	second.ok("activate again")
}

func TestBrowserImportProgress(t *testing.T) {
	stack := startBrowserStack(t)
	browser := browserCtx(t)
	shots := artifactDirs(t)
	w := stack.env.w
	w.importer.hold, w.importer.held = make(chan struct{}), make(chan struct{})

	file := filepath.Join(t.TempDir(), "residents.csv")
	if err := os.WriteFile(file, []byte(pgImportCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	adm := newTab(t, browser, stack.URL, shots)
	adm.signInAdmin("root")
	adm.switchLang("en")
	adm.open("/admin/imports")
	adm.do("choose the file", chromedp.SetUploadFiles(chromedp.ID("f-file"), []string{file}))
	adm.submit("upload", `form[action="/admin/imports"] button[type=submit]`)
	if !strings.HasPrefix(adm.location(), "/admin/imports/imp_") {
		t.Fatalf("after upload at %s: %s", adm.location(), adm.text("main"))
	}
	<-w.importer.held
	// The page follows the job without reloading: the counts grow live.
	adm.eval(`window.notReloaded = "yes"`)
	adm.waitText("#imp-done", "2")
	mustContain(t, adm.text("#imp-status"), "Running")
	adm.screenshot("admin-import-running-en")
	close(w.importer.hold)
	adm.waitText("#imp-status", "Finished")
	adm.waitText("#imp-rejected", "2")
	if adm.eval(`window.notReloaded || "reloaded"`) != "yes" {
		t.Error("the page reloaded instead of updating in place")
	}
	if adm.eval(`document.getElementById("imp-rejects").hidden ? "hidden" : "shown"`) != "shown" {
		t.Fatal("the reject report link is not shown when the import finished")
	}
	report := adm.eval(`fetch(document.querySelector("#imp-rejects a").href).then(r => r.text())`)
	mustContain(t, report, "row,masked_number,reason", "1101**********0021")
	mustNotContain(t, report, "110105194912310021")
	adm.screenshot("admin-import-finished-en")
	adm.ok("import")
}

// Every page: no console errors, no failed requests, lang set, both
// languages, usable at 360 px wide. A screenshot of each.
func TestBrowserEveryPage(t *testing.T) {
	stack := startBrowserStack(t)
	browser := browserCtx(t)
	shots := artifactDirs(t)
	env := stack.env
	seedBrowserActivity(t, env)

	tabs := map[string]*tab{"anon": newTab(t, browser, stack.URL, shots), "resident": newTab(t, browser, stack.URL, shots), "root": newTab(t, browser, stack.URL, shots)}
	tabs["resident"].signInResident(env.w.residentDocs[0], pgResidentPassword)
	tabs["root"].signInAdmin("root")
	tabs["anon"].open("/portal/login")
	for _, lang := range []string{"zh-CN", "en"} {
		for who, tb := range tabs {
			if who == "anon" {
				tb.open("/portal/login")
			} else {
				tb.open("/" + map[string]string{"resident": "portal", "root": "admin"}[who])
			}
			tb.switchLang(lang)
		}
		for _, p := range pgAllPages(env) {
			tb := tabs[p.who]
			if p.name == "not found" {
				tb.w.expect(http.StatusNotFound)
			}
			tb.open(p.path)
			if got := tb.lang(); got != lang {
				t.Errorf("%s: <html lang=%q>, want %q", p.path, got, lang)
			}
			if strings.Contains(tb.text("body"), "⟦") {
				t.Errorf("%s (%s): an untranslated message", p.path, lang)
			}
			name := strings.ReplaceAll(p.name, " ", "-")
			if over := tb.eval(`String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" {
				t.Errorf("%s (%s): %s px wider than a 1280 px window", p.path, lang, over)
			}
			tb.screenshot(name + "-" + lang)
			// A phone: nothing wider than the screen, every form control
			// inside it.
			tb.do("phone width", chromedp.EmulateViewport(360, 740))
			if over := tb.eval(`String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" {
				t.Errorf("%s (%s): %s px wider than a 360 px screen", p.path, lang, over)
			}
			if lang == "zh-CN" && (p.who == "resident" || p.name == "portal login") {
				tb.screenshot(name + "-phone-" + lang)
			}
			tb.do("desktop width", chromedp.EmulateViewport(1280, 900))
			tb.ok(p.path + " " + lang)
		}
	}
}

// seedBrowserActivity fills the pages: a pending request, a used and
// anchored consent, and a finished import.
func seedBrowserActivity(t *testing.T, e *pgEnv) {
	t.Helper()
	seedActivity(t, e)
	for {
		jobs, _ := e.w.importer.Jobs(context.Background(), 1)
		if len(jobs) == 1 && !jobs[0].FinishedAt.IsZero() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The watch itself must catch what it is for: a page that breaks the CSP,
// logs an error and loads a missing file fails the check.
func TestBrowserWatchCatchesProblems(t *testing.T) {
	browser := browserCtx(t)
	bad := http.NewServeMux()
	bad.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="en"><title>bad</title><img src="/missing.png" alt=""><script>console.error("boom")</script>`))
	})
	srv := newTestServer(t, bad)
	tb := newTab(t, browser, srv, nil)
	tb.do("open", chromedp.Navigate(srv+"/"))
	_ = chromedp.Do(tb.ctx, chromedp.Sleep(200*time.Millisecond))
	got := strings.Join(tb.w.take(), "\n")
	for _, want := range []string{"Content Security Policy", "HTTP 404"} {
		if !strings.Contains(got, want) {
			t.Errorf("the watch missed %q; it saw:\n%s", want, got)
		}
	}
}
