package fabsim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Identity is a client identity as a peer sees it: MSP id and PEM
// certificate.
type Identity struct {
	MSPID   string
	CertPEM []byte
}

// Serialize returns the msp.SerializedIdentity bytes a proposal carries as
// its creator.
func (id Identity) Serialize() []byte {
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MSPID, IdBytes: id.CertPEM})
	if err != nil {
		panic(err) // marshalling two byte fields cannot fail
	}
	return b
}

// Tx is a proposal to simulate on a Ledger.
type Tx struct {
	Creator   Identity
	Args      []string // the function name first
	Transient map[string][]byte
	// Nonce is the proposal nonce; when nil the ledger derives a
	// deterministic one, so repeated runs produce the same transaction ids.
	Nonce []byte
}

// Result is the outcome of a simulated (and possibly committed) transaction.
type Result struct {
	TxID     string
	Response *peer.Response
	// Event is the chaincode event; the peer drops it when the response
	// status is 400 or more.
	Event *peer.ChaincodeEvent
	RWSet *kvrwset.KVRWSet
	// Code is the validation code once committed; NOT_VALIDATED before, and
	// for a proposal whose endorsement failed (it is never submitted).
	Code  peer.TxValidationCode
	Block uint64

	timestamp *timestamppb.Timestamp
}

// OK reports whether the transaction was endorsed and committed as valid.
func (r *Result) OK() bool {
	return r.Response.GetStatus() < shim.ERRORTHRESHOLD && r.Code == peer.TxValidationCode_VALID
}

// Ledger is an in-memory single-channel ledger with one chaincode
// namespace: world state with versions, history of valid writes, and
// transaction ids. Each Invoke commits its own block; Simulate and
// CommitBlock put several transactions in one block to exercise MVCC.
// It is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	channel string
	ns      string
	state   *memState
	history map[string][]*queryresult.KeyModification // oldest first
	txIDs   map[string]bool
	height  uint64 // number of blocks; block 0 is the channel's genesis block
	now     time.Time
	nonces  uint64
}

// NewLedger returns an empty ledger for channel with chaincode namespace.
// The clock starts at 2026-01-01T00:00:00Z; see SetTime.
func NewLedger(channel, namespace string) *Ledger {
	return &Ledger{
		channel: channel,
		ns:      namespace,
		state:   newMemState(),
		history: map[string][]*queryresult.KeyModification{},
		txIDs:   map[string]bool{},
		height:  1,
		now:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// SetTime sets the timestamp of the transactions proposed from now on (the
// client's clock, which is what a Fabric transaction carries).
func (l *Ledger) SetTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = t
}

// Advance moves the clock forward.
func (l *Ledger) Advance(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = l.now.Add(d)
}

// Now is the timestamp the next transaction will carry.
func (l *Ledger) Now() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// Height is the number of blocks, counting the genesis block.
func (l *Ledger) Height() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height
}

// Simulate runs the chaincode for tx over the current committed state and
// returns the endorsement result without committing it.
func (l *Ledger) Simulate(cc shim.Chaincode, tx Tx) *Result {
	l.mu.Lock()
	nonce := tx.Nonce
	if nonce == nil {
		l.nonces++
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], l.nonces)
		nonce = sha256Sum([]byte("fabsim-nonce"), ctr[:])[:24]
	}
	ts := timestamppb.New(l.now)
	l.mu.Unlock()

	creator := tx.Creator.Serialize()
	txID := hex.EncodeToString(sha256Sum(nonce, creator))
	args := make([][]byte, len(tx.Args))
	for i, a := range tx.Args {
		args[i] = []byte(a)
	}
	sp, err := proposal(l.channel, l.ns, txID, ts, creator, nonce, args, tx.Transient)
	if err != nil {
		return &Result{TxID: txID, Response: shim.Error(err.Error()), Code: peer.TxValidationCode_NOT_VALIDATED}
	}
	stub := NewStub(TxContext{
		Channel: l.channel, Namespace: l.ns, TxID: txID, Timestamp: ts,
		Creator: creator, Args: args, Transient: tx.Transient, SignedProposal: sp,
	}, lockedState{l}, lockedHistory{l})

	resp := cc.Invoke(stub)
	if err := stub.Err(); err != nil && resp.GetStatus() < shim.ERRORTHRESHOLD {
		resp = shim.Error(err.Error())
	}
	r := &Result{TxID: txID, Response: resp, RWSet: stub.RWSet(), Code: peer.TxValidationCode_NOT_VALIDATED, timestamp: ts}
	if resp.GetStatus() < shim.ERRORTHRESHOLD {
		r.Event = stub.Event()
	}
	return r
}

