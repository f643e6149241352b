package devnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
)

// The ledger is one bbolt file. Every block is committed in one bbolt
// transaction together with everything derived from it, so the block
// store, world state and indexes can never disagree after a crash.
var (
	bucketMeta       = []byte("meta")       // chain tip and savepoint
	bucketBlocks     = []byte("blocks")     // be64(number) → common.Block
	bucketBlockTimes = []byte("blocktimes") // be64(number) → be64(commit unix nanos)
	bucketState      = []byte("state")      // ns 0x00 key → uvarint block, uvarint tx, value
	bucketHistory    = []byte("history")    // ns 0x00 uvarint(len key) key be64 block be64 tx → KeyModification
	bucketTxIDs      = []byte("txids")      // txID → be64 block, uvarint tx, code
	bucketEvents     = []byte("events")     // be64(number) → gateway.ChaincodeEventsResponse of valid txs

	allBuckets = [][]byte{bucketMeta, bucketBlocks, bucketBlockTimes, bucketState, bucketHistory, bucketTxIDs, bucketEvents}

	metaHeight     = []byte("height")
	metaTip        = []byte("tip")        // header hash of the last block
	metaCommitHash = []byte("commitHash") // COMMIT_HASH of the last block
	metaLastConfig = []byte("lastConfig") // number of the last config block
	metaSchema     = []byte("schema")
)

const schemaVersion = 1

func openBolt(path string, noSync bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second,
		// The freelist is written with every commit: without it, every open
		// rebuilds it by walking the whole file, which reads every page of a
		// large ledger into the process's memory and delays its start (a
		// gateway with a million residents would start with gigabytes
		// resident). A ledger written without it is walked once more on its
		// first open and then gets one.
		NoFreelistSync:  false,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
		NoSync:          noSync,
		NoStatistics:    true,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open ledger %s: the file is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaSchema); v == nil {
			return meta.Put(metaSchema, be64(schemaVersion))
		} else if got := binary.BigEndian.Uint64(v); got != schemaVersion {
			return fmt.Errorf("ledger schema version %d, this build reads %d", got, schemaVersion)
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return db, nil
}

func be64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func stateKey(ns, key string) []byte {
	k := make([]byte, 0, len(ns)+1+len(key))
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, key...)
}

func encodeStateValue(v fabsim.Version, value []byte) []byte {
	out := make([]byte, 0, 2*binary.MaxVarintLen64+len(value))
	out = binary.AppendUvarint(out, v.Block)
	out = binary.AppendUvarint(out, v.Tx)
	return append(out, value...)
}

func decodeStateValue(raw []byte) (*fabsim.VersionedValue, error) {
	block, n := binary.Uvarint(raw)
	if n <= 0 {
		return nil, errors.New("corrupt state value")
	}
	tx, m := binary.Uvarint(raw[n:])
	if m <= 0 {
		return nil, errors.New("corrupt state value")
	}
	// bbolt memory is only valid during the transaction: copy.
	return &fabsim.VersionedValue{Value: bytes.Clone(raw[n+m:]), Version: fabsim.Version{Block: block, Tx: tx}}, nil
}

// boltState is committed world state as seen by one bbolt transaction: a
// consistent snapshot for simulations, and the pre-block state for
// validation inside the commit transaction.
type boltState struct{ b *bolt.Bucket }

func (s boltState) Get(ns, key string) (*fabsim.VersionedValue, error) {
	raw := s.b.Get(stateKey(ns, key))
	if raw == nil {
		return nil, nil
	}
	return decodeStateValue(raw)
}

func (s boltState) Range(ns, start, end string) (fabsim.StateIterator, error) {
	c := s.b.Cursor()
	prefix := stateKey(ns, "")
	return &boltIterator{c: c, prefix: prefix, seek: stateKey(ns, start), end: end}, nil
}

type boltIterator struct {
	c      *bolt.Cursor
	prefix []byte
	seek   []byte
	end    string
	done   bool
}

