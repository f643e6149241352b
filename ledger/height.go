package ledger

import (
	"context"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/eidgate/eidgate/routing"
)

// BlockHeight asks the peer's query system chaincode (qscc GetChainInfo) for
// the channel's block count, so readiness can compare it with a listener's
// position (Listener.Lag). It needs the Readers right on the channel.
func (c *Client) BlockHeight(ctx context.Context) (uint64, error) {
	const op = "ledger.BlockHeight"
	qscc := c.network.GetContract("qscc")
	proposal, err := qscc.NewProposal("GetChainInfo", client.WithArguments(c.network.Name()))
	if err != nil {
		return 0, classify(op, err)
	}
	ectx, cancel := context.WithTimeout(ctx, c.timeouts.Evaluate)
	defer cancel()
	raw, err := proposal.EvaluateWithContext(ectx)
	if err != nil {
		return 0, classify(op, err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "peer returned malformed chain info", Err: err}
	}
	return info.GetHeight(), nil
}
