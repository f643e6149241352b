// Package credentialtest holds test doubles for the credential service: a
// ledger that runs the real chaincode on fabsim, an in-memory store, key
// holders, an access log and an in-process provider that answers yes/no
// questions.
package credentialtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/routing"
)

// Ledger runs the eidgate chaincode on a simulated Fabric ledger and calls
// it as the platform's agent (writes, reads) or admin (setup), the way the
// typed ledger client does against a real peer.
type Ledger struct {
	t     testing.TB
	L     *fabsim.Ledger
	cc    shim.Chaincode
	Admin *devcrypto.Identity
	Agent *devcrypto.Identity

	mu     sync.Mutex
	events []model.ChangeSet
}

// NewLedger starts an empty ledger at time at.
func NewLedger(t testing.TB, at time.Time) *Ledger {
	t.Helper()
	cc, err := chaincode.NewChaincode("")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := devcrypto.NewCA("PlatformMSP", "platform.eidgate.local")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn, role string) *devcrypto.Identity {
		id, err := ca.Issue(devcrypto.IssueOptions{CommonName: cn, OU: devcrypto.OUClient, Attrs: map[string]string{model.AttrRole: role}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	l := &Ledger{t: t, L: fabsim.NewLedger("eidgate", "eidgate"), cc: cc, Admin: issue("admin", model.RoleAdmin), Agent: issue("agent", model.RoleAgent)}
	l.L.SetTime(at)
	return l
}

func args(fn string, in ...any) []string {
	out := []string{fn}
	for _, a := range in {
		if s, ok := a.(string); ok {
			out = append(out, s)
			continue
		}
		b, _ := json.Marshal(a)
		out = append(out, string(b))
	}
	return out
}

// call submits (write) or evaluates a function as id and decodes the
// answer into out; a refusal becomes a *routing.Error with the kind the
// ledger client would give it.
func (l *Ledger) call(id *devcrypto.Identity, write bool, out any, fn string, in ...any) error {
	tx := fabsim.Tx{Creator: fabsim.Identity{MSPID: id.MSPID, CertPEM: id.CertPEM}, Args: args(fn, in...)}
	var r *fabsim.Result
	if write {
		r = l.L.Invoke(l.cc, tx)
	} else {
		r = l.L.Evaluate(l.cc, tx)
	}
	if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
		msg := r.Response.GetMessage()
		kind := map[model.Code]routing.Kind{model.CodeInvalid: routing.KindInvalid, model.CodeNotFound: routing.KindNotFound,
			model.CodeForbidden: routing.KindForbidden, model.CodeConflict: routing.KindConflict}[model.CodeOf(errors.New(msg))]
		if kind == "" {
			kind = routing.KindInternal
		}
		return &routing.Error{Kind: kind, Op: "ledger." + fn, Message: msg}
	}
	if write && r.Event != nil {
		var cs model.ChangeSet
		_ = json.Unmarshal(r.Event.Payload, &cs)
		l.mu.Lock()
		l.events = append(l.events, cs)
		l.mu.Unlock()
	}
	if out == nil {
		return nil
	}
	if p := r.Response.GetPayload(); len(p) > 0 {
		if s, ok := out.(*string); ok && p[0] != '"' {
			*s = string(p)
			return nil
		}
		return json.Unmarshal(p, out)
	}
	return nil
}

// Events returns and forgets the change sets committed so far.
func (l *Ledger) Events() []model.ChangeSet {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events
	l.events = nil
	return ev
}

func one[T any](l *Ledger, id *devcrypto.Identity, write bool, fn string, in ...any) (*T, error) {
	var v T
	if err := l.call(id, write, &v, fn, in...); err != nil {
		return nil, err
	}
	return &v, nil
}

// GetDepartment implements credential.Ledger.
func (l *Ledger) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	return one[model.Department](l, l.Agent, false, model.FnGetDepartment, id)
}

