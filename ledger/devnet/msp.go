package devnet

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// Node OU roles of an MSP with NodeOUs enabled.
const (
	roleClient  = "client"
	rolePeer    = "peer"
	roleAdmin   = "admin"
	roleOrderer = "orderer"
)

// orgMSP is one organisation's MSP as the channel configuration defines it,
// with the organisation's signature policies (Readers, Writers, Admins,
// Endorsement).
type orgMSP struct {
	mspID       string
	roots       *x509.CertPool
	rootPEMs    [][]byte
	tlsRootPEMs [][]byte
	policies    map[string]*common.SignaturePolicyEnvelope
}

// membership is the set of organisations of a channel at one configuration
// sequence: the application organisations (readers, writers, endorsers) and
// the orderer organisations. It validates identities the way a Fabric
// channel MSP manager does and caches the outcome per serialized identity
// (the time-dependent part, certificate validity, is checked on each use).
type membership struct {
	channel string
	app     map[string]*orgMSP
	orderer map[string]*orgMSP
	// appPolicies are the Application group's own policies (Readers,
	// Writers, Admins, Endorsement, LifecycleEndorsement), which
	// chaincode definitions may reference as /Channel/Application/<name>.
	appPolicies map[string]*common.Policy

	mu    sync.Mutex
	cache map[string]*identity
}

// maxCachedIdentities bounds the identity cache against clients that send
// a stream of distinct creators.
const maxCachedIdentities = 4096

func newMembership(channel string, app, orderer []*orgMSP, appPolicies map[string]*common.Policy) *membership {
	m := &membership{channel: channel, app: map[string]*orgMSP{}, orderer: map[string]*orgMSP{}, appPolicies: appPolicies, cache: map[string]*identity{}}
	for _, o := range app {
		m.app[o.mspID] = o
	}
	for _, o := range orderer {
		m.orderer[o.mspID] = o
	}
	return m
}

func (m *membership) org(mspID string) *orgMSP {
	if o := m.app[mspID]; o != nil {
		return o
	}
	return m.orderer[mspID]
}

// identity is a deserialized creator or endorser.
type identity struct {
	mspID      string
	serialized []byte
	cert       *x509.Certificate
	pub        *ecdsa.PublicKey
	role       string
	chainEnd   time.Time // the earliest NotAfter on the chain
	chainStart time.Time // the latest NotBefore on the chain

	// malformed is set when the identity cannot be deserialized on this
	// channel (unknown MSP, not a certificate); invalid when it can but is
	// not a valid identity of its MSP.
	malformed error
	invalid   error
}

// lookup deserializes and validates an identity, using the cache.
func (m *membership) lookup(serialized []byte) *identity {
	m.mu.Lock()
	id, ok := m.cache[string(serialized)]
	m.mu.Unlock()
	if ok {
		return id
	}
	id = m.deserialize(serialized)
	m.mu.Lock()
	if len(m.cache) >= maxCachedIdentities {
		clear(m.cache)
	}
	m.cache[string(serialized)] = id
	m.mu.Unlock()
	return id
}

func (m *membership) deserialize(serialized []byte) *identity {
	id := &identity{serialized: serialized}
	var sid msp.SerializedIdentity
	if err := proto.Unmarshal(serialized, &sid); err != nil {
		id.malformed = fmt.Errorf("could not deserialize a SerializedIdentity: %w", err)
		return id
	}
	id.mspID = sid.GetMspid()
	o := m.org(id.mspID)
	if o == nil {
		id.malformed = fmt.Errorf("MSP %s is not defined on channel %s", id.mspID, m.channel)
		return id
	}
	block, _ := pem.Decode(sid.GetIdBytes())
	if block == nil {
		id.malformed = errors.New("could not decode pem bytes")
		return id
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		id.malformed = fmt.Errorf("failed to parse certificate: %w", err)
		return id
	}
	id.cert = cert
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		id.malformed = fmt.Errorf("certificate public key is %T, want ECDSA", cert.PublicKey)
		return id
	}
	id.pub = pub
	// Deserializing already walks the certificate's chain (msp/mspimpl.go
	// sanitizeCert): a certificate the named MSP's CAs did not issue is
	// malformed, not merely invalid, so the endorser answers "creator org
	// unknown, creator is malformed". A self-signed CA certificate is its
	// own chain there and fails validation below instead.
	roots := o.roots
	if cert.IsCA && cert.CheckSignatureFrom(cert) == nil {
		roots = x509.NewCertPool()
		roots.AddCert(cert)
	}
	// Chain validity is checked on use against the time of use, so verify
	// the chain at a moment the leaf was valid.
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: cert.NotBefore.Add(time.Second),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		id.malformed = fmt.Errorf("could not obtain certification chain: %w", err)
		return id
	}
	id.invalid = validateIdentity(cert, chains[0], id)
	return id
}

