package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/gateway/openapitest"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/mapping/mappingtest"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// world is a gateway.Server over the real services (stack) and the
// verifier and proxy, served over TLS through the OpenAPI validator.
type world struct {
	t *testing.T
	*stack
	v   *openapitest.Validator
	url string

	plain *http.Client // no client certificate
	edu   *http.Client // edu-bureau's client certificate

	// Seeded data.
	alice, bob       string // eIDs
	aliceDoc, bobDoc mapping.Input
	aliceRecord      json.RawMessage
	aliceSalt        string
	eduKey           *ecdsa.PrivateKey
	hrToken          string // API key of hr-bureau (requester)
	taxToken         string // API key of tax-bureau (suspended)
	statsToken       string // API key of stats-bureau (rate limited)
	orphanToken      string // API key of a department that is not registered
	answers          *worldAnswers
}

// Demo identifiers.
const (
	eduBureau   = "edu-bureau"
	hrBureau    = "hr-bureau"
	taxBureau   = "tax-bureau"
	statsBureau = "stats-bureau"
	purpose     = "employment"
)

func newWorld(t *testing.T, edit ...func(*gateway.Config)) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, stack: newStack(t, routingtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))}

	// The provider's records.
	w.aliceDoc, w.bobDoc = mappingtest.Resident(1), mappingtest.Resident(2)
	w.aliceRecord = json.RawMessage(`{"degree":"Bachelor of Engineering","institution":"Peking University","year":2012}`)
	bobRecord := json.RawMessage(`{"degree":"Master of Laws","institution":"Fudan University","year":2015}`)
	aliceSalt, bobSalt := digest.NewSalt(), digest.NewSalt()
	w.aliceSalt = digest.EncodeSalt(aliceSalt)
	aliceDigest, err := digest.Compute(w.aliceRecord, aliceSalt)
	if err != nil {
		t.Fatal(err)
	}
	bobDigest, err := digest.Compute(bobRecord, bobSalt)
	if err != nil {
		t.Fatal(err)
	}

	// Department identities.
	eduCA, err := devcrypto.NewCA("EduMSP", "edu.example.gov")
	if err != nil {
		t.Fatal(err)
	}
	hrCA, err := devcrypto.NewCA("HrMSP", "hr.example.gov")
	if err != nil {
		t.Fatal(err)
	}
	eduClient, err := eduCA.Issue(devcrypto.IssueOptions{CommonName: "records.edu.example.gov", OU: devcrypto.OUClient, Client: true,
		Attrs: map[string]string{"eidgate.role": "department", "eidgate.dept": eduBureau}})
	if err != nil {
		t.Fatal(err)
	}
	w.eduKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eduPEM, err := model.MarshalPublicKey(&w.eduKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	var bobEID string
	provider := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/records" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(rw, "no", http.StatusUnauthorized)
			return
		}
		env := routing.RecordEnvelope{EID: r.URL.Query().Get("eid"), DataType: r.URL.Query().Get("data_type"), Provider: eduBureau,
			Version: 1, Salt: w.aliceSalt, Record: w.aliceRecord}
		if env.EID == bobEID {
			// A provider serving a record that is not the one it published.
			env.Salt, env.Record = digest.EncodeSalt(bobSalt), json.RawMessage(`{"degree":"Doctor of Laws","institution":"Fudan University","year":2015}`)
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(env)
	}))
	t.Cleanup(provider.Close)

	// Registry.
	for _, d := range []model.Department{
		{ID: eduBureau, Name: "教育局", NameEN: "Education Bureau", MSPID: "EduMSP", Endpoints: []string{provider.URL},
			SigningKeys: []model.SigningKey{{KID: "edu-2026", PublicKeyPEM: eduPEM, Status: model.KeyActive}}},
		{ID: hrBureau, Name: "人力资源和社会保障局", NameEN: "Human Resources Bureau", MSPID: "HrMSP"},
		{ID: taxBureau, Name: "税务局", NameEN: "Tax Bureau", MSPID: "TaxMSP"},
		{ID: statsBureau, Name: "统计局", NameEN: "Statistics Bureau", MSPID: "StatsMSP"},
		{ID: "civil-affairs", Name: "民政局", NameEN: "Civil Affairs Bureau", MSPID: "CivilMSP"},
	} {
		if _, err := w.ledger.RegisterDepartment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ledger.SetDepartmentStatus(ctx, taxBureau, model.DepartmentSuspended, "audit in progress"); err != nil {
		t.Fatal(err)
	}
	for _, dt := range []model.DataType{
		{Code: "edu.degree", Name: "学位", NameEN: "Degree", Schema: `{"type":"object","required":["degree"]}`, Owners: []string{eduBureau},
			Predicates: []model.Predicate{{ID: "graduated_by_2020", Name: "2020年前毕业", NameEN: "Graduated by 2020", Expression: `{"claim":"year","op":"lte","value":2020}`}}},
		{Code: "edu.transcript", Name: "成绩单", NameEN: "Transcript", Schema: `{"type":"object"}`, Owners: []string{eduBureau}},
	} {
		if _, err := w.ledger.RegisterDataType(ctx, dt); err != nil {
			t.Fatal(err)
		}
	}

	// Residents and their routes.
	for _, r := range []struct {
		doc mapping.Input
		eid *string
	}{{w.aliceDoc, &w.alice}, {w.bobDoc, &w.bob}} {
		created, err := w.mapping.Create(ctx, []mapping.Input{r.doc}, "seed")
		if err != nil {
			t.Fatal(err)
		}
		*r.eid = created.EID
	}
	bobEID = w.bob
	var batch []model.SignedRoute
	for _, s := range []model.RouteStatement{
		{EID: w.alice, DataType: "edu.degree", Provider: eduBureau, Version: 1, Digest: aliceDigest, Schema: "edu.degree/1"},
		{EID: w.bob, DataType: "edu.degree", Provider: eduBureau, Version: 1, Digest: bobDigest, Schema: "edu.degree/1"},
	} {
		sr, err := model.SignRoute(w.eduKey, "edu-2026", s)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, sr)
	}
	if _, err := w.ledger.PublishRoutes(ctx, batch); err != nil {
		t.Fatal(err)
	}

	// Accounts, keys and policy.
	for _, a := range []struct{ name, role string }{{"root", accounts.RoleAdmin}, {"officer", accounts.RoleMappingOfficer}, {"auditor", accounts.RoleAuditor}} {
		if _, err := w.admins.CreateAdmin(ctx, a.name, "correct horse battery", a.role); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []struct {
		dept  string
		token *string
	}{{hrBureau, &w.hrToken}, {taxBureau, &w.taxToken}, {statsBureau, &w.statsToken}} {
		token, _, err := w.apiKeys.IssueAPIKey(ctx, k.dept, "case management")
		if err != nil {
			t.Fatal(err)
		}
		*k.token = token
	}
	// A key of a department this ledger does not know: issued by a gateway
	// sharing the database whose ledger knew it.
	elsewhere := built[*accounts.APIKeys](t)(accounts.NewAPIKeys(accounts.Config{Store: w.db, Departments: knownDepartment("gone-bureau"),
		Hasher: accounts.NewHasher(accounts.TestParams(), 1)}))
	if w.orphanToken, _, err = elsewhere.IssueAPIKey(ctx, "gone-bureau", "case management"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.policy.AddRule(ctx, "seed", policies.Rule{Subject: hrBureau, DataType: "edu.*", Purpose: purpose, Effect: policies.EffectAllow}); err != nil {
		t.Fatal(err)
	}

	// The services the flows need beyond the shared fakes.
	deps := w.deps
	deps.Proxy = built[*routing.Proxy](t)(routing.NewProxy(routing.ProxyConfig{Client: provider.Client(), Store: w.access}))
	deps.Limiter = fakeLimiter{blocked: map[string]bool{statsBureau: true}}
	deps.Ready = func(context.Context) []gateway.Check {
		return []gateway.Check{{Name: "database", OK: true}, {Name: "ledger", OK: true, Detail: "block 42"}}
	}
	cas := map[string]*x509.CertPool{}
	for _, ca := range []*devcrypto.CA{eduCA, hrCA} {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		cas[ca.MSPID] = pool
	}
	// The listener comes first: credentials name the gateway's URL.
	var handler http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { handler.ServeHTTP(rw, r) }))
	w.withCredentials(&deps, "https://"+ts.Listener.Addr().String())
	cfg := gateway.Config{Deps: deps, Logger: quiet, DepartmentCAs: cas, OpenAPI: gateway.OpenAPISpec()}
	for _, f := range edit {
		f(&cfg)
	}
	srv := built[*gateway.Server](t)(gateway.New(cfg))

	w.v = openapitest.MustNew(t, gateway.OpenAPISpec())
	handler = w.v.Handler(srv.Handler())
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	w.url = ts.URL
	w.plain = ts.Client()
	cert, err := tls.X509KeyPair(eduClient.CertPEM, eduClient.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	w.edu = &http.Client{Transport: tr}
	return w
}

