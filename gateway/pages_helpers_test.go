package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// pagesEnv is a gateway with the fake consortium behind a real HTTP server.
type pagesEnv struct {
	t   testing.TB
	w   *pagesWorld
	s   *gateway.Server
	srv *httptest.Server
}

// pagesNow is the handler tests' clock: dates on pages are deterministic.
var pagesNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newPagesEnv(t testing.TB) *pagesEnv {
	t.Helper()
	return newPagesEnvWith(t, nil)
}

// newPagesEnvWith is newPagesEnv with the gateway's configuration edited.
func newPagesEnvWith(t testing.TB, edit func(*gateway.Config)) *pagesEnv {
	t.Helper()
	w := newPagesWorld(t, routingtest.NewClock(pagesNow))
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		shanghai = time.FixedZone("CST", 8*3600)
	}
	cfg := gateway.Config{Deps: w.deps,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), TimeZone: shanghai, PageKey: []byte("test page key")}
	if edit != nil {
		edit(&cfg)
	}
	s := built[*gateway.Server](t)(gateway.New(cfg))
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, w: w, s: s, srv: srv}
}

// pagesWorld is the demo consortium on the fakes behind the pages.
type pagesWorld struct {
	*stack

	// The demo residents' first documents and eIDs, in demo order.
	residentDocs []mapping.Input
	residentEIDs []string
	apiKey       string // the hrss department's API key
}

// Credentials of the seeded accounts.
const (
	residentPassword = "correct horse battery"
	adminPassword    = "admin password 1234"
)

// newPagesWorld seeds the demo consortium: its departments and data types,
// its residents with their route entries, administrators of every role, a
// resident password for the first resident, an API key for hrss, and a
// policy letting hrss read degrees for hiring.
func newPagesWorld(t testing.TB, clock *routingtest.Clock) *pagesWorld {
	t.Helper()
	w := &pagesWorld{stack: newStack(t, clock)}
	ctx := context.Background()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := model.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range demo.Departments {
		if _, err := w.ledger.RegisterDepartment(ctx, model.Department{ID: d.ID, Name: d.Name, NameEN: d.NameEN, MSPID: d.MSPID,
			Endpoints:   []string{"https://" + d.ID + ".example.gov.cn/records"},
			SigningKeys: []model.SigningKey{{KID: d.ID + "-1", PublicKeyPEM: pem, Status: model.KeyActive}}}); err != nil {
			t.Fatal(err)
		}
	}
	owner := map[string]string{}
	for _, dt := range demo.DataTypes {
		if _, err := w.ledger.RegisterDataType(ctx, model.DataType{Code: dt.Code, Name: dt.Name, NameEN: dt.NameEN, Schema: dt.Schema, Owners: []string{dt.Owner}}); err != nil {
			t.Fatal(err)
		}
		owner[dt.Code] = dt.Owner
	}
	for _, r := range demo.Residents {
		var docs []mapping.Input
		for _, d := range r.Documents {
			docs = append(docs, mapping.Input{Type: mapping.DocType(d.Type), Number: d.Number, Country: d.Country})
		}
		created, err := w.mapping.Create(ctx, docs, "seed")
		if err != nil {
			t.Fatal(err)
		}
		w.residentDocs = append(w.residentDocs, docs[0])
		w.residentEIDs = append(w.residentEIDs, created.EID)
		var batch []model.SignedRoute
		for i, rec := range r.Records {
			sum := sha256.Sum256(demo.RecordJSON(rec))
			sr, err := model.SignRoute(key, owner[rec.DataType]+"-1", model.RouteStatement{EID: created.EID, DataType: rec.DataType,
				Provider: owner[rec.DataType], Version: uint64(i + 1), Digest: model.DigestPrefix + hex.EncodeToString(sum[:]), Schema: rec.DataType + "/1"})
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, sr)
		}
		if _, err := w.ledger.PublishRoutes(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// The first resident has activated the account; the others have not.
	w.activate(t, w.residentEIDs[0], residentPassword)
	for name, role := range map[string]string{"root": accounts.RoleAdmin, "mapper": accounts.RoleMappingOfficer, "auditor": accounts.RoleAuditor} {
		if _, err := w.admins.CreateAdmin(ctx, name, adminPassword, role); err != nil {
			t.Fatal(err)
		}
	}
	if w.apiKey, _, err = w.apiKeys.IssueAPIKey(ctx, "hrss", "hrss system"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []policies.Line{
		{Kind: "p", Subject: "hrss", Object: "edu.*", Action: "hiring", Effect: "allow"},
		{Kind: "g", Subject: "edu-bureau", Role: "school"},
	} {
		if _, err := w.policy.AddLine(ctx, "seed", r); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    testing.TB
	env  *pagesEnv
	c    *http.Client
	lang string // Accept-Language
}

func (e *pagesEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, env: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type pageResp struct {
	status int
	body   string
	header http.Header
}

func (r pageResp) location() string { return r.header.Get("Location") }

func (b *browser) do(req *http.Request) pageResp {
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
	return pageResp{status: res.StatusCode, body: string(body), header: res.Header}
}

// cookie is the value of the browser's cookie name for the gateway.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) get(path string) pageResp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.env.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) pageResp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart posts fields in order, then the file.
func (b *browser) postMultipart(path string, fields [][2]string, fileName, content string) pageResp {
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
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF token on the page (status %d)", path, r.status)
	}
	return m[1]
}

// submit posts a form of the page at from to action with the page's token.
func (b *browser) submit(from, action string, form url.Values) pageResp {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(from))
	return b.post(action, form)
}

func docForm(prefix string, d mapping.Input, extra url.Values) url.Values {
	if extra == nil {
		extra = url.Values{}
	}
	extra.Set(prefix+"type", string(d.Type))
	extra.Set(prefix+"number", d.Number)
	extra.Set(prefix+"country", d.Country)
	return extra
}

// residentSignIn signs in demo resident i (only 0 has a password).
func (e *pagesEnv) residentSignIn(i int) *browser {
	e.t.Helper()
	b := e.browser()
	r := b.submit("/portal/login", "/portal/login", docForm("", e.w.residentDocs[i], url.Values{"password": {residentPassword}}))
	if r.status != http.StatusSeeOther || r.location() != "/portal" {
		e.t.Fatalf("resident sign-in: status %d, location %q\n%s", r.status, r.location(), r.body)
	}
	return b
}

// adminSignIn signs in a seeded administrator (root, mapper, auditor).
func (e *pagesEnv) adminSignIn(name string) *browser {
	e.t.Helper()
	b := e.browser()
	r := b.submit("/admin/login", "/admin/login", url.Values{"username": {name}, "password": {adminPassword}})
	if r.status != http.StatusSeeOther || r.location() != "/admin" {
		e.t.Fatalf("admin sign-in %s: status %d, location %q\n%s", name, r.status, r.location(), r.body)
	}
	return b
}

// api calls the JSON API as the hrss department.
func (e *pagesEnv) api(method, path string, body any) (int, map[string]any) {
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
func (e *pagesEnv) requestConsent(i int, maxUses int) string {
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
func (e *pagesEnv) resolve(i int) (int, map[string]any) {
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

// testLog sends the server's warnings and errors to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
