package chaincode_test

import (
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

func (e *consentEnv) rule(f func(*model.RuleDraft)) model.StandingRule {
	d := model.RuleDraft{EID: e.a, Departments: []string{"hr", "civil"}, DataTypes: []string{"edu.degree"},
		PurposeCode: "hiring.verify", Note: "employers may check my degree", ValidUntil: "2026-09-01T00:00:00Z", MaxUses: 2}
	if f != nil {
		f(&d)
	}
	return decode[model.StandingRule](e.t, e.ok(e.agent, model.FnCreateStandingRule, d))
}

func TestStandingRules(t *testing.T) {
	e := newConsentEnv(t)
	r := e.ok(e.agent, model.FnCreateStandingRule, model.RuleDraft{EID: e.a, Departments: []string{"hr"},
		DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T00:00:00Z"})
	sr := decode[model.StandingRule](t, r)
	if sr.ID != model.DeriveRuleID(r.TxID) || sr.Status != model.RuleActive || sr.ValidFrom != "2026-03-01T09:00:00Z" ||
		sr.Assurance != model.AssurancePassword || sr.CreatedBy != platformMSP+"/agent" {
		t.Fatalf("rule: %+v", sr)
	}
	if got := changes(t, r); len(got) != 1 || got[0] != (model.Change{Kind: model.KindRule, Op: model.OpCreated, ID: sr.ID, EID: e.a}) {
		t.Fatalf("event: %+v", got)
	}
	other := e.rule(nil)
	lr := e.ok(e.agent, model.FnListStandingRulesByEID, e.a)
	list := decode[[]model.StandingRule](t, lr)
	if len(list) != 2 {
		t.Fatalf("list: %+v %s", list, text(lr))
	}

	// Revoked, it stays listed as revoked, and cannot be revoked twice.
	rv := decode[model.StandingRule](t, e.ok(e.agent, model.FnRevokeStandingRule, sr.ID))
	if rv.Status != model.RuleRevoked || rv.RevokedAt == "" {
		t.Fatalf("revoked: %+v", rv)
	}
	e.fail(e.agent, model.CodeConflict, []string{"is revoked"}, model.FnRevokeStandingRule, sr.ID)

	// Uses are counted when the accesses are anchored, up to max_uses.
	batch := model.AccessAnchor{BatchID: "gw1-000009", MerkleRoot: root("r1"), Count: 2, FirstSeq: 1, LastSeq: 2,
		ConsentUses: []model.ConsentUse{{ConsentID: other.ID, Uses: 2}}}
	e.ok(e.agent, model.FnAnchorAccessBatch, batch)
	list = decode[[]model.StandingRule](t, e.ok(e.agent, model.FnListStandingRulesByEID, e.a))
	for _, l := range list {
		if l.ID == other.ID && l.Uses != 2 {
			t.Fatalf("uses: %+v", l)
		}
	}
	over := model.AccessAnchor{BatchID: "gw1-000010", MerkleRoot: root("r2"), Count: 1, FirstSeq: 3, LastSeq: 3,
		ConsentUses: []model.ConsentUse{{ConsentID: other.ID, Uses: 1}}}
	e.fail(e.agent, model.CodeConflict, []string{"more than its max_uses 2"}, model.FnAnchorAccessBatch, over)

	base := model.RuleDraft{EID: e.a, Departments: []string{"hr"}, DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T00:00:00Z"}
	with := func(f func(*model.RuleDraft)) model.RuleDraft { d := base; f(&d); return d }
	for _, c := range []struct {
		name  string
		draft model.RuleDraft
		code  model.Code
		want  string
	}{
		{"unknown department", with(func(d *model.RuleDraft) { d.Departments = []string{"tax"} }), model.CodeNotFound, "tax is not registered"},
		{"no department", with(func(d *model.RuleDraft) { d.Departments = nil }), model.CodeInvalid, "departments"},
		{"twice", with(func(d *model.RuleDraft) { d.Departments = []string{"hr", "hr"} }), model.CodeInvalid, "listed twice"},
		{"unknown data type", with(func(d *model.RuleDraft) { d.DataTypes = []string{"edu.none"} }), model.CodeNotFound, "edu.none"},
		{"uncatalogued question", with(func(d *model.RuleDraft) { d.DataTypes = []string{"edu.degree#no_such_question"} }), model.CodeNotFound, "catalogues no predicate"},
		{"past", with(func(d *model.RuleDraft) { d.ValidUntil = "2026-02-01T00:00:00Z" }), model.CodeInvalid, "valid_until"},
		{"bad purpose", with(func(d *model.RuleDraft) { d.PurposeCode = "Hiring" }), model.CodeInvalid, "purpose_code"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(e.agent, c.code, []string{c.want}, model.FnCreateStandingRule, c.draft)
		})
	}
	e.t = t
	// Only the agent writes rules; a department cannot read a resident's.
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnCreateStandingRule, base)
	e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnRevokeStandingRule, other.ID)
	e.fail(e.hr.User, model.CodeForbidden, nil, model.FnListStandingRulesByEID, e.a)
	e.fail(e.agent, model.CodeNotFound, []string{"does not exist"}, model.FnRevokeStandingRule, model.DeriveRuleID("nothing"))
}

func TestStandingRuleSigned(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	c, pk := e.addPasskey(e.a, passkeytest.ES256)
	d := model.RuleDraft{EID: e.a, Departments: []string{"civil"}, Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"},
		PurposeCode: "hiring.verify", Note: "employers may check my degree", ValidFrom: "2026-03-01T09:00:00Z",
		ValidUntil: "2026-09-01T00:00:00Z", MaxUses: 5}
	a := approveRule(t, model.StatementRuleCreate, draftRule(d), e.a, c, nonce("create"), passkeytest.Options{})

	// Other terms than those signed, someone else's key, a missing
	// valid_from: refused, nothing written.
	wider := d
	wider.MaxUses = 0
	e.fail(e.agent, model.CodeInvalid, []string{model.AssertionWrongChallenge}, model.FnCreateStandingRuleSigned, wider, a)
	noFrom := d
	noFrom.ValidFrom = ""
	e.fail(e.agent, model.CodeInvalid, []string{"valid_from is required"}, model.FnCreateStandingRuleSigned, noFrom, a)
	oc, _ := e.addPasskey(e.b, passkeytest.ES256)
	e.fail(e.agent, model.CodeForbidden, []string{model.AssertionKeyOfOtherSigner}, model.FnCreateStandingRuleSigned, d,
		approveRule(t, model.StatementRuleCreate, draftRule(d), e.b, oc, nonce("create"), passkeytest.Options{}))
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnCreateStandingRuleSigned, d, a)
	if l := decode[[]model.StandingRule](t, e.ok(e.agent, model.FnListStandingRulesByEID, e.a)); len(l) != 0 {
		t.Fatalf("refused signatures wrote rules: %+v", l)
	}

	r := decode[model.StandingRule](t, e.ok(e.agent, model.FnCreateStandingRuleSigned, d, a))
	if r.Assurance != model.AssurancePasskey || r.Signature == nil || r.Signature.Key != pk.ID ||
		r.Signature.Statement != model.StatementRuleCreate || r.Signature.SignedAt != r.CreatedAt {
		t.Fatalf("signed rule: %+v", r)
	}
	// The signature verifies from the record alone: the statement rebuilt
	// from the rule's terms has the recorded digest.
	if _, err := model.CheckApproval(pk, model.RuleStatement(model.StatementRuleCreate, r, e.a, r.Signature.Nonce),
		r.Signature.Approval(), r.Signature.SignedAt); err != nil {
		t.Fatalf("rebuilt statement does not verify: %v", err)
	}
	// One signature, one rule.
	e.fail(e.agent, model.CodeConflict, []string{"already created standing rule " + r.ID}, model.FnCreateStandingRuleSigned, d, a)

	// Revocation: a creation's signature or another rule's terms do not
	// revoke it; the resident's signature over its terms does.
	e.fail(e.agent, model.CodeInvalid, []string{model.AssertionWrongChallenge}, model.FnRevokeStandingRuleSigned, r.ID, a)
	rv := decode[model.StandingRule](t, e.ok(e.agent, model.FnRevokeStandingRuleSigned, r.ID,
		approveRule(t, model.StatementRuleRevoke, r, e.a, c, nonce("revoke"), passkeytest.Options{})))
	if rv.Status != model.RuleRevoked || rv.RevokeAssurance != model.AssurancePasskey || rv.RevokeSignature == nil ||
		rv.RevokedWith() != model.AssurancePasskey || rv.Signature == nil {
		t.Fatalf("revoked: %+v", rv)
	}
	pw := e.rule(nil)
	pw = decode[model.StandingRule](t, e.ok(e.agent, model.FnRevokeStandingRule, pw.ID))
	if pw.RevokedWith() != model.AssurancePassword || pw.RevokeSignature != nil {
		t.Fatalf("password-only revocation: %+v", pw)
	}
}

