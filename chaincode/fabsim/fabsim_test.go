package fabsim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// kvChaincode is a small raw chaincode that exercises the stub.
type kvChaincode struct{}

func (kvChaincode) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (kvChaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "put": // put key value [key value ...]; event "put"
		for i := 0; i+1 < len(args); i += 2 {
			if err := stub.PutState(args[i], []byte(args[i+1])); err != nil {
				return shim.Error(err.Error())
			}
		}
		_ = stub.SetEvent("first", []byte("replaced"))
		_ = stub.SetEvent("put", []byte(strings.Join(args, ",")))
		return shim.Success(nil)
	case "putget": // write then read the same key
		_ = stub.PutState(args[0], []byte(args[1]))
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	case "incr": // read-modify-write a counter
		v, _ := stub.GetState(args[0])
		n := 0
		if v != nil {
			fmt.Sscan(string(v), &n)
		}
		_ = stub.PutState(args[0], []byte(fmt.Sprint(n+1)))
		return shim.Success(nil)
	case "get":
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	case "del":
		_ = stub.DelState(args[0])
		return shim.Success(nil)
	case "count": // count keys with composite prefix args[0] and write the count
		it, err := stub.GetStateByPartialCompositeKey(args[0], args[1:])
		if err != nil {
			return shim.Error(err.Error())
		}
		defer it.Close()
		var keys []string
		for it.HasNext() {
			kv, err := it.Next()
			if err != nil {
				return shim.Error(err.Error())
			}
			_, attrs, _ := stub.SplitCompositeKey(kv.Key)
			keys = append(keys, strings.Join(attrs, "/"))
		}
		_ = stub.PutState("count/"+args[0], []byte(fmt.Sprint(len(keys))))
		return shim.Success([]byte(strings.Join(keys, ",")))
	case "addc": // add composite key
		k, err := stub.CreateCompositeKey(args[0], args[1:])
		if err != nil {
			return shim.Error(err.Error())
		}
		_ = stub.PutState(k, []byte{0})
		return shim.Success(nil)
	case "first": // read only the first entry of a simple-key range
		it, err := stub.GetStateByRange(args[0], args[1])
		if err != nil {
			return shim.Error(err.Error())
		}
		defer it.Close()
		kv, err := it.Next()
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(kv.Key))
	case "history":
		it, err := stub.GetHistoryForKey(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		var vals []string
		for it.HasNext() {
			m, _ := it.Next()
			if m.IsDelete {
				vals = append(vals, "<deleted>")
			} else {
				vals = append(vals, string(m.Value))
			}
		}
		return shim.Success([]byte(strings.Join(vals, ",")))
	case "whoami":
		msp, err := cid.GetMSPID(stub)
		if err != nil {
			return shim.Error(err.Error())
		}
		role, found, err := cid.GetAttributeValue(stub, "eidgate.role")
		if err != nil {
			return shim.Error(err.Error())
		}
		ts, _ := stub.GetTxTimestamp()
		out, _ := json.Marshal(map[string]any{"msp": msp, "role": role, "found": found, "ts": ts.AsTime().Unix()})
		return shim.Success(out)
	case "pagethenwrite":
		it, _, err := stub.GetStateByRangeWithPagination("", "", 10, "")
		if err != nil {
			return shim.Error(err.Error())
		}
		it.Close()
		if err := stub.PutState("x", []byte("y")); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "fail":
		_ = stub.SetEvent("lost", nil)
		return shim.Error("NOT_FOUND: nothing")
	}
	return shim.Error("unknown function " + fn)
}