// validateIdentity checks what a Fabric MSP's Validate checks apart from
// time, for a certificate whose chain is known: the certificate is not a
// CA and carries exactly one node OU.
func validateIdentity(cert *x509.Certificate, chain []*x509.Certificate, id *identity) error {
	if cert.IsCA {
		return errors.New("An X509 certificate with Basic Constraint: Certificate Authority equals true cannot be used as an identity") //lint:ignore ST1005 Fabric's message
	}
	chains := [][]*x509.Certificate{chain}
	id.chainStart, id.chainEnd = cert.NotBefore, cert.NotAfter
	for _, c := range chains[0] {
		if c.NotBefore.After(id.chainStart) {
			id.chainStart = c.NotBefore
		}
		if c.NotAfter.Before(id.chainEnd) {
			id.chainEnd = c.NotAfter
		}
	}
	var roles []string
	for _, ou := range cert.Subject.OrganizationalUnit {
		switch ou {
		case roleClient, rolePeer, roleAdmin, roleOrderer:
			roles = append(roles, ou)
		}
	}
	if len(roles) != 1 {
		return fmt.Errorf("the identity must be a client, a peer, an orderer or an admin identity to be valid, not a combination of them. OUs: %v", cert.Subject.OrganizationalUnit)
	}
	id.role = roles[0]
	return nil
}

// validAt reports whether the identity can be used at time now.
func (id *identity) validAt(now time.Time) error {
	if id.malformed != nil {
		return id.malformed
	}
	if id.invalid != nil {
		return id.invalid
	}
	if now.Before(id.chainStart) || now.After(id.chainEnd) {
		return errors.New("could not obtain certification chain: x509: certificate has expired or is not yet valid")
	}
	return nil
}

// verify checks sig over msg by the identity.
func (id *identity) verify(msg, sig []byte) error {
	if id.pub == nil {
		return errInvalidSignature
	}
	return verifySignature(id.pub, msg, sig)
}

// Channel policies. Their evaluation follows the organisation policies the
// devnet writes into the channel configuration (channelconfig.go):
// Readers = admin, peer or client; Writers = admin or client of an
// application organisation; /Channel/Writers additionally admits any member
// of an orderer organisation.
const (
	policyAppReaders = "/Channel/Application/Readers"
	policyAppWriters = "/Channel/Application/Writers"
)

func (m *membership) isAppReader(id *identity) bool {
	return m.app[id.mspID] != nil && (id.role == roleAdmin || id.role == rolePeer || id.role == roleClient)
}

func (m *membership) isAppWriter(id *identity) bool {
	return m.app[id.mspID] != nil && (id.role == roleAdmin || id.role == roleClient)
}

func (m *membership) isChannelWriter(id *identity) bool {
	return m.isAppWriter(id) || m.orderer[id.mspID] != nil
}

// implicitMetaFailure is the error of an ImplicitMeta ANY policy that no
// organisation's sub-policy satisfied.
func implicitMetaFailure(subPolicy string) error {
	return fmt.Errorf("implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the '%s' sub-policies to be satisfied", subPolicy)
}

// checkSignedData evaluates one of the channel's implicit policies for a
// signed message (policy.EvaluateSignedData): the identity must be valid,
// its signature must verify and it must satisfy allowed.
func (m *membership) checkSignedData(creator, data, sig []byte, now time.Time, allowed func(*identity) bool, subPolicy string) (*identity, error) {
	id := m.lookup(creator)
	if id.validAt(now) != nil || id.verify(data, sig) != nil || !allowed(id) {
		return id, implicitMetaFailure(subPolicy)
	}
	return id, nil
}