// knownDepartment is a registry that knows one department.
type knownDepartment string

func (k knownDepartment) Department(_ context.Context, id string) (*model.Department, error) {
	if id != string(k) {
		return nil, routing.Errorf(routing.KindNotFound, "test", "no department %s", id)
	}
	return &model.Department{ID: id, Status: model.DepartmentActive}, nil
}

// caller is one party calling the API: its client, default headers and,
// for browser sessions, the session cookie and CSRF token.
type caller struct {
	w       *world
	http    *http.Client
	header  http.Header
	session string
	// sessionCookie names the cookie the session came in: the portal's
	// or the console's.
	sessionCookie string
	csrf          string
}

// department calls with an API key and the acting official.
func (w *world) department(token string) *caller {
	return &caller{w: w, http: w.plain, header: http.Header{"Authorization": {"Bearer " + token}, "X-Eidgate-Official": {"zhang.wei"}}}
}

// provider is edu-bureau calling with its client certificate.
func (w *world) provider() *caller {
	return &caller{w: w, http: w.edu, header: http.Header{"X-Eidgate-Official": {"li.na"}}}
}

func (w *world) anonymous() *caller { return &caller{w: w, http: w.plain, header: http.Header{}} }

// signIn posts credentials to a login endpoint and returns the signed-in
// browser.
func (w *world) signIn(path string, body any) *caller {
	w.t.Helper()
	c := w.anonymous()
	r := c.call(http.MethodPost, path, body, http.StatusOK)
	for _, ck := range r.resp.Cookies() {
		if ck.Name == gateway.SessionCookie || ck.Name == gateway.ConsoleSessionCookie {
			c.session, c.sessionCookie = ck.Value, ck.Name
		}
	}
	c.csrf = r.field("csrf_token")
	if c.session == "" || c.csrf == "" {
		w.t.Fatalf("POST %s set no session cookie or CSRF token", path)
	}
	return c
}

