package routing

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RuleLedger records residents' standing rules.
type RuleLedger interface {
	CreateStandingRule(ctx context.Context, d model.RuleDraft) (*model.StandingRule, error)
	CreateStandingRuleSigned(ctx context.Context, d model.RuleDraft, a model.PasskeyApproval) (*model.StandingRule, error)
	RevokeStandingRule(ctx context.Context, id string) (*model.StandingRule, error)
	RevokeStandingRuleSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.StandingRule, error)
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

// RuleDraft is what a resident approves in advance: the departments it
// names, and the roles whose departments it names (Department.Roles).
type RuleDraft struct {
	Departments []string
	Roles       []string
	DataTypes   []string
	PurposeCode string
	Note        string
	ValidUntil  time.Time
	// ValidFor, when ValidUntil is zero, ends the window that long after
	// now.
	ValidFor time.Duration
	MaxUses  uint64
}

const opRule = "routing.Rule"

// Create records a standing rule of resident eid, marked password-only
// (the resident signed nothing). Prepare's checks apply.
func (s *RuleService) Create(ctx context.Context, eid string, d RuleDraft) (*model.StandingRule, error) {
	ld, err := s.Prepare(ctx, eid, d)
	if err != nil {
		return nil, err
	}
	r, err := s.ledger.CreateStandingRule(ctx, ld)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	return r, nil
}

// CreateSigned records standing rule ld, which Prepare made and the
// resident signed with approval a; the checks run again, so a rule the
// policy stopped allowing since is refused.
func (s *RuleService) CreateSigned(ctx context.Context, eid string, ld model.RuleDraft, a model.PasskeyApproval) (*model.StandingRule, error) {
	if ld.EID != eid {
		return nil, Errorf(KindForbidden, opRule, "the rule is another resident's")
	}
	until, err := model.ParseTime(ld.ValidUntil)
	if err != nil {
		return nil, Invalid(opRule, "valid_until", "valid_until is not a time")
	}
	if _, err := s.check(ctx, RuleDraft{Departments: ld.Departments, Roles: ld.Roles, DataTypes: ld.DataTypes,
		PurposeCode: ld.PurposeCode, Note: ld.Note, ValidUntil: until, MaxUses: ld.MaxUses}); err != nil {
		return nil, err
	}
	r, err := s.ledger.CreateStandingRuleSigned(ctx, ld, a)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	return r, nil
}

// Prepare checks draft d of resident eid and returns the rule's terms as
// the ledger records them, valid from now. Every department and data type
// must be known, every role held by an active department, and the policy
// must allow each named department, and some department of each role, each
// data type for the purpose: a rule that could never be used is refused
// (policy_denied) rather than kept.
func (s *RuleService) Prepare(ctx context.Context, eid string, d RuleDraft) (model.RuleDraft, error) {
	now := s.clock.Now().UTC().Truncate(time.Second)
	if d.ValidUntil.IsZero() && d.ValidFor > 0 {
		d.ValidUntil = now.Add(d.ValidFor)
	}
	if _, err := s.check(ctx, d); err != nil {
		return model.RuleDraft{}, err
	}
	return model.RuleDraft{EID: eid, Departments: d.Departments, Roles: d.Roles, DataTypes: d.DataTypes,
		PurposeCode: d.PurposeCode, Note: strings.TrimSpace(d.Note), ValidFrom: model.FormatTime(now),
		ValidUntil: model.FormatTime(d.ValidUntil.UTC()), MaxUses: d.MaxUses}, nil
}

func (s *RuleService) check(ctx context.Context, d RuleDraft) (time.Time, error) {
	now := s.clock.Now().UTC().Truncate(time.Second)
	switch {
	case len(d.Departments) == 0 && len(d.Roles) == 0:
		return now, Invalid(opRule, "departments", "name at least one department or role")
	case len(d.DataTypes) == 0:
		return now, Invalid(opRule, "data_types", "name at least one data type")
	case !model.ValidPurposeCode(d.PurposeCode):
		return now, Invalid(opRule, "purpose_code", "purpose_code must be a purpose code such as employment")
	case d.ValidUntil.IsZero():
		return now, Invalid(opRule, "valid_until", "valid_until is required")
	case !d.ValidUntil.After(now.Add(MinConsentValidity)):
		return now, Invalid(opRule, "valid_until", "valid_until must be in the future")
	case d.ValidUntil.Sub(now) > MaxConsentValidity:
		return now, Invalid(opRule, "valid_until", "a standing rule may last at most 366 days")
	}
	for i, dept := range d.Departments {
		if _, err := s.dir.Department(ctx, dept); err != nil {
			if IsKind(err, KindNotFound) || IsKind(err, KindInvalid) {
				return now, Invalid(opRule, "departments", "departments[%d]: unknown department %s", i, dept)
			}
			return now, Wrap(opRule, err)
		}
	}
	holders, err := s.roleHolders(ctx, d.Roles)
	if err != nil {
		return now, err
	}
	for i, entry := range d.DataTypes {
		code, _, _ := model.SplitQuestionScope(entry)
		if _, err := s.dir.DataType(ctx, code); err != nil {
			if IsKind(err, KindNotFound) || IsKind(err, KindInvalid) {
				return now, Invalid(opRule, "data_types", "data_types[%d]: unknown data type %s", i, code)
			}
			return now, Wrap(opRule, err)
		}
		for _, dept := range d.Departments {
			if err := s.allowed(ctx, []string{dept}, code, d.PurposeCode); err != nil {
				return now, err
			}
		}
		for _, h := range holders {
			if err := s.allowed(ctx, h, code, d.PurposeCode); err != nil {
				return now, err
			}
		}
	}
	return now, nil
}

