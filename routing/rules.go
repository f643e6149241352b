package routing

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RuleLedger records residents' standing rules.
type RuleLedger interface {
	CreateStandingRule(ctx context.Context, d model.RuleDraft) (*model.StandingRule, error)
	RevokeStandingRule(ctx context.Context, id string) (*model.StandingRule, error)
	ListStandingRulesByEID(ctx context.Context, eid string) ([]model.StandingRule, error)
}

// RuleService keeps a resident's standing rules: approvals given in
// advance for a class of use (which departments, which data, for what
// purpose, until when, how often), revocable at any time. The resolver
// consults them after consents (Resolver.Resolve); a rule is read from the
// ledger on every resolve that has no consent, so a revocation stops it at
// once on every replica.
type RuleService struct {
	ledger RuleLedger
	dir    *Directory
	policy Policy
	clock  Clock
	log    *slog.Logger
}

// RuleConfig is what a RuleService is built from.
type RuleConfig struct {
	Ledger RuleLedger   // required
	Dir    *Directory   // required: departments and data types
	Policy Policy       // required: a rule the policy never allows is refused
	Clock  Clock        // default the system clock
	Logger *slog.Logger // default slog.Default()
}

// NewRuleService checks cfg and builds the service.
func NewRuleService(cfg RuleConfig) (*RuleService, error) {
	const op = "routing.NewRuleService"
	switch {
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "a rule ledger")
	case cfg.Dir == nil:
		return nil, MissingDependency(op, "a directory")
	case cfg.Policy == nil:
		return nil, MissingDependency(op, "a policy")
	}
	s := &RuleService{ledger: cfg.Ledger, dir: cfg.Dir, policy: cfg.Policy, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// RuleDraft is what a resident approves in advance.
type RuleDraft struct {
	Departments []string
	DataTypes   []string
	PurposeCode string
	Note        string
	ValidUntil  time.Time
	MaxUses     uint64
}

const opRule = "routing.Rule"

// Create records a standing rule of resident eid. Every department and
// data type must be known, and the policy must allow each department each
// data type for the purpose: a rule that could never be used is refused
// (policy_denied) rather than kept.
func (s *RuleService) Create(ctx context.Context, eid string, d RuleDraft) (*model.StandingRule, error) {
	now := s.clock.Now().UTC()
	switch {
	case len(d.Departments) == 0:
		return nil, Invalid(opRule, "departments", "name at least one department")
	case len(d.DataTypes) == 0:
		return nil, Invalid(opRule, "data_types", "name at least one data type")
	case !model.ValidPurposeCode(d.PurposeCode):
		return nil, Invalid(opRule, "purpose_code", "purpose_code must be a purpose code such as employment")
	case d.ValidUntil.IsZero():
		return nil, Invalid(opRule, "valid_until", "valid_until is required")
	case !d.ValidUntil.After(now.Add(MinConsentValidity)):
		return nil, Invalid(opRule, "valid_until", "valid_until must be in the future")
	case d.ValidUntil.Sub(now) > MaxConsentValidity:
		return nil, Invalid(opRule, "valid_until", "a standing rule may last at most 366 days")
	}
	for i, dept := range d.Departments {
		if _, err := s.dir.Department(ctx, dept); err != nil {
			if IsKind(err, KindNotFound) || IsKind(err, KindInvalid) {
				return nil, Invalid(opRule, "departments", "departments[%d]: unknown department %s", i, dept)
			}
			return nil, Wrap(opRule, err)
		}
	}
	for i, entry := range d.DataTypes {
		code, _, _ := model.SplitQuestionScope(entry)
		if _, err := s.dir.DataType(ctx, code); err != nil {
			if IsKind(err, KindNotFound) || IsKind(err, KindInvalid) {
				return nil, Invalid(opRule, "data_types", "data_types[%d]: unknown data type %s", i, code)
			}
			return nil, Wrap(opRule, err)
		}
		for _, dept := range d.Departments {
			dec, err := s.policy.Decide(ctx, dept, code, d.PurposeCode)
			if err != nil {
				return nil, Wrap(opRule, err)
			}
			if !dec.Allowed {
				return nil, policyDenied(opRule, dept, code, d.PurposeCode, dec.Version)
			}
		}
	}
	r, err := s.ledger.CreateStandingRule(ctx, model.RuleDraft{EID: eid, Departments: d.Departments, DataTypes: d.DataTypes,
		PurposeCode: d.PurposeCode, Note: strings.TrimSpace(d.Note), ValidFrom: model.FormatTime(now),
		ValidUntil: model.FormatTime(d.ValidUntil), MaxUses: d.MaxUses})
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	return r, nil
}

// Revoke revokes a standing rule the resident owns; for anyone else it
// does not exist.
func (s *RuleService) Revoke(ctx context.Context, eid, id string) (*model.StandingRule, error) {
	if !model.ValidRuleID(id) {
		return nil, Invalid(opRule, "id", "not a standing rule id")
	}
	rules, err := s.ledger.ListStandingRulesByEID(ctx, eid)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	for _, r := range rules {
		if r.ID != id {
			continue
		}
		if r.Status != model.RuleActive {
			return nil, (&Error{Kind: KindConflict, Op: opRule, Message: "a " + r.Status + " standing rule cannot be revoked"}).WithCode("rule_state")
		}
		out, err := s.ledger.RevokeStandingRule(ctx, id)
		return out, Wrap(opRule, err)
	}
	return nil, (&Error{Kind: KindNotFound, Op: opRule, Message: "standing rule not found"}).WithCode("not_found")
}

// RuleView is a standing rule with its effective state: one whose window
// ended, or whose uses ran out, shows as expired or used up.
type RuleView struct {
	model.StandingRule
	EffectiveStatus string `json:"effective_status"`
}

// Rule statuses a RuleView shows besides the ledger's.
const (
	RuleExpired = "expired"
	RuleUsedUp  = "used_up"
)

// ListForResident returns the resident's standing rules, newest first.
func (s *RuleService) ListForResident(ctx context.Context, eid string) ([]RuleView, error) {
	rules, err := s.ledger.ListStandingRulesByEID(ctx, eid)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	now := s.clock.Now()
	out := make([]RuleView, len(rules))
	for i, r := range rules {
		out[i] = RuleView{StandingRule: r, EffectiveStatus: r.Status}
		if r.Status != model.RuleActive {
			continue
		}
		if until, err := model.ParseTime(r.ValidUntil); err == nil && !now.Before(until) {
			out[i].EffectiveStatus = RuleExpired
		} else if r.MaxUses != 0 && r.Uses >= r.MaxUses {
			out[i].EffectiveStatus = RuleUsedUp
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt > out[j].CreatedAt })
	return out, nil
}

// matchingRule is the resident's standing rule that allows req now, the
// one ending first when several do; nil when none does.
func matchingRule(rules []model.StandingRule, req ResolveRequest, now time.Time) *model.StandingRule {
	var best *model.StandingRule
	for i := range rules {
		r := &rules[i]
		if ok, _ := r.Allows(req.Requester, req.scope(), req.Purpose, now); ok && (best == nil || r.ValidUntil < best.ValidUntil) {
			best = r
		}
	}
	return best
}
