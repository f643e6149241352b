package policies

import (
	"context"
	"slices"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Explanation is a policy decision with the reasoning behind it, for the
// explain endpoint and the admin console. Explaining never records an
// access.
type Explanation struct {
	Department string `json:"department"`
	DataType   string `json:"data_type"`
	Purpose    string `json:"purpose"`

	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`   // the decisive rule, empty when none matched
	Reason  string `json:"reason"` // as in routing.Decision
	Version int64  `json:"policy_version"`

	// Roles are the roles the department holds, directly or through other
	// roles.
	Roles []string `json:"roles"`
	// Matched are every rule that matches the request, allow and deny, in
	// policy order.
	Matched []MatchedRule `json:"matched"`
	// BreakGlass is the break-glass grant that would let the department
	// resolve without consent, stating a legal basis (only when allowed).
	BreakGlass *Grant `json:"break_glass,omitempty"`
}

// MatchedRule is one rule that matches a request.
type MatchedRule struct {
	Rule
	Text     string `json:"rule"`
	Decisive bool   `json:"decisive"` // the rule the decision names
}

// Decision is the routing answer the explanation stands for.
func (x *Explanation) Decision() routing.Decision {
	d := routing.Decision{Allowed: x.Allowed, Rule: x.Rule, Version: x.Version, Reason: x.Reason}
	if x.BreakGlass != nil {
		g := x.BreakGlass.routing()
		d.BreakGlass = &g
	}
	return d
}

// Explain decides like Decide (on the freshest policy this replica can
// load) and lists every matching rule. The matching rules come from Casbin
// itself: the decisive rule is taken out of a scratch copy of the policy
// and the question asked again, until no rule matches; with deny-overrides
// every matching deny rule is named before any allow rule.
func (e *Engine) Explain(ctx context.Context, department, dataType, purpose string) (*Explanation, error) {
	const op = "policies.Explain"
	if err := validateRequest(op, department, dataType, purpose); err != nil {
		return nil, err
	}
	if err := e.refresh(ctx); err != nil {
		e.log.Warn("policy reload before explain failed; explaining the loaded version", "err", err)
	}
	s := e.snap.Load()
	if s.invalid != nil {
		return nil, s.invalid
	}
	d, err := s.decide(department, dataType, purpose)
	if err != nil {
		return nil, err
	}
	x := &Explanation{
		Department: department, DataType: dataType, Purpose: purpose,
		Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason, Version: d.Version,
		Roles: []string{}, Matched: []MatchedRule{},
	}
	if g := d.BreakGlass; g != nil {
		x.BreakGlass = &Grant{Subject: g.Subject, DataType: g.DataType, Purpose: g.Purpose, SealDays: int(g.Seal / (24 * time.Hour))}
	}
	if roles, err := s.enf.GetImplicitRolesForUser(department); err == nil {
		x.Roles = append(x.Roles, roles...)
		slices.Sort(x.Roles)
	}

	scratch, err := newEnforcer(s.model.Copy())
	if err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "policy enforcer cannot be built", Err: err}
	}
	matched := map[Rule]bool{}
	for range len(s.set.Rules) + 1 {
		_, explain, err := scratch.EnforceEx(department, dataType, purpose)
		if err != nil {
			return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "policy evaluation failed", Err: err}
		}
		r, ok := ruleFromValues(explain)
		if !ok {
			break
		}
		matched[r] = true
		if removed, err := scratch.RemovePolicy(explain); err != nil || !removed {
			return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "policy explanation failed", Err: err}
		}
	}
	for _, r := range s.set.Rules {
		if matched[r] {
			x.Matched = append(x.Matched, MatchedRule{Rule: r, Text: r.String(), Decisive: r.String() == d.Rule})
		}
	}
	return x, nil
}