func newClient(t testing.TB) fabsim.Identity {
	t.Helper()
	ca, err := devcrypto.NewCA("PlatformMSP", "platform.example")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue(devcrypto.IssueOptions{CommonName: "agent", OU: devcrypto.OUClient, Attrs: map[string]string{"eidgate.role": "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	return fabsim.Identity{MSPID: "PlatformMSP", CertPEM: id.CertPEM}
}

func tx(id fabsim.Identity, args ...string) fabsim.Tx { return fabsim.Tx{Creator: id, Args: args} }

func TestTransactionDoesNotReadItsOwnWrites(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	r := l.Invoke(kvChaincode{}, tx(id, "putget", "k", "v"))
	if !r.OK() {
		t.Fatalf("invoke: %v %v", r.Response, r.Code)
	}
	if len(r.Response.Payload) != 0 {
		t.Fatalf("GetState after PutState returned %q; Fabric returns committed state (nil)", r.Response.Payload)
	}
	if got := string(l.Get("k")); got != "v" {
		t.Fatalf("committed value %q", got)
	}
	reads := r.RWSet.GetReads()
	if len(reads) != 1 || reads[0].GetKey() != "k" || reads[0].GetVersion() != nil {
		t.Fatalf("read set %v: want k with nil version (absent key)", reads)
	}
}

func TestReadWriteSetShape(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	first := l.Invoke(kvChaincode{}, tx(id, "put", "b", "1", "a", "1", "b", "2", "c", ""))
	if !first.OK() {
		t.Fatal(first.Response)
	}
	w := first.RWSet.GetWrites()
	if len(w) != 3 || w[0].GetKey() != "a" || w[1].GetKey() != "b" || string(w[1].GetValue()) != "2" || w[2].GetKey() != "c" || !w[2].GetIsDelete() {
		t.Fatalf("writes %v: want sorted by key, last write wins, empty value = delete", w)
	}
	second := l.Invoke(kvChaincode{}, tx(id, "get", "b"))
	rv := second.RWSet.GetReads()[0].GetVersion()
	if rv.GetBlockNum() != first.Block || rv.GetTxNum() != 0 {
		t.Fatalf("read version %v, want block %d tx 0", rv, first.Block)
	}
}

func TestOneEventPerTransaction(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	r := l.Invoke(kvChaincode{}, tx(id, "put", "a", "1"))
	if r.Event == nil || r.Event.EventName != "put" || string(r.Event.Payload) != "a,1" || r.Event.TxId != r.TxID || r.Event.ChaincodeId != "cc" {
		t.Fatalf("event %v: want only the last SetEvent with tx and chaincode ids", r.Event)
	}
	f := l.Invoke(kvChaincode{}, tx(id, "fail"))
	if f.Event != nil || f.Response.Status != 500 || f.Code != peer.TxValidationCode_NOT_VALIDATED {
		t.Fatalf("failed invoke: event %v status %d code %v", f.Event, f.Response.Status, f.Code)
	}
}

func TestMVCCReadConflictInOneBlock(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	l.Invoke(kvChaincode{}, tx(id, "incr", "n"))
	a := l.Simulate(kvChaincode{}, tx(id, "incr", "n"))
	b := l.Simulate(kvChaincode{}, tx(id, "incr", "n"))
	l.CommitBlock(a, b)
	if a.Code != peer.TxValidationCode_VALID || b.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
		t.Fatalf("codes %v %v, want VALID then MVCC_READ_CONFLICT", a.Code, b.Code)
	}
	if string(l.Get("n")) != "2" {
		t.Fatalf("n = %s, the invalid transaction's write must be dropped", l.Get("n"))
	}
}

func TestMVCCReadConflictAcrossBlocks(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	a := l.Simulate(kvChaincode{}, tx(id, "incr", "n"))
	b := l.Simulate(kvChaincode{}, tx(id, "incr", "n"))
	l.CommitBlock(a)
	l.CommitBlock(b)
	if a.Code != peer.TxValidationCode_VALID || b.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
		t.Fatalf("codes %v %v", a.Code, b.Code)
	}
}

func TestPhantomRead(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	l.Invoke(kvChaincode{}, tx(id, "addc", "route", "e1", "x"))
	counter := l.Simulate(kvChaincode{}, tx(id, "count", "route", "e1"))
	inserter := l.Simulate(kvChaincode{}, tx(id, "addc", "route", "e1", "y"))
	l.CommitBlock(inserter, counter)
	if inserter.Code != peer.TxValidationCode_VALID || counter.Code != peer.TxValidationCode_PHANTOM_READ_CONFLICT {
		t.Fatalf("codes %v %v, want VALID then PHANTOM_READ_CONFLICT", inserter.Code, counter.Code)
	}
	// An insert outside the range does not conflict.
	counter = l.Simulate(kvChaincode{}, tx(id, "count", "route", "e1"))
	other := l.Simulate(kvChaincode{}, tx(id, "addc", "route", "e2", "x"))
	l.CommitBlock(other, counter)
	if counter.Code != peer.TxValidationCode_VALID {
		t.Fatalf("range over e1 conflicted with a write under e2: %v", counter.Code)
	}
	if got := string(l.Get("count/route")); got != "2" {
		t.Fatalf("count %q", got)
	}
}

func TestPartialCompositeKeyRangeIsOrderedAndScoped(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	for _, k := range [][]string{{"route", "e1", "b"}, {"route", "e10", "a"}, {"route", "e1", "a"}, {"routes", "e1", "z"}} {
		l.Invoke(kvChaincode{}, tx(id, append([]string{"addc"}, k...)...))
	}
	r := l.Invoke(kvChaincode{}, tx(id, "count", "route", "e1"))
	if got := string(r.Response.Payload); got != "e1/a,e1/b" {
		t.Fatalf("partial key e1 gave %q", got)
	}
	rq := r.RWSet.GetRangeQueriesInfo()
	if len(rq) != 1 || !rq[0].GetItrExhausted() || len(rq[0].GetRawReads().GetKvReads()) != 2 {
		t.Fatalf("range query info %v", rq)
	}
	// Composite keys are invisible to simple-key ranges.
	if r := l.Evaluate(kvChaincode{}, tx(id, "first", "", "")); string(r.Response.Payload) != "count/route" {
		t.Fatalf("first simple key %q, want count/route (composite keys are outside simple ranges)", r.Response.Payload)
	}
}

func TestRangeQueryRecordsWhatThePeerRead(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	l.Seed(func(put func(string, []byte)) {
		for i := range 150 {
			put(fmt.Sprintf("k%03d", i), []byte("v"))
		}
	})
	r := l.Evaluate(kvChaincode{}, tx(id, "first", "k", "l"))
	rq := r.RWSet.GetRangeQueriesInfo()[0]
	if rq.GetItrExhausted() || len(rq.GetRawReads().GetKvReads()) != 100 || rq.GetEndKey() != "k099" {
		t.Fatalf("exhausted=%v reads=%d end=%q: the peer reads a first batch of 100 and records the last key read",
			rq.GetItrExhausted(), len(rq.GetRawReads().GetKvReads()), rq.GetEndKey())
	}
}

func TestDuplicateTxID(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	nonce := []byte("same-nonce-same-nonce-24")
	a := l.Invoke(kvChaincode{}, fabsim.Tx{Creator: id, Args: []string{"put", "a", "1"}, Nonce: nonce})
	b := l.Invoke(kvChaincode{}, fabsim.Tx{Creator: id, Args: []string{"put", "a", "2"}, Nonce: nonce})
	if a.TxID != b.TxID || a.Code != peer.TxValidationCode_VALID || b.Code != peer.TxValidationCode_DUPLICATE_TXID {
		t.Fatalf("codes %v %v", a.Code, b.Code)
	}
	if string(l.Get("a")) != "1" {
		t.Fatal("duplicate transaction was applied")
	}
}

func TestHistoryNewestFirstValidOnly(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	l.Invoke(kvChaincode{}, tx(id, "put", "h", "1"))
	l.Invoke(kvChaincode{}, tx(id, "put", "h", "2"))
	a := l.Simulate(kvChaincode{}, tx(id, "incr", "h"))
	b := l.Simulate(kvChaincode{}, tx(id, "incr", "h")) // conflicts, must not appear
	l.CommitBlock(a, b)
	l.Invoke(kvChaincode{}, tx(id, "del", "h"))
	r := l.Evaluate(kvChaincode{}, tx(id, "history", "h"))
	if got := string(r.Response.Payload); got != "<deleted>,3,2,1" {
		t.Fatalf("history %q", got)
	}
}

func TestClientIdentityFromCertificate(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	r := l.Evaluate(kvChaincode{}, tx(id, "whoami"))
	var got struct {
		MSP   string
		Role  string
		Found bool
		TS    int64
	}
	if err := json.Unmarshal(r.Response.Payload, &got); err != nil {
		t.Fatal(err, r.Response)
	}
	if got.MSP != "PlatformMSP" {
		t.Fatalf("got.MSP = %q, want \"PlatformMSP\"; identity %+v", got.MSP, got)
	}
	if got.Role != "agent" {
		t.Fatalf("got.Role = %q, want \"agent\"; identity %+v", got.Role, got)
	}
	if !got.Found {
		t.Fatalf("got.Found is false; identity %+v", got)
	}
	if got.TS != l.Now().Unix() {
		t.Fatalf("got.TS = %v, want l.Now().Unix(); identity %+v", got.TS, got)
	}
}

func TestPaginatedQueryForbidsWrites(t *testing.T) {
	l := fabsim.NewLedger("ch", "cc")
	id := newClient(t)
	r := l.Invoke(kvChaincode{}, tx(id, "pagethenwrite"))
	if r.Response.Status != 500 || !strings.Contains(r.Response.Message, "paginated") {
		t.Fatalf("response %v", r.Response)
	}
}

func TestDeterministicState(t *testing.T) {
	run := func() string {
		l := fabsim.NewLedger("ch", "cc")
		id := fabsim.Identity{MSPID: "M", CertPEM: []byte("fixed")}
		for i := range 20 {
			l.Invoke(kvChaincode{}, tx(id, "addc", "k", fmt.Sprint(i%3), fmt.Sprint(i)))
		}
		return l.StateHash()
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("state hashes differ: %s %s", a, b)
	}
}
