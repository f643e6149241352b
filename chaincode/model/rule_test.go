package model_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

func TestRuleDraftValidate(t *testing.T) {
	good := model.RuleDraft{EID: model.DeriveEID("tx", 1), Departments: []string{"hr", "civil"}, DataTypes: []string{"edu.degree", "edu.degree#is_bachelor"},
		PurposeCode: "hiring.verify", Note: "employers may check my degree", ValidUntil: "2026-04-01T00:00:00+08:00"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good draft: %v", err)
	}
	cases := []struct {
		f     func(*model.RuleDraft)
		field string
	}{
		{func(d *model.RuleDraft) { d.EID = "did:web:x" }, "eid"},
		{func(d *model.RuleDraft) { d.Departments = nil }, "departments"},
		{func(d *model.RuleDraft) { d.Roles = []string{"Hospital"} }, "roles[0]"},
		{func(d *model.RuleDraft) { d.Roles = []string{"hospital", "hospital"} }, "roles[1]"},
		{func(d *model.RuleDraft) { d.Departments = []string{"*"} }, "departments[0]"},
		{func(d *model.RuleDraft) { d.Departments = []string{"hr", "hr"} }, "departments[1]"},
		{func(d *model.RuleDraft) { d.DataTypes = nil }, "data_types"},
		{func(d *model.RuleDraft) { d.DataTypes = []string{"edu.degree", "edu.degree"} }, "data_types[1]"},
		{func(d *model.RuleDraft) { d.DataTypes = []string{"EDU"} }, "data_types[0]"},
		{func(d *model.RuleDraft) { d.PurposeCode = "x" }, "purpose_code"},
		{func(d *model.RuleDraft) { d.Note = "line\nbreak" }, "note"},
		{func(d *model.RuleDraft) { d.ValidFrom = "2026-13-01T00:00:00Z" }, "valid_from"},
		{func(d *model.RuleDraft) { d.ValidUntil = "" }, "valid_until"},
		{func(d *model.RuleDraft) { d.ValidFrom = "2026-04-01T00:00:00+08:00" }, "after valid_from"},
	}
	for i, c := range cases {
		d := good
		c.f(&d)
		err := d.Validate()
		if model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("case %d: %v, want INVALID naming %s", i, err, c.field)
		}
	}
}

func TestStandingRuleAllows(t *testing.T) {
	base := model.StandingRule{ID: model.DeriveRuleID("tx"), EID: model.DeriveEID("tx", 0), Departments: []string{"hr", "civil"},
		DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidFrom: "2026-03-01T00:00:00Z",
		ValidUntil: "2026-04-01T00:00:00Z", MaxUses: 3, Uses: 2, Status: model.RuleActive}
	at := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	with := func(f func(*model.StandingRule)) model.StandingRule { r := base; f(&r); return r }
	cases := []struct {
		name      string
		r         model.StandingRule
		requester string
		dataType  string
		purpose   string
		at        time.Time
		reason    string
	}{
		{"allowed", base, "civil", "edu.degree", "hiring.verify", at, ""},
		{"a question about the record", base, "hr", "edu.degree#is_bachelor", "hiring.verify", at, ""},
		{"first second", base, "hr", "edu.degree", "hiring.verify", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"unlimited", with(func(r *model.StandingRule) { r.MaxUses, r.Uses = 0, 1000 }), "hr", "edu.degree", "hiring.verify", at, ""},
		{"revoked", with(func(r *model.StandingRule) { r.Status = model.RuleRevoked }), "hr", "edu.degree", "hiring.verify", at, model.DenyNotActive},
		{"department not named", base, "tax", "edu.degree", "hiring.verify", at, model.DenyWrongRequester},
		{"named by its role", with(func(r *model.StandingRule) { r.Roles = []string{"hospital"} }), "city-hospital", "edu.degree", "hiring.verify", at, ""},
		{"a role the rule does not name", with(func(r *model.StandingRule) { r.Roles = []string{"employer-hr"} }), "city-hospital", "edu.degree", "hiring.verify", at, model.DenyWrongRequester},
		{"other data type", base, "hr", "edu.transcript", "hiring.verify", at, model.DenyDataType},
		{"other purpose", base, "hr", "edu.degree", "marketing", at, model.DenyPurpose},
		{"too early", base, "hr", "edu.degree", "hiring.verify", time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), model.DenyNotYetValid},
		{"too late", base, "hr", "edu.degree", "hiring.verify", time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC), model.DenyExpired},
		{"used up", with(func(r *model.StandingRule) { r.Uses = 3 }), "hr", "edu.degree", "hiring.verify", at, model.DenyUsesExhausted},
		{"unreadable window", with(func(r *model.StandingRule) { r.ValidFrom = "soon" }), "hr", "edu.degree", "hiring.verify", at, model.DenyBadWindow},
	}
	for _, c := range cases {
		var roles []string
		if c.requester == "city-hospital" {
			roles = []string{"hospital", "research"}
		}
		ok, reason := c.r.Allows(c.requester, roles, c.dataType, c.purpose, c.at)
		if ok != (c.reason == "") || reason != c.reason {
			t.Errorf("%s: Allows = %v %q, want reason %q", c.name, ok, reason, c.reason)
		}
	}
}
