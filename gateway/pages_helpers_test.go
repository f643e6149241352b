package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pgEnv is a gateway with the fake consortium behind a real HTTP server.
type pgEnv struct {
	t   testing.TB
	w   *pgWorld
	s   *Server
	srv *httptest.Server
}

// pgFixedNow is the handler tests' clock: dates on pages are deterministic.
var pgFixedNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newPGEnv(t testing.TB) *pgEnv {
	t.Helper()
	return newPGEnvClock(t, &pgClock{fixed: pgFixedNow})
}

func newPGEnvClock(t testing.TB, clock *pgClock) *pgEnv {
	t.Helper()
	w := newPGWorld(t, clock)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		shanghai = time.FixedZone("CST", 8*3600)
	}
	s := New(Config{Logger: slog.New(slog.NewTextHandler(pgTestLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), TimeZone: shanghai, PageKey: []byte("test page key")}, w.deps)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &pgEnv{t: t, w: w, s: s, srv: srv}
}

// pgBrowser is a cookie-keeping client that does not follow redirects.
type pgBrowser struct {
	t    testing.TB
	env  *pgEnv
	c    *http.Client
	lang string // Accept-Language
}

func (e *pgEnv) browser() *pgBrowser {
	jar, _ := cookiejar.New(nil)
	return &pgBrowser{t: e.t, env: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type pgResp struct {
	status int
	body   string
	header http.Header
}

func (r pgResp) location() string { return r.header.Get("Location") }

func (b *pgBrowser) do(req *http.Request) pgResp {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return pgResp{status: res.StatusCode, body: string(body), header: res.Header}
}

func (b *pgBrowser) get(path string) pgResp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.env.srv.URL+path, nil)
	return b.do(req)
}

func (b *pgBrowser) post(path string, form url.Values) pgResp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart posts fields in order, then the file.
func (b *pgBrowser) postMultipart(path string, fields [][2]string, fileName, content string) pgResp {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	if fileName != "" {
		fw, _ := mw.CreateFormFile("file", fileName)
		_, _ = io.WriteString(fw, content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.env.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token of a page.
func (b *pgBrowser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF token on the page (status %d)", path, r.status)
	}
	return m[1]
}

// submit posts a form of the page at from to action with the page's token.
func (b *pgBrowser) submit(from, action string, form url.Values) pgResp {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(from))
	return b.post(action, form)
}

func docForm(prefix string, d Document, extra url.Values) url.Values {
	if extra == nil {
		extra = url.Values{}
	}
	extra.Set(prefix+"type", d.Type)
	extra.Set(prefix+"number", d.Number)
	extra.Set(prefix+"country", d.Country)
	return extra
}

// residentSignIn signs in demo resident i (only 0 has a password).
func (e *pgEnv) residentSignIn(i int) *pgBrowser {
	e.t.Helper()
	b := e.browser()
	r := b.submit("/portal/login", "/portal/login", docForm("", e.w.residentDocs[i], url.Values{"password": {pgResidentPassword}}))
	if r.status != http.StatusSeeOther || r.location() != "/portal" {
		e.t.Fatalf("resident sign-in: status %d, location %q\n%s", r.status, r.location(), r.body)
	}
	return b
}

// adminSignIn signs in a seeded administrator (root, mapper, auditor).
func (e *pgEnv) adminSignIn(name string) *pgBrowser {
	e.t.Helper()
	b := e.browser()
	r := b.submit("/admin/login", "/admin/login", url.Values{"username": {name}, "password": {pgAdminPassword}})
	if r.status != http.StatusSeeOther || r.location() != "/admin" {
		e.t.Fatalf("admin sign-in %s: status %d, location %q\n%s", name, r.status, r.location(), r.body)
	}
	return b
}

// api calls the JSON API as the hrss department.
func (e *pgEnv) api(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.w.apiKey)
	req.Header.Set("X-Eidgate-Official", "hr.clerk.17")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// requestConsent has hrss ask resident i for a degree, for hiring.
func (e *pgEnv) requestConsent(i int, maxUses int) string {
	e.t.Helper()
	status, out := e.api(http.MethodPost, "/v1/consents", map[string]any{
		"eid": e.w.residentEIDs[i], "data_types": []string{"edu.degree"}, "purpose_code": "hiring",
		"purpose_text": "核实应聘者学历", "valid_until": e.w.clock.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339), "max_uses": maxUses,
	})
	if status != http.StatusCreated {
		e.t.Fatalf("consent request: %d %v", status, out)
	}
	return out["id"].(string)
}

// resolve has hrss resolve resident i's degree for hiring.
func (e *pgEnv) resolve(i int) (int, map[string]any) {
	e.t.Helper()
	return e.api(http.MethodPost, "/v1/routes/resolve", map[string]any{
		"subject": map[string]any{"eid": e.w.residentEIDs[i]}, "data_type": "edu.degree", "purpose": "hiring",
	})
}

func mustContain(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t testing.TB, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("page holds %q", b)
		}
	}
}

// pgTestLog sends the server's warnings and errors to the test log.
type pgTestLog struct{ t testing.TB }

func (l pgTestLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
