package ledger

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// scriptedPeer is a loopback Fabric Gateway gRPC server whose answers each
// test scripts. It lets the real fabric-gateway client produce real
// EndorseError/SubmitError/CommitStatusError/CommitError values for the
// client's retry and mapping logic; it does not simulate a ledger (the
// devnet does that).
type scriptedPeer struct {
	gateway.UnimplementedGatewayServer

	mu sync.Mutex
	// evaluate and endorse answer a transaction function (args[0]) with a
	// result or a gRPC error.
	evaluate func(fn string) ([]byte, error)
	endorse  func(fn string) ([]byte, error)
	// submit, when set, answers a submission (nil: accepted).
	submit func() error
	// commitStatus answers the n-th (0-based) status request for a tx id.
	commitStatus func(ctx context.Context, txID string, n int) (*gateway.CommitStatusResponse, error)
	// blocks holds the chaincode events per block number for ChaincodeEvents;
	// breakAfter closes each stream after that many events (0: never).
	blocks     [][]*peer.ChaincodeEvent
	breakAfter int

	endorsedTxIDs []string
	submitted     []string
	statusPolls   map[string]int
	streams       []*gateway.ChaincodeEventsRequest
}

func (s *scriptedPeer) Evaluate(_ context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	fn, err := proposalFunction(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	if s.evaluate == nil && fn == "org.hyperledger.fabric:GetMetadata" {
		return &gateway.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: []byte(`{}`)}}, nil
	}
	out, err := s.evaluate(fn)
	if err != nil {
		return nil, err
	}
	return &gateway.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: out}}, nil
}

func (s *scriptedPeer) Endorse(_ context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	fn, err := proposalFunction(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.endorsedTxIDs = append(s.endorsedTxIDs, req.GetTransactionId())
	s.mu.Unlock()
	out, err := s.endorse(fn)
	if err != nil {
		return nil, err
	}
	return &gateway.EndorseResponse{PreparedTransaction: preparedEnvelope(req.GetChannelId(), out)}, nil
}

func (s *scriptedPeer) Submit(_ context.Context, req *gateway.SubmitRequest) (*gateway.SubmitResponse, error) {
	if len(req.GetPreparedTransaction().GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	if s.submit != nil {
		if err := s.submit(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.submitted = append(s.submitted, req.GetTransactionId())
	s.mu.Unlock()
	return &gateway.SubmitResponse{}, nil
}

func (s *scriptedPeer) CommitStatus(ctx context.Context, req *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	var r gateway.CommitStatusRequest
	if err := proto.Unmarshal(req.GetRequest(), &r); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	if s.statusPolls == nil {
		s.statusPolls = map[string]int{}
	}
	n := s.statusPolls[r.GetTransactionId()]
	s.statusPolls[r.GetTransactionId()] = n + 1
	s.mu.Unlock()
	if s.commitStatus == nil {
		return &gateway.CommitStatusResponse{Result: peer.TxValidationCode_VALID, BlockNumber: 1}, nil
	}
	return s.commitStatus(ctx, r.GetTransactionId(), n)
}

// ChaincodeEvents follows the Fabric 2.5 gateway: start at the Specified
// block, drop events up to and including after_transaction_id, one response
// per block with events.
func (s *scriptedPeer) ChaincodeEvents(req *gateway.SignedChaincodeEventsRequest, stream grpc.ServerStreamingServer[gateway.ChaincodeEventsResponse]) error {
	var r gateway.ChaincodeEventsRequest
	if err := proto.Unmarshal(req.GetRequest(), &r); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.streams = append(s.streams, &r)
	blocks, breakAfter := s.blocks, s.breakAfter
	s.mu.Unlock()
	var start uint64
	switch p := r.GetStartPosition().GetType().(type) {
	case *orderer.SeekPosition_Specified:
		start = p.Specified.GetNumber()
	default:
		start = uint64(len(blocks))
	}
	skipping := r.GetAfterTransactionId() != ""
	sent := 0
	for n := start; n < uint64(len(blocks)); n++ {
		var out []*peer.ChaincodeEvent
		for _, ev := range blocks[n] {
			if skipping {
				if ev.GetTxId() == r.GetAfterTransactionId() {
					skipping = false
				}
				continue
			}
			out = append(out, ev)
		}
		if n == start && skipping {
			// after_transaction_id not in the start block: Fabric ignores it.
			out, skipping = blocks[n], false
		}
		if len(out) == 0 {
			continue
		}
		if breakAfter > 0 && sent+len(out) > breakAfter {
			out = out[:breakAfter-sent]
		}
		if len(out) > 0 {
			if err := stream.Send(&gateway.ChaincodeEventsResponse{Events: out, BlockNumber: n}); err != nil {
				return err
			}
		}
		sent += len(out)
		if breakAfter > 0 && sent >= breakAfter {
			return status.Error(codes.Unavailable, "stream broken by test")
		}
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

func proposalFunction(sp *peer.SignedProposal) (string, error) {
	var prop peer.Proposal
	if err := proto.Unmarshal(sp.GetProposalBytes(), &prop); err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	var payload peer.ChaincodeProposalPayload
	if err := proto.Unmarshal(prop.GetPayload(), &payload); err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	var spec peer.ChaincodeInvocationSpec
	if err := proto.Unmarshal(payload.GetInput(), &spec); err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	args := spec.GetChaincodeSpec().GetInput().GetArgs()
	if len(args) == 0 {
		return "", status.Error(codes.InvalidArgument, "no function")
	}
	return string(args[0]), nil
}

func preparedEnvelope(channel string, result []byte) *common.Envelope {
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic(err)
		}
		return b
	}
	action := must(proto.Marshal(&peer.ChaincodeAction{Response: &peer.Response{Status: 200, Payload: result}}))
	prp := must(proto.Marshal(&peer.ProposalResponsePayload{Extension: action}))
	cap := must(proto.Marshal(&peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{ProposalResponsePayload: prp}}))
	tx := must(proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Payload: cap}}}))
	ch := must(proto.Marshal(&common.ChannelHeader{Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel}))
	payload := must(proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: ch}, Data: tx}))
	return &common.Envelope{Payload: payload}
}

