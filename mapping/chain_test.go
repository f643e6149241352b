package mapping_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/eidgate/eidgate/mapping"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/routing"
)

// testChain implements Ledger by invoking the real contract on an
// in-memory fabsim ledger with a devcrypto agent identity, encoding the
// arguments as ledger/contract.go does (JSON for structs and slices, raw
// strings otherwise) and classifying refusals into *routing.Error as the ledger client does.
type testChain struct {
	l      *fabsim.Ledger
	cc     shim.Chaincode
	agent  fabsim.Identity
	admin  fabsim.Identity
	mu     sync.Mutex
	counts map[string]int
	// afterCommit, when set, runs after a submitted transaction committed
	// and before its answer is returned (a test may cancel there).
	afterCommit func(fn string)
}

func newTestChain(t testing.TB) *testChain {
	t.Helper()
	cc, err := chaincode.NewChaincode("")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := devcrypto.NewCA(chaincode.DefaultPlatformMSPID, "platform.example")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn, role string) fabsim.Identity {
		id, err := ca.Issue(devcrypto.IssueOptions{CommonName: cn, OU: devcrypto.OUClient, Attrs: map[string]string{model.AttrRole: role}})
		if err != nil {
			t.Fatal(err)
		}
		return fabsim.Identity{MSPID: chaincode.DefaultPlatformMSPID, CertPEM: id.CertPEM}
	}
	return &testChain{
		l: fabsim.NewLedger("eidgate", "eidgate"), cc: cc,
		agent: issue("gateway-agent", model.RoleAgent), admin: issue("admin", model.RoleAdmin),
		counts: map[string]int{},
	}
}

// registerDepartment registers an active department as the admin.
func (c *testChain) registerDepartment(t testing.TB, id string) {
	t.Helper()
	d, _ := json.Marshal(model.Department{ID: id, Name: id, MSPID: "Org" + strings.ReplaceAll(id, "-", "") + "MSP"})
	r := c.l.Invoke(c.cc, fabsim.Tx{Creator: c.admin, Args: []string{model.FnRegisterDepartment, string(d)}})
	if !r.OK() {
		t.Fatalf("register department %s: %s", id, r.Response.GetMessage())
	}
}

func (c *testChain) count(fn string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[fn]
}

func (c *testChain) call(ctx context.Context, submit bool, fn string, args ...string) ([]byte, error) {
	op := "ledger." + fn
	if err := ctx.Err(); err != nil {
		return nil, routing.Unavailable(op, ledger.CodeUnavailable, "ledger submit timed out or was cancelled", err)
	}
	c.mu.Lock()
	c.counts[fn]++
	c.mu.Unlock()
	tx := fabsim.Tx{Creator: c.agent, Args: append([]string{fn}, args...)}
	var r *fabsim.Result
	if submit {
		r = c.l.Invoke(c.cc, tx)
	} else {
		r = c.l.Evaluate(c.cc, tx)
	}
	if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
		return nil, chainError(op, r.Response.GetMessage())
	}
	if submit {
		if r.Code != peer.TxValidationCode_VALID {
			return nil, &routing.Error{Kind: routing.KindConflict, Op: op, Message: "concurrent update on the ledger, retry later (" + r.Code.String() + ")"}
		}
		if c.afterCommit != nil {
			c.afterCommit(fn)
		}
		if err := ctx.Err(); err != nil {
			// Committed, but the caller gave up waiting for the answer.
			return nil, routing.Unavailable(op, ledger.CodeUnavailable, "ledger commit status timed out or was cancelled", err)
		}
	}
	return r.Response.GetPayload(), nil
}

// chainError classifies a chaincode refusal by its code prefix, as the
// ledger client does.
func chainError(op, msg string) error {
	for _, p := range []struct {
		prefix string
		kind   routing.Kind
	}{{"INVALID:", routing.KindInvalid}, {"NOT_FOUND:", routing.KindNotFound}, {"FORBIDDEN:", routing.KindForbidden}, {"CONFLICT:", routing.KindConflict}} {
		if i := strings.Index(msg, p.prefix); i >= 0 {
			return &routing.Error{Kind: p.kind, Op: op, Message: strings.TrimSpace(msg[i+len(p.prefix):])}
		}
	}
	return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "ledger evaluate failed: " + msg}
}

func chainJSON[T any](c *testChain, ctx context.Context, submit bool, fn string, args ...string) (T, error) {
	var v T
	raw, err := c.call(ctx, submit, fn, args...)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, &routing.Error{Kind: routing.KindInternal, Op: "ledger." + fn, Message: "the chaincode returned a malformed result", Err: err}
	}
	return v, nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (c *testChain) CreateEID(ctx context.Context, indexes []model.BlindedIndex) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, true, model.FnCreateEID, jsonString(indexes))
}

func (c *testChain) CreateEIDs(ctx context.Context, items []model.EIDRequest) ([]model.EIDOutcome, error) {
	return chainJSON[[]model.EIDOutcome](c, ctx, true, model.FnCreateEIDs, jsonString(items))
}

func (c *testChain) AddDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, true, model.FnAddDocumentIndex, eid, jsonString(idx))
}

func (c *testChain) RemoveDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, true, model.FnRemoveDocumentIndex, eid, jsonString(idx))
}

func (c *testChain) MergeEID(ctx context.Context, from, into, reason string) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, true, model.FnMergeEID, from, into, reason)
}

func (c *testChain) DeactivateEID(ctx context.Context, eid, reason string) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, true, model.FnDeactivateEID, eid, reason)
}

func (c *testChain) GetEID(ctx context.Context, eid string) (*model.Identity, error) {
	return chainJSON[*model.Identity](c, ctx, false, model.FnGetEID, eid)
}

func (c *testChain) LookupIndex(ctx context.Context, idx model.BlindedIndex) (string, error) {
	raw, err := c.call(ctx, false, model.FnLookupIndex, idx.KeyVersion, idx.Value)
	return string(raw), err
}

func (c *testChain) LinkAccount(ctx context.Context, eid, department, accountHash string) (*model.AccountLink, error) {
	return chainJSON[*model.AccountLink](c, ctx, true, model.FnLinkAccount, eid, department, accountHash)
}

func (c *testChain) UnlinkAccount(ctx context.Context, eid, department string) error {
	_, err := c.call(ctx, true, model.FnUnlinkAccount, eid, department)
	return err
}

func (c *testChain) ListLinks(ctx context.Context, eid string) ([]model.AccountLink, error) {
	return chainJSON[[]model.AccountLink](c, ctx, false, model.FnListLinks, eid)
}

func (c *testChain) LookupAccount(ctx context.Context, department, accountHash string) (string, error) {
	raw, err := c.call(ctx, false, model.FnLookupAccount, department, accountHash)
	return string(raw), err
}

var _ mapping.Ledger = (*testChain)(nil)
