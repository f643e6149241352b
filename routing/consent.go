package routing

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Limits of a consent request.
const (
	MaxConsentValidity = 366 * 24 * time.Hour
	MinConsentValidity = time.Minute
)

// ConsentService moves consents through their states on the ledger on
// behalf of departments (request) and residents (grant, deny, revoke), and
// drops the cached consents of the eID as soon as a transition commits, so
// the next resolve on this replica sees it at once; other replicas drop
// theirs when the chaincode event arrives.
type ConsentService struct {
	ledger  ConsentLedger
	dir     *Directory
	policy  Policy
	clock   Clock
	log     *slog.Logger
	coolOff time.Duration
}

// ConsentConfig is what a ConsentService is built from.
type ConsentConfig struct {
	Ledger ConsentLedger // required
	Dir    *Directory    // required
	Policy Policy        // required: a request the policy refuses is never opened
	Clock  Clock         // default the system clock
	Logger *slog.Logger  // default slog.Default()
	// CoolOff is how long after a resident's denial or revocation the
	// same department may not ask again for the same data type and
	// purpose (default DefaultConsentCoolOff; negative: no cool-off).
	CoolOff time.Duration
}

// NewConsentService checks cfg and builds the service.
func NewConsentService(cfg ConsentConfig) (*ConsentService, error) {
	const op = "routing.NewConsentService"
	switch {
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "a consent ledger")
	case cfg.Dir == nil:
		return nil, MissingDependency(op, "a directory")
	case cfg.Policy == nil:
		return nil, MissingDependency(op, "a policy")
	}
	s := &ConsentService{ledger: cfg.Ledger, dir: cfg.Dir, policy: cfg.Policy, clock: cfg.Clock, log: cfg.Logger,
		coolOff: coolOffOrDefault(cfg.CoolOff)}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// ConsentDraft is a department's consent request.
type ConsentDraft struct {
	EID         string
	Provider    string // department id or "*"
	DataTypes   []string
	PurposeCode string
	PurposeText string
	ValidFrom   time.Time // zero = now
	ValidUntil  time.Time
	MaxUses     uint64
}

const opConsent = "routing.Consent"

// coolOffOrDefault is the cool-off period a configured value stands for.
func coolOffOrDefault(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultConsentCoolOff
	}
	return d
}

