package devnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// gatewayServer implements the Fabric Gateway service of a peer whose
// gateway, endorser, ordering node and committer all live in this process
// (internal/pkg/gateway of Fabric 2.5 for the gateway part).
type gatewayServer struct {
	gateway.UnimplementedGatewayServer
	p *Peer
}

// newRPCError is the gateway's newRpcError: a status with ErrorDetails.
func newRPCError(code codes.Code, msg string, details ...*gateway.ErrorDetail) error {
	st := status.New(code, msg)
	if len(details) == 0 {
		return st.Err()
	}
	ds := make([]protoadapt.MessageV1, len(details))
	for i, d := range details {
		ds[i] = protoadapt.MessageV1Of(d)
	}
	if with, err := st.WithDetails(ds...); err == nil {
		return with.Err()
	}
	return st.Err()
}

func (s *gatewayServer) detail(msg string) *gateway.ErrorDetail {
	return &gateway.ErrorDetail{Address: s.p.endpoint, MspId: s.p.cfg.PlatformMSPID, Message: msg}
}

// responseStatus is the gateway's mapping of an endorser's answer to a
// gRPC code and message, and whether another peer could be tried.
func responseStatus(pr *peer.ProposalResponse, err error) (codes.Code, string, bool) {
	if err != nil {
		if pr == nil {
			return codes.Unavailable, err.Error(), true
		}
		return codes.FailedPrecondition, err.Error(), false
	}
	st := pr.GetResponse().GetStatus()
	if st < 200 || st >= 400 {
		if pr.GetPayload() == nil && st == 500 {
			return codes.Aborted, pr.GetResponse().GetMessage(), true
		}
		return codes.Unknown, fmt.Sprintf("chaincode response %d, %s", st, pr.GetResponse().GetMessage()), false
	}
	return codes.OK, "", false
}

// proposalTarget is getChannelAndChaincodeFromSignedProposal.
func proposalTarget(sp *peer.SignedProposal) (channel, chaincode string, transient bool, err error) {
	if len(sp.GetProposalBytes()) == 0 {
		return "", "", false, errors.New("a signed proposal is required")
	}
	var prop peer.Proposal
	if err := unmarshal(sp.GetProposalBytes(), &prop, "Proposal"); err != nil {
		return "", "", false, err
	}
	var hdr common.Header
	if err := unmarshal(prop.GetHeader(), &hdr, "Header"); err != nil {
		return "", "", false, err
	}
	var chdr common.ChannelHeader
	if err := unmarshal(hdr.GetChannelHeader(), &chdr, "ChannelHeader"); err != nil {
		return "", "", false, err
	}
	var cpp peer.ChaincodeProposalPayload
	if err := unmarshal(prop.GetPayload(), &cpp, "ChaincodeProposalPayload"); err != nil {
		return "", "", false, err
	}
	var cis peer.ChaincodeInvocationSpec
	if err := unmarshal(cpp.GetInput(), &cis, "ChaincodeInvocationSpec"); err != nil {
		return "", "", false, err
	}
	if chdr.GetChannelId() == "" {
		return "", "", false, errors.New("no channel id provided")
	}
	if cis.GetChaincodeSpec() == nil {
		return "", "", false, fmt.Errorf("no chaincode spec is provided, channel id [%s]", chdr.GetChannelId())
	}
	if cis.GetChaincodeSpec().GetChaincodeId() == nil {
		return "", "", false, fmt.Errorf("no chaincode id is provided, channel id [%s]", chdr.GetChannelId())
	}
	if cis.GetChaincodeSpec().GetChaincodeId().GetName() == "" {
		return "", "", false, fmt.Errorf("no chaincode name is provided, channel id [%s]", chdr.GetChannelId())
	}
	return chdr.GetChannelId(), cis.GetChaincodeSpec().GetChaincodeId().GetName(), len(cpp.GetTransientMap()) > 0, nil
}

// noChannelConfig is the gateway's refusal for a channel this peer has
// not joined (discovery has no configuration for it).
func noChannelConfig(channel string) string {
	return fmt.Sprintf("failed to get config for channel [%s]: could not get last config for channel %s", channel, channel)
}

// hasChaincode reports whether the peer can endorse for a chaincode: a
// defined application chaincode it runs, or a system chaincode.
func (p *Peer) hasChaincode(name string) bool {
	if name == "qscc" {
		return true
	}
	_, _, defs, _ := p.chain.snapshot()
	return defs[name] != nil && p.ccs[name] != nil
}

