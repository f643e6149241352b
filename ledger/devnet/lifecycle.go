package devnet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"
	"google.golang.org/protobuf/proto"
)

// Chaincode definitions live in the "_lifecycle" namespace of world state,
// in the keys and encodings Fabric's lifecycle serializer uses, and are
// written by ordinary endorser transactions, so that replaying the blocks
// rebuilds them.
const (
	lifecycleNamespace = "_lifecycle"
	// DefinitionVersion is the version of every chaincode definition the
	// devnet commits (Fabric's --version).
	DefinitionVersion = "1.0"
	// sysCCVersion is the version a peer reports for system chaincodes.
	sysCCVersion = "syscc"

	definitionDatatype = "ChaincodeDefinition"
	metadataPrefix     = "namespaces/metadata/"
	fieldsPrefix       = "namespaces/fields/"
)

func sequenceKey(cc string) string { return fieldsPrefix + cc + "/Sequence" }

// definition is a committed chaincode definition.
type definition struct {
	name     string
	version  string
	sequence int64
	// The endorsement policy: the definition's own signature policy, or,
	// when policyRef is set instead, a channel policy it names (Fabric's
	// default for a definition approved without --signature-policy is
	// /Channel/Application/Endorsement).
	policy    *common.SignaturePolicyEnvelope
	policyRef string
}

// validationParameter is the definition's ApplicationPolicy.
func (d *definition) validationParameter() []byte {
	if d.policyRef != "" {
		return mustMarshal(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_ChannelConfigPolicyReference{ChannelConfigPolicyReference: d.policyRef}})
	}
	return mustMarshal(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_SignaturePolicy{SignaturePolicy: d.policy}})
}

// satisfiedBy evaluates the endorsement policy over verified endorsers.
func (d *definition) satisfiedBy(m *membership, ids []*identity) bool {
	if d.policyRef != "" {
		return m.satisfiesChannelPolicy(d.policyRef, ids)
	}
	return d.policy != nil && satisfiesSignaturePolicy(d.policy, ids)
}

// samePolicy reports whether two definitions have the same endorsement
// policy.
func (d *definition) samePolicy(o *definition) bool {
	return string(d.validationParameter()) == string(o.validationParameter())
}

// systemChaincodes are served by the peer itself.
var systemChaincodes = map[string]bool{"qscc": true, "cscc": true, "_lifecycle": true}

// endorsementPolicy is the platform-only endorsement policy: a peer of the
// platform organisation. It is the devnet's default for chaincodes and
// the policy of its own _lifecycle transactions.
func endorsementPolicy(platformMSP string) *common.SignaturePolicyEnvelope {
	return signedByAnyOf(platformMSP, msp.MSPRole_PEER)
}

// channelEndorsementPolicy is the channel policy a definition names under
// EndorseMajority, as a definition approved without --signature-policy
// does on a real network.
const channelEndorsementPolicy = applicationPolicyPrefix + "Endorsement"

// definitionWrites are the _lifecycle writes of CommitChaincodeDefinition.
func definitionWrites(d *definition) []*kvrwset.KVWrite {
	data := func(m proto.Message) []byte {
		return mustMarshal(&lifecycle.StateData{Type: &lifecycle.StateData_Bytes{Bytes: mustMarshal(m)}})
	}
	validation := d.validationParameter()
	fields := map[string][]byte{
		"Sequence": mustMarshal(&lifecycle.StateData{Type: &lifecycle.StateData_Int64{Int64: d.sequence}}),
		"EndorsementInfo": data(&lifecycle.ChaincodeEndorsementInfo{
			Version: d.version, EndorsementPlugin: "escc",
		}),
		"ValidationInfo": data(&lifecycle.ChaincodeValidationInfo{ValidationPlugin: "vscc", ValidationParameter: validation}),
		"Collections":    data(&peer.CollectionConfigPackage{}),
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	var writes []*kvrwset.KVWrite
	for _, n := range names {
		writes = append(writes, &kvrwset.KVWrite{Key: fieldsPrefix + d.name + "/" + n, Value: fields[n]})
	}
	meta := mustMarshal(&lifecycle.StateMetadata{Datatype: definitionDatatype, Fields: []string{"EndorsementInfo", "ValidationInfo", "Collections", "Sequence"}})
	writes = append(writes, &kvrwset.KVWrite{Key: metadataPrefix + d.name, Value: meta})
	sort.Slice(writes, func(i, j int) bool { return writes[i].Key < writes[j].Key })
	return writes
}

// readDefinitions loads every committed chaincode definition.
func readDefinitions(st fabsim.State) (map[string]*definition, error) {
	it, err := st.Range(lifecycleNamespace, metadataPrefix, metadataPrefix+"\xff")
	if err != nil {
		return nil, err
	}
	var names []string
	for {
		k, _, ok, err := it.Next()
		if err != nil {
			it.Close()
			return nil, err
		}
		if !ok {
			break
		}
		names = append(names, strings.TrimPrefix(k, metadataPrefix))
	}
	it.Close()
	defs := map[string]*definition{}
	for _, name := range names {
		d, err := readDefinition(st, name)
		if err != nil {
			return nil, fmt.Errorf("chaincode definition %s: %w", name, err)
		}
		defs[name] = d
	}
	return defs, nil
}

func readDefinition(st fabsim.State, name string) (*definition, error) {
	field := func(f string) (*lifecycle.StateData, error) {
		vv, err := st.Get(lifecycleNamespace, fieldsPrefix+name+"/"+f)
		if err != nil {
			return nil, err
		}
		if vv == nil {
			return nil, fmt.Errorf("field %s missing", f)
		}
		var sd lifecycle.StateData
		if err := proto.Unmarshal(vv.Value, &sd); err != nil {
			return nil, fmt.Errorf("field %s: %w", f, err)
		}
		return &sd, nil
	}
	d := &definition{name: name}
	seq, err := field("Sequence")
	if err != nil {
		return nil, err
	}
	d.sequence = seq.GetInt64()
	ei, err := field("EndorsementInfo")
	if err != nil {
		return nil, err
	}
	var info lifecycle.ChaincodeEndorsementInfo
	if err := proto.Unmarshal(ei.GetBytes(), &info); err != nil {
		return nil, err
	}
	d.version = info.GetVersion()
	vi, err := field("ValidationInfo")
	if err != nil {
		return nil, err
	}
	var val lifecycle.ChaincodeValidationInfo
	if err := proto.Unmarshal(vi.GetBytes(), &val); err != nil {
		return nil, err
	}
	var ap peer.ApplicationPolicy
	if err := proto.Unmarshal(val.GetValidationParameter(), &ap); err != nil {
		return nil, err
	}
	d.policy, d.policyRef = ap.GetSignaturePolicy(), ap.GetChannelConfigPolicyReference()
	if d.policy == nil && !strings.HasPrefix(d.policyRef, applicationPolicyPrefix) {
		return nil, fmt.Errorf("validation parameter is neither a signature policy nor a reference to an Application policy")
	}
	return d, nil
}
