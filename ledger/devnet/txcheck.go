package devnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// txCheck is everything the committer needs to know about one envelope
// of a block apart from the checks that depend on the rest of the block
// and the ledger (duplicate transaction ids, MVCC).
type txCheck struct {
	raw       []byte // the envelope bytes as ordered
	typ       common.HeaderType
	txID      string
	creator   []byte
	timestamp *timestamppb.Timestamp
	// preCode is the outcome of Fabric's ValidateTransaction (headers,
	// creator signature, transaction id, structure); postCode the outcome of
	// the plugin dispatcher (chaincode, endorsement policy). A transaction
	// takes part in duplicate detection only when both are VALID, and the
	// ledger duplicate check sits between the two (txvalidator/v20).
	preCode  peer.TxValidationCode
	postCode peer.TxValidationCode

	chaincode string
	sets      []fabsim.NsRWSet
	event     *peer.ChaincodeEvent
	config    *common.Config
}

// validationCtx is the channel state a transaction is validated against.
type validationCtx struct {
	channel     string
	members     *membership
	defs        map[string]*definition
	platformMSP string
	configSeq   uint64
	now         time.Time
	// endorsed remembers the endorsements this peer signed, so that the
	// committer recognises them without verifying its own signature again;
	// nil when replaying.
	endorsed *endorsementMemo
}

// check validates one envelope of a block. creatorVerified says the
// envelope signature was already verified at ingress (by the orderer's
// signature filter) against the same membership.
func (vc *validationCtx) check(raw []byte, creatorVerified bool) *txCheck {
	var env common.Envelope
	if err := proto.Unmarshal(raw, &env); err != nil {
		return &txCheck{raw: raw, preCode: peer.TxValidationCode_INVALID_OTHER_REASON, postCode: peer.TxValidationCode_VALID}
	}
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return &txCheck{raw: raw, preCode: peer.TxValidationCode_BAD_PAYLOAD, postCode: peer.TxValidationCode_VALID}
	}
	return vc.checkParsed(raw, &env, &payload, creatorVerified)
}

// checkParsed is check for an envelope whose bytes raw the caller has
// already parsed into env and its payload (the orderer at admission), so
// the committer's checks do not parse them a second time.
func (vc *validationCtx) checkParsed(raw []byte, env *common.Envelope, payload *common.Payload, creatorVerified bool) *txCheck {
	c := &txCheck{raw: raw, postCode: peer.TxValidationCode_VALID}
	chdr, shdr, err := validateCommonHeader(payload.GetHeader())
	if err != nil {
		c.preCode = peer.TxValidationCode_BAD_COMMON_HEADER
		return c
	}
	c.typ, c.txID, c.creator, c.timestamp = common.HeaderType(chdr.GetType()), chdr.GetTxId(), shdr.GetCreator(), chdr.GetTimestamp()
	if !creatorVerified {
		id := vc.members.lookup(shdr.GetCreator())
		if id.validAt(vc.now) != nil || id.verify(env.GetPayload(), env.GetSignature()) != nil {
			c.preCode = peer.TxValidationCode_BAD_CREATOR_SIGNATURE
			return c
		}
	}
	switch c.typ {
	case common.HeaderType_ENDORSER_TRANSACTION:
		if computeTxID(shdr.GetNonce(), shdr.GetCreator()) != chdr.GetTxId() {
			c.preCode = peer.TxValidationCode_BAD_PROPOSAL_TXID
			return c
		}
		tx, err := validateEndorserTransaction(payload.GetData(), payload.GetHeader())
		if err != nil {
			c.preCode = peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION
			return c
		}
		if chdr.GetChannelId() != vc.channel {
			c.preCode = peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND
			return c
		}
		c.preCode = peer.TxValidationCode_VALID
		c.postCode = vc.dispatch(c, chdr, tx)
	case common.HeaderType_CONFIG:
		c.preCode = vc.checkConfig(c, payload.GetData())
	default:
		c.preCode = peer.TxValidationCode_UNSUPPORTED_TX_PAYLOAD
	}
	return c
}

func computeTxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// validateCommonHeader is Fabric's validateCommonHeader: known type, epoch
// zero, nonce and creator present.
func validateCommonHeader(hdr *common.Header) (*common.ChannelHeader, *common.SignatureHeader, error) {
	if hdr == nil {
		return nil, nil, errors.New("nil header")
	}
	var chdr common.ChannelHeader
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &chdr); err != nil {
		return nil, nil, err
	}
	switch common.HeaderType(chdr.GetType()) {
	case common.HeaderType_ENDORSER_TRANSACTION, common.HeaderType_CONFIG_UPDATE, common.HeaderType_CONFIG:
	default:
		return nil, nil, errors.New("invalid header type")
	}
	if chdr.GetEpoch() != 0 {
		return nil, nil, errors.New("invalid epoch")
	}
	var shdr common.SignatureHeader
	if err := proto.Unmarshal(hdr.GetSignatureHeader(), &shdr); err != nil {
		return nil, nil, err
	}
	if len(shdr.GetNonce()) == 0 || len(shdr.GetCreator()) == 0 {
		return nil, nil, errors.New("nonce or creator missing")
	}
	return &chdr, &shdr, nil
}