func (s *gatewayServer) Evaluate(ctx context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an evaluate request is required")
	}
	sp := req.GetProposedTransaction()
	channel, chaincode, _, err := proposalTarget(sp)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to unpack transaction proposal: %s", err)
	}
	if channel != s.p.cfg.Channel {
		return nil, status.Error(codes.Unavailable, noChannelConfig(channel))
	}
	if !s.p.hasChaincode(chaincode) || !s.targetsLivePeer(req.GetTargetOrganizations()) {
		return nil, status.Errorf(codes.FailedPrecondition, "no peers available to evaluate chaincode %s in channel %s", chaincode, channel)
	}
	pr, err := s.p.processProposal(sp, false)
	code, msg, retry := responseStatus(pr, err)
	if code != codes.OK {
		if retry {
			return nil, newRPCError(code, "failed to evaluate transaction, see attached details for more info", s.detail(msg))
		}
		return nil, newRPCError(code, "evaluate call to endorser returned error: "+msg, s.detail(msg))
	}
	res := pr.GetResponse()
	var prp peer.ProposalResponsePayload
	var ca peer.ChaincodeAction
	if proto.Unmarshal(pr.GetPayload(), &prp) == nil && proto.Unmarshal(prp.GetExtension(), &ca) == nil {
		res.Payload = ca.GetResponse().GetPayload()
	}
	if err := ctx.Err(); err != nil {
		return nil, newRPCError(codes.DeadlineExceeded, "evaluate timeout expired")
	}
	return &gateway.EvaluateResponse{Result: res}, nil
}

// targetsLivePeer reports whether an evaluation may go to a live peer:
// any peer when no organisation is named, else one of the named ones'
// (gw/registry.go evaluator). Every peer answers from the same ledger.
func (s *gatewayServer) targetsLivePeer(orgs []string) bool {
	if len(orgs) == 0 {
		return true
	}
	for _, e := range s.p.livePeers() {
		for _, o := range orgs {
			if o == e.mspID {
				return true
			}
		}
	}
	return false
}

func (s *gatewayServer) Endorse(ctx context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an endorse request is required")
	}
	sp := req.GetProposedTransaction()
	if len(sp.GetProposalBytes()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "the proposed transaction must contain a signed proposal")
	}
	// The endorser unpacks the proposal once for the gateway and itself;
	// when the endorser would refuse it, the gateway's own unpacking
	// decides whether the request is refused first.
	up, unpackErr := unpackProposal(sp)
	hdr, chdr, cpp, cis, err := gatewayUnpack(sp, up)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	channel := chdr.GetChannelId()
	chaincode := cis.GetChaincodeSpec().GetChaincodeId().GetName()
	// The client may name the endorsing organisations (planForOrgs);
	// otherwise the gateway's own peer endorses first and discovery
	// completes the plan from its answer (planFromFirstEndorser).
	var plan []*endorserPeer
	orgs := req.GetEndorsingOrganizations()
	if len(orgs) > 0 {
		var missing []string
		if plan, missing = s.p.peersForOrgs(orgs, channel, chaincode); len(missing) > 0 {
			return nil, status.Error(codes.Unavailable, missingOrgsError(missing))
		}
	} else if channel != s.p.cfg.Channel || !s.p.hasChaincode(chaincode) {
		return nil, status.Errorf(codes.FailedPrecondition,
			"no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode %s in channel %s", chaincode, channel)
	}
	pr, err := s.p.processUnpacked(up, unpackErr, true)
	if code, msg, _ := responseStatus(pr, err); code != codes.OK {
		return nil, newRPCError(codes.Aborted, "failed to endorse transaction, see attached details for more info", s.detail(msg))
	}
	if ctx.Err() != nil {
		return nil, newRPCError(codes.DeadlineExceeded, "endorsement timeout expired while collecting first endorsement")
	}
	if len(orgs) == 0 {
		var ok bool
		if plan, ok = s.p.endorsementPlan(chaincode); !ok {
			return nil, status.Error(codes.FailedPrecondition, errNoEndorsementPlan)
		}
	}
	endorsements, err := s.p.endorsements(pr, plan)
	if err != nil {
		return nil, newRPCError(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info", s.detail(err.Error()))
	}
	env, err := prepareTransaction(hdr, cpp, &peer.ChaincodeEndorsedAction{
		ProposalResponsePayload: pr.GetPayload(),
		Endorsements:            endorsements,
	})
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "failed to assemble transaction: %s", err)
	}
	return &gateway.EndorseResponse{PreparedTransaction: env}, nil
}