func (w *world) admin(name string) *caller {
	return w.signIn("/v1/admin/login", map[string]string{"username": name, "password": "correct horse battery"})
}

// without returns a copy of c with header h removed.
func (c *caller) without(h string) *caller {
	cp := *c
	cp.header = c.header.Clone()
	cp.header.Del(h)
	return &cp
}

// withHeader returns a copy of c with header h set to v.
func (c *caller) withHeader(h, v string) *caller {
	cp := *c
	cp.header = c.header.Clone()
	cp.header.Set(h, v)
	return &cp
}

type reply struct {
	t      *testing.T
	resp   *http.Response
	status int
	body   []byte
}

// do sends a request. body is JSON-encoded unless it is a string or
// []byte, sent as is.
func (c *caller) do(method, path string, body any) reply {
	c.w.t.Helper()
	switch b := body.(type) {
	case nil:
		return c.send(method, path, "", nil)
	case string:
		return c.send(method, path, "application/json", []byte(b))
	case []byte:
		return c.send(method, path, "application/json", b)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	return c.send(method, path, "application/json", raw)
}

// send sends body with the given content type.
func (c *caller) send(method, path, contentType string, body []byte) reply {
	c.w.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.w.url+path, rd)
	if err != nil {
		c.w.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.session != "" {
		req.AddCookie(&http.Cookie{Name: c.sessionCookie, Value: c.session})
	}
	if c.csrf != "" && method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	return reply{t: c.w.t, resp: resp, status: resp.StatusCode, body: raw}
}

// call sends a request and fails the test unless the status is want.
func (c *caller) call(method, path string, body any, want int) reply {
	c.w.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.w.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (r reply) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// field returns a top-level string field of a JSON object answer.
func (r reply) field(name string) string {
	r.t.Helper()
	var m map[string]any
	r.decode(&m)
	s, _ := m[name].(string)
	return s
}

// apiError returns the error envelope of an answer.
func (r reply) apiError() gateway.ErrorDetail {
	r.t.Helper()
	var e gateway.ErrorBody
	r.decode(&e)
	if e.Error.Code == "" {
		r.t.Fatalf("no error envelope in %s", r.body)
	}
	return e.Error
}

func esc(s string) string { return url.PathEscape(s) }
