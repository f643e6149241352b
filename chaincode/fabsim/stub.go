// Package fabsim simulates chaincode transactions the way a Fabric 2.5 peer
// does, for the chaincode's tests and for the embedded devnet peer.
//
// [Stub] implements shim.ChaincodeStubInterface over a snapshot of committed
// state and records the transaction's read/write set exactly as the peer's
// transaction simulator does (docs/fabric-protocol.md §2, §3): reads come from committed
// state only (a transaction does not see its own writes), each key read once
// is recorded with its committed version (nil when absent), range queries
// are recorded with their raw reads and end key, writes are kept per key
// (last write wins, empty value = delete) and sorted by key, and only the
// last SetEvent survives.
//
// [BlockValidator] applies Fabric's MVCC and phantom-read checks to the
// transactions of a block in order, and [Ledger] is an in-memory committed
// ledger built from the two, on which chaincode tests invoke functions with
// real X.509 client identities.
//
// The package imports only the standard library and Fabric modules.
package fabsim

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Version is the height at which a key was last written: the block number
// and the index of the transaction within the block (counting every
// transaction, valid or not).
type Version struct {
	Block, Tx uint64
}

func (v Version) proto() *kvrwset.Version {
	return &kvrwset.Version{BlockNum: v.Block, TxNum: v.Tx}
}

// VersionedValue is a committed value with its version.
type VersionedValue struct {
	Value   []byte
	Version Version
}

// State is committed world state as a simulation reads it.
type State interface {
	// Get returns the committed value of key in namespace ns, nil if absent.
	Get(ns, key string) (*VersionedValue, error)
	// Range iterates the committed keys k of ns with start <= k < end in
	// byte order; an empty end means no upper bound.
	Range(ns, start, end string) (StateIterator, error)
}

// StateIterator walks a committed key range.
type StateIterator interface {
	// Next returns the next entry; ok is false at the end.
	Next() (key string, vv *VersionedValue, ok bool, err error)
	Close()
}

// History returns the committed modifications of a key, newest first, from
// valid transactions only.
type History interface {
	History(ns, key string) ([]*queryresult.KeyModification, error)
}

// TxContext is what the peer knows about a proposal when it runs chaincode.
type TxContext struct {
	Channel   string
	Namespace string // the chaincode name
	TxID      string
	Timestamp *timestamppb.Timestamp
	// Creator is the marshalled msp.SerializedIdentity of the client.
	Creator   []byte
	Args      [][]byte
	Transient map[string][]byte
	// SignedProposal is the client's signed proposal, when there is one.
	SignedProposal *peer.SignedProposal
}

const (
	compositeKeyNamespace = "\x00"
	emptyKeySubstitute    = "\x01"
	maxUnicodeRune        = string(utf8.MaxRune)
)

type write struct {
	value    []byte
	isDelete bool
}

// Stub is one transaction simulation. It is not safe for concurrent use (a
// chaincode invocation is single-threaded).
type Stub struct {
	tx      TxContext
	state   State
	history History

	reads    map[string]*kvrwset.KVRead
	ranges   []*kvrwset.RangeQueryInfo
	writes   map[string]write
	metadata map[string]map[string][]byte
	event    *peer.ChaincodeEvent

	paginated bool
	err       error // a violation the peer reports after the invocation
}

var _ shim.ChaincodeStubInterface = (*Stub)(nil)

// NewStub starts the simulation of one transaction over state.
func NewStub(tx TxContext, state State, history History) *Stub {
	return &Stub{
		tx:       tx,
		state:    state,
		history:  history,
		reads:    map[string]*kvrwset.KVRead{},
		writes:   map[string]write{},
		metadata: map[string]map[string][]byte{},
	}
}

// Err reports a rule the chaincode broke that makes the peer fail the
// proposal even when the chaincode returned success (for example a write
// after a paginated query).
func (s *Stub) Err() error { return s.err }

