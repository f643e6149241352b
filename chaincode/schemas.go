package chaincode

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"unsafe"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/xeipuuv/gojsonschema"
)

// componentRef finds the components a schema refers to: by path from a
// transaction's schema, by $id from one component to another.
var componentRef = regexp.MustCompile(`"\$ref":"(?:#/components/schemas/)?([^"#/]+)"`)

// slimSchemas replaces the argument schemas contractapi compiled with
// equivalent ones that carry only the components they refer to, and drops
// the compiled return schemas, which argSerializer.ToString never uses.
//
// contractapi compiles every argument and return schema together with all
// of the contract's components, and keeps each compilation (the decoded
// document and its parsed references): for this contract, 94 arguments
// and 62 return values, about 30 MB held for the life of the process and
// scanned by every garbage collection. Most arguments are strings that
// refer to no component; a struct argument needs only the components it
// reaches, so validation is unchanged.
//
// The compiled metadata is not exported by contractapi; it is reached
// through its field, whose type is checked, so a contractapi that changes
// it fails here at start-up instead of misbehaving.
func slimSchemas(cc *contractapi.ContractChaincode) error {
	md, err := compiledMetadata(cc)
	if err != nil {
		return err
	}
	for name, contract := range md.Contracts {
		for i := range contract.Transactions {
			tx := &contract.Transactions[i]
			for j := range tx.Parameters {
				p := &tx.Parameters[j]
				compiled, err := compileSlim(p.Name, p.Schema, md.Components)
				if err != nil {
					return fmt.Errorf("chaincode: compiling the schema of %s %s argument %s: %w", name, tx.Name, p.Name, err)
				}
				p.CompiledSchema = compiled
			}
			tx.Returns.CompiledSchema = nil
		}
	}
	return nil
}

// compiledMetadata is the metadata cc invokes its functions with.
func compiledMetadata(cc *contractapi.ContractChaincode) (*metadata.ContractChaincodeMetadata, error) {
	f := reflect.ValueOf(cc).Elem().FieldByName("metadata")
	if !f.IsValid() {
		return nil, fmt.Errorf("chaincode: contractapi keeps no metadata field; the argument schemas cannot be reduced")
	}
	if f.Type() != reflect.TypeFor[metadata.ContractChaincodeMetadata]() {
		return nil, fmt.Errorf("chaincode: contractapi keeps its metadata as %s; the argument schemas cannot be reduced", f.Type())
	}
	return (*metadata.ContractChaincodeMetadata)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// compileSlim compiles schema as contractapi does, under the property
// name, with only the components it reaches.
func compileSlim(name string, schema any, all metadata.ComponentMetadata) (*gojsonschema.Schema, error) {
	used := metadata.ComponentMetadata{Schemas: map[string]metadata.ObjectMetadata{}}
	pending := []any{schema}
	for len(pending) > 0 {
		b, err := json.Marshal(pending[0])
		if err != nil {
			return nil, err
		}
		pending = pending[1:]
		for _, m := range componentRef.FindAllSubmatch(b, -1) {
			ref := string(m[1])
			if _, seen := used.Schemas[ref]; seen {
				continue
			}
			c, ok := all.Schemas[ref]
			if !ok {
				return nil, fmt.Errorf("it refers to the unknown component %q", ref)
			}
			used.Schemas[ref] = c
			pending = append(pending, c)
		}
	}
	combined := map[string]any{
		"components": used,
		"properties": map[string]any{name: schema},
	}
	return gojsonschema.NewSchema(gojsonschema.NewGoLoader(combined))
}
