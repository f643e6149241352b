package devnet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// unpackedProposal holds the parts of a signed proposal (endorser's
// UnpackProposal).
type unpackedProposal struct {
	signed    *peer.SignedProposal
	proposal  *peer.Proposal
	header    *common.Header
	chdr      *common.ChannelHeader
	shdr      *common.SignatureHeader
	cpp       *peer.ChaincodeProposalPayload
	cis       *peer.ChaincodeInvocationSpec
	input     *peer.ChaincodeInput
	chaincode string
	hash      []byte // the proposal hash a proposal response refers to
}

func unmarshal(b []byte, m proto.Message, what string) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("error unmarshalling %s: %w", what, err)
	}
	return nil
}

// unpackProposal is core/endorser UnpackProposal, with its messages.
func unpackProposal(sp *peer.SignedProposal) (*unpackedProposal, error) {
	up := &unpackedProposal{
		signed: sp, proposal: &peer.Proposal{}, header: &common.Header{}, chdr: &common.ChannelHeader{},
		shdr: &common.SignatureHeader{}, cpp: &peer.ChaincodeProposalPayload{},
	}
	if err := unmarshal(sp.GetProposalBytes(), up.proposal, "Proposal"); err != nil {
		return nil, err
	}
	if err := unmarshal(up.proposal.GetHeader(), up.header, "Header"); err != nil {
		return nil, err
	}
	if err := unmarshal(up.header.GetChannelHeader(), up.chdr, "ChannelHeader"); err != nil {
		return nil, err
	}
	if err := unmarshal(up.header.GetSignatureHeader(), up.shdr, "SignatureHeader"); err != nil {
		return nil, err
	}
	var ext peer.ChaincodeHeaderExtension
	if err := unmarshal(up.chdr.GetExtension(), &ext, "ChaincodeHeaderExtension"); err != nil {
		return nil, err
	}
	if ext.GetChaincodeId() == nil {
		return nil, errors.New("ChaincodeHeaderExtension.ChaincodeId is nil")
	}
	if ext.GetChaincodeId().GetName() == "" {
		return nil, errors.New("ChaincodeHeaderExtension.ChaincodeId.Name is empty")
	}
	up.chaincode = ext.GetChaincodeId().GetName()
	if err := unmarshal(up.proposal.GetPayload(), up.cpp, "ChaincodeProposalPayload"); err != nil {
		return nil, err
	}
	up.cis = &peer.ChaincodeInvocationSpec{}
	if err := unmarshal(up.cpp.GetInput(), up.cis, "ChaincodeInvocationSpec"); err != nil {
		return nil, err
	}
	if up.cis.GetChaincodeSpec() == nil {
		return nil, errors.New("chaincode invocation spec did not contain chaincode spec")
	}
	if up.cis.GetChaincodeSpec().GetInput() == nil {
		return nil, errors.New("chaincode input did not contain any input")
	}
	up.input = up.cis.GetChaincodeSpec().GetInput()
	noTransient, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: up.cpp.GetInput()})
	if err != nil {
		return nil, fmt.Errorf("could not marshal non-transient portion of payload: %w", err)
	}
	h := sha256.New()
	h.Write(up.header.GetChannelHeader())
	h.Write(up.header.GetSignatureHeader())
	h.Write(noTransient)
	up.hash = h.Sum(nil)
	return up, nil
}

// validateProposal is UnpackedProposal.Validate.
func validateProposal(up *unpackedProposal, m *membership, now time.Time) error {
	switch common.HeaderType(up.chdr.GetType()) {
	case common.HeaderType_ENDORSER_TRANSACTION, common.HeaderType_CONFIG:
	default:
		return fmt.Errorf("invalid header type %s", common.HeaderType(up.chdr.GetType()))
	}
	if up.chdr.GetEpoch() != 0 {
		return errors.New("epoch is non-zero")
	}
	if len(up.shdr.GetNonce()) == 0 {
		return errors.New("nonce is empty")
	}
	if len(up.shdr.GetCreator()) == 0 {
		return errors.New("creator is empty")
	}
	if want := computeTxID(up.shdr.GetNonce(), up.shdr.GetCreator()); up.chdr.GetTxId() != want {
		return fmt.Errorf("incorrectly computed txid '%s' -- expected '%s'", up.chdr.GetTxId(), want)
	}
	if up.signed.GetProposalBytes() == nil {
		return errors.New("empty proposal bytes")
	}
	if up.signed.GetSignature() == nil {
		return errors.New("empty signature bytes")
	}
	id := m.lookup(up.shdr.GetCreator())
	if id.malformed != nil {
		return fmt.Errorf("access denied: channel [%s] creator org unknown, creator is malformed", up.chdr.GetChannelId())
	}
	generic := fmt.Errorf("access denied: channel [%s] creator org [%s]", up.chdr.GetChannelId(), id.mspID)
	if id.validAt(now) != nil {
		return generic
	}
	if id.verify(up.signed.GetProposalBytes(), up.signed.GetSignature()) != nil {
		return generic
	}
	return nil
}

