package devnet_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// signedFlow drives the offline-signing API of the real client, so a test
// controls when each endorsed transaction is submitted.
type signedFlow struct {
	t  *testing.T
	rc *rawClient
	id *devcrypto.Identity
	p  *devnet.Peer
}

func (f *signedFlow) endorse(fn string, args ...string) *client.Transaction {
	f.t.Helper()
	unsigned, err := f.rc.gw.GetNetwork(f.p.Channel()).GetContract(testChaincode).NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := unsigned.Bytes()
	proposal, err := f.rc.gw.NewSignedProposal(b, sign(f.t, f.id.Key, unsigned.Digest(), false))
	if err != nil {
		f.t.Fatal(err)
	}
	tx, err := proposal.Endorse()
	if err != nil {
		f.t.Fatalf("endorse %s: %v", fn, err)
	}
	return tx
}

// submitEnvelope sends an envelope (re-signed by the identity) and waits
// for the commit status of txID.
func (f *signedFlow) submitEnvelope(txID string, env *common.Envelope) *client.Status {
	f.t.Helper()
	env.Signature = sign(f.t, f.id.Key, digest(env.GetPayload()), false)
	gc := gateway.NewGatewayClient(f.p.InProcessConn())
	if _, err := gc.Submit(context.Background(), &gateway.SubmitRequest{TransactionId: txID, ChannelId: f.p.Channel(), PreparedTransaction: env}); err != nil {
		f.t.Fatalf("submit: %v", err)
	}
	return f.status(txID)
}

func (f *signedFlow) status(txID string) *client.Status {
	f.t.Helper()
	req, _ := proto.Marshal(&gateway.CommitStatusRequest{TransactionId: txID, ChannelId: f.p.Channel(), Identity: f.rc.creator()})
	resp, err := gateway.NewGatewayClient(f.p.InProcessConn()).CommitStatus(context.Background(),
		&gateway.SignedCommitStatusRequest{Request: req, Signature: sign(f.t, f.id.Key, digest(req), false)})
	if err != nil {
		f.t.Fatalf("commit status: %v", err)
	}
	return &client.Status{Code: resp.GetResult(), BlockNumber: resp.GetBlockNumber(), TransactionID: txID, Successful: resp.GetResult() == peer.TxValidationCode_VALID}
}

func envelopeOf(t *testing.T, tx *client.Transaction) *common.Envelope {
	t.Helper()
	raw, _ := tx.Bytes()
	var pt gateway.PreparedTransaction
	if err := proto.Unmarshal(raw, &pt); err != nil {
		t.Fatal(err)
	}
	return pt.GetEnvelope()
}

// rewrite edits the proposal response payload of an envelope.
func rewrite(t *testing.T, env *common.Envelope, edit func(*peer.ProposalResponsePayload, *peer.ChaincodeAction)) *common.Envelope {
	t.Helper()
	var payload common.Payload
	var tx peer.Transaction
	var cap peer.ChaincodeActionPayload
	var prp peer.ProposalResponsePayload
	var ca peer.ChaincodeAction
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(proto.Unmarshal(env.GetPayload(), &payload))
	must(proto.Unmarshal(payload.GetData(), &tx))
	must(proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap))
	must(proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), &prp))
	must(proto.Unmarshal(prp.GetExtension(), &ca))
	edit(&prp, &ca)
	prp.Extension, _ = proto.Marshal(&ca)
	cap.Action.ProposalResponsePayload, _ = proto.Marshal(&prp)
	tx.Actions[0].Payload, _ = proto.Marshal(&cap)
	payload.Data, _ = proto.Marshal(&tx)
	out := &common.Envelope{}
	out.Payload, _ = proto.Marshal(&payload)
	return out
}