// Evaluate runs a query: a simulation whose result is never committed.
func (l *Ledger) Evaluate(cc shim.Chaincode, tx Tx) *Result { return l.Simulate(cc, tx) }

// Invoke simulates tx and, when the chaincode succeeded, commits it in a
// block of its own.
func (l *Ledger) Invoke(cc shim.Chaincode, tx Tx) *Result {
	r := l.Simulate(cc, tx)
	if r.Response.GetStatus() < shim.ERRORTHRESHOLD {
		l.CommitBlock(r)
	}
	return r
}

// CommitBlock orders the results into one block, validates them in order
// (duplicate transaction ids, MVCC and phantom reads) and commits the writes
// of the valid ones. Results whose endorsement failed are left out, as a
// client would never submit them. It returns the block number.
func (l *Ledger) CommitBlock(rs ...*Result) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	block := l.height
	l.height++
	v := NewBlockValidator(l.state, block)
	inBlock := map[string]bool{}
	idx := 0
	for _, r := range rs {
		if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
			continue
		}
		r.Block = block
		if l.txIDs[r.TxID] || inBlock[r.TxID] {
			r.Code = peer.TxValidationCode_DUPLICATE_TXID
			idx++
			continue
		}
		inBlock[r.TxID] = true
		code, err := v.Validate(idx, r.TxID, []NsRWSet{{Namespace: l.ns, RWSet: r.RWSet}})
		if err != nil {
			code = peer.TxValidationCode_INVALID_OTHER_REASON
		}
		r.Code = code
		idx++
	}
	for id := range inBlock {
		l.txIDs[id] = true
	}
	stamps := map[string]*timestamppb.Timestamp{}
	for _, r := range rs {
		stamps[r.TxID] = r.timestamp
	}
	for _, u := range v.Updates() {
		l.state.apply(u)
		hk := u.Namespace + "\x00" + u.Key
		l.history[hk] = append(l.history[hk], &queryresult.KeyModification{
			TxId: u.TxID, Value: u.Value, Timestamp: stamps[u.TxID], IsDelete: u.IsDelete,
		})
	}
	return block
}

// Put writes key directly into committed state, outside any transaction,
// in a block of its own per call of Seed; it is for seeding large states in
// benchmarks. Use Invoke for anything a test asserts on.
func (l *Ledger) Seed(kvs func(put func(key string, value []byte))) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ver := Version{Block: l.height}
	l.height++
	kvs(func(key string, value []byte) {
		l.state.apply(&Update{Namespace: l.ns, Key: key, Value: bytes.Clone(value), Version: ver})
	})
}

// Get returns the committed value of key (nil if absent).
func (l *Ledger) Get(key string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	vv, _ := l.state.Get(l.ns, key)
	if vv == nil {
		return nil
	}
	return vv.Value
}

// Keys returns the committed keys with the given prefix, in byte order.
func (l *Ledger) Keys(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	it, _ := l.state.Range(l.ns, prefix, prefixEnd(prefix))
	defer it.Close()
	for {
		k, _, ok, _ := it.Next()
		if !ok {
			return out
		}
		out = append(out, k)
	}
}

// StateHash is a digest of the whole committed state (keys and values, not
// versions), for determinism checks.
func (l *Ledger) StateHash() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	it, _ := l.state.Range(l.ns, "", "")
	defer it.Close()
	var parts [][]byte
	for {
		k, vv, ok, _ := it.Next()
		if !ok {
			break
		}
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		parts = append(parts, n[:], []byte(k))
		binary.BigEndian.PutUint64(n[:], uint64(len(vv.Value)))
		parts = append(parts, n[:], vv.Value)
	}
	return hex.EncodeToString(sha256Sum(parts...))
}

func prefixEnd(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + maxUnicodeRune
}

// lockedState and lockedHistory are the views a simulation reads. A
// simulation runs while no commit changes the state in Ledger's own usage
// (Invoke is sequential per caller), but concurrent callers may commit, so
// every read takes the lock.
type lockedState struct{ l *Ledger }

func (s lockedState) Get(ns, key string) (*VersionedValue, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.l.state.Get(ns, key)
}

// Range materialises the range under the lock so that a concurrent commit
// cannot change it while the chaincode iterates.
func (s lockedState) Range(ns, start, end string) (StateIterator, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	it, err := s.l.state.Range(ns, start, end)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var entries []entry
	for {
		k, vv, ok, err := it.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		entries = append(entries, entry{k, vv})
	}
	return &sliceIterator{entries: entries}, nil
}

type lockedHistory struct{ l *Ledger }