// roleHolders lists, per role, the active departments holding it; a role
// no active department holds is refused.
func (s *RuleService) roleHolders(ctx context.Context, roles []string) ([][]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	depts, err := s.dir.Departments(ctx)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	out := make([][]string, len(roles))
	for i, role := range roles {
		for _, d := range depts {
			if d.Active() && slices.Contains(d.Roles, role) {
				out[i] = append(out[i], d.ID)
			}
		}
		if len(out[i]) == 0 {
			return nil, Invalid(opRule, "roles", "roles[%d]: no department holds the role %s", i, role)
		}
	}
	return out, nil
}

// allowed succeeds when the policy allows one of depts dataType for
// purpose; otherwise it is the first department's refusal.
func (s *RuleService) allowed(ctx context.Context, depts []string, dataType, purpose string) error {
	var first *Decision
	for _, dept := range depts {
		dec, err := s.policy.Decide(ctx, dept, dataType, purpose)
		if err != nil {
			return Wrap(opRule, err)
		}
		if dec.Allowed {
			return nil
		}
		if first == nil {
			first = &dec
		}
	}
	return policyDenied(opRule, depts[0], dataType, purpose, first.Version)
}

// Revoke revokes a standing rule the resident owns, marked password-only;
// for anyone else it does not exist.
func (s *RuleService) Revoke(ctx context.Context, eid, id string) (*model.StandingRule, error) {
	if _, err := s.CheckRevoke(ctx, eid, id); err != nil {
		return nil, err
	}
	out, err := s.ledger.RevokeStandingRule(ctx, id)
	return out, Wrap(opRule, err)
}

// RevokeSigned revokes the resident's standing rule with their signature
// a over the rule.revoke statement of its terms.
func (s *RuleService) RevokeSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.StandingRule, error) {
	if _, err := s.CheckRevoke(ctx, eid, id); err != nil {
		return nil, err
	}
	out, err := s.ledger.RevokeStandingRuleSigned(ctx, id, a)
	return out, Wrap(opRule, err)
}

// CheckRevoke returns the resident's standing rule id if it can be revoked
// now (it is active): someone else's rule is not found, a revoked one is
// rule_state.
func (s *RuleService) CheckRevoke(ctx context.Context, eid, id string) (*model.StandingRule, error) {
	r, err := s.ForResident(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	if r.Status != model.RuleActive {
		return nil, (&Error{Kind: KindConflict, Op: opRule, Message: "a " + r.Status + " standing rule cannot be revoked"}).WithCode("rule_state")
	}
	return r, nil
}

// ForResident returns the resident's standing rule id, read from the
// ledger; someone else's does not exist.
func (s *RuleService) ForResident(ctx context.Context, eid, id string) (*model.StandingRule, error) {
	if !model.ValidRuleID(id) {
		return nil, Invalid(opRule, "id", "not a standing rule id")
	}
	rules, err := s.ledger.ListStandingRulesByEID(ctx, eid)
	if err != nil {
		return nil, Wrap(opRule, err)
	}
	for i := range rules {
		if rules[i].ID == id {
			return &rules[i], nil
		}
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

// matchingRule is the resident's standing rule that allows req now (the
// requester holding roles in the registry), the one ending first when
// several do; nil when none does.
func matchingRule(rules []model.StandingRule, req ResolveRequest, roles []string, now time.Time) *model.StandingRule {
	var best *model.StandingRule
	for i := range rules {
		r := &rules[i]
		if ok, _ := r.Allows(req.Requester, roles, req.scope(), req.Purpose, now); ok && (best == nil || r.ValidUntil < best.ValidUntil) {
			best = r
		}
	}
	return best
}