// errorResponse is the proposal response a peer returns with an error.
func errorResponse(msg string) *peer.ProposalResponse {
	return &peer.ProposalResponse{Response: &peer.Response{Status: shim.ERROR, Message: msg}}
}

// processProposal is the peer's Endorser.ProcessProposal: the Go error is
// set where Fabric sets it (unpacking and pre-processing), and the
// response carries the outcome otherwise.
//
// An evaluation's response is never put into a transaction, so it is not
// signed (endorse false): the gateway discards the endorsement of an
// evaluation anyway.
func (p *Peer) processProposal(sp *peer.SignedProposal, endorse bool) (*peer.ProposalResponse, error) {
	up, err := unpackProposal(sp)
	return p.processUnpacked(up, err, endorse)
}

// processUnpacked is processProposal for a proposal the caller has
// already unpacked (up, or the error unpacking it returned).
func (p *Peer) processUnpacked(up *unpackedProposal, unpackErr error, endorse bool) (*peer.ProposalResponse, error) {
	p.work <- struct{}{}
	defer func() { <-p.work }()
	if unpackErr != nil {
		return errorResponse(unpackErr.Error()), unpackErr
	}
	if up.chdr.GetChannelId() != p.cfg.Channel {
		return errorResponse(fmt.Sprintf("channel '%s' not found", up.chdr.GetChannelId())), nil
	}
	// One read transaction serves the duplicate check and the simulation:
	// a consistent snapshot of the ledger.
	snap := p.chain.db.Begin()
	defer snap.Rollback()
	if err := p.preProcess(up, snap); err != nil {
		return errorResponse(err.Error()), err
	}
	pr, err := p.endorseProposal(up, snap, endorse)
	if err != nil {
		return errorResponse(err.Error()), nil
	}
	return pr, nil
}

// preProcess checks the proposal, that its transaction id is new and,
// for application chaincodes, the channel's Writers policy.
func (p *Peer) preProcess(up *unpackedProposal, snap *kvTx) error {
	_, members, _, _ := p.chain.snapshot()
	if err := validateProposal(up, members, time.Now()); err != nil {
		return fmt.Errorf("error validating proposal: %w", err)
	}
	if snap.Bucket(bucketTxIDs).Has([]byte(up.chdr.GetTxId())) {
		return fmt.Errorf("duplicate transaction found [%s]. Creator [%x]", up.chdr.GetTxId(), up.shdr.GetCreator())
	}
	if !systemChaincodes[up.chaincode] {
		id := members.lookup(up.shdr.GetCreator())
		if !members.isAppWriter(id) {
			return fmt.Errorf("failed evaluating policy on signed data during check policy [%s]: [%s]", policyAppWriters, implicitMetaFailure("Writers"))
		}
	}
	return nil
}

