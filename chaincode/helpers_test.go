package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

const platformMSP = "PlatformMSP"

// writeFns are the functions that must set exactly one event.
var writeFns = map[string]bool{
	model.FnRegisterDepartment: true, model.FnUpdateDepartment: true, model.FnSetDepartmentStatus: true,
	model.FnRegisterDataType: true, model.FnUpdateDataType: true,
	model.FnCreateEID: true, model.FnCreateEIDs: true, model.FnAddDocumentIndex: true,
	model.FnRemoveDocumentIndex: true, model.FnMergeEID: true, model.FnDeactivateEID: true,
	model.FnLinkAccount: true, model.FnUnlinkAccount: true,
	model.FnPublishRoute: true, model.FnPublishRoutes: true, model.FnRevokeRoute: true,
	model.FnRequestConsent: true, model.FnGrantConsent: true, model.FnDenyConsent: true,
	model.FnRevokeConsent: true, model.FnExpireConsents: true, model.FnAnchorAccessBatch: true,
	model.FnRevokeSigningKey: true, model.FnAnchorStatusList: true,
	model.FnRegisterPasskey: true, model.FnRetirePasskeys: true,
	model.FnGrantConsentSigned: true, model.FnRevokeConsentSigned: true,
	model.FnCreateStandingRule: true, model.FnRevokeStandingRule: true,
	model.FnCreateStandingRuleSigned: true, model.FnRevokeStandingRuleSigned: true,
	model.FnRaiseDispute: true, model.FnAnswerDispute: true, model.FnCloseDispute: true,
}

// dept is a registered test department: its own MSP, a department identity
// and a route signing key.
type dept struct {
	ID   string
	CA   *devcrypto.CA
	User *devcrypto.Identity
	KID  string
	Key  *ecdsa.PrivateKey
}

// env is a fresh ledger with the platform's admin and agent identities.
type env struct {
	t      testing.TB
	l      *fabsim.Ledger
	cc     shim.Chaincode
	plat   *devcrypto.CA
	admin  *devcrypto.Identity
	agent  *devcrypto.Identity
	nobody *devcrypto.Identity // a platform client without an eidgate role
	depts  map[string]*dept
}

