package devnet

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// eventReadBatch bounds how many blocks' events one read transaction
// loads, so a slow consumer never holds a long read transaction.
const eventReadBatch = 256

// eventMatcher is the gateway's chaincodeEventMatcher: events of the
// requested chaincode; with after_transaction_id, nothing until that
// transaction's event has passed (across blocks).
func eventMatcher(r *gateway.ChaincodeEventsRequest) func(*peer.ChaincodeEvent) bool {
	cc, after := r.GetChaincodeId(), r.GetAfterTransactionId()
	if after == "" {
		return func(ev *peer.ChaincodeEvent) bool { return ev.GetChaincodeId() == cc }
	}
	passed := false
	return func(ev *peer.ChaincodeEvent) bool {
		if !passed {
			if ev.GetTxId() == after {
				passed = true
			}
			return false
		}
		return ev.GetChaincodeId() == cc
	}
}

// streamEvents sends, from block start on, one response per block with the
// matching events of its valid transactions in transaction order: first
// from the event index, then as blocks commit, until ctx ends.
func (p *Peer) streamEvents(ctx context.Context, start uint64, r *gateway.ChaincodeEventsRequest, send func(*gateway.ChaincodeEventsResponse) error) error {
	match := eventMatcher(r)
	next := start
	for {
		height, changed := p.chain.heightAndSignal()
		if next >= height {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			case <-p.closing:
				return status.Error(codes.Unavailable, "peer is shutting down")
			}
		}
		batch, upTo, err := p.readEvents(next, height)
		if err != nil {
			return status.Error(codes.Aborted, err.Error())
		}
		for _, resp := range batch {
			var out []*peer.ChaincodeEvent
			for _, ev := range resp.GetEvents() {
				if match(ev) {
					out = append(out, ev)
				}
			}
			if len(out) == 0 {
				continue
			}
			if err := send(&gateway.ChaincodeEventsResponse{BlockNumber: resp.GetBlockNumber(), Events: out}); err != nil {
				return err
			}
		}
		next = upTo
	}
}

// readEvents loads the indexed events of blocks [from, height), at most
// eventReadBatch entries, and returns the block to continue from.
func (p *Peer) readEvents(from, height uint64) ([]*gateway.ChaincodeEventsResponse, uint64, error) {
	var out []*gateway.ChaincodeEventsResponse
	upTo := height
	err := p.chain.db.View(func(tx *kvTx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		defer c.Close()
		for k, v := c.Seek(be64(from)); k != nil; k, v = c.Next() {
			n := binary.BigEndian.Uint64(k)
			if n >= height {
				break
			}
			var resp gateway.ChaincodeEventsResponse
			if err := proto.Unmarshal(v, &resp); err != nil {
				return fmt.Errorf("event index of block %d: %w", n, err)
			}
			out = append(out, &resp)
			if len(out) == eventReadBatch {
				upTo = n + 1
				break
			}
		}
		return nil
	})
	return out, upTo, err
}
