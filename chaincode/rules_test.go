package chaincode_test

import (
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
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