// endorseProposal simulates the proposal and, when the chaincode
// succeeded, endorses the result (ProcessProposalSuccessfullyOrError).
func (p *Peer) endorseProposal(up *unpackedProposal, snap *kvTx, endorse bool) (*peer.ProposalResponse, error) {
	var res *peer.Response
	var results []byte
	var event *peer.ChaincodeEvent
	version := sysCCVersion
	switch up.chaincode {
	case "qscc":
		res = p.qscc(up)
	default:
		_, _, defs, _ := p.chain.snapshot()
		def := defs[up.chaincode]
		cc := p.ccs[up.chaincode]
		if def == nil || systemChaincodes[up.chaincode] {
			return nil, fmt.Errorf("make sure the chaincode %s has been successfully defined on channel %s and try again: chaincode %s not found", up.chaincode, up.chdr.GetChannelId(), up.chaincode)
		}
		if cc == nil {
			return nil, fmt.Errorf("make sure the chaincode %s has been successfully defined on channel %s and try again: chaincode definition for '%s' exists, but chaincode is not installed", up.chaincode, up.chdr.GetChannelId(), up.chaincode)
		}
		version = def.version
		var err error
		res, results, event, err = simulate(up, cc, snap)
		if err != nil {
			return nil, fmt.Errorf("error in simulation: %w", err)
		}
	}
	var eventBytes []byte
	if event != nil {
		eventBytes = mustMarshal(event)
	}
	prp, err := proto.Marshal(&peer.ProposalResponsePayload{
		ProposalHash: up.hash,
		Extension: mustMarshal(&peer.ChaincodeAction{
			Results: results, Events: eventBytes, Response: res,
			ChaincodeId: &peer.ChaincodeID{Name: up.chaincode, Version: version},
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create the proposal response: %w", err)
	}
	switch {
	case res.GetStatus() >= shim.ERROR:
		return &peer.ProposalResponse{Response: res, Payload: prp}, nil
	case res.GetStatus() >= shim.ERRORTHRESHOLD:
		return &peer.ProposalResponse{Response: res}, nil
	case !endorse:
		return &peer.ProposalResponse{Version: 1, Response: res, Payload: prp}, nil
	}
	msg := make([]byte, 0, len(prp)+len(p.peer.serialized))
	msg = append(append(msg, prp...), p.peer.serialized...)
	sig, err := p.peer.sign(msg)
	if err != nil {
		return nil, fmt.Errorf("endorsement with plugin failed: %w", err)
	}
	p.chain.memo.remember(msg, sig)
	return &peer.ProposalResponse{
		Version:     1,
		Response:    res,
		Payload:     prp,
		Endorsement: &peer.Endorsement{Endorser: p.peer.serialized, Signature: sig},
	}, nil
}

// simulate runs the chaincode over a consistent snapshot of committed
// state and returns its response, the transaction's read/write set
// (including the _lifecycle read of the definition's sequence, as a peer
// records it) and its event (none when the chaincode failed).
func simulate(up *unpackedProposal, cc shim.Chaincode, tx *kvTx) (*peer.Response, []byte, *peer.ChaincodeEvent, error) {
	state := kvState{tx.Bucket(bucketState)}
	seq, err := state.Get(lifecycleNamespace, sequenceKey(up.chaincode))
	if err != nil {
		return nil, nil, nil, err
	}
	lifecycleRead := &kvrwset.KVRead{Key: sequenceKey(up.chaincode)}
	if seq != nil {
		lifecycleRead.Version = &kvrwset.Version{BlockNum: seq.Version.Block, TxNum: seq.Version.Tx}
	}
	stub := fabsim.NewStub(fabsim.TxContext{
		Channel: up.chdr.GetChannelId(), Namespace: up.chaincode, TxID: up.chdr.GetTxId(),
		Timestamp: up.chdr.GetTimestamp(), Creator: up.shdr.GetCreator(), Args: up.input.GetArgs(),
		Transient: up.cpp.GetTransientMap(), SignedProposal: up.signed,
	}, state, kvHistory{tx.Bucket(bucketHistory)})
	res, err := invoke(cc, stub)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := stub.Err(); err != nil {
		return nil, nil, nil, err
	}
	sets := []*rwset.NsReadWriteSet{{Namespace: lifecycleNamespace, Rwset: mustMarshal(&kvrwset.KVRWSet{Reads: []*kvrwset.KVRead{lifecycleRead}})}}
	if kv := stub.RWSet(); len(kv.GetReads())+len(kv.GetWrites())+len(kv.GetRangeQueriesInfo())+len(kv.GetMetadataWrites()) > 0 {
		sets = append(sets, &rwset.NsReadWriteSet{Namespace: up.chaincode, Rwset: mustMarshal(kv)})
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Namespace < sets[j].Namespace })
	results := mustMarshal(&rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsRwset: sets})
	var event *peer.ChaincodeEvent
	if res.GetStatus() < shim.ERRORTHRESHOLD {
		event = stub.Event()
	}
	return res, results, event, nil
}

// invoke runs the chaincode; a panic fails the proposal the way a crashed
// chaincode process does, instead of taking the peer down.
func invoke(cc shim.Chaincode, stub shim.ChaincodeStubInterface) (res *peer.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("chaincode stream terminated: chaincode panicked: %v", r)
		}
	}()
	res = cc.Invoke(stub)
	if res == nil {
		return nil, errors.New("chaincode returned no response")
	}
	return res, nil
}