func newEnv(t testing.TB) *env {
	t.Helper()
	cc, err := chaincode.NewChaincode("")
	if err != nil {
		t.Fatalf("NewChaincode: %v", err)
	}
	plat := must(devcrypto.NewCA(platformMSP, "platform.eidgate.local"))
	e := &env{
		t:      t,
		l:      fabsim.NewLedger("eidgate", "eidgate"),
		cc:     cc,
		plat:   plat,
		admin:  issue(t, plat, "admin", map[string]string{model.AttrRole: model.RoleAdmin}),
		agent:  issue(t, plat, "agent", map[string]string{model.AttrRole: model.RoleAgent}),
		nobody: issue(t, plat, "reader", nil),
		depts:  map[string]*dept{},
	}
	e.l.SetTime(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	return e
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func issue(t testing.TB, ca *devcrypto.CA, cn string, attrs map[string]string) *devcrypto.Identity {
	t.Helper()
	id, err := ca.Issue(devcrypto.IssueOptions{CommonName: cn, OU: devcrypto.OUClient, Attrs: attrs})
	if err != nil {
		t.Fatalf("issue %s: %v", cn, err)
	}
	return id
}

// newDept makes the crypto of a department without registering it.
func (e *env) newDept(id string) *dept {
	ca := must(devcrypto.NewCA(mspOf(id), id+".eidgate.local"))
	d := &dept{
		ID:   id,
		CA:   ca,
		User: issue(e.t, ca, id+"-system", map[string]string{model.AttrRole: model.RoleDepartment, model.AttrDepartment: id}),
		KID:  id + "-k1",
		Key:  must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
	}
	e.depts[id] = d
	return d
}

func mspOf(id string) string { return strings.ReplaceAll(id, "-", "") + "MSP" }

func (d *dept) record() model.Department {
	return model.Department{
		ID: d.ID, Name: "部门 " + d.ID, NameEN: "Department " + d.ID, MSPID: d.CA.MSPID,
		Endpoints:   []string{"https://" + d.ID + ".example.gov.cn/eidgate"},
		SigningKeys: []model.SigningKey{{KID: d.KID, PublicKeyPEM: must(model.MarshalPublicKey(&d.Key.PublicKey))}},
	}
}

// addDept registers a department.
func (e *env) addDept(id string) *dept {
	d := e.newDept(id)
	e.ok(e.admin, model.FnRegisterDepartment, d.record())
	return d
}

func (e *env) addDataType(code string, owners ...string) {
	e.ok(e.admin, model.FnRegisterDataType, model.DataType{
		Code: code, Name: "数据 " + code, Schema: `{"type":"object"}`, Owners: owners,
	})
}

// index returns a deterministic blinded index for a test document n.
func index(n int) model.BlindedIndex {
	sum := sha256.Sum256([]byte(fmt.Sprintf("doc-%d", n)))
	return model.BlindedIndex{KeyVersion: "v1", Value: hex.EncodeToString(sum[:])}
}

func accountHash(s string) string {
	sum := sha256.Sum256([]byte("acct-" + s))
	return hex.EncodeToString(sum[:])
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return model.DigestPrefix + hex.EncodeToString(sum[:])
}

// newEID creates an eID holding the documents ns.
func (e *env) newEID(ns ...int) string {
	var idx []model.BlindedIndex
	for _, n := range ns {
		idx = append(idx, index(n))
	}
	return decode[model.Identity](e.t, e.ok(e.agent, model.FnCreateEID, idx)).ID
}

func (e *env) sign(d *dept, st model.RouteStatement) model.SignedRoute {
	s, err := model.SignRoute(d.Key, d.KID, st)
	if err != nil {
		e.t.Fatalf("SignRoute: %v", err)
	}
	return s
}

func stmt(eid, dataType, provider string, version uint64, content string) model.RouteStatement {
	return model.RouteStatement{EID: eid, DataType: dataType, Provider: provider, Version: version,
		Digest: digest(content), Schema: dataType + "/1"}
}

// args renders call arguments: strings as they are, anything else as JSON.
func args(fn string, in ...any) []string {
	out := []string{fn}
	for _, a := range in {
		if s, ok := a.(string); ok {
			out = append(out, s)
			continue
		}
		out = append(out, string(must(json.Marshal(a))))
	}
	return out
}

func tx(id *devcrypto.Identity, fn string, in ...any) fabsim.Tx {
	return fabsim.Tx{Creator: fabsim.Identity{MSPID: id.MSPID, CertPEM: id.CertPEM}, Args: args(fn, in...)}
}

// invoke submits a call and commits it when it was endorsed; a successful
// write is checked to carry exactly one event named after the function.
func (e *env) invoke(id *devcrypto.Identity, fn string, in ...any) *fabsim.Result {
	e.t.Helper()
	r := e.l.Invoke(e.cc, tx(id, fn, in...))
	if r.Response.GetStatus() < shim.ERRORTHRESHOLD {
		if r.Code != peer.TxValidationCode_VALID {
			e.t.Fatalf("%s committed as %v", fn, r.Code)
		}
		checkEvent(e.t, fn, r)
	}
	return r
}

func (e *env) evaluate(id *devcrypto.Identity, fn string, in ...any) *fabsim.Result {
	e.t.Helper()
	return e.l.Evaluate(e.cc, tx(id, fn, in...))
}

func checkEvent(t testing.TB, fn string, r *fabsim.Result) {
	t.Helper()
	if !writeFns[fn] {
		if r.Event != nil {
			t.Errorf("%s (a read) set event %q", fn, r.Event.EventName)
		}
		return
	}
	if r.Event == nil {
		t.Fatalf("%s set no event", fn)
	}
	if r.Event.EventName != fn {
		t.Fatalf("%s set event %q", fn, r.Event.EventName)
	}
	var cs model.ChangeSet
	if err := json.Unmarshal(r.Event.Payload, &cs); err != nil || cs.Changes == nil {
		t.Fatalf("%s event payload %s: %v", fn, r.Event.Payload, err)
	}
}

// ok invokes (writes) or evaluates (reads) a call that must succeed.
func (e *env) ok(id *devcrypto.Identity, fn string, in ...any) *fabsim.Result {
	e.t.Helper()
	var r *fabsim.Result
	if writeFns[fn] {
		r = e.invoke(id, fn, in...)
	} else {
		r = e.evaluate(id, fn, in...)
	}
	if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
		e.t.Fatalf("%s failed: %s", fn, r.Response.GetMessage())
	}
	return r
}

// fail runs a call that must be refused with code and a message containing
// every part of want.
func (e *env) fail(id *devcrypto.Identity, code model.Code, want []string, fn string, in ...any) string {
	e.t.Helper()
	before := e.l.StateHash()
	r := e.invoke(id, fn, in...)
	msg := r.Response.GetMessage()
	if r.Response.GetStatus() < shim.ERRORTHRESHOLD {
		e.t.Fatalf("%s succeeded, want %s %v", fn, code, want)
	}
	if model.CodeOf(errors.New(msg)) != code {
		e.t.Fatalf("%s: message %q, want code %s", fn, msg, code)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			e.t.Fatalf("%s: message %q does not mention %q", fn, msg, w)
		}
	}
	if r.Event != nil {
		e.t.Fatalf("%s: a refused call carries event %q", fn, r.Event.EventName)
	}
	if after := e.l.StateHash(); after != before {
		e.t.Fatalf("%s: a refused call changed the state", fn)
	}
	return msg
}

func decode[T any](t testing.TB, r *fabsim.Result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Response.GetPayload(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, r.Response.GetPayload(), err)
	}
	return v
}

func changes(t testing.TB, r *fabsim.Result) []model.Change {
	t.Helper()
	var cs model.ChangeSet
	if err := json.Unmarshal(r.Event.Payload, &cs); err != nil {
		t.Fatalf("event payload: %v", err)
	}
	return cs.Changes
}

func hasChange(cs []model.Change, want model.Change) bool {
	for _, c := range cs {
		if c == want {
			return true
		}
	}
	return false
}

func writes(r *fabsim.Result) int { return len(r.RWSet.GetWrites()) }

// text is the payload of a function returning a bare string.
func text(r *fabsim.Result) string { return string(r.Response.GetPayload()) }