// endorserTx is the parsed single action of an endorser transaction.
type endorserTx struct {
	action   *peer.ChaincodeActionPayload
	prpBytes []byte
	prp      *peer.ProposalResponsePayload
}

// validateEndorserTransaction is Fabric's check that the transaction has
// one action whose proposal hash matches the header it carries.
func validateEndorserTransaction(data []byte, hdr *common.Header) (*endorserTx, error) {
	var tx peer.Transaction
	if err := proto.Unmarshal(data, &tx); err != nil {
		return nil, err
	}
	if len(tx.GetActions()) != 1 {
		return nil, errors.New("only one action per transaction is supported")
	}
	act := tx.GetActions()[0]
	var shdr common.SignatureHeader
	if err := proto.Unmarshal(act.GetHeader(), &shdr); err != nil {
		return nil, err
	}
	if len(shdr.GetNonce()) == 0 || len(shdr.GetCreator()) == 0 {
		return nil, errors.New("invalid signature header")
	}
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(act.GetPayload(), &cap); err != nil {
		return nil, err
	}
	if cap.GetAction() == nil {
		return nil, errors.New("nil ChaincodeEndorsedAction")
	}
	prpBytes := cap.GetAction().GetProposalResponsePayload()
	var prp peer.ProposalResponsePayload
	if err := proto.Unmarshal(prpBytes, &prp); err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(hdr.GetChannelHeader())
	h.Write(act.GetHeader())
	h.Write(cap.GetChaincodeProposalPayload())
	if !bytes.Equal(h.Sum(nil), prp.GetProposalHash()) {
		return nil, errors.New("proposal hash does not match")
	}
	return &endorserTx{action: &cap, prpBytes: prpBytes, prp: &prp}, nil
}

