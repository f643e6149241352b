package gateway_test

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/gateway/openapitest"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

func TestOpenAPIDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for _, name := range []string{"departmentApiKey", "departmentApiKeyHeader", "departmentCertificate", "session", "consoleSession", "csrf"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s is missing", name)
		}
	}
	if got := doc.Components.SecuritySchemes["departmentCertificate"].Value.Type; got != "mutualTLS" {
		t.Errorf("departmentCertificate is %q, want mutualTLS", got)
	}
}

func TestOpenAPISpecIsACopy(t *testing.T) {
	a := gateway.OpenAPISpec()
	a[0] = 'X'
	if b := gateway.OpenAPISpec(); b[0] == 'X' {
		t.Fatal("OpenAPISpec hands out the embedded bytes; a caller could change the served document")
	}
}

// ginParam turns gin's :name and *name path segments into {name}.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// isWebPage reports whether a gin route serves the portal or console pages,
// which the API description leaves out.
func isWebPage(path string) bool {
	return path == "/" || path == "/portal" || strings.HasPrefix(path, "/portal/") ||
		path == "/admin" || strings.HasPrefix(path, "/admin/") || strings.HasPrefix(path, "/static/")
}

// TestOpenAPIDescribesEveryRoute keeps routes.go and the document in step:
// a route added without a description, or a description left behind by a
// removed route, fails the build.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	st := newStack(t, routingtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	srv := built[*gateway.Server](t)(gateway.New(gateway.Config{Deps: st.deps, Logger: quiet}))
	var registered []string
	for _, r := range srv.Handler().(*gin.Engine).Routes() {
		if isWebPage(r.Path) {
			continue
		}
		registered = append(registered, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(registered)

	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	described := openapitest.Operations(doc)

	for _, op := range registered {
		if !slices.Contains(described, op) {
			t.Errorf("route %s is registered in routes.go but not described in openapi.yaml", op)
		}
	}
	for _, op := range described {
		if !slices.Contains(registered, op) {
			t.Errorf("openapi.yaml describes %s, which routes.go does not register", op)
		}
	}
	if len(registered) < 50 {
		t.Errorf("only %d API routes registered; the filter for web pages is dropping API routes", len(registered))
	}
}

// TestOpenAPIOperationsHaveIDsAndErrorEnvelopes checks the document's own
// conventions: every operation has an operationId and a 500 answer, and
// every error answer (4xx, 5xx) of a JSON API operation is the error
// envelope, except readiness and DID resolution, which answer in their own
// shapes.
func TestOpenAPIOperationsHaveIDsAndErrorEnvelopes(t *testing.T) {
	ownShape := map[string]bool{
		"GET /readyz 503":                true,
		"GET /1.0/identifiers/{did} 400": true,
		"GET /1.0/identifiers/{did} 404": true,
		"GET /1.0/identifiers/{did} 410": true,
	}
	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	envelope := doc.Components.Schemas["Error"].Value
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", name)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", name, prev, op.OperationID)
			}
			ids[op.OperationID] = name
			if op.Responses.Status(500) == nil {
				t.Errorf("%s does not document 500", name)
			}
			for code, resp := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				if ownShape[name+" "+code] {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Value != envelope {
					t.Errorf("%s %s is not the error envelope", name, code)
				}
			}
		}
	}
}

// jsonFields lists the JSON members a Go struct type produces and which
// of them are always present (no omitempty or omitzero), flattening
// embedded structs the way encoding/json does.
func jsonFields(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			a, w := jsonFields(ft)
			all, always = append(all, a...), append(always, w...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			always = append(always, name)
		}
	}
	slices.Sort(all)
	slices.Sort(always)
	return all, always
}

