// Package openapitest checks HTTP traffic against eidgate's OpenAPI 3.1
// document in tests. A Validator wraps a handler (server side) or a
// transport (client side), validates every request and every response of
// every exchange against the document with kin-openapi (JSON Schema
// 2020-12), and records what does not match:
//
//   - a response whose status the operation does not document, or whose
//     headers or body do not match the documented response;
//   - a request the document rejects that the server nevertheless accepted
//     (a status below 400): the handler is laxer than the contract. A
//     rejected request answered with 4xx is what a negative test expects
//     and is not a violation;
//   - a request for a path or method the document does not describe that
//     the server did not answer with 404 or 405.
//
// It also records which operations were exercised, so a test can demand
// that every operation was reached with a request the document accepts.
//
// Credentials are only checked for presence (a bearer token, an API key
// header, the session cookie and CSRF header, a client certificate): the
// handlers do the real authentication.
//
// Typical use in a test:
//
//	v := openapitest.MustNew(t, gateway.OpenAPISpec())
//	srv := httptest.NewServer(v.Handler(server.Handler()))
//	… drive the API …
//	v.Check(t)
//	v.CheckCoverage(t)
//
// Messages may quote request and response values; feed validators test data
// only.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Load parses an OpenAPI document and validates it, requiring OpenAPI 3.1
// or later so schemas are JSON Schema 2020-12.
func Load(spec []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapitest: parse the document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapitest: the document is OpenAPI %q; want 3.1 or later", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("openapitest: the document is not valid OpenAPI %s: %w", doc.OpenAPI, err)
	}
	return doc, nil
}

// Operations lists the operations of a document as "METHOD /path", sorted.
func Operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// Violation is one mismatch between the traffic and the document.
type Violation struct {
	// Operation is "METHOD /path/{param}" as in the document, empty when no
	// operation matched.
	Operation string
	Method    string
	Path      string // the request's path
	Status    int
	Problem   string
}

func (v Violation) String() string {
	op := v.Operation
	if op == "" {
		op = v.Method + " " + v.Path
	}
	return fmt.Sprintf("%s → %d: %s", op, v.Status, v.Problem)
}

// Option adjusts a Validator.
type Option func(*Validator)

// IgnorePaths names request paths outside the API that the validator
// skips (the web pages). An entry ending in "/" matches every path under
// it; any other entry matches exactly. The default ignores "/", "/portal",
// "/portal/…", "/admin", "/admin/…" and "/static/…".
func IgnorePaths(paths ...string) Option {
	return func(v *Validator) { v.ignore = append([]string(nil), paths...) }
}

// Validator checks exchanges against one document. It is safe for
// concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	ops    []string
	ignore []string

	mu         sync.Mutex
	violations []Violation
	covered    map[string]bool
	seen       map[string]map[int]bool
}

// New loads and validates spec and prepares a validator for it.
func New(spec []byte, opts ...Option) (*Validator, error) {
	doc, err := Load(spec)
	if err != nil {
		return nil, err
	}
	// Route by path alone: tests reach the API on loopback addresses that
	// are not among the document's servers.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: build the router: %w", err)
	}
	v := &Validator{
		doc: doc, router: router, ops: Operations(doc),
		ignore:  []string{"/", "/portal", "/portal/", "/admin", "/admin/", "/static/"},
		covered: map[string]bool{}, seen: map[string]map[int]bool{},
	}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// MustNew is New for tests: it fails tb when the document does not load.
func MustNew(tb testing.TB, spec []byte, opts ...Option) *Validator {
	tb.Helper()
	v, err := New(spec, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// Document returns the loaded document (its servers removed).
func (v *Validator) Document() *openapi3.T { return v.doc }

// Operations lists every operation of the document as "METHOD /path".
func (v *Validator) Operations() []string { return slices.Clone(v.ops) }

// Violations returns what did not match so far, in the order seen.
func (v *Validator) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.violations)
}

// Check fails tb with every violation recorded so far.
func (v *Validator) Check(tb testing.TB) {
	tb.Helper()
	for _, x := range v.Violations() {
		tb.Errorf("OpenAPI violation: %s", x)
	}
}

// Uncovered lists the operations ("METHOD /path") not yet exercised with a
// request the document accepts.
func (v *Validator) Uncovered() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, op := range v.ops {
		if !v.covered[op] {
			out = append(out, op)
		}
	}
	return out
}

// CheckCoverage fails tb for every operation Uncovered lists.
func (v *Validator) CheckCoverage(tb testing.TB) {
	tb.Helper()
	for _, op := range v.Uncovered() {
		tb.Errorf("OpenAPI operation never exercised with a valid request: %s", op)
	}
}

// Responses returns, per operation, the statuses seen so far, ascending.
func (v *Validator) Responses() map[string][]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string][]int, len(v.seen))
	for op, statuses := range v.seen {
		for s := range statuses {
			out[op] = append(out[op], s)
		}
		slices.Sort(out[op])
	}
	return out
}

// UnseenResponses lists the documented responses ("METHOD /path STATUS")
// no exchange has produced yet.
func (v *Validator) UnseenResponses() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil || !v.seen[key][status] {
					out = append(out, key+" "+code)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Handler wraps next so every exchange it serves is checked.
func (v *Validator) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r.Body)
		if err != nil {
			http.Error(w, "openapitest: reading the request body: "+err.Error(), http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		snapshot := r.Clone(r.Context())
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status, header := rec.result()
		v.observe(snapshot, body, status, header, rec.body.Bytes())
	})
}

