package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// errClosed is returned to callers waiting on a peer that shuts down.
var errClosed = errors.New("devnet peer is shutting down")

// chain is the channel's ledger: the ledger database, the in-memory tip, the
// channel configuration and chaincode definitions in force, and the
// parties waiting for commits.
type chain struct {
	db          *kvStore
	channel     string
	platformMSP string
	orderer     *signer // signs blocks and configuration transactions
	memo        *endorsementMemo
	log         *slog.Logger

	mu        sync.RWMutex
	tip       chainTip
	members   *membership
	configSeq uint64
	defs      map[string]*definition
	changed   chan struct{} // closed and replaced after every commit
	failed    error         // set when a commit failed; the chain stops
	closed    chan struct{}

	waitMu  sync.Mutex
	waiters map[string][]chan txStatus
}

func (ch *chain) snapshot() (chainTip, *membership, map[string]*definition, uint64) {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.tip, ch.members, ch.defs, ch.configSeq
}

// failure is the storage error that stopped the chain, if any.
func (ch *chain) failure() error {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.failed
}

func (ch *chain) height() uint64 {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.tip.height
}

// heightAndSignal returns the height and a channel closed at the next
// commit.
func (ch *chain) heightAndSignal() (uint64, <-chan struct{}) {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.tip.height, ch.changed
}

func (ch *chain) validationCtx(now time.Time, memo *endorsementMemo) *validationCtx {
	_, members, defs, seq := ch.snapshot()
	return &validationCtx{channel: ch.channel, members: members, defs: defs, platformMSP: ch.platformMSP, configSeq: seq, now: now, endorsed: memo}
}

// appliedBlock is what committing a block produced.
type appliedBlock struct {
	filter     []byte
	commitHash []byte
	indexed    map[string]txStatus // transaction ids indexed by this block
	config     *common.Config      // the configuration a valid config tx set
	lifecycle  bool                // chaincode definitions changed
}