// gatewayUnpack is the gateway's unpacking of an endorse request's
// proposal: the parts the endorser unpacked (up), or, when the endorser
// could not, the gateway's own step by step, whose first failure refuses
// the request.
func gatewayUnpack(sp *peer.SignedProposal, up *unpackedProposal) (*common.Header, *common.ChannelHeader, *peer.ChaincodeProposalPayload, *peer.ChaincodeInvocationSpec, error) {
	if up != nil {
		return up.header, up.chdr, up.cpp, up.cis, nil
	}
	var prop peer.Proposal
	var hdr common.Header
	var chdr common.ChannelHeader
	var cpp peer.ChaincodeProposalPayload
	var cis peer.ChaincodeInvocationSpec
	steps := []struct {
		b    func() []byte
		m    proto.Message
		what string
	}{
		{sp.GetProposalBytes, &prop, "Proposal"},
		{prop.GetHeader, &hdr, "Header"},
		{hdr.GetChannelHeader, &chdr, "ChannelHeader"},
		{prop.GetPayload, &cpp, "ChaincodeProposalPayload"},
		{cpp.GetInput, &cis, "ChaincodeInvocationSpec"},
	}
	for _, step := range steps {
		if err := unmarshal(step.b(), step.m, step.what); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return &hdr, &chdr, &cpp, &cis, nil
}

// prepareTransaction is the gateway's: the proposal header unchanged, one
// action with the proposal payload minus its transient data.
func prepareTransaction(hdr *common.Header, cpp *peer.ChaincodeProposalPayload, action *peer.ChaincodeEndorsedAction) (*common.Envelope, error) {
	cppBytes, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: cpp.GetInput()})
	if err != nil {
		return nil, err
	}
	capBytes, err := proto.Marshal(&peer.ChaincodeActionPayload{ChaincodeProposalPayload: cppBytes, Action: action})
	if err != nil {
		return nil, err
	}
	txBytes, err := proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Header: hdr.GetSignatureHeader(), Payload: capBytes}}})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&common.Payload{Header: hdr, Data: txBytes})
	if err != nil {
		return nil, err
	}
	return &common.Envelope{Payload: payload}, nil
}

func (s *gatewayServer) Submit(ctx context.Context, req *gateway.SubmitRequest) (*gateway.SubmitResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "a submit request is required")
	}
	env := req.GetPreparedTransaction()
	if env == nil {
		return nil, status.Error(codes.InvalidArgument, "a prepared transaction is required")
	}
	if len(env.GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	if req.GetChannelId() != s.p.cfg.Channel {
		return nil, status.Error(codes.FailedPrecondition, noChannelConfig(req.GetChannelId()))
	}
	if err := s.p.chain.failure(); err != nil {
		return nil, newRPCError(codes.Unavailable, "no orderers could successfully process transaction",
			s.detail("received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info="+err.Error()))
	}
	check, rejected, info := s.p.broadcast(env)
	if rejected != common.Status_SUCCESS {
		return nil, newRPCError(codes.Aborted, fmt.Sprintf("received unsuccessful response from orderer: status=%s, info=%s", rejected, info))
	}
	if !s.p.orderer.enqueue(ctx, check) {
		if ctx.Err() != nil {
			return nil, newRPCError(codes.DeadlineExceeded, "submit timeout expired while broadcasting to ordering service")
		}
		return nil, newRPCError(codes.Unavailable, "no orderers could successfully process transaction",
			s.detail("received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info=the ordering service is shutting down"))
	}
	return &gateway.SubmitResponse{}, nil
}

// broadcast is the ordering node's admission of a normal message
// (orderer/common/msgprocessor): a payload, a channel this node serves, a
// creator the channel's /Channel/Writers policy admits and a valid
// signature. Admitted envelopes are checked for the committer right away,
// on the caller's goroutine.
func (p *Peer) broadcast(env *common.Envelope) (*txCheck, common.Status, string) {
	p.work <- struct{}{}
	defer func() { <-p.work }()
	if len(env.GetPayload()) == 0 {
		return nil, common.Status_BAD_REQUEST, "message was empty"
	}
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return nil, common.Status_BAD_REQUEST, fmt.Sprintf("bad payload: %s", err)
	}
	var chdr common.ChannelHeader
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &chdr); err != nil {
		return nil, common.Status_BAD_REQUEST, fmt.Sprintf("bad channel header: %s", err)
	}
	if chdr.GetChannelId() != p.cfg.Channel {
		return nil, common.Status_NOT_FOUND, fmt.Sprintf("channel %s not found", chdr.GetChannelId())
	}
	if common.HeaderType(chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, common.Status_BAD_REQUEST, fmt.Sprintf("message of type %s is not accepted on this channel", common.HeaderType(chdr.GetType()))
	}
	var shdr common.SignatureHeader
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), &shdr); err != nil {
		return nil, common.Status_BAD_REQUEST, fmt.Sprintf("bad signature header: %s", err)
	}
	now := time.Now()
	vc := p.chain.validationCtx(now, p.chain.memo)
	if _, err := vc.members.checkSignedData(shdr.GetCreator(), env.GetPayload(), env.GetSignature(), now, vc.members.isChannelWriter, "Writers"); err != nil {
		return nil, common.Status_FORBIDDEN, err.Error() + ": permission denied"
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		return nil, common.Status_BAD_REQUEST, err.Error()
	}
	return vc.checkParsed(raw, env, &payload, true), common.Status_SUCCESS, ""
}

