package credential

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eidgate/eidgate/routing"
)

// CodeSchema is the code of a record that does not follow its data type's
// JSON Schema, or of a data type whose schema cannot be compiled.
const CodeSchema = "schema_invalid"

// noLoader refuses to fetch anything: a data type's schema is checked as it
// stands on the ledger, never with remote parts.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schemas are self-contained; %s is not loaded", url)
}

// ValidateClaims checks a record against a data type's JSON Schema (draft
// 2020-12 unless the schema says otherwise; formats such as date are
// asserted). The error names where the record fails and which keyword,
// never the value, which is resident data.
func ValidateClaims(schemaText string, record []byte) error {
	const op = "credential.ValidateClaims"
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(schemaText)))
	if err != nil {
		return (&routing.Error{Kind: routing.KindInternal, Op: op, Message: "the data type's schema is not JSON", Err: err}).WithCode(CodeSchema)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	const loc = "urn:eidgate:datatype-schema"
	if err := c.AddResource(loc, doc); err != nil {
		return (&routing.Error{Kind: routing.KindInternal, Op: op, Message: "the data type's schema cannot be used", Err: err}).WithCode(CodeSchema)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return (&routing.Error{Kind: routing.KindInternal, Op: op, Message: "the data type's schema cannot be compiled", Err: err}).WithCode(CodeSchema)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return routing.Invalid(op, "claims", "the claims are not JSON").WithCode(CodeSchema)
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		where, keyword := firstLeaf(ve)
		return routing.Invalid(op, "claims", "the claims do not follow the data type's schema: at %s (%s)", where, keyword).WithCode(CodeSchema)
	}
	return err
}

// firstLeaf finds the deepest first cause: its instance location and
// keyword path, which hold no instance values.
func firstLeaf(e *jsonschema.ValidationError) (string, string) {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	where := "/" + strings.Join(e.InstanceLocation, "/")
	kw := "schema"
	if e.ErrorKind != nil {
		if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
			kw = strings.Join(p, "/")
		}
	}
	return where, kw
}
