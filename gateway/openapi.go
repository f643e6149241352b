package gateway

import _ "embed"

// openAPISpec is the API description; gateway/openapitest checks the
// handlers against it.
//
//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPISpec returns the OpenAPI 3.1 description of the API, to pass as
// Config.OpenAPI so /openapi.yaml serves it. The slice is a copy.
func OpenAPISpec() []byte { return append([]byte(nil), openAPISpec...) }
