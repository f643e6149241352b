package chaincode

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"

	"github.com/eidgate/eidgate/chaincode/model"
)

// txn is the state of one contract call: the stub, the transaction's id and
// time, a read/write overlay (Fabric does not let a transaction read its own
// writes) and the changes to announce in the event.
type txn struct {
	stub        shim.ChaincodeStubInterface
	fn          string
	txID        string
	now         time.Time
	stamp       string // now as stored on the ledger
	platformMSP string

	// state caches what the call read and holds what it wrote; a nil value
	// means the key is absent. It is only ever looked up by key.
	state   map[string][]byte
	changes []model.Change

	who    *caller
	whoErr error
	client cid.ClientIdentity // as the contract API read it; may be nil
}

func (c *Contract) begin(ctx contractapi.TransactionContextInterface, fn string) (*txn, error) {
	stub := ctx.GetStub()
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, fmt.Errorf("read the transaction timestamp: %w", err)
	}
	if err := ts.CheckValid(); err != nil {
		return nil, fmt.Errorf("read the transaction timestamp: %w", err)
	}
	now := ts.AsTime().UTC()
	return &txn{
		stub:        stub,
		fn:          fn,
		txID:        stub.GetTxID(),
		now:         now,
		stamp:       model.FormatTime(now),
		platformMSP: c.platformMSP(),
		state:       make(map[string][]byte),
		client:      ctx.GetClientIdentity(),
	}, nil
}

// beginAs starts a call of fn that only callers holding one of roles may
// make.
func (c *Contract) beginAs(ctx contractapi.TransactionContextInterface, fn string, roles ...string) (*txn, *caller, error) {
	t, err := c.begin(ctx, fn)
	if err != nil {
		return nil, nil, err
	}
	who, err := t.requireRole(roles...)
	if err != nil {
		return nil, nil, err
	}
	return t, who, nil
}

func (t *txn) key(objectType string, attrs ...string) (string, error) {
	k, err := t.stub.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", model.Invalid("%s key: %v", objectType, err)
	}
	return k, nil
}

// get returns the value of key as this call sees it: its own write if it
// wrote the key, the committed value otherwise (nil when absent).
func (t *txn) get(key string) ([]byte, error) {
	if v, ok := t.state[key]; ok {
		return v, nil
	}
	v, err := t.stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if len(v) == 0 {
		v = nil
	}
	t.state[key] = v
	return v, nil
}

func (t *txn) put(key string, value []byte) error {
	if len(value) == 0 {
		return fmt.Errorf("refusing to write an empty value (it would delete the key)")
	}
	if err := t.stub.PutState(key, value); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	t.state[key] = value
	return nil
}

func (t *txn) del(key string) error {
	if err := t.stub.DelState(key); err != nil {
		return fmt.Errorf("delete state: %w", err)
	}
	t.state[key] = nil
	return nil
}

// getJSON loads key into out and reports whether it exists.
func (t *txn) getJSON(key string, out any) (bool, error) {
	v, err := t.get(key)
	if err != nil || v == nil {
		return false, err
	}
	if err := json.Unmarshal(v, out); err != nil {
		return false, fmt.Errorf("decode state: %w", err)
	}
	return true, nil
}

func (t *txn) putJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return t.put(key, b)
}

// scan returns the committed entries under a partial composite key, in key
// order. It does not see this call's own writes: callers scan before they
// write under the same prefix.
func (t *txn) scan(objectType string, attrs ...string) ([]*queryresult.KV, error) {
	it, err := t.stub.GetStateByPartialCompositeKey(objectType, attrs)
	if err != nil {
		return nil, fmt.Errorf("query state: %w", err)
	}
	defer it.Close()
	var out []*queryresult.KV
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("query state: %w", err)
		}
		out = append(out, kv)
	}
	return out, nil
}

// lastAttr returns the last attribute of a composite key.
func (t *txn) lastAttr(compositeKey string) (string, error) {
	_, attrs, err := t.stub.SplitCompositeKey(compositeKey)
	if err != nil || len(attrs) == 0 {
		return "", fmt.Errorf("malformed composite key in state")
	}
	return attrs[len(attrs)-1], nil
}

func (t *txn) record(c model.Change) { t.changes = append(t.changes, c) }

// emit sets the call's single event: the function name and every change.
// Writes call it exactly once, last, even when nothing changed.
func (t *txn) emit() error {
	set := model.ChangeSet{Changes: t.changes}
	if set.Changes == nil {
		set.Changes = []model.Change{}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := t.stub.SetEvent(t.fn, b); err != nil {
		return fmt.Errorf("set event: %w", err)
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode state: %w", err)
	}
	return nil
}