// RWSet is the transaction's read/write set for the chaincode namespace in
// the form the peer puts into the proposal response: reads and writes
// sorted by key, range queries in the order they ran.
func (s *Stub) RWSet() *kvrwset.KVRWSet {
	out := &kvrwset.KVRWSet{}
	for _, k := range sortedKeys(s.reads) {
		out.Reads = append(out.Reads, s.reads[k])
	}
	out.RangeQueriesInfo = append(out.RangeQueriesInfo, s.ranges...)
	for _, k := range sortedKeys(s.writes) {
		w := s.writes[k]
		out.Writes = append(out.Writes, &kvrwset.KVWrite{Key: k, IsDelete: w.isDelete, Value: w.value})
	}
	for _, k := range sortedKeys(s.metadata) {
		mw := &kvrwset.KVMetadataWrite{Key: k}
		for _, name := range sortedKeys(s.metadata[k]) {
			mw.Entries = append(mw.Entries, &kvrwset.KVMetadataEntry{Name: name, Value: s.metadata[k][name]})
		}
		out.MetadataWrites = append(out.MetadataWrites, mw)
	}
	return out
}

// Event is the chaincode event of the transaction (the last SetEvent), with
// the chaincode id and transaction id the peer fills in; nil if none.
func (s *Stub) Event() *peer.ChaincodeEvent {
	if s.event == nil {
		return nil
	}
	return &peer.ChaincodeEvent{
		ChaincodeId: s.tx.Namespace,
		TxId:        s.tx.TxID,
		EventName:   s.event.EventName,
		Payload:     s.event.Payload,
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- arguments and proposal ---

func (s *Stub) GetArgs() [][]byte { return s.tx.Args }

func (s *Stub) GetStringArgs() []string {
	out := make([]string, len(s.tx.Args))
	for i, a := range s.tx.Args {
		out[i] = string(a)
	}
	return out
}

func (s *Stub) GetFunctionAndParameters() (string, []string) {
	args := s.GetStringArgs()
	if len(args) == 0 {
		return "", []string{}
	}
	return args[0], args[1:]
}

func (s *Stub) GetArgsSlice() ([]byte, error) { return bytes.Join(s.tx.Args, nil), nil }

func (s *Stub) GetTxID() string { return s.tx.TxID }

func (s *Stub) GetChannelID() string { return s.tx.Channel }

func (s *Stub) GetCreator() ([]byte, error) { return s.tx.Creator, nil }

func (s *Stub) GetTransient() (map[string][]byte, error) {
	if s.tx.Transient == nil {
		return map[string][]byte{}, nil
	}
	return s.tx.Transient, nil
}

// GetBinding is SHA-256(nonce ‖ creator ‖ epoch) in Fabric; this simulation
// has no proposal nonce, so it is unsupported unless a signed proposal was
// given.
func (s *Stub) GetBinding() ([]byte, error) {
	if s.tx.SignedProposal == nil {
		return nil, errors.New("binding is not available without a signed proposal")
	}
	return computeBinding(s.tx.SignedProposal)
}

func (s *Stub) GetDecorations() map[string][]byte { return map[string][]byte{} }

func (s *Stub) GetSignedProposal() (*peer.SignedProposal, error) {
	if s.tx.SignedProposal == nil {
		return nil, errors.New("no signed proposal")
	}
	return s.tx.SignedProposal, nil
}

func (s *Stub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	if s.tx.Timestamp == nil {
		return nil, errors.New("transaction has no timestamp")
	}
	return s.tx.Timestamp, nil
}

// SetEvent keeps only the last event of a transaction, as the shim does.
func (s *Stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.event = &peer.ChaincodeEvent{EventName: name, Payload: payload}
	return nil
}

func (s *Stub) InvokeChaincode(chaincodeName string, _ [][]byte, _ string) *peer.Response {
	return &peer.Response{Status: shim.ERROR, Message: fmt.Sprintf("chaincode-to-chaincode invocation of %s is not supported", chaincodeName)}
}

// --- world state ---

func validKey(key string) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key [%x] is not valid UTF-8", key)
	}
	return nil
}

