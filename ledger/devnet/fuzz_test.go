package devnet

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fuzzFixture is a one-organisation channel and a signed proposal and
// envelope from one of its clients, the seeds of the fuzz targets.
type fuzzFixture struct {
	members  *membership
	proposal []byte // marshalled SignedProposal
	envelope []byte // marshalled signed Envelope
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	f.Helper()
	ca, err := devcrypto.NewCA("Org1MSP", "org1.example")
	if err != nil {
		f.Fatal(err)
	}
	tlsCA, err := devcrypto.NewCA("Org1MSP", "tls.org1.example")
	if err != nil {
		f.Fatal(err)
	}
	id, err := ca.Issue(devcrypto.IssueOptions{CommonName: "client", OU: devcrypto.OUClient})
	if err != nil {
		f.Fatal(err)
	}
	org := orgMaterial{mspID: "Org1MSP", caPEM: ca.CertPEM(), tlsCAPEM: tlsCA.CertPEM()}
	cfg := buildChannelConfig(0, channelParams{channel: "ch", ordererAddr: "o:7050", batchTimeout: time.Millisecond, maxBatch: 10}, []orgMaterial{org}, org)
	m, err := membershipFromConfig("ch", cfg)
	if err != nil {
		f.Fatal(err)
	}
	s := &signer{key: id.Key, serialized: mustMarshal(&msp.SerializedIdentity{Mspid: "Org1MSP", IdBytes: id.CertPEM})}
	nonce := make([]byte, 24)
	_, _ = rand.Read(nonce)
	hdr := &common.Header{
		ChannelHeader: mustMarshal(&common.ChannelHeader{
			Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: "ch", TxId: computeTxID(nonce, s.serialized),
			Timestamp: timestamppb.Now(), Extension: mustMarshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: "cc"}}),
		}),
		SignatureHeader: mustMarshal(&common.SignatureHeader{Creator: s.serialized, Nonce: nonce}),
	}
	cpp := &peer.ChaincodeProposalPayload{Input: mustMarshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		ChaincodeId: &peer.ChaincodeID{Name: "cc"}, Input: &peer.ChaincodeInput{Args: [][]byte{[]byte("Put"), []byte("k"), []byte("v")}},
	}})}
	propBytes := mustMarshal(&peer.Proposal{Header: mustMarshal(hdr), Payload: mustMarshal(cpp)})
	sig, err := s.sign(propBytes)
	if err != nil {
		f.Fatal(err)
	}
	env, err := prepareTransaction(hdr, cpp, &peer.ChaincodeEndorsedAction{ProposalResponsePayload: mustMarshal(&peer.ProposalResponsePayload{})})
	if err != nil {
		f.Fatal(err)
	}
	if env.Signature, err = s.sign(env.GetPayload()); err != nil {
		f.Fatal(err)
	}
	return &fuzzFixture{
		members:  m,
		proposal: mustMarshal(&peer.SignedProposal{ProposalBytes: propBytes, Signature: sig}),
		envelope: mustMarshal(env),
	}
}

// FuzzUnpackProposal feeds arbitrary bytes as a signed proposal to the
// gateway's and the endorser's unpacking and validation.
func FuzzUnpackProposal(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.proposal)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	var fixture peer.SignedProposal
	if err := proto.Unmarshal(fx.proposal, &fixture); err != nil {
		f.Fatal(err)
	}
	signed := fixture.GetProposalBytes()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var sp peer.SignedProposal
		if proto.Unmarshal(raw, &sp) != nil {
			return
		}
		_, _, _, _ = proposalTarget(&sp)
		up, err := unpackProposal(&sp)
		if err != nil {
			return
		}
		if len(up.hash) != 32 {
			t.Fatalf("len(up.hash) = %v, want 32; unpacked proposal without hash, chaincode or input: %+v", len(up.hash), up)
		}
		if up.chaincode == "" {
			t.Fatalf("up.chaincode == \"\", want it different; unpacked proposal without hash, chaincode or input: %+v", up)
		}
		if up.input == nil {
			t.Fatalf("up.input is nil; unpacked proposal without hash, chaincode or input: %+v", up)
		}
		// Only the proposal bytes the fixture signed can validate: the
		// fuzzer cannot forge an ECDSA signature over other bytes.
		if validateProposal(up, fx.members, time.Now()) == nil && !bytes.Equal(sp.GetProposalBytes(), signed) {
			t.Fatalf("a proposal the fixture did not sign validated")
		}
	})
}

// FuzzCheckEnvelope feeds arbitrary bytes to the committer's validation of
// a block entry.
func FuzzCheckEnvelope(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.envelope)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00})
	vc := &validationCtx{channel: "ch", members: fx.members, defs: map[string]*definition{}, platformMSP: "Org1MSP", now: time.Now()}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := vc.check(raw, false)
		if c.preCode == peer.TxValidationCode_VALID && c.postCode == peer.TxValidationCode_VALID {
			// No chaincode is defined on this channel: nothing can be valid.
			t.Fatalf("envelope validated on a channel without chaincodes: %+v", c)
		}
		if _, ok := peer.TxValidationCode_name[int32(c.preCode)]; !ok {
			t.Fatalf("unknown code %d", c.preCode)
		}
	})
}

// FuzzECDSASignature checks that a signature the parser accepts is
// canonical DER: re-encoding the integers gives the same bytes.
func FuzzECDSASignature(f *testing.F) {
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		r, s, err := parseECDSASignature(der)
		if err != nil {
			return
		}
		if out := marshalECDSASignature(r, s); !bytes.Equal(out, der) {
			t.Fatalf("accepted %x, re-encodes as %x", der, out)
		}
	})
}

// FuzzStoredValues decodes arbitrary bytes as stored state values and
// transaction index entries, and round-trips what it encodes.
func FuzzStoredValues(f *testing.F) {
	f.Add([]byte{0x05, 0x00, 'v'}, uint64(5), uint64(0))
	f.Add([]byte{}, uint64(1<<40), uint64(3))
	f.Fuzz(func(t *testing.T, raw []byte, block, tx uint64) {
		_, _ = decodeStateValue(raw)
		_, _ = decodeTxStatus(raw)
		enc := encodeStateValue(fabsim.Version{Block: block, Tx: tx}, raw)
		vv, err := decodeStateValue(enc)
		if err != nil {
			t.Fatalf("err = %v, want nil; state value round trip: %+v %v", err, vv, err)
		}
		if vv.Version.Block != block {
			t.Fatalf("vv.Version.Block = %v, want block; state value round trip: %+v %v", vv.Version.Block, vv, err)
		}
		if vv.Version.Tx != tx {
			t.Fatalf("vv.Version.Tx = %v, want tx; state value round trip: %+v %v", vv.Version.Tx, vv, err)
		}
		if !bytes.Equal(vv.Value, raw) {
			t.Fatalf("bytes.Equal(vv.Value, raw) is false; state value round trip: %+v %v", vv, err)
		}
		st := txStatus{block: block, index: tx, code: peer.TxValidationCode(len(raw) % 256)}
		if got, err := decodeTxStatus(encodeTxStatus(st)); err != nil {
			t.Fatalf("err = %v, want nil; tx status round trip: %+v %v", err, got, err)
		} else if got != st {
			t.Fatalf("got = %v, want st; tx status round trip: %+v %v", got, got, err)
		}
	})
}
