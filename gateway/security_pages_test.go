package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/gateway"
)

var formTokenField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// plainHTTPSignIn loads the sign-in page and posts the form back the way a
// browser does that was refused the Secure form cookie: without it. host
// is the name the browser opened the site by; header is added to both
// requests (a proxy's X-Forwarded-Proto).
func plainHTTPSignIn(t *testing.T, e *pagesEnv, host string, header http.Header) (int, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) (int, string) {
		req.Host = host
		req.Header.Set("Accept-Language", "en")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/portal/login", nil)
	_, page := do(req)
	m := formTokenField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the sign-in page:\n%s", page)
	}
	form := url.Values{"csrf": {m[1]}, "doc_type": {"cn-resident"}, "number": {"11010519491231002X"}, "password": {"x"}}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/portal/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(req)
}

// A browser that opened the portal over plain HTTP by a name other than
// localhost drops the Secure form cookie; the refusal says so and names
// the fixes, where a plain forgery keeps the generic answer.
func TestSignInOverPlainHTTPNamesCauseAndFix(t *testing.T) {
	fixes := []string{"plain HTTP", "--tls-cert", "--trusted-proxies", "--insecure-cookies"}
	t.Run("plain HTTP by name", func(t *testing.T) {
		status, body := plainHTTPSignIn(t, newPagesEnv(t), "eid.example.test:8080", nil)
		if status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", status)
		}
		mustContain(t, body, fixes...)
		mustNotContain(t, body, "did not come from this site")
	})
	for _, tc := range []struct {
		name   string
		edit   func(*gateway.Config)
		host   string
		header http.Header
	}{
		{name: "localhost", host: "localhost:8080"},
		{name: "loopback address", host: "127.0.0.1:8080"},
		{name: "insecure cookies", host: "eid.example.test", edit: func(c *gateway.Config) { c.InsecureCookies = true }},
		{name: "behind a trusted TLS proxy", host: "eid.example.test", header: http.Header{"X-Forwarded-Proto": {"https"}},
			edit: func(c *gateway.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := plainHTTPSignIn(t, newPagesEnvWith(t, tc.edit), tc.host, tc.header)
			if status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", status)
			}
			mustContain(t, body, "did not come from this site")
			mustNotContain(t, body, "--insecure-cookies")
		})
	}
	t.Run("untrusted proxy header", func(t *testing.T) {
		// X-Forwarded-Proto from a peer that is no trusted proxy is not
		// believed: the answer still names the cause.
		status, body := plainHTTPSignIn(t, newPagesEnv(t), "eid.example.test", http.Header{"X-Forwarded-Proto": {"https"}})
		if status != http.StatusForbidden {
			t.Fatalf("status %d", status)
		}
		mustContain(t, body, "--insecure-cookies")
	})
}

// apiCall sends a department's JSON request to the pages' gateway and
// returns the status and the error envelope.
func apiCall(t *testing.T, e *pagesEnv, token, path, body string) (int, gateway.ErrorDetail) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Eidgate-Official", "clerk-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env gateway.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&env)
	return resp.StatusCode, env.Error
}

// A 400 names the field at fault, also when the value has its own parser
// (a time), and when the fault is the body as a whole.
func TestBadRequestsNameTheirField(t *testing.T) {
	e := newPagesEnv(t)
	eid := e.w.residentEIDs[0]
	for _, tc := range []struct{ name, body, field string }{
		{"bad valid_until", `{"eid":"` + eid + `","data_types":["edu.degree"],"purpose_code":"hiring","purpose_text":"x","valid_until":"next tuesday"}`, "valid_until"},
		{"bad valid_from", `{"eid":"` + eid + `","data_types":["edu.degree"],"purpose_code":"hiring","purpose_text":"x","valid_from":"2026-13-45","valid_until":"2027-01-01T00:00:00Z"}`, "valid_from"},
		{"wrong type", `{"eid":"` + eid + `","data_types":"edu.degree"}`, "data_types"},
		{"malformed JSON", `{"eid":`, "body"},
		{"too large", `{"eid":"` + strings.Repeat("x", 2<<20) + `"}`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, detail := apiCall(t, e, e.w.apiKey, "/v1/consents", tc.body)
			if status != http.StatusBadRequest || detail.Field != tc.field {
				t.Fatalf("%d field %q (%s), want 400 on %q", status, detail.Field, detail.Message, tc.field)
			}
			if tc.field == "valid_until" && !strings.Contains(detail.Message, "RFC 3339") {
				t.Errorf("message %q does not say what a time looks like", detail.Message)
			}
		})
	}
}
