package devnet

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"google.golang.org/protobuf/proto"
)

// orgMaterial is what the channel configuration records of an organisation.
type orgMaterial struct {
	mspID    string
	caPEM    []byte
	tlsCAPEM []byte
}

// channelParams are the channel configuration values besides the
// organisations.
type channelParams struct {
	channel      string
	ordererAddr  string
	batchTimeout time.Duration
	maxBatch     int
}

const (
	groupApplication = "Application"
	groupOrderer     = "Orderer"
	modPolicyAdmins  = "Admins"
)

func mustMarshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err) // only well-formed messages built here are marshalled
	}
	return b
}

func configValue(m proto.Message) *common.ConfigValue {
	return &common.ConfigValue{Value: mustMarshal(m), ModPolicy: modPolicyAdmins}
}

func implicitMeta(sub string, rule common.ImplicitMetaPolicy_Rule) *common.ConfigPolicy {
	return &common.ConfigPolicy{
		Policy: &common.Policy{
			Type:  int32(common.Policy_IMPLICIT_META),
			Value: mustMarshal(&common.ImplicitMetaPolicy{SubPolicy: sub, Rule: rule}),
		},
		ModPolicy: modPolicyAdmins,
	}
}

// signedByAnyOf is the signature policy OR(mspID.role1, mspID.role2, …).
func signedByAnyOf(mspID string, roles ...msp.MSPRole_MSPRoleType) *common.SignaturePolicyEnvelope {
	env := &common.SignaturePolicyEnvelope{Rule: &common.SignaturePolicy{}}
	var rules []*common.SignaturePolicy
	for i, r := range roles {
		env.Identities = append(env.Identities, &msp.MSPPrincipal{
			PrincipalClassification: msp.MSPPrincipal_ROLE,
			Principal:               mustMarshal(&msp.MSPRole{MspIdentifier: mspID, Role: r}),
		})
		rules = append(rules, &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(i)}})
	}
	env.Rule.Type = &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: 1, Rules: rules}}
	return env
}

func signaturePolicy(env *common.SignaturePolicyEnvelope) *common.ConfigPolicy {
	return &common.ConfigPolicy{
		Policy:    &common.Policy{Type: int32(common.Policy_SIGNATURE), Value: mustMarshal(env)},
		ModPolicy: modPolicyAdmins,
	}
}

func mspValue(o orgMaterial) *common.ConfigValue {
	ou := func(name string) *msp.FabricOUIdentifier {
		return &msp.FabricOUIdentifier{Certificate: o.caPEM, OrganizationalUnitIdentifier: name}
	}
	cfg := &msp.FabricMSPConfig{
		Name:         o.mspID,
		RootCerts:    [][]byte{o.caPEM},
		TlsRootCerts: [][]byte{o.tlsCAPEM},
		CryptoConfig: &msp.FabricCryptoConfig{SignatureHashFamily: "SHA2", IdentityIdentifierHashFunction: "SHA256"},
		FabricNodeOus: &msp.FabricNodeOUs{
			Enable:             true,
			ClientOuIdentifier: ou(roleClient), PeerOuIdentifier: ou(rolePeer),
			AdminOuIdentifier: ou(roleAdmin), OrdererOuIdentifier: ou(roleOrderer),
		},
	}
	return configValue(&msp.MSPConfig{Type: 0, Config: mustMarshal(cfg)})
}

func orgGroup(o orgMaterial, ordererOrg bool) *common.ConfigGroup {
	g := &common.ConfigGroup{
		Values:    map[string]*common.ConfigValue{"MSP": mspValue(o)},
		ModPolicy: modPolicyAdmins,
	}
	if ordererOrg {
		g.Policies = map[string]*common.ConfigPolicy{
			"Readers": signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_MEMBER)),
			"Writers": signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_MEMBER)),
			"Admins":  signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_ADMIN)),
		}
		return g
	}
	g.Policies = map[string]*common.ConfigPolicy{
		"Readers":     signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_ADMIN, msp.MSPRole_PEER, msp.MSPRole_CLIENT)),
		"Writers":     signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_ADMIN, msp.MSPRole_CLIENT)),
		"Admins":      signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_ADMIN)),
		"Endorsement": signaturePolicy(signedByAnyOf(o.mspID, msp.MSPRole_PEER)),
	}
	return g
}

func capabilities(names ...string) *common.ConfigValue {
	c := &common.Capabilities{Capabilities: map[string]*common.Capability{}}
	for _, n := range names {
		c.Capabilities[n] = &common.Capability{}
	}
	return configValue(c)
}