// satisfiesSignaturePolicy evaluates a signature policy envelope over a set
// of verified, distinct identities the way cauthdsl does: each identity
// satisfies at most one principal.
func satisfiesSignaturePolicy(env *common.SignaturePolicyEnvelope, ids []*identity) bool {
	principals := make([]*msp.MSPRole, len(env.GetIdentities()))
	for i, p := range env.GetIdentities() {
		if p.GetPrincipalClassification() != msp.MSPPrincipal_ROLE {
			continue
		}
		var role msp.MSPRole
		if proto.Unmarshal(p.GetPrincipal(), &role) == nil {
			principals[i] = &role
		}
	}
	used := make([]bool, len(ids))
	return evalSignaturePolicy(env.GetRule(), principals, ids, used)
}

func evalSignaturePolicy(rule *common.SignaturePolicy, principals []*msp.MSPRole, ids []*identity, used []bool) bool {
	switch r := rule.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if r.SignedBy < 0 || int(r.SignedBy) >= len(principals) || principals[r.SignedBy] == nil {
			return false
		}
		p := principals[r.SignedBy]
		for i, id := range ids {
			if !used[i] && principalMatches(p, id) {
				used[i] = true
				return true
			}
		}
		return false
	case *common.SignaturePolicy_NOutOf_:
		satisfied := 0
		state := append([]bool(nil), used...)
		for _, sub := range r.NOutOf.GetRules() {
			try := append([]bool(nil), state...)
			if evalSignaturePolicy(sub, principals, ids, try) {
				satisfied++
				state = try
			}
		}
		if satisfied >= int(r.NOutOf.GetN()) {
			copy(used, state)
			return true
		}
		return false
	}
	return false
}

func principalMatches(p *msp.MSPRole, id *identity) bool {
	if p.GetMspIdentifier() != id.mspID {
		return false
	}
	switch p.GetRole() {
	case msp.MSPRole_MEMBER:
		return true
	case msp.MSPRole_ADMIN:
		return id.role == roleAdmin
	case msp.MSPRole_CLIENT:
		return id.role == roleClient
	case msp.MSPRole_PEER:
		return id.role == rolePeer
	case msp.MSPRole_ORDERER:
		return id.role == roleOrderer
	}
	return false
}

// applicationPolicyPrefix is the path of the Application group's policies,
// which a chaincode definition without its own signature policy names
// (Fabric's default: /Channel/Application/Endorsement).
const applicationPolicyPrefix = "/Channel/Application/"

// satisfiesChannelPolicy evaluates a channel policy of the Application
// group over verified, distinct identities: a signature policy as
// cauthdsl does, an implicit meta policy as Fabric's implicitMetaPolicy
// does (ANY: one organisation's sub-policy satisfied, ALL: every one,
// MAJORITY: more than half of the application organisations).
func (m *membership) satisfiesChannelPolicy(path string, ids []*identity) bool {
	name, ok := strings.CutPrefix(path, applicationPolicyPrefix)
	if !ok {
		return false
	}
	p := m.appPolicies[name]
	switch common.Policy_PolicyType(p.GetType()) {
	case common.Policy_SIGNATURE:
		var env common.SignaturePolicyEnvelope
		return proto.Unmarshal(p.GetValue(), &env) == nil && satisfiesSignaturePolicy(&env, ids)
	case common.Policy_IMPLICIT_META:
		var imp common.ImplicitMetaPolicy
		if proto.Unmarshal(p.GetValue(), &imp) != nil {
			return false
		}
		satisfied := 0
		for _, o := range m.app {
			if sub := o.policies[imp.GetSubPolicy()]; sub != nil && satisfiesSignaturePolicy(sub, ids) {
				satisfied++
			}
		}
		return satisfied >= implicitThreshold(imp.GetRule(), len(m.app))
	}
	return false
}

// implicitThreshold is how many of n sub-policies an implicit meta rule
// needs (common/policies/implicitmeta.go).
func implicitThreshold(rule common.ImplicitMetaPolicy_Rule, n int) int {
	switch rule {
	case common.ImplicitMetaPolicy_ANY:
		return 1
	case common.ImplicitMetaPolicy_ALL:
		return n
	}
	return n/2 + 1
}
