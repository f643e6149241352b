package devnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// VerifyReport summarises a full check of the ledger.
type VerifyReport struct {
	Blocks       uint64 // blocks checked, genesis included
	Transactions int
	Valid        int // transactions validated VALID
	StateKeys    int // keys in world state
	// Codes counts the transactions per validation code name.
	Codes map[string]int
}

// Verify checks the whole ledger against its blocks: the hash chain and
// data hashes, the ordering node's signature on every block, and a replay
// of every block through validation (signatures, endorsements, duplicate
// transaction ids, MVCC) into a scratch ledger whose validation codes,
// commit hashes, world state, history and indexes must equal the stored
// ones. It reads one consistent snapshot and may run while the peer
// serves.
func (p *Peer) Verify(ctx context.Context) (*VerifyReport, error) {
	return verifyLedger(ctx, p.chain.db, p.cfg.Channel, p.cfg.PlatformMSPID)
}

func verifyLedger(ctx context.Context, src *kvStore, channel, platformMSP string) (*VerifyReport, error) {
	tmp, err := os.MkdirTemp("", "devnet-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dst, err := openLedger(filepath.Join(tmp, ledgerDir), true, nil)
	if err != nil {
		return nil, err
	}
	defer dst.Close()

	rep := &VerifyReport{Codes: map[string]int{}}
	err = src.View(func(stx *kvTx) error {
		tip, err := readTip(stx)
		if err != nil {
			return err
		}
		var members *membership
		var configSeq uint64
		defs := map[string]*definition{}
		var prevHash, commitHash []byte
		for n := uint64(0); n < tip.height; n++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			block, err := readBlock(stx, n)
			if err != nil {
				return err
			}
			if err := checkLinks(block, n, prevHash); err != nil {
				return err
			}
			prevHash = blockHeaderHash(block.GetHeader())
			commitTime := time.Unix(0, int64(binary.BigEndian.Uint64(stx.Bucket(bucketBlockTimes).Get(be64(n)))))
			var checks []*txCheck
			if n == 0 {
				cfg, err := configOfBlock(block)
				if err != nil {
					return fmt.Errorf("genesis block: %w", err)
				}
				if members, err = membershipFromConfig(channel, cfg); err != nil {
					return fmt.Errorf("genesis block: %w", err)
				}
				if err := checkGenesisSignature(block, members, commitTime); err != nil {
					return err
				}
				checks = []*txCheck{{raw: block.GetData().GetData()[0], typ: common.HeaderType_CONFIG, config: cfg}}
			} else {
				vc := &validationCtx{channel: channel, members: members, defs: defs, platformMSP: platformMSP, configSeq: configSeq, now: commitTime}
				checks = checkAll(vc, block.GetData().GetData())
			}
			if err := checkBlockSignature(block, members); err != nil {
				return err
			}
			replayed := proto.Clone(block).(*common.Block)
			var res *appliedBlock
			if err := dst.Update(func(dtx *kvTx) error {
				res, err = applyBlock(dtx, replayed, checks, commitHash, commitTime)
				return err
			}); err != nil {
				return fmt.Errorf("replay block %d: %w", n, err)
			}
			md := block.GetMetadata().GetMetadata()
			if !bytes.Equal(res.filter, md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]) {
				return fmt.Errorf("block %d: stored validation codes %v, replay gives %v", n, md[common.BlockMetadataIndex_TRANSACTIONS_FILTER], res.filter)
			}
			if n > 0 && !bytes.Equal(md[common.BlockMetadataIndex_COMMIT_HASH], replayed.GetMetadata().GetMetadata()[common.BlockMetadataIndex_COMMIT_HASH]) {
				return fmt.Errorf("block %d: commit hash differs from the replay", n)
			}
			commitHash = res.commitHash
			if res.config != nil {
				if members, err = membershipFromConfig(channel, res.config); err != nil {
					return err
				}
				configSeq = res.config.GetSequence()
			}
			if res.lifecycle {
				if err := dst.View(func(dtx *kvTx) error {
					defs, err = readDefinitions(kvState{dtx.Bucket(bucketState)})
					return err
				}); err != nil {
					return err
				}
			}
			rep.Blocks++
			rep.Transactions += len(checks)
			for _, c := range res.filter {
				if c == 0 {
					rep.Valid++
				}
				rep.Codes[peer.TxValidationCode(c).String()]++
			}
		}
		if !bytes.Equal(prevHash, tip.tip) && tip.height > 0 {
			return errors.New("stored chain tip does not match the last block")
		}
		return dst.View(func(dtx *kvTx) error {
			for _, b := range []bucketID{bucketState, bucketHistory, bucketTxIDs, bucketEvents, bucketBlocks, bucketMeta} {
				n, err := sameBucket(stx.Bucket(b), dtx.Bucket(b))
				if err != nil {
					return fmt.Errorf("%s: %w", b, err)
				}
				if b == bucketState {
					rep.StateKeys = n
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("devnet verify: %w", err)
	}
	return rep, nil
}

// checkLinks checks a block's number, previous hash and data hash.
func checkLinks(b *common.Block, n uint64, prevHash []byte) error {
	h := b.GetHeader()
	if h.GetNumber() != n {
		return fmt.Errorf("block %d is numbered %d", n, h.GetNumber())
	}
	if n > 0 && !bytes.Equal(h.GetPreviousHash(), prevHash) {
		return fmt.Errorf("block %d does not chain to block %d", n, n-1)
	}
	if !bytes.Equal(blockDataHash(b.GetData()), h.GetDataHash()) {
		return fmt.Errorf("block %d: data hash does not match its data", n)
	}
	if len(b.GetMetadata().GetMetadata()) != len(common.BlockMetadataIndex_name) {
		return fmt.Errorf("block %d: %d metadata entries", n, len(b.GetMetadata().GetMetadata()))
	}
	return nil
}

// checkBlockSignature verifies the ordering node's signature over the
// SIGNATURES metadata value, its signature header and the block header.
func checkBlockSignature(b *common.Block, m *membership) error {
	var md common.Metadata
	if err := proto.Unmarshal(b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_SIGNATURES], &md); err != nil || len(md.GetSignatures()) == 0 {
		return fmt.Errorf("block %d: no orderer signature", b.GetHeader().GetNumber())
	}
	for _, s := range md.GetSignatures() {
		var shdr common.SignatureHeader
		if err := proto.Unmarshal(s.GetSignatureHeader(), &shdr); err != nil {
			continue
		}
		id := m.lookup(shdr.GetCreator())
		if m.orderer[id.mspID] == nil || id.malformed != nil || id.invalid != nil {
			continue
		}
		msg := append(append(append([]byte(nil), md.GetValue()...), s.GetSignatureHeader()...), blockHeaderBytes(b.GetHeader())...)
		if id.verify(msg, s.GetSignature()) == nil {
			return nil
		}
	}
	return fmt.Errorf("block %d: the orderer signature does not verify", b.GetHeader().GetNumber())
}

func checkGenesisSignature(b *common.Block, m *membership, at time.Time) error {
	var env common.Envelope
	if err := proto.Unmarshal(b.GetData().GetData()[0], &env); err != nil {
		return err
	}
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return err
	}
	var shdr common.SignatureHeader
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), &shdr); err != nil {
		return err
	}
	id := m.lookup(shdr.GetCreator())
	if m.orderer[id.mspID] == nil || id.validAt(at) != nil || id.verify(env.GetPayload(), env.GetSignature()) != nil {
		return errors.New("genesis block: the configuration transaction is not signed by the orderer")
	}
	return nil
}

// checkAll validates a block's envelopes in parallel.
func checkAll(vc *validationCtx, envs [][]byte) []*txCheck {
	out := make([]*txCheck, len(envs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = vc.check(envs[i], false)
			}
		}()
	}
	for i := range envs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// sameBucket compares two buckets key by key and returns the key count.
func sameBucket(a, b *kvBucket) (int, error) {
	ca, cb := a.Cursor(), b.Cursor()
	defer ca.Close()
	defer cb.Close()
	ka, va := ca.First()
	kb, vb := cb.First()
	n := 0
	for ka != nil || kb != nil {
		if !bytes.Equal(ka, kb) {
			return n, fmt.Errorf("stored key %x, replay key %x", ka, kb)
		}
		if !bytes.Equal(va, vb) && !bytes.Equal(ka, metaSchema) {
			return n, fmt.Errorf("key %x: stored value differs from the replay", ka)
		}
		n++
		ka, va = ca.Next()
		kb, vb = cb.Next()
	}
	return n, nil
}
