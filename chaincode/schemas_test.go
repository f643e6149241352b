package chaincode

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/xeipuuv/gojsonschema"
)

// The reduced argument schemas accept and refuse exactly what contractapi's
// own compilation of the same metadata (every component in each schema)
// accepts and refuses, for a valid instance of every argument and for
// variants of it that break one rule each.
func TestSlimSchemasValidateAsContractapiDoes(t *testing.T) {
	cc, err := NewChaincode("")
	if err != nil {
		t.Fatal(err)
	}
	md, err := compiledMetadata(cc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	var full metadata.ContractChaincodeMetadata
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	if err := full.CompileSchemas(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	g := instances{components: doc.Components.Schemas}
	var args, accepted, refused int
	for name, contract := range md.Contracts {
		want := full.Contracts[name].Transactions
		for i, tx := range contract.Transactions {
			if tx.Returns.CompiledSchema != nil {
				t.Errorf("%s: the compiled return schema is still kept", tx.Name)
			}
			for j, p := range tx.Parameters {
				args++
				if p.CompiledSchema == nil {
					t.Fatalf("%s %s: no compiled schema", tx.Name, p.Name)
				}
				var schema map[string]any
				sb, _ := json.Marshal(p.Schema)
				if err := json.Unmarshal(sb, &schema); err != nil {
					t.Fatal(err)
				}
				for _, v := range g.variants(schema) {
					in := gojsonschema.NewGoLoader(map[string]any{p.Name: v})
					got, err := p.CompiledSchema.Validate(in)
					if err != nil {
						t.Fatalf("%s %s: %v", tx.Name, p.Name, err)
					}
					ref, err := want[i].Parameters[j].CompiledSchema.Validate(in)
					if err != nil {
						t.Fatalf("%s %s: %v", tx.Name, p.Name, err)
					}
					if got.Valid() != ref.Valid() {
						vb, _ := json.Marshal(v)
						t.Errorf("%s %s: %s valid=%v, contractapi's schema says %v", tx.Name, p.Name, vb, got.Valid(), ref.Valid())
					}
					if ref.Valid() {
						accepted++
					} else {
						refused++
					}
				}
			}
		}
	}
	t.Logf("%d arguments, %d instances accepted and %d refused by both", args, accepted, refused)
	if args < 50 || accepted < args || refused < args {
		t.Fatalf("the comparison covered too little: %d arguments, %d accepted, %d refused", args, accepted, refused)
	}
}

// The chaincode keeps little memory once built: contractapi's own
// compilation kept about 30 MB (every component once per argument and
// return value).
func TestTheChaincodeKeepsLittleMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cc, err := NewChaincode("")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(cc)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("the chaincode keeps %.1f MB", float64(kept)/1e6)
	if kept > 8<<20 {
		t.Fatalf("the chaincode keeps %.1f MB after it is built; the reduced schemas keep about 1.3 MB", float64(kept)/1e6)
	}
}

// instances builds JSON values for a schema: one that should fit it and
// variants that each break one of its rules.
type instances struct {
	components map[string]map[string]any
}

func (g instances) resolve(s map[string]any) map[string]any {
	for depth := 0; depth < 8; depth++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		ref = ref[strings.LastIndex(ref, "/")+1:]
		s = g.components[ref]
	}
	return s
}

// valid is an instance that fits s.
func (g instances) valid(s map[string]any, depth int) any {
	s = g.resolve(s)
	switch s["type"] {
	case "string":
		if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
			return enum[0]
		}
		return "x"
	case "number", "integer":
		return 1
	case "boolean":
		return true
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil || depth > 4 {
			return []any{}
		}
		return []any{g.valid(items, depth+1)}
	}
	props, _ := s["properties"].(map[string]any)
	obj := map[string]any{}
	for name, ps := range props {
		if depth > 4 {
			break
		}
		if m, ok := ps.(map[string]any); ok {
			obj[name] = g.valid(m, depth+1)
		}
	}
	return obj
}

// variants is a valid instance of s and, for an object, that instance
// without each required property, with an unknown property and with each
// property of the wrong type; for anything else, a value of another type.
func (g instances) variants(s map[string]any) []any {
	v := g.valid(s, 0)
	out := []any{v}
	obj, ok := v.(map[string]any)
	if !ok {
		if _, isString := v.(string); isString {
			return append(out, 7)
		}
		return append(out, "x")
	}
	r := g.resolve(s)
	if req, ok := r["required"].([]any); ok {
		for _, name := range req {
			out = append(out, without(obj, name.(string)))
		}
	}
	out = append(out, with(obj, "not_a_field", "x"), "x")
	for name, value := range obj {
		wrong := any("x")
		if _, isString := value.(string); isString {
			wrong = map[string]any{}
		}
		out = append(out, with(obj, name, wrong))
	}
	return out
}

func without(m map[string]any, key string) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		if k != key {
			c[k] = v
		}
	}
	return c
}

func with(m map[string]any, key string, value any) map[string]any {
	c := without(m, key)
	c[key] = value
	return c
}