// TestOpenAPISchemasMirrorGoTypes compares the component schemas with the
// Go types they describe: the same members, and a member is required
// exactly when Go always writes it. The end-to-end tests only see members
// that some answer happened to include; this sees them all.
func TestOpenAPISchemasMirrorGoTypes(t *testing.T) {
	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		schema string
		value  any
	}{
		{"ConsentFields", model.Consent{}},
		{"RouteEntry", model.RouteEntry{}},
		{"RouteStatement", model.RouteStatement{}},
		{"SignedRoute", model.SignedRoute{}},
		{"RouteOutcome", model.RouteOutcome{}},
		{"Department", model.Department{}},
		{"SigningKey", model.SigningKey{}},
		{"DataType", model.DataType{}},
		{"Identity", model.Identity{}},
		{"AccountLink", model.AccountLink{}},
		{"AccessAnchor", model.AccessAnchor{}},
		{"DIDDocument", model.DIDDocument{}},
		{"ResolveResponse", struct {
			routing.ResolveResult
			Record *routing.ProxiedRecord `json:"record,omitempty"`
		}{}},
		{"RecordEnvelope", routing.RecordEnvelope{}},
		{"CredentialVerification", credential.Result{}},
		{"WalletEntryFields", credential.WalletEntry{}},
		{"PredicateAnswer", credential.Answered{}},
		{"Verification", routing.Verification{}},
		{"Document", mapping.Input{}},
		{"MaskedDocument", mapping.MaskedDocument{}},
		{"CreatedIdentity", mapping.CreatedIdentity{}},
		{"ImportJob", mapping.ImportJob{}},
		{"APIKey", accounts.APIKey{}},
		{"AdminUser", accounts.Admin{}},
		{"PolicyRule", policies.Line{}},
		{"PolicyVersion", policies.Version{}},
		{"ExplainResponse", gateway.ExplainResponse{}},
		{"AuditRecord", audit.Record{}},
		{"ResidentAct", audit.ResidentView{}},
		{"AuditProof", audit.Proof{}},
		{"RuleTerms", model.RuleTerms{}},
		{"RuleProof", approval.RuleProof{}},
		{"RuleProofReport", approval.RuleReport{}},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			ref := doc.Components.Schemas[tc.schema]
			if ref == nil {
				t.Fatalf("no component schema %s", tc.schema)
			}
			var props []string
			for name := range ref.Value.Properties {
				props = append(props, name)
			}
			slices.Sort(props)
			required := slices.Sorted(slices.Values(ref.Value.Required))
			all, always := jsonFields(reflect.TypeOf(tc.value))
			if !slices.Equal(props, all) {
				t.Errorf("properties %v, Go members %v", props, all)
			}
			if !slices.Equal(required, always) {
				t.Errorf("required %v, Go always writes %v", required, always)
			}
		})
	}
	view := doc.Components.Schemas["ConsentView"].Value
	if _, always := jsonFields(reflect.TypeOf(routing.ConsentView{})); !slices.Contains(always, "effective_status") || view.Properties["effective_status"] == nil {
		t.Error("ConsentView lacks effective_status")
	}
	detail := doc.Components.Schemas["Error"].Value.Properties["error"].Value
	all, always := jsonFields(reflect.TypeOf(gateway.ErrorDetail{}))
	if got := slices.Sorted(maps.Keys(detail.Properties)); !slices.Equal(got, all) || !slices.Equal(slices.Sorted(slices.Values(detail.Required)), always) {
		t.Errorf("error envelope %v (required %v), Go %v (always %v)", got, detail.Required, all, always)
	}
}

// The gateway refuses to be built without the services behind it.
func TestNewRefusesMissingServices(t *testing.T) {
	t.Parallel()
	if _, err := gateway.New(gateway.Config{}); routing.CodeOf(err) != "missing_dependency" {
		t.Fatalf("New(Config{}) = %v, want missing_dependency", err)
	}
	st := newStack(t, routingtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	deps := st.deps
	deps.Tickets = nil
	_, err := gateway.New(gateway.Config{Deps: deps})
	if routing.CodeOf(err) != "missing_dependency" || !strings.Contains(routing.MessageOf(err), "Tickets") {
		t.Fatalf("New without Deps.Tickets = %v, want missing_dependency naming Tickets", err)
	}
}

// The document's AuditAct enum is exactly the acts the audit trail records:
// a new act without its enum value fails every response that lists it.
func TestOpenAPIAuditActsAreTheAuditTrailsActs(t *testing.T) {
	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["AuditAct"]
	if ref == nil || ref.Value == nil {
		t.Fatal("schema AuditAct is missing")
	}
	var got []string
	for _, v := range ref.Value.Enum {
		got = append(got, v.(string))
	}
	want := audit.Acts()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("AuditAct enum:\n got %v\nwant %v", got, want)
	}
}
