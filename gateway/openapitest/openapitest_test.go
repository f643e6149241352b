package openapitest_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/gateway/openapitest"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

func spec(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// respond answers with a status, a JSON body and extra headers.
func respond(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

type request struct {
	method, path, body string
	header             []string
}

func (r request) build(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		req.Header.Set(r.header[i], r.header[i+1])
	}
	return req
}

var bearer = []string{"Authorization", "Bearer tok"}

// TestValidatorFindsWhatDoesNotMatch runs each exchange through the
// server-side middleware and through the client-side transport; both must
// report the same violation (or none) and the same coverage.
func TestValidatorFindsWhatDoesNotMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		req     request
		want    string // substring of the one expected violation; "" for none
		covered string // operation counted as exercised, if any
	}{
		{name: "conforming exchange",
			handler: respond(201, `{"id":"it-1","name":"pen"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`, header: bearer},
			covered: "POST /items"},
		{name: "response field the document does not describe",
			handler: respond(201, `{"id":"it-1","name":"pen","colour":"red"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`, header: bearer},
			want:    "colour", covered: "POST /items"},
		{name: "response value breaking its pattern",
			handler: respond(201, `{"id":"item one","name":"pen"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`, header: bearer},
			want:    "/id", covered: "POST /items"},
		{name: "undocumented status",
			handler: respond(409, `{"error":"exists"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`, header: bearer},
			want:    "status is not supported", covered: "POST /items"},
		{name: "required response header missing",
			handler: respond(200, `{"id":"it-1","name":"pen"}`),
			req:     request{method: "GET", path: "/items/it-1", header: bearer},
			want:    "X-Version", covered: "GET /items/{id}"},
		{name: "required response header present",
			handler: respond(200, `{"id":"it-1","name":"pen"}`, "X-Version", "3"),
			req:     request{method: "GET", path: "/items/it-1", header: bearer},
			covered: "GET /items/{id}"},
		{name: "undocumented response content type",
			handler: respond(200, "ok", "Content-Type", "text/plain"),
			req:     request{method: "GET", path: "/health"},
			want:    "text/plain", covered: "GET /health"},
		{name: "server accepts a body the document rejects",
			handler: respond(201, `{"id":"it-1","name":"pen"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen","extra":1}`, header: bearer},
			want:    "accepted a request the document rejects"},
		{name: "server rejects a body the document rejects",
			handler: respond(400, `{"error":"unknown field extra"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen","extra":1}`, header: bearer}},
		{name: "server accepts a path parameter the document rejects",
			handler: respond(200, `{"id":"it-1","name":"pen"}`, "X-Version", "1"),
			req:     request{method: "GET", path: "/items/pen", header: bearer},
			want:    "accepted a request the document rejects"},
		{name: "server accepts a request without credentials",
			handler: respond(201, `{"id":"it-1","name":"pen"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`},
			want:    "accepted a request the document rejects"},
		{name: "server refuses a request without credentials",
			handler: respond(401, `{"error":"log in"}`),
			req:     request{method: "POST", path: "/items", body: `{"name":"pen"}`}},
		{name: "session cookie and CSRF header",
			handler: respond(204, ""),
			req:     request{method: "POST", path: "/secure", header: []string{"Cookie", "sid=s1", "X-CSRF-Token", "c1"}},
			covered: "POST /secure"},
		{name: "session cookie without CSRF header accepted",
			handler: respond(204, ""),
			req:     request{method: "POST", path: "/secure", header: []string{"Cookie", "sid=s1"}},
			want:    "accepted a request the document rejects"},
		{name: "undescribed path answered with success",
			handler: respond(200, `{}`),
			req:     request{method: "GET", path: "/v2/items"},
			want:    "no operation"},
		{name: "undescribed path answered 404",
			handler: respond(404, `{"error":"no"}`),
			req:     request{method: "GET", path: "/v2/items"}},
		{name: "undescribed method answered 405",
			handler: respond(405, `{"error":"no"}`),
			req:     request{method: "DELETE", path: "/items"}},
		{name: "web page outside the API",
			handler: respond(200, "<html></html>", "Content-Type", "text/html"),
			req:     request{method: "GET", path: "/portal/consents"}},
	} {
		for _, mode := range []string{"handler", "transport"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				v := openapitest.MustNew(t, spec(t, "items.yaml"))
				var client *http.Client
				if mode == "handler" {
					srv := httptest.NewServer(v.Handler(tc.handler))
					defer srv.Close()
					client = srv.Client()
					resp, err := client.Do(tc.req.build(t, srv.URL))
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				} else {
					srv := httptest.NewServer(tc.handler)
					defer srv.Close()
					client = v.Client(srv.Client())
					resp, err := client.Do(tc.req.build(t, srv.URL))
					if err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadAll(resp.Body); err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				}
				got := v.Violations()
				switch {
				case tc.want == "" && len(got) != 0:
					t.Errorf("violations = %v, want none", got)
				case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].String(), tc.want)):
					t.Errorf("violations = %v, want one mentioning %q", got, tc.want)
				}
				uncovered := v.Uncovered()
				for _, op := range v.Operations() {
					if wantCovered := op == tc.covered; wantCovered == slices.Contains(uncovered, op) {
						t.Errorf("%s covered = %v, want %v", op, !wantCovered, wantCovered)
					}
				}
			})
		}
	}
}

