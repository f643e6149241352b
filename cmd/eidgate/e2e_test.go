package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/gateway/openapitest"
	"github.com/eidgate/eidgate/internal/bench"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/routing"
)

// stack is a running gateway with the demo loaded, on a random port and a
// temp data dir, as `eidgate serve --demo` runs it.
type stack struct {
	t    *testing.T
	m    *Main  // nil for a gateway in another process
	base string // the gateway's URL
	demo *demo.Info
	http *http.Client
	spec *openapitest.Validator
}

func startDemo(t *testing.T, edit func(*Config)) *stack {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Demo = true
	cfg.LogLevel = "warn"
	if edit != nil {
		edit(&cfg)
	}
	m := newTestMain(t, cfg)
	return newStack(t, m, m.Demo(), nil)
}

// newStack drives a running Main: demo holds the credentials (another
// replica's demo.json for a Main without --demo), base the HTTP client
// settings (TLS), nil for plain HTTP.
func newStack(t *testing.T, m *Main, demo *demo.Info, base *http.Client) *stack {
	t.Helper()
	s := newURLStack(t, m.URL(), demo, base)
	s.m = m
	return s
}

// newURLStack drives the gateway at url (another process).
func newURLStack(t *testing.T, url string, demo *demo.Info, base *http.Client) *stack {
	t.Helper()
	if base == nil {
		base = &http.Client{}
	}
	c := *base
	c.Timeout = 30 * time.Second
	// Redirects are answers to check (a page sending a caller to sign in),
	// not to follow.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	v := openapitest.MustNew(t, gateway.OpenAPISpec())
	s := &stack{t: t, base: url, demo: demo, spec: v, http: v.Client(&c)}
	t.Cleanup(func() { v.Check(t) })
	return s
}

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r reply) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// caller is who sends a request: a department (API key or client
// certificate, + official), a browser session (cookie + CSRF token) or
// nobody.
type caller struct {
	apiKey     string
	cookie     string
	cookieName string // the portal's or the console's session cookie
	csrf       string
	headers    map[string]string
	// client, when set, sends the request instead of the stack's client
	// (a department presenting its mTLS client certificate).
	client *http.Client
}

// rawBody is a request body sent as it is, not as JSON.
type rawBody struct {
	contentType string
	data        []byte
}

func (s *stack) dept(id string) caller {
	for _, d := range s.demo.Departments {
		if d.ID == id {
			return caller{apiKey: d.APIKey, headers: map[string]string{"X-Eidgate-Official": "clerk-" + id}}
		}
	}
	s.t.Fatalf("no demo department %s", id)
	return caller{}
}