// Request opens a consent request by department requester. A request the
// policy can never allow is refused (policy_denied) and never reaches the
// resident; so is one the resident denied or revoked within the cool-off
// period (consent_denied, consent_revoked).
func (s *ConsentService) Request(ctx context.Context, requester string, d ConsentDraft) (*model.Consent, error) {
	now := s.clock.Now().UTC()
	if d.ValidFrom.IsZero() {
		d.ValidFrom = now
	}
	if d.Provider == "" {
		d.Provider = model.ProviderAny
	}
	switch {
	case !model.ValidDID(d.EID):
		return nil, Invalid(opConsent, "eid", "eid must be a did:eidgate: identifier")
	case strings.TrimSpace(d.PurposeText) == "":
		return nil, Invalid(opConsent, "purpose_text", "purpose_text is required: say in plain words why the data is needed")
	case len(d.DataTypes) == 0:
		return nil, Invalid(opConsent, "data_types", "name at least one data type")
	case d.ValidUntil.IsZero():
		return nil, Invalid(opConsent, "valid_until", "valid_until is required")
	case !d.ValidUntil.After(now):
		return nil, Invalid(opConsent, "valid_until", "valid_until must be in the future")
	case !d.ValidUntil.After(d.ValidFrom.Add(MinConsentValidity)):
		return nil, Invalid(opConsent, "valid_until", "the consent must be valid for at least a minute")
	case d.ValidUntil.Sub(d.ValidFrom) > MaxConsentValidity:
		return nil, Invalid(opConsent, "valid_until", "a consent may last at most 366 days")
	case d.ValidFrom.Before(now.Add(-time.Hour)):
		return nil, Invalid(opConsent, "valid_from", "valid_from must not be in the past")
	}
	for i, entry := range d.DataTypes {
		// An entry is a data type, or "<data type>#<predicate>": only the
		// yes/no answer to a catalogued predicate.
		code, predicate, isQuestion := model.SplitQuestionScope(entry)
		dt, err := s.dir.DataType(ctx, code)
		if err != nil {
			if IsKind(err, KindNotFound) {
				return nil, Invalid(opConsent, "data_types", "data_types[%d]: unknown data type %s", i, code)
			}
			return nil, Wrap(opConsent, err)
		}
		if _, ok := dt.Predicate(predicate); isQuestion && !ok {
			return nil, Invalid(opConsent, "data_types", "data_types[%d]: data type %s catalogues no predicate %q", i, code, predicate)
		}
	}
	if d.Provider != model.ProviderAny {
		if _, err := s.dir.Department(ctx, d.Provider); err != nil {
			if IsKind(err, KindNotFound) {
				return nil, Invalid(opConsent, "provider", "unknown provider department")
			}
			return nil, Wrap(opConsent, err)
		}
	}
	if err := s.admissible(ctx, requester, d); err != nil {
		return nil, err
	}
	c, err := s.ledger.RequestConsent(ctx, model.ConsentRequest{
		EID: d.EID, Requester: requester, Provider: d.Provider, DataTypes: d.DataTypes,
		PurposeCode: d.PurposeCode, PurposeText: d.PurposeText,
		ValidFrom: d.ValidFrom.Format(time.RFC3339), ValidUntil: d.ValidUntil.Format(time.RFC3339),
		MaxUses: d.MaxUses,
	})
	if err != nil {
		return nil, Wrap(opConsent, err)
	}
	s.invalidate(ctx, c)
	return c, nil
}

// admissible refuses a request the policy does not allow for one of its
// data types, or that the resident refused within the cool-off period.
func (s *ConsentService) admissible(ctx context.Context, requester string, d ConsentDraft) error {
	for _, entry := range d.DataTypes {
		code, _, _ := model.SplitQuestionScope(entry)
		dec, err := s.policy.Decide(ctx, requester, code, d.PurposeCode)
		if err != nil {
			return Wrap(opConsent, err)
		}
		if !dec.Allowed {
			return policyDenied(opConsent, requester, code, d.PurposeCode, dec.Version)
		}
	}
	all, err := s.dir.ConsentsOf(ctx, d.EID)
	if err != nil {
		return Wrap(opConsent, err)
	}
	now := s.clock.Now()
	for _, entry := range d.DataTypes {
		if e := coolOff(all, requester, entry, d.PurposeCode, now, s.coolOff); e != nil {
			e.Field = "data_types"
			return e
		}
	}
	return nil
}

// ForResident returns a consent only when it belongs to the resident; for
// anyone else it does not exist.
func (s *ConsentService) ForResident(ctx context.Context, eid, id string) (*model.Consent, error) {
	return s.get(ctx, id, func(c *model.Consent) bool { return c.EID == eid })
}

// ForDepartment returns a consent when the department is its requester or
// its named provider.
func (s *ConsentService) ForDepartment(ctx context.Context, dept, id string) (*model.Consent, error) {
	return s.get(ctx, id, func(c *model.Consent) bool { return c.Requester == dept || c.Provider == dept })
}

// get reads a consent for a caller who may see it only when party says so;
// to anyone else it does not exist.
func (s *ConsentService) get(ctx context.Context, id string, party func(*model.Consent) bool) (*model.Consent, error) {
	if !model.ValidConsentID(id) {
		return nil, Invalid(opConsent, "id", "not a consent id")
	}
	c, err := s.ledger.GetConsent(ctx, id)
	if err != nil {
		return nil, Wrap(opConsent, err)
	}
	if !party(c) {
		return nil, Errorf(KindNotFound, opConsent, "consent not found")
	}
	assured := c.Assured()
	return &assured, nil
}

