package ledger

import (
	"context"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// BlockSource is what EventLag reads from the ledger; *Client is one.
type BlockSource interface {
	BlockHeight(ctx context.Context) (uint64, error)
	Block(ctx context.Context, number uint64) (*common.Block, error)
}

// EventLag is how far a listener is behind the chain, counted in what
// matters to it: blocks that hold events of its chaincode (from valid
// transactions) that it has not applied. Blocks without such events — the
// channel's configuration, other chaincodes, invalid transactions — never
// count, so a listener caught up with the last event is at lag 0 however
// many blocks followed.
type EventLag struct {
	// Blocks holding events not applied yet, among the blocks read.
	Blocks uint64
	// Unread blocks past the listener's position not read yet (each call
	// reads a bounded number); the lag is at least Blocks.
	Unread uint64
	// Height of the chain (blocks, genesis included).
	Height uint64
}

// Bounds of one EventLag call.
const (
	// lagReadsPerCall bounds the blocks one call reads, so a readiness
	// probe stays quick while a listener far behind catches up.
	lagReadsPerCall = 64
	// lagMaxPending stops reading once that many pending event blocks are
	// known: the listener is far behind either way.
	lagMaxPending = 1024
)

// pendingBlock is a block holding events of the listener's chaincode, and
// the transaction of its last such event.
type pendingBlock struct {
	number uint64
	lastTx string
}

// EventLag reads, from src, the blocks past the listener's position and
// counts those holding events it has not applied. Each block is read once:
// what was learnt is kept for the next call, so a listener at the tip costs
// one block read per new block.
func (l *Listener) EventLag(ctx context.Context, src BlockSource) (EventLag, error) {
	height, err := src.BlockHeight(ctx)
	if err != nil {
		return EventLag{}, err
	}
	l.mu.Lock()
	st, positioned := l.st, l.positioned
	l.mu.Unlock()
	if !positioned {
		// Run has not loaded its position yet (or is not running): count
		// from where it starts, not from block 0, which would read a long
		// chain for nothing on every readiness probe of a starting gateway.
		if st.NextBlock, st.LastTxID, err = l.start(ctx); err != nil {
			return EventLag{}, err
		}
	}
	l.lagMu.Lock()
	defer l.lagMu.Unlock()
	// What was found before the position is applied now.
	kept := l.pending[:0]
	for _, p := range l.pending {
		if p.number > st.NextBlock || (p.number == st.NextBlock && p.lastTx != st.LastTxID) {
			kept = append(kept, p)
		}
	}
	l.pending = kept
	from := max(l.scanned, st.NextBlock)
	for reads := 0; from < height && reads < lagReadsPerCall && len(l.pending) < lagMaxPending; reads++ {
		b, err := src.Block(ctx, from)
		if err != nil {
			return EventLag{}, err
		}
		if last, ok := lastEvent(b, l.chaincode); ok && (from > st.NextBlock || last != st.LastTxID) {
			l.pending = append(l.pending, pendingBlock{number: from, lastTx: last})
		}
		from++
		l.scanned = from
	}
	out := EventLag{Blocks: uint64(len(l.pending)), Height: height}
	if from < height {
		out.Unread = height - from
	}
	return out, nil
}

// lastEvent returns the transaction id of the last event of chaincode in
// the block's valid transactions, as the events service would deliver it
// (gw/event/chaincodeiterator.go: a valid endorser transaction whose
// chaincode action carries an event with a name).
func lastEvent(b *common.Block, chaincode string) (string, bool) {
	var filter []byte
	if md := b.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	last, found := "", false
	for i, raw := range b.GetData().GetData() {
		if i >= len(filter) || peer.TxValidationCode(filter[i]) != peer.TxValidationCode_VALID {
			continue
		}
		if ev := chaincodeEvent(raw); ev != nil && ev.GetChaincodeId() == chaincode && ev.GetEventName() != "" {
			last, found = ev.GetTxId(), true
		}
	}
	return last, found
}

// chaincodeEvent extracts the event of an endorser transaction envelope,
// nil when it has none or is not one.
func chaincodeEvent(raw []byte) *peer.ChaincodeEvent {
	var env common.Envelope
	var payload common.Payload
	var chdr common.ChannelHeader
	var tx peer.Transaction
	var cap peer.ChaincodeActionPayload
	var prp peer.ProposalResponsePayload
	var action peer.ChaincodeAction
	var ev peer.ChaincodeEvent
	if proto.Unmarshal(raw, &env) != nil || proto.Unmarshal(env.GetPayload(), &payload) != nil ||
		proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &chdr) != nil ||
		common.HeaderType(chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION ||
		proto.Unmarshal(payload.GetData(), &tx) != nil || len(tx.GetActions()) == 0 ||
		proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap) != nil ||
		proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), &prp) != nil ||
		proto.Unmarshal(prp.GetExtension(), &action) != nil || len(action.GetEvents()) == 0 ||
		proto.Unmarshal(action.GetEvents(), &ev) != nil {
		return nil
	}
	return &ev
}