// GetState returns committed state (never this transaction's writes) and
// records the key's committed version in the read set.
func (s *Stub) GetState(key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	vv, err := s.state.Get(s.tx.Namespace, key)
	if err != nil {
		return nil, err
	}
	read := &kvrwset.KVRead{Key: key}
	if vv != nil {
		read.Version = vv.Version.proto()
	}
	s.reads[key] = read
	if vv == nil {
		return nil, nil
	}
	return vv.Value, nil
}

func (s *Stub) GetMultipleStates(keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := s.GetState(k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (s *Stub) checkWriteAllowed() error {
	if s.paginated {
		err := fmt.Errorf("txid [%s]: transaction has already performed a paginated query. Writes are not allowed", s.tx.TxID)
		s.err = err
		return err
	}
	return nil
}

// PutState records a write; an empty value deletes the key.
func (s *Stub) PutState(key string, value []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := s.checkWriteAllowed(); err != nil {
		return err
	}
	if len(value) == 0 {
		s.writes[key] = write{isDelete: true}
		return nil
	}
	s.writes[key] = write{value: bytes.Clone(value)}
	return nil
}

func (s *Stub) DelState(key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := s.checkWriteAllowed(); err != nil {
		return err
	}
	s.writes[key] = write{isDelete: true}
	return nil
}

func (s *Stub) SetStateValidationParameter(key string, ep []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := s.checkWriteAllowed(); err != nil {
		return err
	}
	if s.metadata[key] == nil {
		s.metadata[key] = map[string][]byte{}
	}
	s.metadata[key][peer.MetaDataKeys_VALIDATION_PARAMETER.String()] = bytes.Clone(ep)
	return nil
}

// GetStateValidationParameter: this peer keeps no key-level endorsement
// policies in committed state, so every key has none.
func (s *Stub) GetStateValidationParameter(key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	return nil, nil
}

// --- range queries ---

func validateSimpleKeys(keys ...string) error {
	for _, key := range keys {
		if len(key) > 0 && key[0] == compositeKeyNamespace[0] {
			return fmt.Errorf(`first character of the key [%s] contains a null character which is not allowed`, key)
		}
	}
	return nil
}

func (s *Stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	return s.rangeQuery(startKey, endKey, 0)
}

func (s *Stub) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return s.rangeQuery(start, end, 0)
}

func partialCompositeRange(objectType string, keys []string) (string, string, error) {
	start, err := shim.CreateCompositeKey(objectType, keys)
	if err != nil {
		return "", "", err
	}
	return start, start + maxUnicodeRune, nil
}

func (s *Stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, nil, err
	}
	return s.paginatedQuery(startKey, endKey, pageSize, bookmark)
}

func (s *Stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.paginatedQuery(start, end, pageSize, bookmark)
}

func (s *Stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.paginatedQuery(compositeKeyNamespace, compositeKeyNamespace+maxUnicodeRune, pageSize, bookmark)
}

// paginatedQuery serves a page; like Fabric's simulator it refuses it after
// a write and refuses writes after it (paginated queries are for read-only
// transactions). The bookmark is the next key to read.
func (s *Stub) paginatedQuery(start, end string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if len(s.writes) > 0 || len(s.metadata) > 0 {
		return nil, nil, fmt.Errorf("txid [%s]: paginated queries are not allowed after a write", s.tx.TxID)
	}
	if pageSize <= 0 {
		return nil, nil, errors.New("page size must be greater than zero")
	}
	s.paginated = true
	if bookmark != "" {
		if bookmark < start || (end != "" && bookmark >= end) {
			return nil, nil, fmt.Errorf("bookmark %q is outside the queried range", bookmark)
		}
		start = bookmark
	}
	it, err := s.state.Range(s.tx.Namespace, start, end)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	var kvs []*queryresult.KV
	next := ""
	for {
		k, vv, ok, err := it.Next()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		if len(kvs) == int(pageSize) {
			next = k
			break
		}
		kvs = append(kvs, &queryresult.KV{Namespace: s.tx.Namespace, Key: k, Value: vv.Value})
	}
	return &kvIterator{kvs: kvs}, &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs)), Bookmark: next}, nil
}

