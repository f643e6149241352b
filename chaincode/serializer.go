package chaincode

import (
	"reflect"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"

	"github.com/eidgate/eidgate/chaincode/model"
)

// argSerializer is contractapi's JSON serializer whose argument errors are
// INVALID refusals that never echo the argument (contractapi's own message
// quotes the whole value, which may hold blinded indexes or signatures).
// contractapi still prefixes the message with "error managing parameter
// paramN. "; the ledger client finds the code after it.
type argSerializer struct {
	serializer.JSONSerializer
}

func (s *argSerializer) FromString(param string, fieldType reflect.Type, md *metadata.ParameterMetadata, components *metadata.ComponentMetadata) (reflect.Value, error) {
	v, err := s.JSONSerializer.FromString(param, fieldType, md, components)
	if err == nil {
		return v, nil
	}
	name := "argument"
	if md != nil {
		name = "argument " + md.Name
	}
	if detail, ok := strings.CutPrefix(err.Error(), "value did not match schema:"); ok {
		return v, model.Invalid("%s does not fit %s: %s", name, fieldType, oneLine(detail))
	}
	return v, model.Invalid("%s is not a valid %s", name, fieldType)
}

// oneLine joins gojsonschema's numbered error lines.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// ToString renders a result as contractapi does but does not check it
// against the JSON schema generated from its Go type: the contract built
// the value from that type, so the check could only fail on a contract
// bug, and it cost about 6% of a transaction's CPU time. Arguments, which
// come from outside, are still checked (FromString).
func (s *argSerializer) ToString(result reflect.Value, resultType reflect.Type, _ *metadata.ReturnMetadata, components *metadata.ComponentMetadata) (string, error) {
	return s.JSONSerializer.ToString(result, resultType, nil, components)
}