func TestStandingRuleRolesAndReading(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	// A role needs no registered holder to be named, but it must be well
	// formed; a rule names at least one department or role.
	r := e.rule(func(d *model.RuleDraft) { d.Departments, d.Roles = nil, []string{"employer-hr"} })
	if len(r.Departments) != 0 || len(r.Roles) != 1 {
		t.Fatalf("rule: %+v", r)
	}
	e.fail(e.agent, model.CodeInvalid, []string{"roles[0]"}, model.FnCreateStandingRule,
		model.RuleDraft{EID: e.a, Roles: []string{"HR"}, DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T00:00:00Z"})
	e.fail(e.agent, model.CodeInvalid, []string{"departments and roles"}, model.FnCreateStandingRule,
		model.RuleDraft{EID: e.a, DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T00:00:00Z"})

	// A department reads only the rules that name it: hr holds no role
	// yet; once the registry gives it employer-hr, it may.
	e.fail(e.hr.User, model.CodeForbidden, []string{"does not name department hr"}, model.FnGetStandingRule, r.ID)
	rec := e.hr.record()
	rec.Roles = []string{"employer-hr"}
	dept := decode[model.Department](t, e.ok(e.admin, model.FnUpdateDepartment, rec))
	if len(dept.Roles) != 1 {
		t.Fatalf("department roles not kept: %+v", dept)
	}
	if got := decode[model.StandingRule](t, e.ok(e.hr.User, model.FnGetStandingRule, r.ID)); got.ID != r.ID {
		t.Fatalf("GetStandingRule: %+v", got)
	}
	e.ok(e.agent, model.FnGetStandingRule, r.ID)
	e.fail(e.edu.User, model.CodeForbidden, nil, model.FnGetStandingRule, r.ID)
	e.fail(e.agent, model.CodeNotFound, nil, model.FnGetStandingRule, model.DeriveRuleID("none"))
	e.fail(e.agent, model.CodeInvalid, nil, model.FnGetStandingRule, "cs-1")
	bad := e.hr.record()
	bad.Roles = []string{"Employer HR"}
	e.fail(e.admin, model.CodeInvalid, []string{"roles[0]"}, model.FnUpdateDepartment, bad)
}