// Grant grants a request the resident owns.
func (s *ConsentService) Grant(ctx context.Context, eid, id, method string) (*model.Consent, error) {
	return s.decide(ctx, eid, id, model.ConsentRequested, "granted", func() (*model.Consent, error) {
		return s.ledger.GrantConsent(ctx, id, method)
	})
}

// Deny denies a request the resident owns.
func (s *ConsentService) Deny(ctx context.Context, eid, id, method string) (*model.Consent, error) {
	return s.decide(ctx, eid, id, model.ConsentRequested, "denied", func() (*model.Consent, error) {
		return s.ledger.DenyConsent(ctx, id, method)
	})
}

// Revoke revokes an active consent the resident owns; once it returns, no
// resolve on this replica uses the consent, and other replicas stop within
// the event delivery time.
func (s *ConsentService) Revoke(ctx context.Context, eid, id string) (*model.Consent, error) {
	return s.decide(ctx, eid, id, model.ConsentActive, "revoked", func() (*model.Consent, error) {
		return s.ledger.RevokeConsent(ctx, id)
	})
}

// GrantSigned grants a request the resident owns with their passkey
// signature over the consent.grant statement; the chaincode checks it
// against the resident's key on the ledger.
func (s *ConsentService) GrantSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.Consent, error) {
	return s.decide(ctx, eid, id, model.ConsentRequested, "granted", func() (*model.Consent, error) {
		return s.ledger.GrantConsentSigned(ctx, id, a)
	})
}

// RevokeSigned revokes an active consent the resident owns with their
// passkey signature over the consent.revoke statement.
func (s *ConsentService) RevokeSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.Consent, error) {
	return s.decide(ctx, eid, id, model.ConsentActive, "revoked", func() (*model.Consent, error) {
		return s.ledger.RevokeConsentSigned(ctx, id, a)
	})
}