func TestCommitValidationCodes(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	agent := platformIdentity(t, dir, "users/agent")
	f := &signedFlow{t: t, rc: newRawClient(t, p, agent), id: agent, p: p}

	t.Run("valid, then the same envelope again is a duplicate", func(t *testing.T) {
		tx := f.endorse("Put", "dup", "1")
		env := envelopeOf(t, tx)
		first := f.submitEnvelope(tx.TransactionID(), env)
		if first.Code != peer.TxValidationCode_VALID {
			t.Fatalf("first submission %s", first.Code)
		}
		again := proto.Clone(env).(*common.Envelope)
		if st := f.submitEnvelope(tx.TransactionID(), again); st.Code != peer.TxValidationCode_VALID || st.BlockNumber != first.BlockNumber {
			t.Fatalf("commit status after a duplicate = %s in block %d, want the first: VALID in block %d", st.Code, st.BlockNumber, first.BlockNumber)
		}
		// The duplicate is in a later block, flagged.
		waitHeight(t, p, first.BlockNumber+2)
		codes := blockCodes(t, p, first.BlockNumber+1)
		if len(codes) != 1 || codes[0] != peer.TxValidationCode_DUPLICATE_TXID {
			t.Fatalf("block %d codes %v, want [DUPLICATE_TXID]", first.BlockNumber+1, codes)
		}
	})
	t.Run("tampered response breaks the endorsement", func(t *testing.T) {
		tx := f.endorse("Put", "tamper", "1")
		env := rewrite(t, envelopeOf(t, tx), func(_ *peer.ProposalResponsePayload, ca *peer.ChaincodeAction) {
			ca.Response.Message = "changed after endorsement"
		})
		if st := f.submitEnvelope(tx.TransactionID(), env); st.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
			t.Fatalf("code %s, want ENDORSEMENT_POLICY_FAILURE", st.Code)
		}
	})
	t.Run("proposal hash mismatch", func(t *testing.T) {
		tx := f.endorse("Put", "hash", "1")
		env := rewrite(t, envelopeOf(t, tx), func(prp *peer.ProposalResponsePayload, _ *peer.ChaincodeAction) {
			prp.ProposalHash = bytes.Repeat([]byte{1}, 32)
		})
		if st := f.submitEnvelope(tx.TransactionID(), env); st.Code != peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION {
			t.Fatalf("code %s, want INVALID_ENDORSER_TRANSACTION", st.Code)
		}
	})
	t.Run("transaction id that is not hash(nonce, creator)", func(t *testing.T) {
		tx := f.endorse("Put", "txid", "1")
		env := envelopeOf(t, tx)
		var payload common.Payload
		var chdr common.ChannelHeader
		if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &chdr); err != nil {
			t.Fatal(err)
		}
		chdr.TxId = "0000000000000000000000000000000000000000000000000000000000000000"
		payload.Header.ChannelHeader, _ = proto.Marshal(&chdr)
		env.Payload, _ = proto.Marshal(&payload)
		if st := f.submitEnvelope(chdr.TxId, env); st.Code != peer.TxValidationCode_BAD_PROPOSAL_TXID {
			t.Fatalf("code %s, want BAD_PROPOSAL_TXID", st.Code)
		}
	})
	t.Run("MVCC read conflict between two endorsements of one key", func(t *testing.T) {
		a := f.endorse("Incr", "counter")
		b := f.endorse("Incr", "counter")
		// Both are ordered (a first) before either commits; they usually
		// share a block.
		f.send(a.TransactionID(), envelopeOf(t, a))
		f.send(b.TransactionID(), envelopeOf(t, b))
		if st := f.status(a.TransactionID()); st.Code != peer.TxValidationCode_VALID {
			t.Fatalf("first %s", st.Code)
		}
		if st := f.status(b.TransactionID()); st.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
			t.Fatalf("second %s, want MVCC_READ_CONFLICT", st.Code)
		}
		got, err := f.rc.gw.GetNetwork(p.Channel()).GetContract(testChaincode).EvaluateTransaction("Get", "counter")
		if err == nil {
			t.Fatalf("evaluate with an unsigned gateway should fail, got %q", got)
		}
	})
	t.Run("phantom read when a key appears in a read range", func(t *testing.T) {
		put := f.endorse("Put", "r/1", "x")
		if st := f.submitEnvelope(put.TransactionID(), envelopeOf(t, put)); st.Code != peer.TxValidationCode_VALID {
			t.Fatalf("put %s", st.Code)
		}
		tally := f.endorse("Tally", "r/", "r/~", "tally")
		insert := f.endorse("Put", "r/2", "y")
		if st := f.submitEnvelope(insert.TransactionID(), envelopeOf(t, insert)); st.Code != peer.TxValidationCode_VALID {
			t.Fatalf("insert %s", st.Code)
		}
		if st := f.submitEnvelope(tally.TransactionID(), envelopeOf(t, tally)); st.Code != peer.TxValidationCode_PHANTOM_READ_CONFLICT {
			t.Fatalf("tally %s, want PHANTOM_READ_CONFLICT", st.Code)
		}
	})
	t.Run("the ledger verifies after all of it", func(t *testing.T) {
		rep, err := p.Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Blocks != p.Height() {
			t.Fatalf("rep.Blocks = %v, want p.Height(); verify report %+v at height %d", rep.Blocks, rep, p.Height())
		}
		if rep.Transactions < 8 {
			t.Fatalf("rep.Transactions = %v, want >= 8; verify report %+v at height %d", rep.Transactions, rep, p.Height())
		}
		if rep.Valid >= rep.Transactions {
			t.Fatalf("rep.Valid = %v, want < rep.Transactions; verify report %+v at height %d", rep.Valid, rep, p.Height())
		}
	})
}

// send submits an envelope (re-signed by the identity) without waiting.
func (f *signedFlow) send(txID string, env *common.Envelope) {
	f.t.Helper()
	env.Signature = sign(f.t, f.id.Key, digest(env.GetPayload()), false)
	gc := gateway.NewGatewayClient(f.p.InProcessConn())
	if _, err := gc.Submit(context.Background(), &gateway.SubmitRequest{TransactionId: txID, ChannelId: f.p.Channel(), PreparedTransaction: env}); err != nil {
		f.t.Fatalf("submit: %v", err)
	}
}

// waitHeight waits until the peer has committed height blocks.
func waitHeight(t *testing.T, p *devnet.Peer, height uint64) {
	t.Helper()
	for i := 0; p.Height() < height; i++ {
		if i > 1000 {
			t.Fatalf("height %d, want %d", p.Height(), height)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockCodes reads a block through qscc and returns its validation codes.
func blockCodes(t *testing.T, p *devnet.Peer, n uint64) []peer.TxValidationCode {
	t.Helper()
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	raw, err := c.Network().GetContract("qscc").EvaluateTransaction("GetBlockByNumber", p.Channel(), strconv.FormatUint(n, 10))
	if err != nil {
		t.Fatal(err)
	}
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var out []peer.TxValidationCode
	for _, c := range b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER] {
		out = append(out, peer.TxValidationCode(c))
	}
	return out
}