// RoundTripper wraps next (http.DefaultTransport when nil) so every
// exchange it carries is checked. A mutual TLS requirement counts as met
// when the request goes over https through an *http.Transport configured
// with a client certificate.
func (v *Validator) RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{v: v, next: next, clientCert: hasClientCertificate(next)}
}

// Client returns a copy of c (a new client when nil) whose transport is
// wrapped with RoundTripper.
func (v *Validator) Client(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	out.Transport = v.RoundTripper(out.Transport)
	return out
}

type roundTripper struct {
	v          *Validator
	next       http.RoundTripper
	clientCert bool
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = readBody(req.Body); err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = http.NoBody
		if len(body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	snapshot := req.Clone(context.WithValue(req.Context(), clientCertKey{}, t.clientCert && req.URL.Scheme == "https"))
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := readBody(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	t.v.observe(snapshot, body, resp.StatusCode, resp.Header.Clone(), respBody)
	return resp, nil
}

type clientCertKey struct{}

func hasClientCertificate(rt http.RoundTripper) bool {
	tr, ok := rt.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil {
		return false
	}
	return len(tr.TLSClientConfig.Certificates) > 0 || tr.TLSClientConfig.GetClientCertificate != nil
}

func readBody(rc io.ReadCloser) ([]byte, error) {
	if rc == nil || rc == http.NoBody {
		return nil, nil
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// observe validates one exchange and records the outcome.
func (v *Validator) observe(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) {
	ctx := context.WithoutCancel(req.Context())
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if v.ignored(req.URL.Path) || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return // the server agrees there is no such operation
		}
		v.record(Violation{Method: req.Method, Path: req.URL.Path, Status: status,
			Problem: "the document has no operation for this request, yet the server did not answer 404 or 405"})
		return
	}
	op := route.Method + " " + route.Path
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    presentCredentials,
	}
	opts.WithCustomSchemaErrorFunc(schemaMessage)

	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)

	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(respBody)
	respErr := openapi3filter.ValidateResponse(ctx, out)

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen[op] == nil {
		v.seen[op] = map[int]bool{}
	}
	v.seen[op][status] = true
	if reqErr == nil {
		v.covered[op] = true
	} else if status < 400 {
		v.violations = append(v.violations, Violation{Operation: op, Method: req.Method, Path: req.URL.Path, Status: status,
			Problem: "the server accepted a request the document rejects: " + flatten(reqErr)})
	}
	if respErr != nil {
		v.violations = append(v.violations, Violation{Operation: op, Method: req.Method, Path: req.URL.Path, Status: status,
			Problem: "the response does not match the document: " + flatten(respErr)})
	}
}

func (v *Validator) record(x Violation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, x)
}

func (v *Validator) ignored(path string) bool {
	for _, p := range v.ignore {
		if path == p || (strings.HasSuffix(p, "/") && p != "/" && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

// presentCredentials accepts a security scheme when the request carries
// its credential; the handlers decide whether the credential is good.
func presentCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	ok := false
	switch s.Type {
	case "http":
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		ok = found && strings.EqualFold(scheme, s.Scheme) && strings.TrimSpace(token) != ""
	case "apiKey":
		switch s.In {
		case "header":
			ok = r.Header.Get(s.Name) != ""
		case "query":
			ok = r.URL.Query().Get(s.Name) != ""
		case "cookie":
			c, err := r.Cookie(s.Name)
			ok = err == nil && c.Value != ""
		}
	case "mutualTLS":
		presented, _ := r.Context().Value(clientCertKey{}).(bool)
		ok = presented || (r.TLS != nil && len(r.TLS.PeerCertificates) > 0)
	}
	if !ok {
		return in.NewError(fmt.Errorf("no credential for security scheme %q", in.SecuritySchemeName))
	}
	return nil
}

// schemaMessage renders a schema error as its location and reason, without
// the schema and value dumps kin-openapi appends by default.
func schemaMessage(err *openapi3.SchemaError) string {
	at := "/" + strings.Join(err.JSONPointer(), "/")
	switch {
	case err.Origin != nil:
		return "at " + at + ": " + err.Origin.Error()
	case strings.HasPrefix(err.Reason, "error at "):
		// The JSON Schema 2020-12 validator's own message names the
		// location; kin-openapi's prefix may repeat path segments.
		if _, msg, ok := strings.Cut(err.Reason, `": `); ok {
			return msg
		}
		return err.Reason
	case err.Reason != "":
		return "at " + at + ": " + err.Reason
	}
	return "at " + at + ": does not match keyword " + err.SchemaField
}

// flatten renders an error (often a MultiError) on one line.
func flatten(err error) string {
	// Only a MultiError at the top: errors.As would find one nested in a
	// wrapped error and drop the wrapper's context (which header, which body).
	if me, ok := err.(openapi3.MultiError); ok && len(me) > 0 {
		parts := make([]string, len(me))
		for i, e := range me {
			parts[i] = flatten(e)
		}
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// recorder passes a response through while keeping a copy of its status,
// headers and body.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) result() (int, http.Header) {
	if r.status == 0 {
		return http.StatusOK, r.ResponseWriter.Header().Clone()
	}
	return r.status, r.header
}

func init() {
	openapi3filter.RegisterBodyDecoder("application/jsonl", decodeJSONLines)
}

// decodeJSONLines decodes a JSON lines body (one JSON value per line) as
// an array, so a schema of type array validates every line.
func decodeJSONLines(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	out := []any{}
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("JSON lines: %w", err)
		}
		out = append(out, v)
	}
}