// applyBlock validates the checked transactions of block against the
// state in tx (duplicates, MVCC and phantom reads), then writes the block
// and everything derived from it: world state, history, transaction and
// event indexes, and the chain tip. It sets the block's
// TRANSACTIONS_FILTER and COMMIT_HASH metadata.
func applyBlock(tx *kvTx, block *common.Block, checks []*txCheck, prevCommitHash []byte, commitTime time.Time) (*appliedBlock, error) {
	num := block.GetHeader().GetNumber()
	txids := tx.Bucket(bucketTxIDs)
	stateB := tx.Bucket(bucketState)
	v := fabsim.NewBlockValidator(kvState{stateB}, num)
	res := &appliedBlock{filter: make([]byte, len(checks)), indexed: map[string]txStatus{}}
	inBlock := map[string]bool{}
	for i, c := range checks {
		code := c.preCode
		if code == peer.TxValidationCode_VALID && c.typ == common.HeaderType_ENDORSER_TRANSACTION {
			switch {
			case txids.Has([]byte(c.txID)):
				code = peer.TxValidationCode_DUPLICATE_TXID
			case c.postCode != peer.TxValidationCode_VALID:
				code = c.postCode
			case inBlock[c.txID]:
				code = peer.TxValidationCode_DUPLICATE_TXID
			default:
				inBlock[c.txID] = true
				var err error
				code, err = v.Validate(i, c.txID, c.sets)
				if err != nil {
					return nil, fmt.Errorf("validate transaction %d of block %d: %w", i, num, err)
				}
			}
		}
		if code == peer.TxValidationCode_VALID && c.typ == common.HeaderType_CONFIG {
			res.config = c.config
		}
		res.filter[i] = byte(code)
	}

	updates := v.Updates()
	hist := tx.Bucket(bucketHistory)
	for _, u := range updates {
		mod := &queryresult.KeyModification{TxId: u.TxID, Value: u.Value, Timestamp: checks[u.TxIndex].timestamp, IsDelete: u.IsDelete}
		if err := hist.Put(historyKey(u.Namespace, u.Key, num, uint64(u.TxIndex)), mustMarshal(mod)); err != nil {
			return nil, err
		}
		if u.Namespace == lifecycleNamespace {
			res.lifecycle = true
		}
	}
	final := lastWrites(updates)
	for _, u := range final {
		k := stateKey(u.Namespace, u.Key)
		var err error
		if u.IsDelete {
			err = stateB.Delete(k)
		} else {
			err = stateB.Put(k, encodeStateValue(u.Version, u.Value))
		}
		if err != nil {
			return nil, err
		}
	}

	var events []*peer.ChaincodeEvent
	for i, c := range checks {
		if c.txID != "" && !txids.Has([]byte(c.txID)) {
			st := txStatus{block: num, index: uint64(i), code: peer.TxValidationCode(res.filter[i])}
			if err := txids.Put([]byte(c.txID), encodeTxStatus(st)); err != nil {
				return nil, err
			}
			res.indexed[c.txID] = st
		}
		if res.filter[i] == byte(peer.TxValidationCode_VALID) && validChaincodeEvent(c.event) {
			events = append(events, c.event)
		}
	}
	if len(events) > 0 {
		if err := tx.Bucket(bucketEvents).Put(be64(num), mustMarshal(&gateway.ChaincodeEventsResponse{BlockNumber: num, Events: events})); err != nil {
			return nil, err
		}
	}

	md := block.GetMetadata().GetMetadata()
	md[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = res.filter
	if num > 0 {
		res.commitHash = commitHash(res.filter, updateBatchBytes(final), prevCommitHash)
		md[common.BlockMetadataIndex_COMMIT_HASH] = mustMarshal(&common.Metadata{Value: res.commitHash})
	} else {
		res.commitHash = prevCommitHash
	}
	raw, err := proto.Marshal(block)
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketBlocks).Put(be64(num), raw); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketBlockTimes).Put(be64(num), be64(uint64(commitTime.UnixNano()))); err != nil {
		return nil, err
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaHeight, be64(num+1)); err != nil {
		return nil, err
	}
	if err := meta.Put(metaTip, blockHeaderHash(block.GetHeader())); err != nil {
		return nil, err
	}
	if res.commitHash != nil {
		if err := meta.Put(metaCommitHash, res.commitHash); err != nil {
			return nil, err
		}
	}
	if res.config != nil {
		if err := meta.Put(metaLastConfig, be64(num)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func validChaincodeEvent(ev *peer.ChaincodeEvent) bool {
	return ev.GetChaincodeId() != "" && ev.GetEventName() != "" && ev.GetTxId() != ""
}

// lastWrites keeps the last write of every key, sorted by namespace and
// key (the block's update batch).
func lastWrites(updates []*fabsim.Update) []*fabsim.Update {
	type nk struct{ ns, key string }
	last := map[nk]*fabsim.Update{}
	for _, u := range updates {
		last[nk{u.Namespace, u.Key}] = u
	}
	out := make([]*fabsim.Update, 0, len(last))
	for _, u := range last {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// updateBatchBytes is Fabric's deterministicBytesForPubAndHashUpdates for
// public writes: txmgr.Updates{kvwrites} where each KVWrite{namespace (on
// the first write of a namespace only), key, isDelete, value,
// version_bytes}.
func updateBatchBytes(final []*fabsim.Update) []byte {
	var out []byte
	prevNS := ""
	for i, u := range final {
		var kv []byte
		if i == 0 || u.Namespace != prevNS {
			kv = protowire.AppendTag(kv, 1, protowire.BytesType)
			kv = protowire.AppendString(kv, u.Namespace)
		}
		prevNS = u.Namespace
		if len(u.Key) > 0 {
			kv = protowire.AppendTag(kv, 3, protowire.BytesType)
			kv = protowire.AppendString(kv, u.Key)
		}
		if u.IsDelete {
			kv = protowire.AppendTag(kv, 4, protowire.VarintType)
			kv = protowire.AppendVarint(kv, 1)
		}
		if !u.IsDelete && len(u.Value) > 0 {
			kv = protowire.AppendTag(kv, 5, protowire.BytesType)
			kv = protowire.AppendBytes(kv, u.Value)
		}
		kv = protowire.AppendTag(kv, 6, protowire.BytesType)
		kv = protowire.AppendBytes(kv, versionBytes(u.Version.Block, u.Version.Tx))
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, kv)
	}
	return out
}

// commitHash is kvLedger.addBlockCommitHash.
func commitHash(filter, updates, prev []byte) []byte {
	buf := make([]byte, 0, 10+len(filter)+len(updates)+len(prev))
	buf = append(buf, varintBytes(uint64(len(filter)))...)
	buf = append(buf, filter...)
	buf = append(buf, updates...)
	buf = append(buf, prev...)
	return sha256Sum(buf)
}

// signBlock adds the orderer's SIGNATURES and LAST_CONFIG metadata
// (orderer/common/multichannel/blockwriter.go).
func signBlock(block *common.Block, lastConfig uint64, ord *signer) error {
	value := mustMarshal(&common.OrdererBlockMetadata{LastConfig: &common.LastConfig{Index: lastConfig}})
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sigHdr := mustMarshal(&common.SignatureHeader{Creator: ord.serialized, Nonce: nonce})
	msg := make([]byte, 0, len(value)+len(sigHdr)+128)
	msg = append(append(append(msg, value...), sigHdr...), blockHeaderBytes(block.GetHeader())...)
	sig, err := ord.sign(msg)
	if err != nil {
		return err
	}
	md := block.GetMetadata().GetMetadata()
	md[common.BlockMetadataIndex_SIGNATURES] = mustMarshal(&common.Metadata{
		Value:      value,
		Signatures: []*common.MetadataSignature{{SignatureHeader: sigHdr, Signature: sig}},
	})
	//lint:ignore SA1019 Fabric 2.5's block writer still fills LAST_CONFIG for older readers
	md[common.BlockMetadataIndex_LAST_CONFIG] = mustMarshal(&common.Metadata{Value: mustMarshal(&common.LastConfig{Index: lastConfig})})
	return nil
}

// commit cuts, signs and commits one block of checked transactions, then
// tells the waiters. A storage failure stops the chain: nothing more is
// committed and every waiter learns the peer is unavailable.
func (ch *chain) commit(checks []*txCheck, now time.Time) (*common.Block, error) {
	ch.mu.RLock()
	tip, failed := ch.tip, ch.failed
	ch.mu.RUnlock()
	if failed != nil {
		return nil, failed
	}
	envs := make([][]byte, len(checks))
	lastConfig := tip.lastConfig
	for i, c := range checks {
		envs[i] = c.raw
		if c.typ == common.HeaderType_CONFIG {
			lastConfig = tip.height
		}
	}
	block := newBlock(tip.height, tip.tip, envs)
	if err := signBlock(block, lastConfig, ch.orderer); err != nil {
		return nil, err
	}
	var res *appliedBlock
	err := ch.db.Update(func(tx *kvTx) error {
		var err error
		res, err = applyBlock(tx, block, checks, tip.commitHash, now)
		return err
	})
	if err != nil {
		err = fmt.Errorf("commit block %d: %w", tip.height, err)
		ch.log.Error("ledger commit failed; the devnet stops ordering", "err", err)
		ch.mu.Lock()
		ch.failed = err
		ch.mu.Unlock()
		return nil, err
	}
	var defs map[string]*definition
	if res.lifecycle {
		if err := ch.db.View(func(tx *kvTx) error {
			var err error
			defs, err = readDefinitions(kvState{tx.Bucket(bucketState)})
			return err
		}); err != nil {
			return nil, err
		}
	}
	var members *membership
	if res.config != nil {
		if members, err = membershipFromConfig(ch.channel, res.config); err != nil {
			return nil, err
		}
	}

	ch.mu.Lock()
	ch.tip = chainTip{
		height: tip.height + 1, tip: blockHeaderHash(block.GetHeader()), prevHash: block.GetHeader().GetPreviousHash(),
		commitHash: res.commitHash, lastConfig: lastConfig,
	}
	if defs != nil {
		ch.defs = defs
	}
	if members != nil {
		ch.members, ch.configSeq = members, res.config.GetSequence()
	}
	close(ch.changed)
	ch.changed = make(chan struct{})
	ch.mu.Unlock()

	ch.waitMu.Lock()
	for txID, st := range res.indexed {
		for _, w := range ch.waiters[txID] {
			w <- st
		}
		delete(ch.waiters, txID)
	}
	ch.waitMu.Unlock()
	return block, nil
}

// waitTx returns the status of a committed transaction at once, or waits
// until it commits or ctx ends.
func (ch *chain) waitTx(ctx context.Context, txID string) (txStatus, error) {
	w := make(chan txStatus, 1)
	ch.waitMu.Lock()
	ch.waiters[txID] = append(ch.waiters[txID], w)
	ch.waitMu.Unlock()
	defer ch.unwait(txID, w)

	var st txStatus
	var found bool
	if err := ch.db.View(func(tx *kvTx) error {
		var err error
		st, found, err = lookupTx(tx, txID)
		return err
	}); err != nil {
		return txStatus{}, err
	}
	if found {
		return st, nil
	}
	select {
	case st := <-w:
		return st, nil
	case <-ctx.Done():
		return txStatus{}, ctx.Err()
	case <-ch.closed:
		return txStatus{}, errClosed
	}
}

func (ch *chain) unwait(txID string, w chan txStatus) {
	ch.waitMu.Lock()
	defer ch.waitMu.Unlock()
	ws := ch.waiters[txID]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(ch.waiters, txID)
	} else {
		ch.waiters[txID] = ws
	}
}

// loadChain reads the chain position, configuration and definitions of an
// existing ledger and checks the tip: the stored tip hash must be the
// hash of the last block's header, the last block's data hash must match
// its data and its previous hash must name the block before it.
func loadChain(ch *chain) error {
	return ch.db.View(func(tx *kvTx) error {
		t, err := readTip(tx)
		if err != nil {
			return err
		}
		ch.tip = t
		if t.height == 0 {
			return nil
		}
		last, err := readBlock(tx, t.height-1)
		if err != nil {
			return err
		}
		if !bytes.Equal(blockHeaderHash(last.GetHeader()), t.tip) {
			return fmt.Errorf("ledger tip hash does not match block %d", t.height-1)
		}
		if !bytes.Equal(blockDataHash(last.GetData()), last.GetHeader().GetDataHash()) {
			return fmt.Errorf("block %d: data hash does not match its data", t.height-1)
		}
		if t.height > 1 {
			prev, err := readBlock(tx, t.height-2)
			if err != nil {
				return err
			}
			if !bytes.Equal(blockHeaderHash(prev.GetHeader()), last.GetHeader().GetPreviousHash()) {
				return fmt.Errorf("block %d does not chain to block %d", t.height-1, t.height-2)
			}
		}
		if tx.Bucket(bucketBlocks).Has(be64(t.height)) {
			return fmt.Errorf("ledger holds a block beyond its recorded height %d", t.height)
		}
		cfgBlock, err := readBlock(tx, t.lastConfig)
		if err != nil {
			return err
		}
		cfg, err := configOfBlock(cfgBlock)
		if err != nil {
			return fmt.Errorf("configuration block %d: %w", t.lastConfig, err)
		}
		if ch.members, err = membershipFromConfig(ch.channel, cfg); err != nil {
			return fmt.Errorf("configuration block %d: %w", t.lastConfig, err)
		}
		ch.configSeq = cfg.GetSequence()
		ch.defs, err = readDefinitions(kvState{tx.Bucket(bucketState)})
		return err
	})
}

// configOfBlock extracts the channel configuration of a config block.
func configOfBlock(b *common.Block) (*common.Config, error) {
	if len(b.GetData().GetData()) != 1 {
		return nil, errors.New("a configuration block holds exactly one transaction")
	}
	var env common.Envelope
	if err := proto.Unmarshal(b.GetData().GetData()[0], &env); err != nil {
		return nil, err
	}
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return nil, err
	}
	var ce common.ConfigEnvelope
	if err := proto.Unmarshal(payload.GetData(), &ce); err != nil {
		return nil, err
	}
	if ce.GetConfig() == nil {
		return nil, errors.New("no configuration")
	}
	return ce.GetConfig(), nil
}