// queryBatch is how many results the peer's chaincode handler reads from
// its state iterator per response to the shim (Fabric's maxResultLimit).
const queryBatch = 100

// rangeQuery runs a range query the way the peer's handler and query
// executor do: results are read from the state iterator in batches of
// queryBatch, and every result the peer read (whether or not the chaincode
// consumed it) is a raw read of the recorded RangeQueryInfo. The end key is
// the query's end when the state iterator was drained, otherwise the last
// key read.
func (s *Stub) rangeQuery(start, end string, _ int) (shim.StateQueryIteratorInterface, error) {
	it, err := s.state.Range(s.tx.Namespace, start, end)
	if err != nil {
		return nil, err
	}
	raw := &kvrwset.QueryReads{}
	info := &kvrwset.RangeQueryInfo{StartKey: start, ReadsInfo: &kvrwset.RangeQueryInfo_RawReads{RawReads: raw}}
	s.ranges = append(s.ranges, info)
	r := &rangeIterator{ns: s.tx.Namespace, end: end, it: it, info: info, raw: raw}
	if err := r.fetch(); err != nil {
		it.Close()
		return nil, err
	}
	return r, nil
}

type rangeIterator struct {
	ns     string
	end    string
	it     StateIterator
	info   *kvrwset.RangeQueryInfo
	raw    *kvrwset.QueryReads
	buf    []*queryresult.KV
	done   bool
	closed bool
}

// fetch reads the next batch from the state iterator.
func (r *rangeIterator) fetch() error {
	for n := 0; n < queryBatch && !r.done; n++ {
		k, vv, ok, err := r.it.Next()
		if err != nil {
			return err
		}
		if !ok {
			r.done = true
			r.info.ItrExhausted = true
			r.info.EndKey = r.end
			r.it.Close()
			break
		}
		r.buf = append(r.buf, &queryresult.KV{Namespace: r.ns, Key: k, Value: vv.Value})
		r.raw.KvReads = append(r.raw.KvReads, &kvrwset.KVRead{Key: k, Version: vv.Version.proto()})
		r.info.EndKey = k
	}
	return nil
}

func (r *rangeIterator) HasNext() bool {
	if r.closed {
		return false
	}
	if len(r.buf) == 0 && !r.done {
		if err := r.fetch(); err != nil {
			return false
		}
	}
	return len(r.buf) > 0
}

func (r *rangeIterator) Next() (*queryresult.KV, error) {
	if r.closed {
		return nil, errors.New("iterator is closed")
	}
	if len(r.buf) == 0 && !r.done {
		if err := r.fetch(); err != nil {
			return nil, err
		}
	}
	if len(r.buf) == 0 {
		return nil, errors.New("no more results")
	}
	kv := r.buf[0]
	r.buf = r.buf[1:]
	return kv, nil
}

func (r *rangeIterator) Close() error {
	if !r.closed {
		r.closed = true
		if !r.done {
			r.it.Close()
		}
	}
	return nil
}

// kvIterator serves already materialised results (paginated queries).
type kvIterator struct {
	kvs []*queryresult.KV
	i   int
}

func (k *kvIterator) HasNext() bool { return k.i < len(k.kvs) }
func (k *kvIterator) Next() (*queryresult.KV, error) {
	if k.i >= len(k.kvs) {
		return nil, errors.New("no more results")
	}
	k.i++
	return k.kvs[k.i-1], nil
}
func (k *kvIterator) Close() error { return nil }

// GetQueryResult: rich queries need CouchDB; this peer's state database
// behaves like LevelDB.
func (s *Stub) GetQueryResult(string) (shim.StateQueryIteratorInterface, error) {
	return nil, errors.New("ExecuteQuery not supported for leveldb")
}