// statusErr builds a gateway-style gRPC error with ErrorDetails.
func statusErr(code codes.Code, msg string, details ...string) error {
	st := status.New(code, msg)
	var ds []protoadapt.MessageV1
	for _, d := range details {
		ds = append(ds, protoadapt.MessageV1Of(&gateway.ErrorDetail{Address: "peer0:7051", MspId: "PlatformMSP", Message: d}))
	}
	if len(ds) > 0 {
		var err error
		if st, err = st.WithDetails(ds...); err != nil {
			panic(err)
		}
	}
	return st.Err()
}

// startScriptedPeer serves sp on a loopback TLS listener and returns a
// profile pointing at it.
func startScriptedPeer(t testing.TB, sp *scriptedPeer) *Profile {
	t.Helper()
	creds := newTestCreds(t)
	pair, err := tls.X509KeyPair(creds.certPEM, creds.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}})))
	gateway.RegisterGatewayServer(srv, sp)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tls/ca.pem"), creds.caPEM)
	writeFile(t, filepath.Join(dir, "msp/signcerts/cert.pem"), creds.certPEM)
	writeFile(t, filepath.Join(dir, "msp/keystore/k_sk"), creds.keyPEM)
	p := &Profile{
		Peer:      PeerProfile{Endpoint: strings.Replace(lis.Addr().String(), "127.0.0.1", "localhost", 1), TLSCACert: "tls/ca.pem"},
		MSP:       MSPProfile{ID: "PlatformMSP", Dir: "msp"},
		Channel:   "eidgate",
		Chaincode: "eidgate",
		dir:       dir,
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}