func (it *boltIterator) Next() (string, *fabsim.VersionedValue, bool, error) {
	if it.done {
		return "", nil, false, nil
	}
	var k, v []byte
	if it.seek != nil {
		k, v = it.c.Seek(it.seek)
		it.seek = nil
	} else {
		k, v = it.c.Next()
	}
	if k == nil || !bytes.HasPrefix(k, it.prefix) {
		it.done = true
		return "", nil, false, nil
	}
	key := string(k[len(it.prefix):])
	if it.end != "" && key >= it.end {
		it.done = true
		return "", nil, false, nil
	}
	vv, err := decodeStateValue(v)
	if err != nil {
		return "", nil, false, err
	}
	return key, vv, true, nil
}

func (it *boltIterator) Close() { it.done = true }

// historyPrefix is the history index prefix of one key; the key length is
// part of it so that no key's entries fall into another key's range.
func historyPrefix(ns, key string) []byte {
	p := make([]byte, 0, len(ns)+1+binary.MaxVarintLen64+len(key)+16)
	p = append(p, ns...)
	p = append(p, 0)
	p = binary.AppendUvarint(p, uint64(len(key)))
	return append(p, key...)
}

func historyKey(ns, key string, block, tx uint64) []byte {
	k := historyPrefix(ns, key)
	k = binary.BigEndian.AppendUint64(k, block)
	return binary.BigEndian.AppendUint64(k, tx)
}

// boltHistory serves GetHistoryForKey from the history index: valid
// transactions only, newest first.
type boltHistory struct{ b *bolt.Bucket }

func (h boltHistory) History(ns, key string) ([]*queryresult.KeyModification, error) {
	prefix := historyPrefix(ns, key)
	var out []*queryresult.KeyModification
	c := h.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+16 {
			continue
		}
		var m queryresult.KeyModification
		if err := proto.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("corrupt history entry: %w", err)
		}
		out = append(out, &m)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// txStatus is a transaction's entry in the transaction index.
type txStatus struct {
	block uint64
	index uint64
	code  peer.TxValidationCode
}

func encodeTxStatus(s txStatus) []byte {
	out := binary.BigEndian.AppendUint64(nil, s.block)
	out = binary.AppendUvarint(out, s.index)
	return append(out, byte(s.code))
}

func decodeTxStatus(raw []byte) (txStatus, error) {
	if len(raw) < 10 {
		return txStatus{}, errors.New("corrupt transaction index entry")
	}
	s := txStatus{block: binary.BigEndian.Uint64(raw)}
	idx, n := binary.Uvarint(raw[8:])
	if n <= 0 || len(raw) != 8+n+1 {
		return txStatus{}, errors.New("corrupt transaction index entry")
	}
	s.index = idx
	s.code = peer.TxValidationCode(raw[8+n])
	return s, nil
}

func lookupTx(tx *bolt.Tx, txID string) (txStatus, bool, error) {
	raw := tx.Bucket(bucketTxIDs).Get([]byte(txID))
	if raw == nil {
		return txStatus{}, false, nil
	}
	s, err := decodeTxStatus(raw)
	return s, err == nil, err
}

func readBlock(tx *bolt.Tx, number uint64) (*common.Block, error) {
	raw := tx.Bucket(bucketBlocks).Get(be64(number))
	if raw == nil {
		return nil, fmt.Errorf("block %d not found", number)
	}
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("block %d: %w", number, err)
	}
	return &b, nil
}

// chainTip is the in-memory copy of the chain position.
type chainTip struct {
	height     uint64
	tip        []byte // header hash of block height-1
	prevHash   []byte // previous_hash of block height-1
	commitHash []byte
	lastConfig uint64
}

func readTip(tx *bolt.Tx) (chainTip, error) {
	meta := tx.Bucket(bucketMeta)
	var t chainTip
	if v := meta.Get(metaHeight); v != nil {
		t.height = binary.BigEndian.Uint64(v)
	}
	t.tip = bytes.Clone(meta.Get(metaTip))
	t.commitHash = bytes.Clone(meta.Get(metaCommitHash))
	if v := meta.Get(metaLastConfig); v != nil {
		t.lastConfig = binary.BigEndian.Uint64(v)
	}
	if t.height == 0 {
		return t, nil
	}
	last, err := readBlock(tx, t.height-1)
	if err != nil {
		return t, fmt.Errorf("chain tip: %w", err)
	}
	t.prevHash = bytes.Clone(last.GetHeader().GetPreviousHash())
	return t, nil
}
