package chaincode_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

// rerun returns a fresh ledger and chaincode with the same identities as e,
// so the same calls produce the same transaction ids.
func (e *env) rerun() *env {
	cc, err := chaincode.NewChaincode("")
	if err != nil {
		e.t.Fatal(err)
	}
	c := *e
	c.l = fabsim.NewLedger("eidgate", "eidgate")
	c.l.SetTime(e.l.Now())
	c.cc = cc
	return &c
}

// TestDeterministicState replays one scenario touching every write function
// on two ledgers and requires identical responses, events and state bytes.
func TestDeterministicState(t *testing.T) {
	t.Parallel()
	first := newEnv(t)
	edu, hr := first.newDept("edu"), first.newDept("hr")
	start := first.l.Now()
	signed := map[string]model.SignedRoute{} // route signatures are randomised; reuse them
	passkey := passkeytest.New(passkeytest.ES256, []byte("b"))
	approvals := map[string]model.PasskeyApproval{}
	approval := func(kind string, cs model.Consent, signer string) model.PasskeyApproval {
		k := kind + cs.ID
		if a, ok := approvals[k]; ok {
			return a
		}
		approvals[k] = approve(t, kind, cs, signer, passkey, nonce(kind), passkeytest.Options{})
		return approvals[k]
	}
	ruleApproval := func(kind string, r model.StandingRule, signer string) model.PasskeyApproval {
		k := kind + r.ID
		if a, ok := approvals[k]; ok {
			return a
		}
		approvals[k] = approveRule(t, kind, r, signer, passkey, nonce(kind), passkeytest.Options{})
		return approvals[k]
	}
	sign := func(e *env, d *dept, st model.RouteStatement) model.SignedRoute {
		k := string(st.Canonical())
		if s, ok := signed[k]; ok {
			return s
		}
		signed[k] = e.sign(d, st)
		return signed[k]
	}

	scenario := func(e *env) [][]byte {
		var trace [][]byte
		call := func(id *devcrypto.Identity, fn string, in ...any) *fabsim.Result {
			r := e.invoke(id, fn, in...)
			if r.Response.GetStatus() >= shim.ERRORTHRESHOLD {
				t.Fatalf("%s: %s", fn, r.Response.GetMessage())
			}
			trace = append(trace, []byte(r.TxID), r.Response.GetPayload())
			if r.Event != nil {
				trace = append(trace, r.Event.Payload)
			}
			e.l.Advance(1500 * time.Millisecond)
			return r
		}
		admin, agent := e.admin, e.agent
		call(admin, model.FnRegisterDepartment, edu.record())
		call(admin, model.FnRegisterDepartment, hr.record())
		call(admin, model.FnRegisterDataType, model.DataType{Code: "edu.degree", Name: "学历", Schema: `{"type":"object"}`, Owners: []string{"edu"}})
		call(admin, model.FnUpdateDataType, model.DataType{Code: "edu.degree", Name: "学历学位", Schema: `{}`, Owners: []string{"edu", "hr"}})
		var items []model.EIDRequest
		for i := 0; i < 50; i++ {
			items = append(items, model.EIDRequest{Ref: fmt.Sprint(i), Indexes: []model.BlindedIndex{index(i), index(100 + i)}})
		}
		out := decode[[]model.EIDOutcome](t, call(agent, model.FnCreateEIDs, items))
		a, b := out[0].EID, out[1].EID
		c := decode[model.Identity](t, call(agent, model.FnCreateEID, []model.BlindedIndex{index(500)})).ID
		call(agent, model.FnAddDocumentIndex, a, index(501))
		call(agent, model.FnRemoveDocumentIndex, a, index(100))
		call(edu.User, model.FnLinkAccount, a, "edu", accountHash("a"))
		call(agent, model.FnLinkAccount, b, "hr", accountHash("b"))
		call(agent, model.FnMergeEID, a, b, "dup")
		call(agent, model.FnDeactivateEID, c, "deceased")
		call(admin, model.FnUnlinkAccount, b, "hr")
		var batch []model.SignedRoute
		for _, o := range out[2:] {
			batch = append(batch, sign(e, edu, stmt(o.EID, "edu.degree", "edu", 1, o.EID)))
		}
		call(agent, model.FnPublishRoutes, batch)
		call(edu.User, model.FnPublishRoute, sign(e, edu, stmt(b, "edu.degree", "edu", 3, "b")))
		call(edu.User, model.FnRevokeRoute, b, "edu.degree", "edu", "corrected")
		req := model.ConsentRequest{EID: b, Requester: "hr", Provider: "edu", DataTypes: []string{"edu.degree"}, PurposeCode: "hiring", ValidUntil: "2026-04-01T00:00:00Z", MaxUses: 5}
		cs1 := decode[model.Consent](t, call(hr.User, model.FnRequestConsent, req))
		cs2 := decode[model.Consent](t, call(agent, model.FnRequestConsent, req))
		cs3 := decode[model.Consent](t, call(agent, model.FnRequestConsent, req))
		call(agent, model.FnGrantConsent, cs1.ID, "portal")
		call(agent, model.FnDenyConsent, cs2.ID, "counter")
		call(agent, model.FnGrantConsent, cs3.ID, "portal")
		call(agent, model.FnRevokeConsent, cs3.ID)
		call(agent, model.FnRegisterPasskey, registration(b, passkey))
		cs4 := decode[model.Consent](t, call(agent, model.FnRequestConsent, req))
		cs4 = decode[model.Consent](t, call(agent, model.FnGrantConsentSigned, cs4.ID, approval(model.StatementConsentGrant, cs4, b)))
		call(agent, model.FnRevokeConsentSigned, cs4.ID, approval(model.StatementConsentRevoke, cs4, b))
		hrRoles := hr.record()
		hrRoles.Roles = []string{"employer-hr"}
		call(admin, model.FnUpdateDepartment, hrRoles)
		draft := model.RuleDraft{EID: b, Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"}, PurposeCode: "hiring",
			ValidFrom: "2026-03-01T09:00:00Z", ValidUntil: "2026-05-01T00:00:00Z"}
		signedRule := decode[model.StandingRule](t, call(agent, model.FnCreateStandingRuleSigned, draft,
			ruleApproval(model.StatementRuleCreate, draftRule(draft), b)))
		call(agent, model.FnRevokeStandingRuleSigned, signedRule.ID, ruleApproval(model.StatementRuleRevoke, signedRule, b))
		call(agent, model.FnRetirePasskeys, b, []string{}, "lost")
		rule := decode[model.StandingRule](t, call(agent, model.FnCreateStandingRule, model.RuleDraft{EID: b, Departments: []string{"hr", "edu"},
			DataTypes: []string{"edu.degree"}, PurposeCode: "hiring", ValidUntil: "2026-05-01T00:00:00Z", MaxUses: 3}))
		call(agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "b1", MerkleRoot: root("b1"), Count: 3, FirstSeq: 1, LastSeq: 3,
			ConsentUses: []model.ConsentUse{{ConsentID: cs1.ID, Uses: 2}, {ConsentID: rule.ID, Uses: 1}}})
		call(agent, model.FnRevokeStandingRule, rule.ID)
		dp := decode[model.Dispute](t, call(agent, model.FnRaiseDispute, model.DisputeDraft{AccessID: "acc_00000000000000000000000000000001",
			EID: b, Department: "hr", BatchID: "b1", LeafHash: root("leaf"), Reason: "unexpected", TextDigest: root("why")}))
		call(agent, model.FnAnswerDispute, model.DisputeAnswer{ID: dp.ID, Department: "hr", Official: "o1", AnswerDigest: root("because")})
		call(agent, model.FnCloseDispute, model.DisputeClosing{ID: dp.ID, Outcome: model.DisputeDismissed, Official: "o2", OutcomeDigest: root("fine")})
		call(admin, model.FnSetDepartmentStatus, "hr", model.DepartmentSuspended, "audit")
		call(admin, model.FnUpdateDepartment, edu.record())
		call(agent, model.FnAnchorStatusList, model.StatusListAnchor{Issuer: "edu", ListID: "r1", Purpose: model.StatusRevocation,
			Version: 1, Digest: digest("list"), Size: model.MinStatusListSize})
		call(edu.User, model.FnRevokeSigningKey, "edu", edu.KID, "leaked")
		e.l.Advance(40 * 24 * time.Hour)
		call(agent, model.FnExpireConsents, []string{cs1.ID, cs2.ID})
		return trace
	}

	t1 := scenario(first)
	second := first.rerun()
	second.l.SetTime(start)
	t2 := scenario(second)
	if len(t1) != len(t2) {
		t.Fatalf("trace lengths %d and %d", len(t1), len(t2))
	}
	for i := range t1 {
		if !bytes.Equal(t1[i], t2[i]) {
			t.Fatalf("trace item %d differs:\n%s\n%s", i, t1[i], t2[i])
		}
	}
	if h1, h2 := first.l.StateHash(), second.l.StateHash(); h1 != h2 {
		t.Fatalf("state hashes differ: %s vs %s", h1, h2)
	}
}
