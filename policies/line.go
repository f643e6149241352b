package policies

import (
	"context"

	"github.com/eidgate/eidgate/routing"
)

// Line kinds: a rule ("p") or a role membership ("g"), as Casbin writes
// them.
const (
	LineRule = "p"
	LineRole = "g"
)

// Line is one line of the policy the way Casbin writes it and the admin
// API shows it: a rule ("p": subject, object = data type, action =
// purpose, effect) or a role membership ("g": subject is a member of
// role).
type Line struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Object  string `json:"object,omitempty"`
	Action  string `json:"action,omitempty"`
	Effect  string `json:"effect,omitempty"`
	Role    string `json:"role,omitempty"`
}

// Line is the rule as a policy line.
func (r Rule) Line() Line {
	return Line{Kind: LineRule, Subject: r.Subject, Object: r.DataType, Action: r.Purpose, Effect: r.Effect}
}

// Line is the role membership as a policy line.
func (m RoleMapping) Line() Line { return Line{Kind: LineRole, Subject: m.Member, Role: m.Role} }

// Lines lists the current policy as lines: every rule, then every role
// membership, in the order they were written.
func (e *Engine) Lines(ctx context.Context) ([]Line, error) {
	l, err := e.Rules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Line, 0, len(l.Rules)+len(l.Roles))
	for _, r := range l.Rules {
		out = append(out, r.Line())
	}
	for _, m := range l.Roles {
		out = append(out, m.Line())
	}
	return out, nil
}

// AddLine adds a rule or a role membership (an empty kind is a rule) and
// returns the new policy version.
func (e *Engine) AddLine(ctx context.Context, by string, l Line) (int64, error) {
	switch l.Kind {
	case LineRule, "":
		return e.AddRule(ctx, by, Rule{Subject: l.Subject, DataType: l.Object, Purpose: l.Action, Effect: l.Effect})
	case LineRole:
		return e.AddRole(ctx, by, RoleMapping{Member: l.Subject, Role: l.Role})
	}
	return 0, badLineKind()
}

// RemoveLine removes a rule or a role membership (an empty kind is a rule)
// and returns the new policy version.
func (e *Engine) RemoveLine(ctx context.Context, by string, l Line) (int64, error) {
	switch l.Kind {
	case LineRule, "":
		return e.RemoveRule(ctx, by, Rule{Subject: l.Subject, DataType: l.Object, Purpose: l.Action, Effect: l.Effect})
	case LineRole:
		return e.RemoveRole(ctx, by, RoleMapping{Member: l.Subject, Role: l.Role})
	}
	return 0, badLineKind()
}

func badLineKind() error {
	return routing.Invalid("policies", "kind", `kind must be "p" (rule) or "g" (role membership)`)
}