// dispatch is the plugin dispatcher and the default validation plugin:
// chaincode identity and event checks, then the endorsement policy of
// every namespace the transaction writes and of the invoked chaincode.
func (vc *validationCtx) dispatch(c *txCheck, chdr *common.ChannelHeader, tx *endorserTx) peer.TxValidationCode {
	var ext peer.ChaincodeHeaderExtension
	if err := proto.Unmarshal(chdr.GetExtension(), &ext); err != nil {
		return peer.TxValidationCode_BAD_HEADER_EXTENSION
	}
	var ca peer.ChaincodeAction
	if err := proto.Unmarshal(tx.prp.GetExtension(), &ca); err != nil {
		return peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	var txrw rwset.TxReadWriteSet
	if err := proto.Unmarshal(ca.GetResults(), &txrw); err != nil {
		return peer.TxValidationCode_BAD_RWSET
	}
	for _, ns := range txrw.GetNsRwset() {
		var kv kvrwset.KVRWSet
		if err := proto.Unmarshal(ns.GetRwset(), &kv); err != nil {
			return peer.TxValidationCode_BAD_RWSET
		}
		c.sets = append(c.sets, fabsim.NsRWSet{Namespace: ns.GetNamespace(), RWSet: &kv})
	}
	if ext.GetChaincodeId() == nil || ca.GetChaincodeId() == nil {
		return peer.TxValidationCode_INVALID_OTHER_REASON
	}
	cc := ext.GetChaincodeId().GetName()
	c.chaincode = cc
	if cc == "" || cc != ca.GetChaincodeId().GetName() || ca.GetChaincodeId().GetVersion() == "" {
		return peer.TxValidationCode_INVALID_CHAINCODE
	}
	if len(ca.GetEvents()) > 0 {
		var ev peer.ChaincodeEvent
		if err := proto.Unmarshal(ca.GetEvents(), &ev); err != nil || ev.GetChaincodeId() != cc {
			return peer.TxValidationCode_INVALID_OTHER_REASON
		}
		c.event = &ev
	}
	written := map[string]bool{cc: true}
	seen := map[string]bool{}
	for _, s := range c.sets {
		if seen[s.Namespace] {
			return peer.TxValidationCode_ILLEGAL_WRITESET
		}
		seen[s.Namespace] = true
		if len(s.RWSet.GetWrites()) > 0 || len(s.RWSet.GetMetadataWrites()) > 0 {
			written[s.Namespace] = true
		}
	}
	namespaces := make([]string, 0, len(written))
	for ns := range written {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	var endorsers []*identity
	endorsersChecked := false
	for _, ns := range namespaces {
		policy, ok := vc.validationPolicy(ns, c.creator)
		if !ok {
			return peer.TxValidationCode_INVALID_CHAINCODE
		}
		if !endorsersChecked {
			endorsers = vc.validEndorsers(tx)
			endorsersChecked = true
		}
		if policy == nil || !policy.satisfiedBy(vc.members, endorsers) {
			return peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
		}
	}
	return peer.TxValidationCode_VALID
}

// validationPolicy returns the definition whose endorsement policy a
// namespace's writes must meet; false when the namespace has no definition
// (INVALID_CHAINCODE). Writes to the lifecycle namespace must also come
// from an administrator of the platform organisation (a nil definition:
// the endorsement policy is not met); the devnet's own lifecycle
// transactions are endorsed by the platform peer.
func (vc *validationCtx) validationPolicy(ns string, creator []byte) (*definition, bool) {
	if ns == lifecycleNamespace {
		id := vc.members.lookup(creator)
		if id.mspID != vc.platformMSP || id.role != roleAdmin {
			return nil, true
		}
		return &definition{name: lifecycleNamespace, policy: endorsementPolicy(vc.platformMSP)}, true
	}
	d := vc.defs[ns]
	if d == nil {
		return nil, false
	}
	return d, true
}

// validEndorsers are the distinct endorsers whose signature over the
// proposal response payload verifies; invalid ones are ignored, as a
// policy evaluation ignores them.
func (vc *validationCtx) validEndorsers(tx *endorserTx) []*identity {
	var out []*identity
	seen := map[string]bool{}
	for _, e := range tx.action.GetAction().GetEndorsements() {
		if seen[string(e.GetEndorser())] {
			continue
		}
		id := vc.members.lookup(e.GetEndorser())
		if id.validAt(vc.now) != nil {
			continue
		}
		msg := make([]byte, 0, len(tx.prpBytes)+len(e.GetEndorser()))
		msg = append(append(msg, tx.prpBytes...), e.GetEndorser()...)
		if !vc.endorsed.matches(msg, e.GetSignature()) && id.verify(msg, e.GetSignature()) != nil {
			continue
		}
		seen[string(e.GetEndorser())] = true
		out = append(out, id)
	}
	return out
}

// checkConfig validates a CONFIG transaction: signed by an orderer
// organisation, the next configuration sequence, a configuration this
// network can read.
func (vc *validationCtx) checkConfig(c *txCheck, data []byte) peer.TxValidationCode {
	var ce common.ConfigEnvelope
	if err := proto.Unmarshal(data, &ce); err != nil || ce.GetConfig() == nil {
		return peer.TxValidationCode_INVALID_CONFIG_TRANSACTION
	}
	id := vc.members.lookup(c.creator)
	if vc.members.orderer[id.mspID] == nil || ce.GetConfig().GetSequence() != vc.configSeq+1 {
		return peer.TxValidationCode_INVALID_CONFIG_TRANSACTION
	}
	if _, err := membershipFromConfig(vc.channel, ce.GetConfig()); err != nil {
		return peer.TxValidationCode_INVALID_CONFIG_TRANSACTION
	}
	c.config = ce.GetConfig()
	return peer.TxValidationCode_VALID
}

// endorsementMemo remembers the endorsement signatures this peer produced,
// keyed by the digest of the signed bytes. Two generations bound its size;
// a forgotten entry only costs a signature verification. Its entries hold
// no pointers, so the garbage collector does not scan them.
type endorsementMemo struct {
	mu        sync.Mutex
	cur, prev map[[32]byte]memoSig
}

// memoSig is a DER-encoded P-256 signature (at most 72 bytes) by value.
type memoSig struct {
	n   uint8
	der [72]byte
}

const endorsementMemoGeneration = 50_000

func newEndorsementMemo() *endorsementMemo {
	return &endorsementMemo{cur: map[[32]byte]memoSig{}}
}

func (m *endorsementMemo) remember(msg, sig []byte) {
	var s memoSig
	if len(sig) > len(s.der) {
		return
	}
	s.n = uint8(copy(s.der[:], sig))
	d := sha256.Sum256(msg)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= endorsementMemoGeneration {
		m.prev, m.cur = m.cur, make(map[[32]byte]memoSig, endorsementMemoGeneration)
	}
	m.cur[d] = s
}

// matches reports whether this peer signed exactly msg with exactly sig.
func (m *endorsementMemo) matches(msg, sig []byte) bool {
	if m == nil {
		return false
	}
	d := sha256.Sum256(msg)
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.cur[d]
	if !ok {
		s, ok = m.prev[d]
	}
	return ok && bytes.Equal(s.der[:s.n], sig)
}