func (s *Stub) GetQueryResultWithPagination(string, int32, string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, errors.New("ExecuteQuery not supported for leveldb")
}

// GetHistoryForKey returns the key's modifications by valid transactions,
// newest first.
func (s *Stub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	if s.history == nil {
		return nil, errors.New("history database is not enabled")
	}
	mods, err := s.history.History(s.tx.Namespace, key)
	if err != nil {
		return nil, err
	}
	return &historyIterator{mods: mods}, nil
}

type historyIterator struct {
	mods []*queryresult.KeyModification
	i    int
}

func (h *historyIterator) HasNext() bool { return h.i < len(h.mods) }
func (h *historyIterator) Next() (*queryresult.KeyModification, error) {
	if h.i >= len(h.mods) {
		return nil, errors.New("no more results")
	}
	h.i++
	return h.mods[h.i-1], nil
}
func (h *historyIterator) Close() error { return nil }

// --- composite keys ---

func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *Stub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return SplitCompositeKey(compositeKey)
}

// SplitCompositeKey splits a key made by shim.CreateCompositeKey.
func SplitCompositeKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, compositeKeyNamespace) {
		return "", nil, fmt.Errorf("key %q is not a composite key", key)
	}
	parts := strings.Split(key[1:], compositeKeyNamespace)
	if len(parts) < 2 || parts[len(parts)-1] != "" {
		return "", nil, fmt.Errorf("key %q is not a composite key", key)
	}
	return parts[0], parts[1 : len(parts)-1], nil
}

// --- private data: this network has no collections ---

var errNoCollections = errors.New("private data collections are not configured on this channel")

func (s *Stub) GetPrivateData(string, string) ([]byte, error) { return nil, errNoCollections }
func (s *Stub) GetMultiplePrivateData(string, ...string) ([][]byte, error) {
	return nil, errNoCollections
}
func (s *Stub) GetPrivateDataHash(string, string) ([]byte, error) { return nil, errNoCollections }
func (s *Stub) PutPrivateData(string, string, []byte) error       { return errNoCollections }
func (s *Stub) DelPrivateData(string, string) error               { return errNoCollections }
func (s *Stub) PurgePrivateData(string, string) error             { return errNoCollections }
func (s *Stub) SetPrivateDataValidationParameter(string, string, []byte) error {
	return errNoCollections
}
func (s *Stub) GetPrivateDataValidationParameter(string, string) ([]byte, error) {
	return nil, errNoCollections
}
func (s *Stub) GetPrivateDataByRange(string, string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errNoCollections
}
func (s *Stub) GetPrivateDataByPartialCompositeKey(string, string, []string) (shim.StateQueryIteratorInterface, error) {
	return nil, errNoCollections
}
func (s *Stub) GetPrivateDataQueryResult(string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errNoCollections
}

// --- write batches: every write is buffered until the end anyway ---

func (s *Stub) StartWriteBatch()        {}
func (s *Stub) FinishWriteBatch() error { return nil }

// computeBinding is SHA-256(nonce ‖ creator ‖ epoch as little-endian uint64),
// Fabric's protoutil.ComputeProposalBinding.
func computeBinding(sp *peer.SignedProposal) ([]byte, error) {
	var prop peer.Proposal
	if err := proto.Unmarshal(sp.GetProposalBytes(), &prop); err != nil {
		return nil, err
	}
	var hdr common.Header
	if err := proto.Unmarshal(prop.GetHeader(), &hdr); err != nil {
		return nil, err
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &ch); err != nil {
		return nil, err
	}
	var sh common.SignatureHeader
	if err := proto.Unmarshal(hdr.GetSignatureHeader(), &sh); err != nil {
		return nil, err
	}
	epoch := make([]byte, 8)
	for i := range 8 {
		epoch[i] = byte(ch.GetEpoch() >> (8 * i))
	}
	return sha256Sum(sh.GetNonce(), sh.GetCreator(), epoch), nil
}