func (s *stack) do(c caller, method, path string, body any) reply {
	s.t.Helper()
	var rd io.Reader
	contentType := "application/json"
	if raw, ok := body.(rawBody); ok {
		rd, contentType = bytes.NewReader(raw.data), raw.contentType
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookieName+"="+c.cookie)
		if method != http.MethodGet {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	client := s.http
	if c.client != nil {
		client = c.client
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := reply{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// login signs a session in and returns it as a caller.
func (s *stack) login(path string, body any) caller {
	s.t.Helper()
	r := s.do(caller{}, http.MethodPost, path, body)
	if r.status != http.StatusOK {
		s.t.Fatalf("login %s: %d %v", path, r.status, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == gateway.SessionCookie || c.Name == gateway.ConsoleSessionCookie {
			if !c.HttpOnly {
				s.t.Fatalf("c.HttpOnly is false; session cookie flags: %+v", c)
			}
			if !c.Secure {
				s.t.Fatalf("c.Secure is false; session cookie flags: %+v", c)
			}
			if c.SameSite != http.SameSiteStrictMode {
				s.t.Fatalf("c.SameSite = %v, want http.SameSiteStrictMode; session cookie flags: %+v", c.SameSite, c)
			}
			return caller{cookie: c.Value, cookieName: c.Name, csrf: r.str("csrf_token")}
		}
	}
	s.t.Fatalf("login %s set no session cookie", path)
	return caller{}
}

func (s *stack) resident(i int) caller {
	r := s.demo.Residents[i]
	return s.login("/v1/me/login", map[string]any{
		"document": map[string]any{"type": r.DocType, "number": r.DocNumber, "country": r.Country}, "password": r.Password,
	})
}

func (s *stack) admin() caller {
	return s.login("/v1/admin/login", map[string]any{"username": s.demo.Admin.Username, "password": s.demo.Admin.Password})
}

func resolveBody(r demo.ResidentLogin, dataType, purpose string) map[string]any {
	return map[string]any{
		"subject":   map[string]any{"document": map[string]any{"type": r.DocType, "number": r.DocNumber, "country": r.Country}},
		"data_type": dataType, "purpose": purpose,
	}
}

// TestEndToEndResolveFlow walks the whole flow of docs/architecture.md on the real
// stack: no consent → 403 consent_required with a request the resident
// sees; grant; resolve → ticket; the provider verifies it and refuses a
// replay; proxy mode checks the digest; offline verification; the access
// shows in the resident's log, anchored, with a Merkle proof that verifies
// against the ledger; revoke → refused at once.
func TestEndToEndResolveFlow(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	hrss := s.dept("hrss")
	alice := s.demo.Residents[0]
	req := resolveBody(alice, "edu.degree", "employment")

	r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusForbidden || r.errCode() != "consent_required" {
		t.Fatalf("resolve without consent: %d %v", r.status, r.body)
	}
	consentID := r.str("error", "details", "consent_id")
	if consentID == "" {
		t.Fatal("consent_required names no consent request")
	}

	me := s.resident(0)
	r = s.do(me, http.MethodGet, "/v1/me/consents", nil)
	if r.status != http.StatusOK || !strings.Contains(mustJSON(r.body), consentID) {
		t.Fatalf("the resident does not see the request: %d %v", r.status, r.body)
	}
	if r = s.do(me, http.MethodPost, "/v1/me/consents/"+consentID+"/grant", nil); r.status != http.StatusOK || r.str("status") != "active" {
		t.Fatalf("grant: %d %v", r.status, r.body)
	}

	r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusOK {
		t.Fatalf("resolve with consent: %d %v", r.status, r.body)
	}
	ticket, eid, endpoint := r.str("ticket"), r.str("eid"), r.str("provider", "endpoint")
	if eid != alice.EID || r.str("provider", "id") != "edu-bureau" || ticket == "" {
		t.Fatalf("resolve result %v", r.body)
	}

	// The provider department verifies the ticket and serves the record once.
	fetch := func() (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, endpoint+"/v1/records?eid="+eid+"&data_type=edu.degree", nil)
		req.Header.Set("Authorization", "Bearer "+ticket)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, record := fetch()
	if status != http.StatusOK {
		t.Fatalf("provider refused a fresh ticket: %d %s", status, record)
	}
	if status, body := fetch(); status != http.StatusUnauthorized || !strings.Contains(string(body), "ticket_replayed") {
		t.Fatalf("provider accepted a replayed ticket: %d %s", status, body)
	}

	// Proxy mode returns the record checked against the on-chain digest.
	px := resolveBody(alice, "edu.degree", "employment")
	px["mode"] = "proxy"
	if r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", px); r.status != http.StatusOK || r.str("record", "digest") != r.str("digest") {
		t.Fatalf("proxy resolve: %d %v", r.status, r.body)
	}

	// The education bureau issued the degree as a credential, so its route
	// names the credential and the provider serves it in place of the
	// record. Another department checks it: a credential is checked as one
	// (issuer's signature, status, anchor), not as a salted record.
	var env map[string]any
	if err := json.Unmarshal(record, &env); err != nil {
		t.Fatal(err)
	}
	cred, _ := env["credential"].(string)
	if cred == "" || env["record"] != nil {
		t.Fatalf("the provider served no credential for a credential's route: %s", record)
	}
	if r = s.do(s.dept("civil-affairs"), http.MethodPost, "/v1/verify", env); r.status != http.StatusBadRequest || r.errCode() != "use_credential_verify" {
		t.Fatalf("record verification of a credential: %d %v", r.status, r.body)
	}
	if r = s.do(s.dept("civil-affairs"), http.MethodPost, "/v1/credentials/verify", map[string]any{"credential": cred}); r.status != http.StatusOK || r.body["valid"] != true {
		t.Fatalf("verify: %d %v", r.status, r.body)
	}
	parts := strings.Split(cred, "~")
	parts[1] = parts[2]
	if r = s.do(s.dept("civil-affairs"), http.MethodPost, "/v1/credentials/verify", map[string]any{"credential": strings.Join(parts, "~")}); r.status != http.StatusOK || r.body["valid"] != false {
		t.Fatalf("verify of a tampered credential: %d %v", r.status, r.body)
	}

	// The resident sees the accesses, anchored, with proofs that verify.
	var accessID string
	deadline := time.Now().Add(20 * time.Second)
	for accessID == "" && time.Now().Before(deadline) {
		r = s.do(me, http.MethodGet, "/v1/me/access?outcome=issued", nil)
		list, _ := r.body["access"].([]any)
		for _, a := range list {
			if a := a.(map[string]any); a["anchored"] == true {
				accessID = a["id"].(string)
				if strings.Contains(a["official"].(string), "clerk") {
					t.Fatalf("the resident sees the official's staff id: %v", a["official"])
				}
			}
		}
		if accessID == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if accessID == "" {
		t.Fatal("no issued access was anchored")
	}
	if r = s.do(me, http.MethodGet, "/v1/me/access/"+accessID+"/proof", nil); r.status != http.StatusOK || r.body["verified"] != true {
		t.Fatalf("proof: %d %v", r.status, r.body)
	}
	// Another resident cannot read it.
	if r = s.do(s.resident(1), http.MethodGet, "/v1/me/access/"+accessID+"/proof", nil); r.status != http.StatusNotFound {
		t.Fatalf("another resident read the proof: %d", r.status)
	}

	// Revocation stops the next resolve at once.
	if r = s.do(me, http.MethodPost, "/v1/me/consents/"+consentID+"/revoke", nil); r.status != http.StatusOK || r.str("status") != "revoked" {
		t.Fatalf("revoke: %d %v", r.status, r.body)
	}
	if r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden || r.errCode() != "consent_revoked" {
		t.Fatalf("resolve after revocation: %d %v", r.status, r.body)
	}

	if r = s.do(caller{}, http.MethodGet, "/readyz", nil); r.status != http.StatusOK {
		t.Fatalf("readyz: %d %v", r.status, r.body)
	}
	if r = s.do(caller{}, http.MethodGet, "/1.0/identifiers/"+eid, nil); r.status != http.StatusOK || r.str("didDocument", "id") != eid {
		t.Fatalf("DID resolution: %d %v", r.status, r.body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAccessLogMetrics: /metrics counts the access log's group commits and
// the records they carried, so an operator can read records per commit.
func TestAccessLogMetrics(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	scrape := func() map[string]float64 {
		t.Helper()
		got, err := bench.ScrapeMetrics(context.Background(), s.http, s.base+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	before := scrape()
	const n = 3
	req := resolveBody(s.demo.Residents[0], "edu.degree", "employment")
	for range n {
		// Refused for want of consent, and recorded as such.
		if r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden {
			t.Fatalf("resolve: %d %v", r.status, r.body)
		}
	}
	after := scrape()
	records := after["eidgate_access_log_records_total"] - before["eidgate_access_log_records_total"]
	commits := after["eidgate_access_log_commits_total"] - before["eidgate_access_log_commits_total"]
	if records != n || commits < 1 || commits > n || after["eidgate_access_log_failed_commits_total"] != 0 {
		t.Fatalf("after %d recorded resolves: %v records in %v commits, %v failed", n, records, commits, after["eidgate_access_log_failed_commits_total"])
	}
}

// TestDemoRestartKeepsState restarts on the same data dir: the demo is not
// loaded twice and the credentials still work.
func TestDemoRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", dir, true, "warn"
	first := NewMain(cfg)
	if err := first.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	info := *first.Demo()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	s := startDemo(t, func(c *Config) { c.DataDir = dir })
	if s.demo.Departments[0].APIKey != info.Departments[0].APIKey || s.demo.Residents[0].EID != info.Residents[0].EID {
		t.Fatal("restart changed the demo credentials")
	}
	if s.demo.GatewayURL != s.m.URL() {
		t.Fatalf("demo.json gateway_url %s after restart on %s", s.demo.GatewayURL, s.m.URL())
	}
	s.resident(0)
	r := s.do(s.dept("edu-bureau"), http.MethodGet, "/v1/consents", nil)
	if r.status != http.StatusOK {
		t.Fatalf("department API after restart: %d %v", r.status, r.body)
	}
}

// TestKYCCounterActivationWorksOnce creates an eID at the counter through
// the admin API; the activation code signs the resident in once and only
// once, and the document is never echoed in full.
func TestKYCCounterActivationWorksOnce(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	adm := s.admin()
	doc := map[string]any{"type": "cn-resident", "number": "11010519491231002X"}
	r := s.do(adm, http.MethodPost, "/v1/admin/eids", map[string]any{"documents": []any{doc}})
	if r.status != http.StatusCreated || r.str("activation_code") == "" {
		t.Fatalf("create eID: %d %v", r.status, r.body)
	}
	if strings.Contains(mustJSON(r.body), "11010519491231002X") {
		t.Fatal("the full document number came back")
	}
	code := r.str("activation_code")
	if again := s.do(adm, http.MethodPost, "/v1/admin/eids", map[string]any{"documents": []any{doc}}); again.status != http.StatusConflict || strings.Contains(mustJSON(again.body), "did:eidgate") {
		t.Fatalf("second create of the same document: %d %v", again.status, again.body)
	}
	activate := map[string]any{"document": doc, "code": code, "password": "a-New-passw0rd"}
	if r = s.do(caller{}, http.MethodPost, "/v1/me/activate", activate); r.status != http.StatusOK {
		t.Fatalf("activation: %d %v", r.status, r.body)
	}
	activate["password"] = "another-Passw0rd"
	if r = s.do(caller{}, http.MethodPost, "/v1/me/activate", activate); r.status < 400 {
		t.Fatalf("the activation code worked twice: %d %v", r.status, r.body)
	}
	s.login("/v1/me/login", map[string]any{"document": doc, "password": "a-New-passw0rd"})

	// Roles: an auditor may read the audit log but not create eIDs.
	var auditor demo.StaffLogin
	for _, u := range s.demo.Staff {
		if u.Role == accounts.RoleAuditor {
			auditor = u
		}
	}
	aud := s.login("/v1/admin/login", map[string]any{"username": auditor.Username, "password": auditor.Password})
	if r = s.do(aud, http.MethodGet, "/v1/admin/access", nil); r.status != http.StatusOK {
		t.Fatalf("auditor reading the audit log: %d", r.status)
	}
	if r = s.do(aud, http.MethodPost, "/v1/admin/eids", map[string]any{"documents": []any{doc}}); r.status != http.StatusForbidden {
		t.Fatalf("auditor creating an eID: %d", r.status)
	}
}

// TestProxyModeRefusesARecordThatDoesNotMatchItsDigest: when the provider
// serves a record other than the one whose digest is on the ledger, proxy
// mode answers 502 digest_mismatch, hands nothing on and flags the access.
func TestProxyModeRefusesARecordThatDoesNotMatchItsDigest(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	grantDegree(t, s)
	recs, err := demo.LoadRecords(s.m.Config.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if recs[i].EID == s.demo.Residents[0].EID && recs[i].DataType == "edu.degree" {
			// The route names the degree credential: a provider that serves
			// another one (here, a degree the bureau never issued, signed by
			// nobody) is caught by its digest.
			parts := strings.SplitN(recs[i].Credential, ".", 3)
			recs[i].Credential = parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"degree":"doctor"}`)) + "." + parts[2]
		}
	}
	s.m.provider.SetRecords(recs)
	req := resolveBody(s.demo.Residents[0], "edu.degree", "employment")
	req["mode"] = "proxy"
	r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusBadGateway || r.errCode() != "digest_mismatch" || r.body["record"] != nil {
		t.Fatalf("proxy of a tampered record: %d %v", r.status, r.body)
	}
	list, err := s.m.db.ListAccess(context.Background(), routing.AccessFilter{Requester: "hrss", Outcome: routing.OutcomeIssued, Desc: true, Limit: 1})
	if err != nil {
		t.Fatalf("err = %v, want nil; the access was not flagged: %+v %v", err, list, err)
	}
	if len(list) != 1 {
		t.Fatalf("len(list) = %v, want 1; the access was not flagged: %+v %v", len(list), list, err)
	}
	if !list[0].Flagged {
		t.Fatalf("list[0].Flagged is false; the access was not flagged: %+v %v", list, err)
	}
	if list[0].FlagReason == "" {
		t.Fatalf("list[0].FlagReason == \"\", want it different; the access was not flagged: %+v %v", list, err)
	}
}

// TestInterruptedDemoLoadCompletes: a load that stopped before writing
// demo.json (every step done, the file missing) is completed on the next
// start, and the credentials it then writes all work.
func TestInterruptedDemoLoadCompletes(t *testing.T) {
	t.Parallel()
	data, _ := loadedDataDir(t)
	if err := os.Remove(filepath.Join(data, demo.InfoFile)); err != nil {
		t.Fatal(err)
	}
	s := startDemo(t, func(c *Config) { c.DataDir = data })
	s.resident(0)
	s.admin()
	for _, u := range s.demo.Staff {
		s.login("/v1/admin/login", map[string]any{"username": u.Username, "password": u.Password})
	}
	for _, d := range s.demo.Departments {
		if r := s.do(s.dept(d.ID), http.MethodGet, "/v1/consents", nil); r.status != http.StatusOK {
			t.Fatalf("API key of %s: %d %v", d.ID, r.status, r.body)
		}
	}
}
