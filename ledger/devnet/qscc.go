package devnet

import (
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// qscc is the query system chaincode (core/scc/qscc): chain information,
// blocks and transactions of the channel, for members the channel's
// Readers policy admits.
func (p *Peer) qscc(up *unpackedProposal) *peer.Response {
	args := up.input.GetArgs()
	if len(args) < 2 {
		return shim.Error(fmt.Sprintf("Incorrect number of arguments, %d", len(args)))
	}
	fname, cid := string(args[0]), string(args[1])
	switch fname {
	case "GetChainInfo", "GetBlockByNumber", "GetTransactionByID", "GetBlockByTxID":
	default:
		return shim.Error(fmt.Sprintf("Requested function %s not found.", fname))
	}
	if fname != "GetChainInfo" && len(args) < 3 {
		return shim.Error(fmt.Sprintf("missing 3rd argument for %s", fname))
	}
	if cid != p.cfg.Channel {
		return shim.Error(fmt.Sprintf("Invalid chain ID, %s", cid))
	}
	_, members, _, _ := p.chain.snapshot()
	if id := members.lookup(up.shdr.GetCreator()); !members.isAppReader(id) {
		return shim.Error(fmt.Sprintf("access denied for [%s][%s]: [failed evaluating policy on signed data during check policy [%s]: [%s]]",
			fname, cid, policyAppReaders, implicitMetaFailure("Readers")))
	}
	switch fname {
	case "GetChainInfo":
		tip := p.chain.tipNow()
		return shim.Success(mustMarshal(&common.BlockchainInfo{
			Height: tip.height, CurrentBlockHash: tip.tip, PreviousBlockHash: tip.prevHash,
		}))
	case "GetBlockByNumber":
		n, err := strconv.ParseUint(string(args[2]), 10, 64)
		if err != nil {
			return shim.Error(fmt.Sprintf("Failed to parse block number with error %s", err))
		}
		raw, err := p.rawBlock(n)
		if err != nil {
			return shim.Error(fmt.Sprintf("Failed to get block number %d, error %s", n, err))
		}
		return shim.Success(raw)
	case "GetBlockByTxID":
		txID := string(args[2])
		_, raw, err := p.txBlock(txID)
		if err != nil {
			return shim.Error(fmt.Sprintf("Failed to get block for txID %s, error %s", txID, err))
		}
		return shim.Success(raw)
	default: // GetTransactionByID
		txID := string(args[2])
		if txID == "" {
			return shim.Error("Transaction ID must not be nil.")
		}
		st, raw, err := p.txBlock(txID)
		if err != nil {
			return shim.Error(fmt.Sprintf("Failed to get transaction with id %s, error %s", txID, err))
		}
		var b common.Block
		if err := proto.Unmarshal(raw, &b); err != nil || int(st.index) >= len(b.GetData().GetData()) {
			return shim.Error(fmt.Sprintf("Failed to get transaction with id %s, error block %d is corrupt", txID, st.block))
		}
		var env common.Envelope
		if err := proto.Unmarshal(b.GetData().GetData()[st.index], &env); err != nil {
			return shim.Error(fmt.Sprintf("Failed to get transaction with id %s, error %s", txID, err))
		}
		return shim.Success(mustMarshal(&peer.ProcessedTransaction{TransactionEnvelope: &env, ValidationCode: int32(st.code)}))
	}
}

func (ch *chain) tipNow() chainTip {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.tip
}

func (p *Peer) rawBlock(n uint64) ([]byte, error) {
	var raw []byte
	err := p.chain.db.View(func(tx *kvTx) error {
		v := tx.Bucket(bucketBlocks).Get(be64(n))
		if v == nil {
			return fmt.Errorf("entry not found in index")
		}
		raw = append([]byte(nil), v...)
		return nil
	})
	return raw, err
}

func (p *Peer) txBlock(txID string) (txStatus, []byte, error) {
	var st txStatus
	var raw []byte
	err := p.chain.db.View(func(tx *kvTx) error {
		s, ok, err := lookupTx(tx, txID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no such transaction ID [%s] in index", txID)
		}
		st = s
		v := tx.Bucket(bucketBlocks).Get(be64(s.block))
		if v == nil {
			return fmt.Errorf("block %d not found", s.block)
		}
		raw = append([]byte(nil), v...)
		return nil
	})
	return st, raw, err
}
