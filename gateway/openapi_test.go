package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/gateway/openapitest"
	"github.com/gin-gonic/gin"
)

func TestOpenAPIDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := openapitest.Load(gateway.OpenAPISpec())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for _, name := range []string{"departmentApiKey", "departmentApiKeyHeader", "departmentCertificate", "session", "csrf"} {
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
	srv := gateway.New(gateway.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Web: http.NotFoundHandler()}, gateway.Deps{})
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
