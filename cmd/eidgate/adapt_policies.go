package main

import (
	"context"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// policyAdmin presents the Casbin engine as the gateway's Policies: rules
// ("p") and role memberships ("g") in one list.
type policyAdmin struct{ e *policies.Engine }

var _ gateway.Policies = policyAdmin{}

func (p policyAdmin) Explain(ctx context.Context, department, dataType, purpose string) (*gateway.Explanation, error) {
	x, err := p.e.Explain(ctx, department, dataType, purpose)
	if err != nil {
		return nil, err
	}
	out := &gateway.Explanation{Allowed: x.Allowed, Rule: x.Rule, Version: x.Version, Reason: x.Reason, Matched: []gateway.PolicyRule{}}
	for _, m := range x.Matched {
		out.Matched = append(out.Matched, ruleView(m.Rule))
	}
	return out, nil
}

func ruleView(r policies.Rule) gateway.PolicyRule {
	return gateway.PolicyRule{Kind: "p", Subject: r.Subject, Object: r.DataType, Action: r.Purpose, Effect: r.Effect}
}

func (p policyAdmin) Rules(ctx context.Context) ([]gateway.PolicyRule, error) {
	l, err := p.e.Rules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.PolicyRule, 0, len(l.Rules)+len(l.Roles))
	for _, r := range l.Rules {
		out = append(out, ruleView(r))
	}
	for _, m := range l.Roles {
		out = append(out, gateway.PolicyRule{Kind: "g", Subject: m.Member, Role: m.Role})
	}
	return out, nil
}

func (p policyAdmin) change(ctx context.Context, r gateway.PolicyRule, by string, add bool) (int64, error) {
	switch r.Kind {
	case "p", "":
		rule := policies.Rule{Subject: r.Subject, DataType: r.Object, Purpose: r.Action, Effect: r.Effect}
		if add {
			return p.e.AddRule(ctx, by, rule)
		}
		return p.e.RemoveRule(ctx, by, rule)
	case "g":
		m := policies.RoleMapping{Member: r.Subject, Role: r.Role}
		if add {
			return p.e.AddRole(ctx, by, m)
		}
		return p.e.RemoveRole(ctx, by, m)
	}
	return 0, routing.Invalid("policies", "kind", `kind must be "p" (rule) or "g" (role membership)`)
}

func (p policyAdmin) AddRule(ctx context.Context, r gateway.PolicyRule, by string) (int64, error) {
	return p.change(ctx, r, by, true)
}

func (p policyAdmin) RemoveRule(ctx context.Context, r gateway.PolicyRule, by string) (int64, error) {
	return p.change(ctx, r, by, false)
}

func (p policyAdmin) History(ctx context.Context, limit int) ([]gateway.PolicyVersion, error) {
	vs, err := p.e.History(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.PolicyVersion, len(vs))
	for i, v := range vs {
		out[i] = gateway.PolicyVersion{Version: v.Version, ChangedBy: v.ChangedBy, Summary: v.Summary, CreatedAt: v.CreatedAt}
	}
	return out, nil
}