// GetDataType implements credential.Ledger.
func (l *Ledger) GetDataType(_ context.Context, code string) (*model.DataType, error) {
	return one[model.DataType](l, l.Agent, false, model.FnGetDataType, code)
}

// GetEID implements credential.Ledger.
func (l *Ledger) GetEID(_ context.Context, eid string) (*model.Identity, error) {
	return one[model.Identity](l, l.Agent, false, model.FnGetEID, eid)
}

// GetRoutes implements credential.Ledger.
func (l *Ledger) GetRoutes(_ context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	v, err := one[[]model.RouteEntry](l, l.Agent, false, model.FnGetRoutes, eid, dataType)
	if err != nil {
		return nil, err
	}
	return *v, nil
}

// GetRouteHistory implements credential.Ledger. fabsim keeps no history
// index, so the history is the current entry.
func (l *Ledger) GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	v, err := one[[]model.RouteHistoryEntry](l, l.Agent, false, model.FnGetRouteHistory, eid, dataType, provider)
	if err != nil {
		return nil, err
	}
	return *v, nil
}

// PublishRoutes implements credential.Ledger (the agent relays).
func (l *Ledger) PublishRoutes(_ context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	v, err := one[[]model.RouteOutcome](l, l.Agent, true, model.FnPublishRoutes, batch)
	if err != nil {
		return nil, err
	}
	return *v, nil
}

// AnchorStatusList implements credential.Ledger.
func (l *Ledger) AnchorStatusList(_ context.Context, a model.StatusListAnchor) (*model.StatusListAnchor, error) {
	return one[model.StatusListAnchor](l, l.Agent, true, model.FnAnchorStatusList, a)
}

// GetStatusListAnchor implements credential.Ledger.
func (l *Ledger) GetStatusListAnchor(_ context.Context, issuer, listID string) (*model.StatusListAnchor, error) {
	return one[model.StatusListAnchor](l, l.Agent, false, model.FnGetStatusListAnchor, issuer, listID)
}

// RegisterDepartment registers a department with one fresh signing key
// (kid <id>-k1) and returns the key.
func (l *Ledger) RegisterDepartment(id string) *ecdsa.PrivateKey {
	l.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	d := model.Department{ID: id, Name: "部门 " + id, MSPID: strings.ReplaceAll(id, "-", "") + "MSP",
		SigningKeys: []model.SigningKey{{KID: id + "-k1", PublicKeyPEM: pemText}}}
	if err := l.call(l.Admin, true, nil, model.FnRegisterDepartment, d); err != nil {
		l.t.Fatal(err)
	}
	return key
}

// UpdateDepartment replaces a department (admin).
func (l *Ledger) UpdateDepartment(d model.Department) {
	l.t.Helper()
	if err := l.call(l.Admin, true, nil, model.FnUpdateDepartment, d); err != nil {
		l.t.Fatal(err)
	}
}

// RevokeKey revokes a department key (admin).
func (l *Ledger) RevokeKey(dept, kid, reason string) {
	l.t.Helper()
	if err := l.call(l.Admin, true, nil, model.FnRevokeSigningKey, dept, kid, reason); err != nil {
		l.t.Fatal(err)
	}
}

// RegisterDataType registers a data type (admin).
func (l *Ledger) RegisterDataType(dt model.DataType) {
	l.t.Helper()
	if err := l.call(l.Admin, true, nil, model.FnRegisterDataType, dt); err != nil {
		l.t.Fatal(err)
	}
}

// NewEID creates an eID with one synthetic blinded index.
func (l *Ledger) NewEID(n byte) string {
	l.t.Helper()
	v := strings.Repeat(string("0123456789abcdef"[n%16]), 63) + "1"
	id, err := one[model.Identity](l, l.Agent, true, model.FnCreateEID, []model.BlindedIndex{{KeyVersion: "v1", Value: v}})
	if err != nil {
		l.t.Fatal(err)
	}
	return id.ID
}