func (s *gatewayServer) CommitStatus(ctx context.Context, req *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	if len(req.GetRequest()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a commit status request is required")
	}
	var r gateway.CommitStatusRequest
	if err := proto.Unmarshal(req.GetRequest(), &r); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid status request: %v", err)
	}
	switch {
	case r.GetIdentity() == nil:
		return nil, status.Error(codes.InvalidArgument, "no identity provided")
	case r.GetChannelId() == "":
		return nil, status.Error(codes.InvalidArgument, "no channel ID provided")
	case r.GetTransactionId() == "":
		return nil, status.Error(codes.InvalidArgument, "transaction ID should not be empty")
	}
	if err := s.p.checkReaders(r.GetChannelId(), r.GetIdentity(), req.GetRequest(), req.GetSignature()); err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	st, err := s.p.chain.waitTx(ctx, r.GetTransactionId())
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, status.FromContextError(err).Err()
		}
		if errors.Is(err, errClosed) {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		return nil, status.Error(codes.Aborted, err.Error())
	}
	return &gateway.CommitStatusResponse{Result: st.code, BlockNumber: st.block}, nil
}

// checkReaders is the ACL check of the commit-status and chaincode-events
// services: the channel's Readers policy over the signed request
// (core/aclmgmt default provider, policy checker messages).
func (p *Peer) checkReaders(channel string, creator, data, sig []byte) error {
	p.work <- struct{}{}
	defer func() { <-p.work }()
	if channel != p.cfg.Channel {
		return fmt.Errorf("Failed to get policy manager for channel [%s]", channel) //lint:ignore ST1005 Fabric's message
	}
	_, members, _, _ := p.chain.snapshot()
	if _, err := members.checkSignedData(creator, data, sig, time.Now(), members.isAppReader, "Readers"); err != nil {
		return fmt.Errorf("Failed evaluating policy on signed data during check policy on channel [%s] with policy [%s]: [%s]", channel, policyAppReaders, err) //lint:ignore ST1005 Fabric's message
	}
	return nil
}

func (s *gatewayServer) ChaincodeEvents(req *gateway.SignedChaincodeEventsRequest, stream grpc.ServerStreamingServer[gateway.ChaincodeEventsResponse]) error {
	if len(req.GetRequest()) == 0 {
		return status.Error(codes.InvalidArgument, "a chaincode events request is required")
	}
	var r gateway.ChaincodeEventsRequest
	if err := proto.Unmarshal(req.GetRequest(), &r); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid chaincode events request: %v", err)
	}
	// The ACL check comes first (gw/chaincodeevents.go): on a channel the
	// peer has not joined it fails to find the channel's policy manager,
	// so an unknown channel is PermissionDenied, like a caller outside the
	// Readers policy; the ledger lookup (NotFound) is never reached.
	if err := s.p.checkReaders(r.GetChannelId(), r.GetIdentity(), req.GetRequest(), req.GetSignature()); err != nil {
		return status.Error(codes.PermissionDenied, err.Error())
	}
	start, err := s.p.eventsStart(&r)
	if err != nil {
		return err
	}
	return s.p.streamEvents(stream.Context(), start, &r, stream.Send)
}

// eventsStart is chaincodeEventsStartBlock: the block of
// after_transaction_id when it is in the ledger, else the Specified
// block, else (NextCommit or unset) the current height.
func (p *Peer) eventsStart(r *gateway.ChaincodeEventsRequest) (uint64, error) {
	if after := r.GetAfterTransactionId(); after != "" {
		if st, _, err := p.txBlock(after); err == nil {
			return st.block, nil
		}
	}
	switch seek := r.GetStartPosition().GetType().(type) {
	case nil, *ab.SeekPosition_NextCommit:
	case *ab.SeekPosition_Specified:
		return seek.Specified.GetNumber(), nil
	default:
		return 0, status.Errorf(codes.InvalidArgument, "invalid start position type: %T", seek)
	}
	return p.chain.height(), nil
}
