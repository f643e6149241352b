package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

func (e *env) rules(t *testing.T) *routing.RuleService {
	t.Helper()
	return must[*routing.RuleService](t)(routing.NewRuleService(routing.RuleConfig{Ledger: e.ledger, Dir: e.dir, Policy: e.policy, Clock: e.clock}))
}

// A standing rule lets a matching resolve through without a request; the
// access record names the rule and its uses are counted; other
// departments, purposes and a revoked rule get nothing from it.
func TestStandingRuleAllowsResolve(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rules := e.rules(t)
	r, err := rules.Create(ctx, eidAlice, routing.RuleDraft{Departments: []string{"hrss"}, DataTypes: []string{"edu.degree"},
		PurposeCode: "employment", Note: "employers may check my degree", ValidUntil: e.clock.Now().Add(90 * 24 * time.Hour), MaxUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.resolver.Resolve(ctx, req(eidAlice))
	if err != nil {
		t.Fatalf("resolve under the rule: %v", err)
	}
	rec, err := e.store.GetAccess(ctx, res.AccessID)
	if err != nil || res.ConsentID != r.ID || rec.ConsentID != r.ID || rec.Reason != "standing rule" || rec.Outcome != routing.OutcomeIssued {
		t.Fatalf("result %+v record %+v %v", res, rec, err)
	}
	if ids := e.consentIDs(t, eidAlice); len(ids) != 0 {
		t.Fatalf("a request was opened: %v", ids)
	}
	if _, err := e.resolver.Resolve(ctx, req(eidAlice)); err != nil {
		t.Fatal(err)
	}
	// Two uses allowed: the third needs consent.
	if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "consent_required" {
		t.Fatalf("third use: %v", err)
	}

	other := req(eidAlice)
	other.Requester = "edu-bureau"
	e.policy.allow["edu-bureau|edu.degree|employment"] = true
	if _, err := e.resolver.Resolve(ctx, other); routing.CodeOf(err) != "consent_required" {
		t.Fatalf("a department the rule does not name: %v", err)
	}
}

func TestStandingRuleRevokedAndRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rules := e.rules(t)
	draft := routing.RuleDraft{Departments: []string{"hrss"}, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
		ValidUntil: e.clock.Now().Add(24 * time.Hour)}
	r, err := rules.Create(ctx, eidAlice, draft)
	if err != nil {
		t.Fatal(err)
	}
	// Another resident cannot revoke it; its owner can, once.
	if _, err := rules.Revoke(ctx, eidBob, r.ID); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("bob revoked alice's rule: %v", err)
	}
	if _, err := rules.Revoke(ctx, eidAlice, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Revoke(ctx, eidAlice, r.ID); routing.CodeOf(err) != "rule_state" {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "consent_required" {
		t.Fatalf("a revoked rule was used: %v", err)
	}
	list, err := rules.ListForResident(ctx, eidAlice)
	if err != nil || len(list) != 1 || list[0].EffectiveStatus != "revoked" {
		t.Fatalf("list %+v %v", list, err)
	}

	for _, tc := range []struct {
		name, field, code string
		edit              func(d *routing.RuleDraft)
	}{
		{"policy never allows", "", "policy_denied", func(d *routing.RuleDraft) { d.PurposeCode = "marketing" }},
		{"unknown department", "departments", "invalid", func(d *routing.RuleDraft) { d.Departments = []string{"nobody"} }},
		{"no data type", "data_types", "invalid", func(d *routing.RuleDraft) { d.DataTypes = nil }},
		{"past", "valid_until", "invalid", func(d *routing.RuleDraft) { d.ValidUntil = e.clock.Now().Add(-time.Hour) }},
	} {
		d := draft
		tc.edit(&d)
		_, err := rules.Create(ctx, eidAlice, d)
		re := asError(t, err)
		if re.Code != tc.code && string(re.Kind) != tc.code || re.Field != tc.field {
			t.Errorf("%s: %v (field %q)", tc.name, err, re.Field)
		}
	}
	if list, _ := rules.ListForResident(ctx, eidAlice); len(list) != 1 {
		t.Fatalf("a refused rule was recorded: %+v", list)
	}
}

// A rule may name a role the registry gives departments instead of each
// department; the policy still decides first, so a rule never widens it.
func TestStandingRuleByRole(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	hr, err := e.ledger.GetDepartment(ctx, "hrss")
	if err != nil {
		t.Fatal(err)
	}
	hr.Roles = []string{"employer-hr"}
	e.ledger.PutDepartment(*hr)
	rules := e.rules(t)
	draft := routing.RuleDraft{Roles: []string{"employer-hr"}, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
		ValidUntil: e.clock.Now().Add(24 * time.Hour)}
	if _, err := rules.Create(ctx, eidAlice, routing.RuleDraft{Roles: []string{"hospital"}, DataTypes: draft.DataTypes,
		PurposeCode: draft.PurposeCode, ValidUntil: draft.ValidUntil}); asError(t, err).Field != "roles" {
		t.Fatalf("a role nobody holds: %v", err)
	}
	r, err := rules.Create(ctx, eidAlice, draft)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.resolver.Resolve(ctx, req(eidAlice))
	if err != nil || res.ConsentID != r.ID {
		t.Fatalf("resolve by a role holder: %+v %v", res, err)
	}
	other := req(eidAlice)
	other.Requester = "edu-bureau"
	e.policy.allow["edu-bureau|edu.degree|employment"] = true
	if _, err := e.resolver.Resolve(ctx, other); routing.CodeOf(err) != "consent_required" {
		t.Fatalf("a department without the role: %v", err)
	}
	// The policy withdraws hrss's permission: the rule does not override it.
	delete(e.policy.allow, "hrss|edu.degree|employment")
	if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "policy_denied" {
		t.Fatalf("a rule widened the policy: %v", err)
	}
}