func TestTransportPassesTheBodyOn(t *testing.T) {
	v := openapitest.MustNew(t, spec(t, "items.yaml"))
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		respond(201, `{"id":"it-7","name":"pen"}`)(w, r)
	}))
	defer srv.Close()
	resp, err := v.Client(nil).Do(request{method: "POST", path: "/items", body: `{"name":"pen"}`, header: bearer}.build(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got != `{"name":"pen"}` || string(body) != `{"id":"it-7","name":"pen"}` {
		t.Errorf("server saw %q, client got %q; the validator must pass bodies on untouched", got, body)
	}
}

func TestCoverageAndUnseenResponses(t *testing.T) {
	v := openapitest.MustNew(t, spec(t, "items.yaml"))
	srv := httptest.NewServer(v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			respond(200, `{"status":"ok"}`)(w, r)
			return
		}
		respond(404, `{"error":"no such item"}`)(w, r)
	})))
	defer srv.Close()
	for _, req := range []request{{method: "GET", path: "/health"}, {method: "GET", path: "/items/it-9", header: bearer}} {
		resp, err := srv.Client().Do(req.build(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	v.Check(t)
	if got, want := v.Uncovered(), []string{"POST /items", "POST /secure"}; !slices.Equal(got, want) {
		t.Errorf("Uncovered = %v, want %v", got, want)
	}
	if got := v.Responses(); !slices.Equal(got["GET /items/{id}"], []int{404}) || !slices.Equal(got["GET /health"], []int{200}) {
		t.Errorf("Responses = %v", got)
	}
	want := []string{"GET /items/{id} 200", "POST /items 201", "POST /items 400", "POST /items 401", "POST /secure 204", "POST /secure 401"}
	if got := v.UnseenResponses(); !slices.Equal(got, want) {
		t.Errorf("UnseenResponses = %v, want %v", got, want)
	}
}

// recordingTB collects what Check and CheckCoverage report.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckReportsEveryViolationAndUncoveredOperation(t *testing.T) {
	v := openapitest.MustNew(t, spec(t, "items.yaml"))
	srv := httptest.NewServer(v.Handler(respond(418, `{"error":"teapot"}`)))
	defer srv.Close()
	for _, path := range []string{"/health", "/items/it-1"} {
		resp, err := srv.Client().Do(request{method: "GET", path: path, header: bearer}.build(t, srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	rec := &recordingTB{TB: t}
	v.Check(rec)
	if len(rec.errors) != 2 || !strings.Contains(rec.errors[0], "GET /health → 418") || !strings.Contains(rec.errors[1], "GET /items/{id} → 418") {
		t.Errorf("Check reported %q", rec.errors)
	}
	rec.errors = nil
	v.CheckCoverage(rec)
	if len(rec.errors) != 2 || !strings.Contains(rec.errors[0], "POST /items") {
		t.Errorf("CheckCoverage reported %q", rec.errors)
	}
}

func TestMutualTLSCountsOnlyAPresentedCertificate(t *testing.T) {
	ca, err := devcrypto.NewCA("ItemsMSP", "items.example.gov")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue(devcrypto.IssueOptions{CommonName: "client.items.example.gov", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"handler", "transport"} {
		for _, withCert := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/certificate=%v", mode, withCert), func(t *testing.T) {
				v := openapitest.MustNew(t, spec(t, "items.yaml"))
				h := http.Handler(respond(204, ""))
				if mode == "handler" {
					h = v.Handler(h)
				}
				srv := httptest.NewUnstartedServer(h)
				srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
				srv.StartTLS()
				defer srv.Close()
				tr := srv.Client().Transport.(*http.Transport).Clone()
				if withCert {
					tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
				}
				client := &http.Client{Transport: tr}
				if mode == "transport" {
					client = v.Client(client)
				}
				resp, err := client.Do(request{method: "POST", path: "/secure"}.build(t, srv.URL))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := len(v.Violations()); (got == 0) != withCert {
					t.Errorf("violations = %v; a 204 without any credential must be one, with a client certificate none", v.Violations())
				}
			})
		}
	}
}

func TestLoadRefusesDocumentsItCannotCheck(t *testing.T) {
	if _, err := openapitest.Load(spec(t, "items-3.0.yaml")); err == nil || !strings.Contains(err.Error(), "3.1") {
		t.Errorf("Load(3.0 document) = %v, want an error asking for 3.1", err)
	}
	if _, err := openapitest.Load(spec(t, "broken.yaml")); err == nil {
		t.Error("Load accepted a document with a dangling reference")
	}
	if _, err := openapitest.New([]byte("openapi: [")); err == nil {
		t.Error("New accepted a document that is not YAML")
	}
	doc, err := openapitest.Load(spec(t, "items.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /health", "GET /items/{id}", "POST /items", "POST /secure"}
	if got := openapitest.Operations(doc); !slices.Equal(got, want) {
		t.Errorf("Operations = %v, want %v", got, want)
	}
}

func TestIgnorePathsReplacesTheDefaults(t *testing.T) {
	v := openapitest.MustNew(t, spec(t, "items.yaml"), openapitest.IgnorePaths("/docs/"))
	srv := httptest.NewServer(v.Handler(respond(200, "<html></html>", "Content-Type", "text/html")))
	defer srv.Close()
	for _, p := range []string{"/docs/intro", "/portal/consents"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := v.Violations()
	if len(got) != 1 || got[0].Path != "/portal/consents" {
		t.Errorf("violations = %v, want only /portal/consents (no longer ignored)", got)
	}
}

// BenchmarkHandler measures what checking one exchange costs a test: a
// POST with a JSON body and a 201 answer, in process.
func BenchmarkHandler(b *testing.B) {
	raw, err := os.ReadFile("testdata/items.yaml")
	if err != nil {
		b.Fatal(err)
	}
	v, err := openapitest.New(raw)
	if err != nil {
		b.Fatal(err)
	}
	h := v.Handler(respond(201, `{"id":"it-1","name":"pen"}`))
	for b.Loop() {
		req := httptest.NewRequest("POST", "/items", strings.NewReader(`{"name":"pen"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if n := len(v.Violations()); n != 0 {
		b.Fatalf("%d violations", n)
	}
}
