package devnet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rawClient is a fabric-gateway client without a signing function: the
// test signs every digest itself, so it can forge signatures.
type rawClient struct {
	gw      *client.Gateway
	mspID   string
	certPEM []byte
	key     *ecdsa.PrivateKey
}

func newRawClient(t *testing.T, p *devnet.Peer, id *devcrypto.Identity) *rawClient {
	t.Helper()
	xid, err := identity.NewX509Identity(id.MSPID, id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := client.Connect(xid, client.WithClientConnection(p.InProcessConn()), client.WithHash(hash.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return &rawClient{gw: gw, mspID: id.MSPID, certPEM: id.CertPEM, key: id.Key}
}

func (r *rawClient) creator() []byte {
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: r.mspID, IdBytes: r.certPEM})
	if err != nil {
		panic(err)
	}
	return b
}

type ecdsaSig struct{ R, S *big.Int }

// sign signs a digest with S in the lower half of the order (as Fabric
// clients must), or in the upper half when highS is set.
func sign(t *testing.T, key *ecdsa.PrivateKey, digest []byte, highS bool) []byte {
	t.Helper()
	der, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		t.Fatal(err)
	}
	var s ecdsaSig
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		t.Fatal(err)
	}
	n := key.Params().N
	half := new(big.Int).Rsh(n, 1)
	if (s.S.Cmp(half) > 0) != highS {
		s.S.Sub(n, s.S)
	}
	out, err := asn1.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loadIdentity(t *testing.T, dir, mspID string) *devcrypto.Identity {
	t.Helper()
	id, err := devcrypto.LoadIdentity(dir, mspID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func platformIdentity(t *testing.T, dataDir, rel string) *devcrypto.Identity {
	return loadIdentity(t, filepath.Join(dataDir, "crypto", "platform", rel, "msp"), devnet.DefaultPlatformMSPID)
}

// rogue issues an identity from a CA the channel does not know.
func rogue(t *testing.T, mspID string) *devcrypto.Identity {
	t.Helper()
	ca, err := devcrypto.NewCA(mspID, "rogue.example")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue(devcrypto.IssueOptions{CommonName: "mallory", OU: devcrypto.OUClient, Attrs: map[string]string{"eidgate.role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// relabel is id presented under another MSP id.
func relabel(id *devcrypto.Identity, mspID string) *devcrypto.Identity {
	out := *id
	out.MSPID = mspID
	return &out
}

// expired issues a platform client certificate whose validity ended a
// minute ago, from the platform's own CA.
func expired(t *testing.T, dataDir string) *devcrypto.Identity {
	t.Helper()
	ca, err := devcrypto.LoadCA(filepath.Join(dataDir, "crypto", "platform", "ca"), devnet.DefaultPlatformMSPID, "platform.eidgate.local")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "late", OrganizationalUnit: []string{devcrypto.OUClient}},
		// Issued while the CA was valid (so its chain is found, as for a
		// real certificate that ran out) and expired a minute ago.
		NotBefore: ca.Cert.NotBefore.Add(time.Second),
		NotAfter:  time.Now().Add(-time.Minute),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &devcrypto.Identity{MSPID: devnet.DefaultPlatformMSPID, Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// wantStatus asserts a gRPC status code and message and, when given, the
// message of the single ErrorDetail.
func wantStatus(t *testing.T, err error, code codes.Code, msg, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %q", code, msg)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a gRPC status: %v", err)
	}
	if st.Code() != code || st.Message() != msg {
		t.Fatalf("status %s %q\nwant   %s %q", st.Code(), st.Message(), code, msg)
	}
	var details []*gateway.ErrorDetail
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			details = append(details, ed)
		}
	}
	if detail == "" {
		if len(details) != 0 {
			t.Fatalf("unexpected details %v", details)
		}
		return
	}
	if len(details) != 1 || details[0].GetMessage() != detail || details[0].GetMspId() != devnet.DefaultPlatformMSPID || details[0].GetAddress() == "" {
		t.Fatalf("details %v\nwant one with message %q", details, detail)
	}
}

func TestProposalRefusals(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	agent := platformIdentity(t, dir, "users/agent")
	peerID := platformIdentity(t, dir, "peers/peer0")
	other := platformIdentity(t, dir, "users/admin")
	department := loadIdentity(t, filepath.Join(dir, "crypto", "edu", "users", devnet.DepartmentSystemName, "msp"), "EduMSP")

	// A committed transaction whose signed proposal is replayed below.
	committed := newRawClient(t, p, agent)
	prop, err := committed.gw.GetNetwork(p.Channel()).GetContract(testChaincode).NewProposal("Put", client.WithArguments("dup", "1"))
	if err != nil {
		t.Fatal(err)
	}
	propBytes, _ := prop.Bytes()
	propSig := sign(t, agent.Key, prop.Digest(), false)
	signed, err := committed.gw.NewSignedProposal(propBytes, propSig)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := signed.Endorse()
	if err != nil {
		t.Fatal(err)
	}
	txBytes, _ := tx.Bytes()
	stx, err := committed.gw.NewSignedTransaction(txBytes, sign(t, agent.Key, tx.Digest(), false))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := stx.Submit()
	if err != nil {
		t.Fatal(err)
	}
	commitBytes, _ := commit.Bytes()
	sc, err := committed.gw.NewSignedCommit(commitBytes, sign(t, agent.Key, commit.Digest(), false))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := sc.Status(); err != nil || !st.Successful {
		t.Fatalf("commit: %v %v", st, err)
	}

	const accessDenied = "error validating proposal: access denied: channel [eidgate] creator org [PlatformMSP]"
	const malformed = "error validating proposal: access denied: channel [eidgate] creator org unknown, creator is malformed"
	writers := "failed evaluating policy on signed data during check policy [/Channel/Application/Writers]: [implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Writers' sub-policies to be satisfied]"
	tests := []struct {
		name       string
		id         *devcrypto.Identity
		signer     *ecdsa.PrivateKey // default: the identity's key
		highS      bool
		channel    string
		chaincode  string
		fn         string
		args       []string
		replay     bool // send the committed proposal again
		code       codes.Code
		msg        string
		detail     string
		endorseMsg string // when set, Endorse is checked too (code Aborted)
	}{
		{name: "forged signature", id: agent, signer: other.Key, code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + accessDenied, detail: accessDenied,
			endorseMsg: accessDenied},
		{name: "high-S signature", id: agent, highS: true, code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + accessDenied, detail: accessDenied},
		{name: "certificate from an unknown CA", id: rogue(t, devnet.DefaultPlatformMSPID), code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + malformed, detail: malformed, endorseMsg: malformed},
		{name: "expired certificate", id: expired(t, dir), code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + accessDenied, detail: accessDenied},
		{name: "MSP not in the channel", id: rogue(t, "RogueMSP"), code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + malformed, detail: malformed},
		{name: "certificate of another organisation's CA under this MSP id", id: relabel(department, devnet.DefaultPlatformMSPID), code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + malformed, detail: malformed},
		{name: "peer identity is not a writer", id: peerID, code: codes.FailedPrecondition,
			msg: "evaluate call to endorser returned error: " + writers, detail: writers, endorseMsg: writers},
		{name: "wrong channel", id: agent, channel: "nochannel", code: codes.Unavailable,
			msg: "failed to get config for channel [nochannel]: could not get last config for channel nochannel"},
		{name: "unknown chaincode", id: agent, chaincode: "nope", code: codes.FailedPrecondition,
			msg: "no peers available to evaluate chaincode nope in channel eidgate"},
		{name: "chaincode failure", id: agent, fn: "Fail", args: []string{"NOT_FOUND: no such thing"}, code: codes.Unknown,
			msg:    "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: no such thing",
			detail: "chaincode response 500, NOT_FOUND: no such thing", endorseMsg: "chaincode response 500, NOT_FOUND: no such thing"},
		{name: "unknown function", id: agent, fn: "Nope", code: codes.Unknown,
			msg:    "evaluate call to endorser returned error: chaincode response 500, Function Nope not found in contract kvContract",
			detail: "chaincode response 500, Function Nope not found in contract kvContract"},
		{name: "duplicate transaction id", id: agent, replay: true, code: codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRawClient(t, p, tt.id)
			channel, chaincode, fn := p.Channel(), testChaincode, "Get"
			if tt.channel != "" {
				channel = tt.channel
			}
			if tt.chaincode != "" {
				chaincode = tt.chaincode
			}
			if tt.fn != "" {
				fn = tt.fn
			}
			args := tt.args
			if args == nil {
				args = []string{"dup"}
			}
			key := tt.id.Key
			if tt.signer != nil {
				key = tt.signer
			}
			var proposal *client.Proposal
			if tt.replay {
				proposal = signed
			} else {
				unsigned, err := rc.gw.GetNetwork(channel).GetContract(chaincode).NewProposal(fn, client.WithArguments(args...))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := unsigned.Bytes()
				if proposal, err = rc.gw.NewSignedProposal(b, sign(t, key, unsigned.Digest(), tt.highS)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := proposal.Evaluate()
			if tt.replay {
				want := "duplicate transaction found [" + signed.TransactionID() + "]. Creator ["
				st, _ := status.FromError(err)
				if st.Code() != tt.code || !strings.HasPrefix(st.Message(), "evaluate call to endorser returned error: "+want) {
					t.Fatalf("status %s %q, want %s %q…", st.Code(), st.Message(), tt.code, want)
				}
				return
			}
			wantStatus(t, err, tt.code, tt.msg, tt.detail)
			if tt.endorseMsg != "" {
				_, err := proposal.Endorse()
				wantStatus(t, err, codes.Aborted, "failed to endorse transaction, see attached details for more info", tt.endorseMsg)
				var ee *client.EndorseError
				if !errors.As(err, &ee) || ee.TransactionID != proposal.TransactionID() {
					t.Fatalf("endorse error %T %v, want *client.EndorseError for %s", err, err, proposal.TransactionID())
				}
			}
		})
	}

	t.Run("endorse for an unknown chaincode", func(t *testing.T) {
		rc := newRawClient(t, p, agent)
		unsigned, _ := rc.gw.GetNetwork(p.Channel()).GetContract("nope").NewProposal("Get")
		b, _ := unsigned.Bytes()
		proposal, _ := rc.gw.NewSignedProposal(b, sign(t, agent.Key, unsigned.Digest(), false))
		_, err := proposal.Endorse()
		wantStatus(t, err, codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode nope in channel eidgate", "")
	})
}

func TestSubmitRefusals(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	agent := platformIdentity(t, dir, "users/agent")
	admin := platformIdentity(t, dir, "users/admin")
	rc := newRawClient(t, p, agent)
	gc := gateway.NewGatewayClient(p.InProcessConn())

	endorse := func(t *testing.T, key string) (*client.Transaction, *common.Envelope) {
		t.Helper()
		unsigned, err := rc.gw.GetNetwork(p.Channel()).GetContract(testChaincode).NewProposal("Put", client.WithArguments(key, "v"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := unsigned.Bytes()
		proposal, err := rc.gw.NewSignedProposal(b, sign(t, agent.Key, unsigned.Digest(), false))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := proposal.Endorse()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tx.Bytes()
		var pt gateway.PreparedTransaction
		if err := proto.Unmarshal(raw, &pt); err != nil {
			t.Fatal(err)
		}
		return tx, pt.GetEnvelope()
	}
	submit := func(txID string, env *common.Envelope) error {
		_, err := gc.Submit(context.Background(), &gateway.SubmitRequest{TransactionId: txID, ChannelId: p.Channel(), PreparedTransaction: env})
		return err
	}

	t.Run("unsigned envelope", func(t *testing.T) {
		tx, env := endorse(t, "unsigned")
		wantStatus(t, submit(tx.TransactionID(), env), codes.InvalidArgument, "prepared transaction must be signed", "")
	})
	t.Run("envelope signed by another identity", func(t *testing.T) {
		tx, env := endorse(t, "other")
		env.Signature = sign(t, admin.Key, digest(env.GetPayload()), false)
		wantStatus(t, submit(tx.TransactionID(), env), codes.Aborted,
			"received unsuccessful response from orderer: status=FORBIDDEN, info=implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Writers' sub-policies to be satisfied: permission denied", "")
	})
	t.Run("high-S envelope signature", func(t *testing.T) {
		tx, env := endorse(t, "highs")
		env.Signature = sign(t, agent.Key, digest(env.GetPayload()), true)
		st, _ := status.FromError(submit(tx.TransactionID(), env))
		if st.Code() != codes.Aborted || !strings.Contains(st.Message(), "status=FORBIDDEN") {
			t.Fatalf("status %s %q, want Aborted FORBIDDEN", st.Code(), st.Message())
		}
	})
	t.Run("unknown channel", func(t *testing.T) {
		tx, env := endorse(t, "chan")
		env.Signature = sign(t, agent.Key, digest(env.GetPayload()), false)
		_, err := gc.Submit(context.Background(), &gateway.SubmitRequest{TransactionId: tx.TransactionID(), ChannelId: "nochannel", PreparedTransaction: env})
		wantStatus(t, err, codes.FailedPrecondition, "failed to get config for channel [nochannel]: could not get last config for channel nochannel", "")
	})
}

func digest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}

func TestCommitStatusAndEventRefusals(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	agent := platformIdentity(t, dir, "users/agent")
	orderer := platformIdentity(t, dir, "orderers/orderer0")
	admin := platformIdentity(t, dir, "users/admin")
	gc := gateway.NewGatewayClient(p.InProcessConn())
	creator := func(id *devcrypto.Identity) []byte {
		b, _ := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MSPID, IdBytes: id.CertPEM})
		return b
	}
	readers := "Failed evaluating policy on signed data during check policy on channel [eidgate] with policy [/Channel/Application/Readers]: [implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Readers' sub-policies to be satisfied]"

	tests := []struct {
		name    string
		id      *devcrypto.Identity
		signer  *ecdsa.PrivateKey
		channel string
		timeout time.Duration
		code    codes.Code
		msg     string
	}{
		{name: "forged signature", id: agent, signer: admin.Key, code: codes.PermissionDenied, msg: readers},
		{name: "orderer is not a reader", id: orderer, code: codes.PermissionDenied, msg: readers},
		{name: "unknown channel", id: agent, channel: "nochannel", code: codes.PermissionDenied, msg: "Failed to get policy manager for channel [nochannel]"},
		{name: "unknown transaction times out", id: agent, timeout: 50 * time.Millisecond, code: codes.DeadlineExceeded, msg: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run("commit status: "+tt.name, func(t *testing.T) {
			channel := p.Channel()
			if tt.channel != "" {
				channel = tt.channel
			}
			key := tt.id.Key
			if tt.signer != nil {
				key = tt.signer
			}
			req, _ := proto.Marshal(&gateway.CommitStatusRequest{TransactionId: "feedface", ChannelId: channel, Identity: creator(tt.id)})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := gc.CommitStatus(ctx, &gateway.SignedCommitStatusRequest{Request: req, Signature: sign(t, key, digest(req), false)})
			wantStatus(t, err, tt.code, tt.msg, "")
		})
	}

	events := func(t *testing.T, id *devcrypto.Identity, key *ecdsa.PrivateKey, channel string) error {
		req, _ := proto.Marshal(&gateway.ChaincodeEventsRequest{ChannelId: channel, ChaincodeId: testChaincode, Identity: creator(id)})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := gc.ChaincodeEvents(ctx, &gateway.SignedChaincodeEventsRequest{Request: req, Signature: sign(t, key, digest(req), false)})
		if err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	t.Run("events: unknown channel", func(t *testing.T) {
		wantStatus(t, events(t, agent, agent.Key, "nochannel"), codes.PermissionDenied, "Failed to get policy manager for channel [nochannel]", "")
	})
	t.Run("events: forged signature", func(t *testing.T) {
		wantStatus(t, events(t, agent, admin.Key, p.Channel()), codes.PermissionDenied, readers, "")
	})
	t.Run("events: orderer is not a reader", func(t *testing.T) {
		wantStatus(t, events(t, orderer, orderer.Key, p.Channel()), codes.PermissionDenied, readers, "")
	})
	_ = peer.TxValidationCode_VALID
}
