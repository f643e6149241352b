package ledger

import (
	"context"
	"strconv"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/eidgate/eidgate/routing"
)

// BlockHeight asks the peer's query system chaincode (qscc GetChainInfo) for
// the channel's block count, so readiness can compare it with a listener's
// position (Listener.EventLag). It needs the Readers right on the channel.
func (c *Client) BlockHeight(ctx context.Context) (uint64, error) {
	const op = "ledger.BlockHeight"
	raw, err := c.qscc(ctx, op, "GetChainInfo", c.network.Name())
	if err != nil {
		return 0, err
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "peer returned malformed chain info", Err: err}
	}
	return info.GetHeight(), nil
}

// Block reads one block of the channel from the peer's query system
// chaincode (qscc GetBlockByNumber; the Readers right on the channel).
func (c *Client) Block(ctx context.Context, number uint64) (*common.Block, error) {
	const op = "ledger.Block"
	raw, err := c.qscc(ctx, op, "GetBlockByNumber", c.network.Name(), strconv.FormatUint(number, 10))
	if err != nil {
		return nil, err
	}
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "peer returned a malformed block", Err: err}
	}
	return &b, nil
}

// qscc evaluates a function of the peer's query system chaincode.
func (c *Client) qscc(ctx context.Context, op, fn string, args ...string) ([]byte, error) {
	return c.evaluateOn(ctx, c.network.GetContract("qscc"), op, fn, args...)
}
