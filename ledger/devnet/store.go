package devnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

var (
	metaHeight     = []byte("height")
	metaTip        = []byte("tip")        // header hash of the last block
	metaCommitHash = []byte("commitHash") // COMMIT_HASH of the last block
	metaLastConfig = []byte("lastConfig") // number of the last config block
	metaSchema     = []byte("schema")
)

// schemaVersion 2 is the pebble store; 1 was the single bbolt file,
// which openLedger converts.
const schemaVersion = 2

// openLedger opens the ledger database in dir and checks (or, on a new
// ledger, writes) its schema version.
func openLedger(dir string, noSync bool, log *slog.Logger) (*kvStore, error) {
	s, err := openKV(dir, noSync, log)
	if err != nil {
		return nil, err
	}
	if err := s.Update(func(tx *kvTx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaSchema); v == nil {
			return meta.Put(metaSchema, be64(schemaVersion))
		} else if got := binary.BigEndian.Uint64(v); got != schemaVersion {
			return fmt.Errorf("ledger schema version %d, this build reads %d", got, schemaVersion)
		}
		return nil
	}); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	return s, nil
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
	// The store's values are only valid until the read ends: copy.
	return &fabsim.VersionedValue{Value: bytes.Clone(raw[n+m:]), Version: fabsim.Version{Block: block, Tx: tx}}, nil
}

// kvState is committed world state as seen by one ledger transaction: a
// consistent snapshot for simulations, and the pre-block state for
// validation inside the commit transaction.
type kvState struct{ b *kvBucket }

func (s kvState) Get(ns, key string) (vv *fabsim.VersionedValue, err error) {
	// decodeStateValue copies the value out of the store's buffer.
	s.b.read(stateKey(ns, key), func(raw []byte) { vv, err = decodeStateValue(raw) })
	return vv, err
}

func (s kvState) Range(ns, start, end string) (fabsim.StateIterator, error) {
	c := s.b.Cursor()
	prefix := stateKey(ns, "")
	return &kvIterator{c: c, prefix: prefix, seek: stateKey(ns, start), end: end}, nil
}

type kvIterator struct {
	c      *kvCursor
	prefix []byte
	seek   []byte
	end    string
	done   bool
}

func (it *kvIterator) Next() (string, *fabsim.VersionedValue, bool, error) {
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

func (it *kvIterator) Close() {
	it.done = true
	it.c.Close()
}

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

// kvHistory serves GetHistoryForKey from the history index: valid
// transactions only, newest first.
type kvHistory struct{ b *kvBucket }

func (h kvHistory) History(ns, key string) ([]*queryresult.KeyModification, error) {
	prefix := historyPrefix(ns, key)
	var out []*queryresult.KeyModification
	c := h.b.Cursor()
	defer c.Close()
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

// lookupTx and readBlock decode the stored value in place: decoding
// copies what it keeps.
func lookupTx(tx *kvTx, txID string) (s txStatus, found bool, err error) {
	tx.Bucket(bucketTxIDs).read([]byte(txID), func(raw []byte) {
		s, err = decodeTxStatus(raw)
		found = err == nil
	})
	return s, found, err
}

func readBlock(tx *kvTx, number uint64) (*common.Block, error) {
	var b *common.Block
	var err error
	tx.Bucket(bucketBlocks).read(be64(number), func(raw []byte) {
		b = &common.Block{}
		err = proto.Unmarshal(raw, b)
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("block %d: %w", number, err)
	case b == nil:
		return nil, fmt.Errorf("block %d not found", number)
	}
	return b, nil
}

// chainTip is the in-memory copy of the chain position.
type chainTip struct {
	height     uint64
	tip        []byte // header hash of block height-1
	prevHash   []byte // previous_hash of block height-1
	commitHash []byte
	lastConfig uint64
}

func readTip(tx *kvTx) (chainTip, error) {
	meta := tx.Bucket(bucketMeta)
	var t chainTip
	if v := meta.Get(metaHeight); v != nil {
		t.height = binary.BigEndian.Uint64(v)
	}
	t.tip = meta.Get(metaTip)
	t.commitHash = meta.Get(metaCommitHash)
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
