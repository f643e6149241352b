package ledger

import (
	"context"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// tx is one transaction of a test block.
type tx struct {
	id, chaincode, event string // event "" = none
	code                 peer.TxValidationCode
	config               bool
}

func mustProto(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func testBlock(n uint64, txs ...tx) *common.Block {
	b := &common.Block{Header: &common.BlockHeader{Number: n}, Data: &common.BlockData{}, Metadata: &common.BlockMetadata{Metadata: make([][]byte, 5)}}
	filter := make([]byte, len(txs))
	for i, t := range txs {
		filter[i] = byte(t.code)
		typ := common.HeaderType_ENDORSER_TRANSACTION
		if t.config {
			typ = common.HeaderType_CONFIG
		}
		var events []byte
		if t.event != "" {
			events = mustProto(&peer.ChaincodeEvent{ChaincodeId: t.chaincode, TxId: t.id, EventName: t.event, Payload: []byte("{}")})
		}
		action := mustProto(&peer.ChaincodeAction{Events: events, ChaincodeId: &peer.ChaincodeID{Name: t.chaincode, Version: "1"}})
		cap := mustProto(&peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{ProposalResponsePayload: mustProto(&peer.ProposalResponsePayload{Extension: action})}})
		payload := mustProto(&common.Payload{
			Header: &common.Header{ChannelHeader: mustProto(&common.ChannelHeader{Type: int32(typ), TxId: t.id})},
			Data:   mustProto(&peer.Transaction{Actions: []*peer.TransactionAction{{Payload: cap}}}),
		})
		b.Data.Data = append(b.Data.Data, mustProto(&common.Envelope{Payload: payload}))
	}
	b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	return b
}

// chain is a BlockSource over blocks held in memory; it counts reads.
type chain struct {
	blocks []*common.Block
	reads  map[uint64]int
}

func (c *chain) BlockHeight(context.Context) (uint64, error) { return uint64(len(c.blocks)), nil }

func (c *chain) Block(_ context.Context, n uint64) (*common.Block, error) {
	c.reads[n]++
	return c.blocks[n], nil
}

func (c *chain) add(txs ...tx) { c.blocks = append(c.blocks, testBlock(uint64(len(c.blocks)), txs...)) }

// TestEventLagCountsBlocksWithEventsNotApplied: configuration blocks,
// other chaincodes' events, invalid transactions and blocks without
// events never count; a block counts until its last event is applied; a
// block is read once.
func TestEventLagCountsBlocksWithEventsNotApplied(t *testing.T) {
	t.Parallel()
	valid := peer.TxValidationCode_VALID
	c := &chain{reads: map[uint64]int{}}
	c.add(tx{id: "genesis", config: true})                                                                                                 // 0
	c.add(tx{id: "a", chaincode: "eidgate", event: "Grant", code: valid})                                                                  // 1
	c.add(tx{id: "o", chaincode: "other", event: "Put", code: valid})                                                                      // 2
	c.add(tx{id: "x", chaincode: "eidgate", event: "Grant", code: peer.TxValidationCode_MVCC_READ_CONFLICT})                               // 3
	c.add(tx{id: "b", chaincode: "eidgate", event: "Grant", code: valid}, tx{id: "c", chaincode: "eidgate", event: "Revoke", code: valid}) // 4
	c.add(tx{id: "n", chaincode: "eidgate", code: valid})                                                                                  // 5: no event
	l := &Listener{chaincode: "eidgate", positioned: true}
	ctx := context.Background()

	steps := []struct {
		name      string
		next      uint64
		lastTx    string
		add       []tx // a block committed before the step
		wantLag   uint64
		wantReads int // total block reads so far
	}{
		{name: "fresh listener", next: 0, wantLag: 2, wantReads: 6},
		{name: "block 1 applied", next: 1, lastTx: "a", wantLag: 1, wantReads: 6},
		{name: "half of block 4 applied", next: 4, lastTx: "b", wantLag: 1, wantReads: 6},
		{name: "caught up", next: 4, lastTx: "c", wantLag: 0, wantReads: 6},
		{name: "other chaincode's blocks follow", next: 4, lastTx: "c", add: []tx{{id: "o2", chaincode: "other", event: "Put", code: valid}}, wantLag: 0, wantReads: 7},
		{name: "a new event", next: 4, lastTx: "c", add: []tx{{id: "d", chaincode: "eidgate", event: "Grant", code: valid}}, wantLag: 1, wantReads: 8},
		{name: "applied", next: 7, lastTx: "d", wantLag: 0, wantReads: 8},
	}
	for _, s := range steps {
		if s.add != nil {
			c.add(s.add...)
		}
		l.st.NextBlock, l.st.LastTxID = s.next, s.lastTx
		lag, err := l.EventLag(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		reads := 0
		for _, n := range c.reads {
			reads += n
		}
		if lag.Blocks != s.wantLag {
			t.Errorf("lag.Blocks = %v, want s.wantLag; %s: lag %+v after %d reads, want %d blocks after %d reads", lag.Blocks, s.name, lag, reads, s.wantLag, s.wantReads)
		} else if lag.Unread != 0 {
			t.Errorf("lag.Unread = %v, want 0; %s: lag %+v after %d reads, want %d blocks after %d reads", lag.Unread, s.name, lag, reads, s.wantLag, s.wantReads)
		} else if lag.Height != uint64(len(c.blocks)) {
			t.Errorf("lag.Height = %v, want uint64(len(c.blocks)); %s: lag %+v after %d reads, want %d blocks after %d reads", lag.Height, s.name, lag, reads, s.wantLag, s.wantReads)
		} else if reads != s.wantReads {
			t.Errorf("reads = %v, want s.wantReads; %s: lag %+v after %d reads, want %d blocks after %d reads", reads, s.name, lag, reads, s.wantLag, s.wantReads)
		}
	}
	for n, r := range c.reads {
		if r != 1 {
			t.Errorf("block %d read %d times", n, r)
		}
	}
}

// TestEventLagReadsABoundedNumberOfBlocksPerCall: far behind, each call
// reads at most lagReadsPerCall blocks and says how many are left.
func TestEventLagReadsABoundedNumberOfBlocksPerCall(t *testing.T) {
	t.Parallel()
	c := &chain{reads: map[uint64]int{}}
	for i := range lagReadsPerCall + 36 {
		c.add(tx{id: string(rune('a' + i%26)), chaincode: "eidgate", event: "E", code: peer.TxValidationCode_VALID})
	}
	l := &Listener{chaincode: "eidgate", positioned: true}
	lag, err := l.EventLag(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Blocks != lagReadsPerCall {
		t.Fatalf("lag.Blocks = %v, want lagReadsPerCall; first call: %+v, want %d blocks and 36 unread", lag.Blocks, lag, lagReadsPerCall)
	}
	if lag.Unread != 36 {
		t.Fatalf("lag.Unread = %v, want 36; first call: %+v, want %d blocks and 36 unread", lag.Unread, lag, lagReadsPerCall)
	}
	lag, _ = l.EventLag(context.Background(), c)
	if lag.Blocks != lagReadsPerCall+36 {
		t.Fatalf("lag.Blocks = %v, want lagReadsPerCall+36; second call: %+v", lag.Blocks, lag)
	}
	if lag.Unread != 0 {
		t.Fatalf("lag.Unread = %v, want 0; second call: %+v", lag.Unread, lag)
	}
}

// Before Run has loaded the listener's position, EventLag counts from
// where Run will start (its checkpoint, or the block SkipHistoryBefore
// named), not from block 0: a starting gateway's readiness probes must not
// read the whole chain.
func TestEventLagCountsFromWhereRunWillStart(t *testing.T) {
	t.Parallel()
	c := &chain{reads: map[uint64]int{}}
	for i := range 10 {
		c.add(tx{id: string(rune('a' + i)), chaincode: "eidgate", event: "E", code: peer.TxValidationCode_VALID})
	}
	for _, tc := range []struct {
		name  string
		saved map[string][2]any
		fresh uint64
		from  uint64
	}{
		{"checkpoint", map[string][2]any{"l": {uint64(8), "i"}}, 0, 8},
		{"fresh", nil, 7, 7},
		{"checkpoint before fresh", map[string][2]any{"l": {uint64(5), "f"}}, 9, 5},
		{"neither", nil, 0, 0},
	} {
		c.reads = map[uint64]int{}
		l := &Listener{chaincode: "eidgate", name: "l", store: &memCheckpoints{saved: tc.saved}}
		l.SkipHistoryBefore(tc.fresh)
		lag, err := l.EventLag(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		want := 10 - tc.from
		if tc.saved != nil {
			want-- // the checkpoint's own block holds only the applied event
		}
		if lag.Blocks != want || len(c.reads) != int(10-tc.from) || c.reads[tc.from] != 1 {
			t.Errorf("%s: %+v, reads %v; want %d blocks, read from %d on", tc.name, lag, c.reads, want, tc.from)
		}
	}
}