// CheckTransition says whether the resident's consent id can be granted
// (model.StatementConsentGrant) or revoked (model.StatementConsentRevoke)
// now, and returns it.
func (s *ConsentService) CheckTransition(ctx context.Context, eid, id, kind string) (*model.Consent, error) {
	c, err := s.ForResident(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	from, verb := model.ConsentRequested, "granted"
	if kind == model.StatementConsentRevoke {
		from, verb = model.ConsentActive, "revoked"
	}
	if c.Status != from {
		return nil, stateConflict(c.Status, verb)
	}
	if kind == model.StatementConsentGrant {
		if until, err := model.ParseTime(c.ValidUntil); err != nil || !until.After(s.clock.Now()) {
			return nil, stateConflict(model.ConsentExpired, verb)
		}
	}
	return c, nil
}

func stateConflict(status, verb string) error {
	return (&Error{Kind: KindConflict, Op: opConsent, Message: "a " + status + " consent cannot be " + verb}).WithCode("consent_state")
}

func (s *ConsentService) decide(ctx context.Context, eid, id, from, verb string, do func() (*model.Consent, error)) (*model.Consent, error) {
	c, err := s.ForResident(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	if c.Status != from {
		return nil, stateConflict(c.Status, verb)
	}
	out, err := do()
	if err != nil {
		return nil, Wrap(opConsent, err)
	}
	s.invalidate(ctx, out)
	assured := out.Assured()
	return &assured, nil
}

func (s *ConsentService) invalidate(ctx context.Context, c *model.Consent) {
	invalidate(ctx, s.dir, s.log, model.Change{Kind: model.KindConsent, ID: c.ID, EID: c.EID})
}

// Consent states StateFor answers besides a consent's own status.
const (
	ConsentStateActive  = "active"  // a consent allows the request now
	ConsentStateNone    = "none"    // no consent of the resident names the request
	ConsentStateUnknown = "unknown" // the consents could not be read
)

// StateFor summarises, for the explain endpoints, the resident's best
// consent for a department's request: "active" with the consent that
// allows it now, else "requested" with a request waiting for the resident,
// else the status of another consent for it (denied, revoked, expired),
// else "none"; "unknown" when the consents could not be read.
func (s *ConsentService) StateFor(ctx context.Context, eid, department, dataType, purpose string) (state, id string) {
	cs, err := s.dir.ConsentsOf(ctx, eid)
	if err != nil {
		return ConsentStateUnknown, ""
	}
	now := s.clock.Now()
	state = ConsentStateNone
	for _, cn := range cs {
		if cn.Requester != department || cn.PurposeCode != purpose || !cn.Covers(dataType) {
			continue
		}
		if ok, _ := cn.Allows(department, cn.Provider, dataType, purpose, now); ok {
			return ConsentStateActive, cn.ID
		}
		if cn.Status == model.ConsentRequested {
			state, id = cn.Status, cn.ID
		} else if state == ConsentStateNone {
			state, id = cn.Status, cn.ID
		}
	}
	return state, id
}

// Waiting counts the requests waiting for the resident's answer (the
// portal's inbox badge), from the cached consents; 0 when they cannot be
// read, as a badge is no place for an error.
func (s *ConsentService) Waiting(ctx context.Context, eid string) int {
	cs, err := s.dir.ConsentsOf(ctx, eid)
	if err != nil {
		return 0
	}
	now, n := s.clock.Now(), 0
	for _, c := range cs {
		if until, err := model.ParseTime(c.ValidUntil); c.Status == model.ConsentRequested && err == nil && now.Before(until) {
			n++
		}
	}
	return n
}

// ConsentView is a consent with its effective state: a consent whose
// validity ended shows as expired even before the ledger was told.
type ConsentView struct {
	model.Consent
	EffectiveStatus string `json:"effective_status"`
}

// ListForResident returns the resident's consents, newest first, and asks
// the ledger to expire those whose validity ended (in the background of
// the request: the answer already shows them as expired).
func (s *ConsentService) ListForResident(ctx context.Context, eid string) ([]ConsentView, error) {
	cs, err := s.ledger.ListConsentsByEID(ctx, eid)
	if err != nil {
		return nil, Wrap(opConsent, err)
	}
	return s.views(ctx, cs), nil
}

// ListForRequester returns the consents a department requested.
func (s *ConsentService) ListForRequester(ctx context.Context, dept string) ([]ConsentView, error) {
	cs, err := s.ledger.ListConsentsByRequester(ctx, dept)
	if err != nil {
		return nil, Wrap(opConsent, err)
	}
	return s.views(ctx, cs), nil
}

func (s *ConsentService) views(ctx context.Context, cs []model.Consent) []ConsentView {
	now := s.clock.Now()
	var due []string
	out := make([]ConsentView, len(cs))
	for i, c := range cs {
		out[i] = ConsentView{Consent: c.Assured(), EffectiveStatus: c.Status}
		if c.Status == model.ConsentActive || c.Status == model.ConsentRequested {
			if until, err := model.ParseTime(c.ValidUntil); err == nil && now.After(until) {
				out[i].EffectiveStatus = model.ConsentExpired
				due = append(due, c.ID)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RequestedAt > out[j].RequestedAt })
	if len(due) > 0 {
		go s.expire(context.WithoutCancel(ctx), due)
	}
	return out
}

func (s *ConsentService) expire(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.ledger.ExpireConsents(ctx, ids); err != nil && s.log != nil {
		s.log.Warn("expiring consents on the ledger failed", "count", len(ids), "err", err)
	}
}

// ParseProvider normalises a provider field ("", "any", "*" → "*").
func ParseProvider(p string) string {
	switch strings.TrimSpace(p) {
	case "", "*", "any":
		return model.ProviderAny
	}
	return strings.TrimSpace(p)
}