func (h lockedHistory) History(ns, key string) ([]*queryresult.KeyModification, error) {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	mods := h.l.history[ns+"\x00"+key]
	out := make([]*queryresult.KeyModification, len(mods))
	for i, m := range mods {
		out[len(mods)-1-i] = m
	}
	return out, nil
}

type entry struct {
	key string
	vv  *VersionedValue
}

type sliceIterator struct {
	entries []entry
	i       int
}

func (s *sliceIterator) Next() (string, *VersionedValue, bool, error) {
	if s.i >= len(s.entries) {
		return "", nil, false, nil
	}
	s.i++
	e := s.entries[s.i-1]
	return e.key, e.vv, true, nil
}

func (s *sliceIterator) Close() {}

// memState is committed state kept in a map with a lazily maintained sorted
// key index, so that bulk inserts stay cheap and range queries are ordered.
type memState struct {
	values map[string]*VersionedValue // ns + "\x00" + key
	sorted []string                   // may hold deleted keys; skipped on read
	added  []string                   // new keys not yet merged into sorted
}

func newMemState() *memState { return &memState{values: map[string]*VersionedValue{}} }

func (m *memState) Get(ns, key string) (*VersionedValue, error) {
	return m.values[ns+"\x00"+key], nil
}

func (m *memState) apply(u *Update) {
	k := u.Namespace + "\x00" + u.Key
	if u.IsDelete {
		delete(m.values, k)
		return
	}
	if _, ok := m.values[k]; !ok {
		m.added = append(m.added, k)
	}
	m.values[k] = &VersionedValue{Value: u.Value, Version: u.Version}
}

func (m *memState) index() []string {
	if len(m.added) == 0 {
		return m.sorted
	}
	sort.Strings(m.added)
	merged := make([]string, 0, len(m.sorted)+len(m.added))
	i, j := 0, 0
	for i < len(m.sorted) || j < len(m.added) {
		var k string
		if j >= len(m.added) || (i < len(m.sorted) && m.sorted[i] <= m.added[j]) {
			k = m.sorted[i]
			i++
		} else {
			k = m.added[j]
			j++
		}
		if _, live := m.values[k]; !live {
			continue
		}
		if n := len(merged); n > 0 && merged[n-1] == k {
			continue
		}
		merged = append(merged, k)
	}
	m.sorted, m.added = merged, nil
	return m.sorted
}

// Range iterates the live keys of ns in [start, end) over a snapshot of the
// index; values are looked up as the iterator advances.
func (m *memState) Range(ns, start, end string) (StateIterator, error) {
	idx := m.index()
	prefix := ns + "\x00"
	lo := sort.SearchStrings(idx, prefix+start)
	return &memIterator{m: m, idx: idx, i: lo, prefix: prefix, end: end}, nil
}

type memIterator struct {
	m      *memState
	idx    []string
	i      int
	prefix string
	end    string
}

func (it *memIterator) Next() (string, *VersionedValue, bool, error) {
	for it.i < len(it.idx) {
		full := it.idx[it.i]
		it.i++
		if !strings.HasPrefix(full, it.prefix) {
			return "", nil, false, nil
		}
		k := full[len(it.prefix):]
		if it.end != "" && k >= it.end {
			return "", nil, false, nil
		}
		if vv, ok := it.m.values[full]; ok {
			return k, vv, true, nil
		}
	}
	return "", nil, false, nil
}

func (it *memIterator) Close() {}

// proposal builds the signed proposal (with an empty signature) that a
// client would send for these arguments.
func proposal(channel, cc, txID string, ts *timestamppb.Timestamp, creator, nonce []byte, args [][]byte, transient map[string][]byte) (*peer.SignedProposal, error) {
	ext, err := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: cc}})
	if err != nil {
		return nil, err
	}
	ch, err := proto.Marshal(&common.ChannelHeader{
		Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel, TxId: txID,
		Timestamp: ts, Extension: ext,
	})
	if err != nil {
		return nil, err
	}
	sh, err := proto.Marshal(&common.SignatureHeader{Creator: creator, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	hdr, err := proto.Marshal(&common.Header{ChannelHeader: ch, SignatureHeader: sh})
	if err != nil {
		return nil, err
	}
	input, err := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: &peer.ChaincodeID{Name: cc}, Input: &peer.ChaincodeInput{Args: args},
	}})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: input, TransientMap: transient})
	if err != nil {
		return nil, err
	}
	prop, err := proto.Marshal(&peer.Proposal{Header: hdr, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("proposal: %w", err)
	}
	return &peer.SignedProposal{ProposalBytes: prop}, nil
}