// buildChannelConfig is the channel configuration a configtxgen profile
// with these organisations would produce, reduced to what this network
// uses: MSPs with NodeOUs, the implicit policies, a single ordering node.
func buildChannelConfig(sequence uint64, p channelParams, apps []orgMaterial, ord orgMaterial) *common.Config {
	appGroup := &common.ConfigGroup{
		Groups: map[string]*common.ConfigGroup{},
		Values: map[string]*common.ConfigValue{"Capabilities": capabilities("V2_5")},
		Policies: map[string]*common.ConfigPolicy{
			"Readers":              implicitMeta("Readers", common.ImplicitMetaPolicy_ANY),
			"Writers":              implicitMeta("Writers", common.ImplicitMetaPolicy_ANY),
			"Admins":               implicitMeta("Admins", common.ImplicitMetaPolicy_MAJORITY),
			"Endorsement":          implicitMeta("Endorsement", common.ImplicitMetaPolicy_MAJORITY),
			"LifecycleEndorsement": implicitMeta("Endorsement", common.ImplicitMetaPolicy_MAJORITY),
		},
		ModPolicy: modPolicyAdmins,
	}
	for _, o := range apps {
		appGroup.Groups[o.mspID] = orgGroup(o, false)
	}
	ordGroup := &common.ConfigGroup{
		Groups: map[string]*common.ConfigGroup{ord.mspID: orgGroup(ord, true)},
		Values: map[string]*common.ConfigValue{
			"ConsensusType": configValue(&ab.ConsensusType{Type: "solo"}),
			"BatchSize": configValue(&ab.BatchSize{
				MaxMessageCount: uint32(p.maxBatch), AbsoluteMaxBytes: 99 << 20, PreferredMaxBytes: 2 << 20,
			}),
			"BatchTimeout": configValue(&ab.BatchTimeout{Timeout: p.batchTimeout.String()}),
			"Capabilities": capabilities("V2_0"),
		},
		Policies: map[string]*common.ConfigPolicy{
			"Readers":         implicitMeta("Readers", common.ImplicitMetaPolicy_ANY),
			"Writers":         implicitMeta("Writers", common.ImplicitMetaPolicy_ANY),
			"Admins":          implicitMeta("Admins", common.ImplicitMetaPolicy_MAJORITY),
			"BlockValidation": implicitMeta("Writers", common.ImplicitMetaPolicy_ANY),
		},
		ModPolicy: modPolicyAdmins,
	}
	return &common.Config{
		Sequence: sequence,
		ChannelGroup: &common.ConfigGroup{
			Groups: map[string]*common.ConfigGroup{groupApplication: appGroup, groupOrderer: ordGroup},
			Values: map[string]*common.ConfigValue{
				"HashingAlgorithm":          configValue(&common.HashingAlgorithm{Name: "SHA256"}),
				"BlockDataHashingStructure": configValue(&common.BlockDataHashingStructure{Width: maxBlockDataWidth}),
				"OrdererAddresses":          configValue(&common.OrdererAddresses{Addresses: []string{p.ordererAddr}}),
				"Capabilities":              capabilities("V2_0"),
			},
			Policies: map[string]*common.ConfigPolicy{
				"Readers": implicitMeta("Readers", common.ImplicitMetaPolicy_ANY),
				"Writers": implicitMeta("Writers", common.ImplicitMetaPolicy_ANY),
				"Admins":  implicitMeta("Admins", common.ImplicitMetaPolicy_MAJORITY),
			},
			ModPolicy: modPolicyAdmins,
		},
	}
}

// membershipFromConfig reads the organisations' MSPs out of a channel
// configuration.
func membershipFromConfig(channel string, cfg *common.Config) (*membership, error) {
	groups := cfg.GetChannelGroup().GetGroups()
	app, err := orgsOfGroup(groups[groupApplication])
	if err != nil {
		return nil, fmt.Errorf("application group: %w", err)
	}
	ord, err := orgsOfGroup(groups[groupOrderer])
	if err != nil {
		return nil, fmt.Errorf("orderer group: %w", err)
	}
	if len(app) == 0 {
		return nil, errors.New("channel configuration has no application organisation")
	}
	appPolicies := map[string]*common.Policy{}
	for name, cp := range groups[groupApplication].GetPolicies() {
		appPolicies[name] = cp.GetPolicy()
	}
	return newMembership(channel, app, ord, appPolicies), nil
}

func orgsOfGroup(g *common.ConfigGroup) ([]*orgMSP, error) {
	names := make([]string, 0, len(g.GetGroups()))
	for name := range g.GetGroups() {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []*orgMSP
	for _, name := range names {
		v := g.GetGroups()[name].GetValues()["MSP"]
		if v == nil {
			return nil, fmt.Errorf("organisation %s has no MSP value", name)
		}
		var mc msp.MSPConfig
		if err := proto.Unmarshal(v.GetValue(), &mc); err != nil {
			return nil, fmt.Errorf("organisation %s: %w", name, err)
		}
		var fc msp.FabricMSPConfig
		if err := proto.Unmarshal(mc.GetConfig(), &fc); err != nil {
			return nil, fmt.Errorf("organisation %s: %w", name, err)
		}
		o := &orgMSP{
			mspID: fc.GetName(), roots: x509.NewCertPool(), rootPEMs: fc.GetRootCerts(), tlsRootPEMs: fc.GetTlsRootCerts(),
			policies: map[string]*common.SignaturePolicyEnvelope{},
		}
		for pname, cp := range g.GetGroups()[name].GetPolicies() {
			var env common.SignaturePolicyEnvelope
			if common.Policy_PolicyType(cp.GetPolicy().GetType()) == common.Policy_SIGNATURE && proto.Unmarshal(cp.GetPolicy().GetValue(), &env) == nil {
				o.policies[pname] = &env
			}
		}
		for _, pemBytes := range fc.GetRootCerts() {
			block, _ := pem.Decode(pemBytes)
			if block == nil {
				return nil, fmt.Errorf("organisation %s: root certificate is not PEM", name)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("organisation %s: %w", name, err)
			}
			o.roots.AddCert(cert)
		}
		out = append(out, o)
	}
	return out, nil
}

// sameOrgs reports whether a configuration already lists exactly these
// organisations with these CA certificates.
func sameOrgs(m *membership, apps []orgMaterial) bool {
	if len(m.app) != len(apps) {
		return false
	}
	for _, o := range apps {
		have := m.app[o.mspID]
		if have == nil || len(have.rootPEMs) != 1 || string(have.rootPEMs[0]) != string(o.caPEM) {
			return false
		}
	}
	return true
}
