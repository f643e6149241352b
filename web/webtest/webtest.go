// Package webtest drives the portal and the console in Debian's Chromium
// (headless) for browser tests: every step fails on a console error, an
// uncaught exception, a Content-Security-Policy report, a failed request or
// an HTTP error the step did not expect, and screenshots go to an artifact
// directory. Outside CI the tests skip when Chromium is absent.
package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/eidgate/eidgate/internal/testenv"
)

// StepTimeout bounds one browser step.
const StepTimeout = 30 * time.Second

// Browser is a headless Chromium with a fresh profile.
type Browser struct {
	ctx   context.Context
	shots []string
}

// Start launches Chromium with the flags of the CI image and a fresh
// user-data dir; it is stopped when the test ends.
func Start(t *testing.T) *Browser {
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
	return &Browser{ctx: ctx, shots: artifactDirs(t)}
}

// artifactDirs are where screenshots go: a directory under the test's temp
// dir (named in the log) and $EIDGATE_ARTIFACTS/web/<test> when set.
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

// Tab is one browser profile (its own cookies) with one page.
type Tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	w     *watch
	shots []string
}

var loadFailedStatus = regexp.MustCompile(`status of (\d{3})`)

// Tab opens a new profile whose pages are under base (e.g. the server's
// URL), watching every event of its page.
func (b *Browser) Tab(t *testing.T, base string) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &Tab{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), w: &watch{}, shots: b.shots}
	if err := chromedp.Listen(ctx, tb.observe); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// observe runs in chromedp's event loop: it must only record.
func (tb *Tab) observe(ev any) {
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
			if m := loadFailedStatus.FindStringSubmatch(ev.Entry.Text); m != nil {
				if n, _ := strconv.Atoi(m[1]); tb.w.isExpected(n) {
					return
				}
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
}

// Expect lets the current step answer with these HTTP statuses (an error
// page the step provokes on purpose) until the next OK.
func (tb *Tab) Expect(status ...int) {
	tb.w.mu.Lock()
	tb.w.expected = status
	tb.w.mu.Unlock()
}

// Problems returns and forgets what the watch saw since the last call.
func (tb *Tab) Problems() []string {
	// Let late events (a failed favicon, a CSP report) arrive.
	_ = chromedp.Do(tb.ctx, chromedp.Sleep(50*time.Millisecond))
	tb.w.mu.Lock()
	defer tb.w.mu.Unlock()
	out := tb.w.problems
	tb.w.problems, tb.w.expected = nil, nil
	return out
}

// OK fails the test with whatever went wrong on the page since the last
// check.
func (tb *Tab) OK(step string) {
	tb.t.Helper()
	for _, p := range tb.Problems() {
		tb.t.Errorf("%s: %s", step, p)
	}
}

// Context is the tab's chromedp context, for actions of a test's own.
func (tb *Tab) Context() context.Context { return tb.ctx }

// Do runs actions, failing the test on an error.
func (tb *Tab) Do(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
}

// Open loads a page and checks it.
func (tb *Tab) Open(path string) {
	tb.t.Helper()
	tb.Do("open "+path, chromedp.Navigate(tb.base+path))
	tb.OK("open " + path)
}

// Submit clicks what matches sel (a submit button, a dialog's confirm
// button) and waits for the page that follows.
func (tb *Tab) Submit(step, sel string) *network.Response {
	tb.t.Helper()
	return tb.Navigation(step, chromedp.Click(chromedp.CSS(sel)))
}

// Navigation runs an action that loads a new page and waits for it.
func (tb *Tab) Navigation(step string, a chromedp.Action[chromedp.Void]) *network.Response {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", step, err)
	}
	return res
}

// Eval evaluates a JavaScript expression to a string (promises are
// awaited).
func (tb *Tab) Eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Text is the rendered text of the first element matching sel ("" when
// none matches).
func (tb *Tab) Text(sel string) string {
	tb.t.Helper()
	return tb.Eval(`(document.querySelector(` + JS(sel) + `)||{}).innerText||""`)
}

// WaitText waits until the text of sel contains want.
func (tb *Tab) WaitText(sel, want string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	expr := `((document.querySelector(` + JS(sel) + `)||{}).innerText||"").includes(` + JS(want) + `)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(StepTimeout))); err != nil {
		tb.t.Fatalf("waiting for %q in %s (now %q): %v", want, sel, tb.Text(sel), err)
	}
}

// Location is the path and query of the page.
func (tb *Tab) Location() string { return tb.Eval(`location.pathname + location.search`) }

// Lang is the page's <html lang>.
func (tb *Tab) Lang() string { return tb.Eval(`document.documentElement.lang`) }

// Overflow is how many CSS pixels the page is wider than the window.
func (tb *Tab) Overflow() int {
	n, _ := strconv.Atoi(tb.Eval(`String(document.documentElement.scrollWidth - window.innerWidth)`))
	return n
}

// Screenshot saves the whole page as name.png in every artifact dir.
func (tb *Tab) Screenshot(name string) {
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

// JS quotes s as a JavaScript string literal.
func JS(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// Fill types into the fields with these ids (a select gets its value set).
func (tb *Tab) Fill(fields map[string]string) {
	tb.t.Helper()
	for id, v := range fields {
		if tb.Eval(`(document.getElementById(`+JS(id)+`)||{}).tagName||""`) == "SELECT" {
			tb.Do("select "+id, chromedp.SetValue(chromedp.ID(id), v))
		} else {
			tb.Do("type into "+id, chromedp.Clear(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), v))
		}
	}
}

// SwitchLang uses the page's language switch until the page is in lang.
func (tb *Tab) SwitchLang(lang string) {
	tb.t.Helper()
	if tb.Lang() != lang {
		tb.Submit("switch language", ".lang-switch button")
		tb.OK("switch language")
	}
	if got := tb.Lang(); got != lang {
		tb.t.Fatalf("language switch: <html lang=%q>, want %q", got, lang)
	}
}

// SignInResident signs a resident in on /portal/login.
func (tb *Tab) SignInResident(docType, number, country, password string) {
	tb.t.Helper()
	tb.Open("/portal/login")
	tb.Fill(map[string]string{"f-type": docType, "f-number": number, "f-password": password})
	if country != "" {
		tb.Fill(map[string]string{"f-country": country})
	}
	tb.Submit("sign in", "main form button[type=submit]")
	if loc := tb.Location(); loc != "/portal" {
		tb.t.Fatalf("after sign-in at %s: %s", loc, tb.Text("main"))
	}
	tb.OK("sign in")
}

// SignInAdmin signs an administrator in on /admin/login.
func (tb *Tab) SignInAdmin(username, password string) {
	tb.t.Helper()
	tb.Open("/admin/login")
	tb.Fill(map[string]string{"f-username": username, "f-password": password})
	tb.Submit("sign in", "main form button[type=submit]")
	if loc := tb.Location(); loc != "/admin" {
		tb.t.Fatalf("after sign-in at %s: %s", loc, tb.Text("main"))
	}
	tb.OK("admin sign in")
}
