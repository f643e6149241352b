package routing

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Gate is checked before anything is issued; the anchorer's lag bound is
// one (when anchoring lags, no ticket is issued).
type Gate interface {
	Check(ctx context.Context) error
}

// DocumentSubject names a resident by an identity document.
type DocumentSubject struct {
	Type    string
	Number  string // never logged; see mapping for masking
	Country string
}

// ResolveRequest is "department Requester needs DataType about a resident
// for Purpose".
type ResolveRequest struct {
	Requester string
	Official  string
	RequestID string

	// Exactly one of EID and Document names the resident.
	EID      string
	Document *DocumentSubject

	DataType    string
	Purpose     string
	PurposeText string // used when a consent request has to be created
	ConsentID   string // optional: the consent to use
	Provider    string // optional: the provider department to use
	// Predicate, when set, asks a yes/no question instead of the record:
	// the access is recorded as a question (OutcomeQuestion, the predicate
	// in Reason) and the ticket is bound to the predicate (claim prd, and
	// dt "<data type>#<predicate>"), so the provider answers it and refuses
	// to serve the record with it.
	Predicate string

	// BreakGlass asks to resolve without the resident's consent under a
	// break-glass grant of the policy, stating LegalBasis (required). With
	// no matching grant the request takes the consent path as any other.
	BreakGlass bool
	LegalBasis string
}

// MaxLegalBasisRunes bounds the legal basis an official states.
const MaxLegalBasisRunes = 500

// BreakGlassTicketConsent is the consent a break-glass ticket names (claim
// cid): there is none, the access rests on the stated legal basis.
const BreakGlassTicketConsent = "break-glass"

// scope is what the request needs consent for: the data type, or for a
// yes/no question only the answer to its predicate (a consent to the
// record covers its questions too).
func (req ResolveRequest) scope() string {
	if req.Predicate != "" {
		return model.QuestionScope(req.DataType, req.Predicate)
	}
	return req.DataType
}

// ProviderRef is where the data lives.
type ProviderRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
}

// ResolveResult is a granted resolve.
type ResolveResult struct {
	AccessID      string      `json:"access_id"`
	EID           string      `json:"eid"`
	DataType      string      `json:"data_type"`
	Provider      ProviderRef `json:"provider"`
	Digest        string      `json:"digest"`
	RouteVersion  uint64      `json:"route_version"`
	Schema        string      `json:"schema"`
	ConsentID     string      `json:"consent_id"`
	PolicyVersion int64       `json:"policy_version"`
	Ticket        string      `json:"ticket"`
	TicketID      string      `json:"ticket_id"`
	ExpiresAt     time.Time   `json:"ticket_expires_at"`
	// BreakGlass is set when the access was resolved under a break-glass
	// grant; the resident sees it from VisibleAfter.
	BreakGlass   bool      `json:"break_glass,omitempty"`
	VisibleAfter time.Time `json:"visible_after,omitzero"`
}

// Resolver runs the resolve flow of docs/architecture.md: mapping → policy → consent →
// route → durable access record → ticket.
type Resolver struct {
	dir                    *Directory
	mapper                 SubjectMapper
	policy                 Policy
	consents               ConsentLedger
	rules                  RuleLedger
	accessLog              *AccessLog
	gate                   Gate
	tickets                TicketIssuer
	clock                  Clock
	log                    *slog.Logger
	pseudonymKey           []byte
	consentRequestValidity time.Duration
	coolOff                time.Duration
}

// ResolverConfig is what a Resolver is built from.
type ResolverConfig struct {
	Dir       *Directory    // required
	Mapper    SubjectMapper // required: documents to eIDs
	Policy    Policy        // required
	Consents  ConsentLedger // required: to open a consent request when none exists
	Rules     RuleLedger    // required: the residents' standing rules
	AccessLog *AccessLog    // required
	Gate      Gate          // required: the anchoring lag gate
	Tickets   TicketIssuer  // required
	Clock     Clock         // default the system clock
	Logger    *slog.Logger  // default slog.Default()
	// PseudonymKey keys OfficialPseudonym (required, 16 bytes or more).
	PseudonymKey []byte
	// ConsentRequestValidity is how long an automatically opened consent
	// request would stay valid once granted (default 30 days).
	ConsentRequestValidity time.Duration
	// ConsentCoolOff is how long after a resident's denial or revocation
	// a resolve for the same department, data type and purpose is refused
	// without opening a new request (default DefaultConsentCoolOff;
	// negative: no cool-off).
	ConsentCoolOff time.Duration
}

// NewResolver checks cfg and builds the resolver.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	const op = "routing.NewResolver"
	switch {
	case cfg.Dir == nil:
		return nil, MissingDependency(op, "a directory")
	case cfg.Mapper == nil:
		return nil, MissingDependency(op, "a subject mapper")
	case cfg.Policy == nil:
		return nil, MissingDependency(op, "a policy")
	case cfg.Consents == nil:
		return nil, MissingDependency(op, "a consent ledger")
	case cfg.Rules == nil:
		return nil, MissingDependency(op, "a rule ledger")
	case cfg.AccessLog == nil:
		return nil, MissingDependency(op, "an access log")
	case cfg.Gate == nil:
		return nil, MissingDependency(op, "an anchoring gate")
	case cfg.Tickets == nil:
		return nil, MissingDependency(op, "a ticket issuer")
	case len(cfg.PseudonymKey) < 16:
		return nil, MissingDependency(op, "a pseudonym key of 16 bytes or more")
	}
	r := &Resolver{dir: cfg.Dir, mapper: cfg.Mapper, policy: cfg.Policy, consents: cfg.Consents, rules: cfg.Rules, accessLog: cfg.AccessLog,
		gate: cfg.Gate, tickets: cfg.Tickets, clock: cfg.Clock, log: cfg.Logger, pseudonymKey: cfg.PseudonymKey,
		consentRequestValidity: cfg.ConsentRequestValidity, coolOff: coolOffOrDefault(cfg.ConsentCoolOff)}
	if r.clock == nil {
		r.clock = SystemClock{}
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

const opResolve = "routing.Resolve"

// Resolve answers a department's request. Every outcome after validation
// leaves a durable access record; a ticket is returned only for a record
// that is durable.
func (r *Resolver) Resolve(ctx context.Context, req ResolveRequest) (*ResolveResult, error) {
	if err := validateResolve(req); err != nil {
		return nil, err
	}
	// Fail closed before doing any work when anchoring lags.
	if err := r.gate.Check(ctx); err != nil {
		return nil, err
	}
	now := r.clock.Now().UTC()
	rec := &AccessRecord{
		RequestID: req.RequestID, Requester: req.Requester, Official: req.Official,
		OfficialRef: OfficialPseudonym(r.pseudonymKey, req.Requester, req.Official),
		DataType:    req.DataType, Purpose: req.Purpose, CreatedAt: now,
	}

	// 1. Mapping.
	eid, err := r.subject(ctx, req)
	if err != nil {
		if IsKind(err, KindNotFound) {
			rec.Outcome, rec.Reason = OutcomeSubjectUnknown, "no eID for this subject"
			if lerr := r.accessLog.Append(ctx, rec); lerr != nil {
				return nil, lerr
			}
			return nil, (&Error{Kind: KindNotFound, Op: opResolve, Message: "no resident is known for this subject"}).WithCode("subject_not_found")
		}
		return nil, err
	}
	rec.EID = eid

	// 2. Policy.
	dec, err := r.policy.Decide(ctx, req.Requester, req.DataType, req.Purpose)
	if err != nil {
		return nil, Wrap(opResolve, err)
	}
	rec.PolicyVersion = dec.Version
	if !dec.Allowed {
		rec.Outcome, rec.Reason = OutcomePolicyDenied, dec.Reason
		if lerr := r.accessLog.Append(ctx, rec); lerr != nil {
			return nil, lerr
		}
		return nil, policyDenied(opResolve, req.Requester, req.DataType, req.Purpose, dec.Version)
	}

	// 3. Consent, unless the policy grants break-glass for the request.
	if req.BreakGlass && dec.BreakGlass != nil {
		return r.breakGlass(ctx, rec, req, dec)
	}
	consents, err := r.dir.ConsentsOf(ctx, eid)
	if err != nil {
		return nil, Wrap(opResolve, err)
	}
	usable := usableConsents(consents, req, now)
	if len(usable) == 0 && req.ConsentID == "" {
		// 3b. No consent: a standing rule of the resident may allow it.
		rules, err := r.rules.ListStandingRulesByEID(ctx, eid)
		if err != nil {
			return nil, Wrap(opResolve, err)
		}
		// A rule may name the requester by a role the registry gives it.
		var roles []string
		if len(rules) > 0 {
			if d, err := r.dir.Department(ctx, req.Requester); err == nil {
				roles = d.Roles
			} else if !IsKind(err, KindNotFound) {
				return nil, Wrap(opResolve, err)
			}
		}
		if rule := matchingRule(rules, req, roles, now); rule != nil {
			usable = []model.Consent{ruleGrant(*rule, req.Requester)}
		}
	}
	if len(usable) == 0 {
		return nil, r.consentRequired(ctx, rec, req, consents, now)
	}

	// 4. Route.
	route, provider, consent, err := r.pickRoute(ctx, eid, req, usable)
	if err != nil {
		return nil, err
	}
	if route == nil {
		rec.Outcome, rec.Reason = OutcomeNoRoute, "no valid route entry from an active provider"
		rec.ConsentID = usable[0].ID
		if lerr := r.accessLog.Append(ctx, rec); lerr != nil {
			return nil, lerr
		}
		return nil, noRoute(req.DataType)
	}

	// 5. Durable access record, counting the consent use in the same
	// transaction.
	rec.ConsentID = consent.ID
	if model.ValidRuleID(consent.ID) && req.Predicate == "" {
		rec.Reason = "standing rule"
	}
	rec.UseConsent = true
	rec.ConsentMaxUses = consent.MaxUses
	return r.grant(ctx, rec, req, route, provider, consent.ID)
}

// breakGlass resolves under the policy's break-glass grant: no consent is
// consulted, used or requested; the record names the legal basis and is
// sealed from the resident for the grant's period.
func (r *Resolver) breakGlass(ctx context.Context, rec *AccessRecord, req ResolveRequest, dec Decision) (*ResolveResult, error) {
	anyProvider := []model.Consent{{Provider: model.ProviderAny}}
	route, provider, _, err := r.pickRoute(ctx, rec.EID, req, anyProvider)
	if err != nil {
		return nil, err
	}
	rec.LegalBasis = req.LegalBasis
	rec.VisibleAfter = rec.CreatedAt.Add(dec.BreakGlass.Seal)
	rec.Reason = "break-glass: " + dec.BreakGlass.String()
	if route == nil {
		rec.Outcome = OutcomeNoRoute
		if lerr := r.accessLog.Append(ctx, rec); lerr != nil {
			return nil, lerr
		}
		return nil, noRoute(req.DataType)
	}
	return r.grant(ctx, rec, req, route, provider, BreakGlassTicketConsent)
}

// grant makes the granted access's record durable and only then issues
// the ticket bound to it; ticketConsent is the consent (or standing rule)
// the ticket names.
func (r *Resolver) grant(ctx context.Context, rec *AccessRecord, req ResolveRequest, route *model.RouteEntry,
	provider *model.Department, ticketConsent string) (*ResolveResult, error) {
	jti := NewTicketID()
	rec.Outcome = OutcomeIssued
	if req.Predicate != "" {
		rec.Outcome = OutcomeQuestion
		rec.Reason = joinReason(rec.Reason, "predicate: "+req.Predicate)
	}
	rec.Provider = provider.ID
	rec.TicketID = jti
	rec.Digest = route.Digest
	rec.RouteVersion = route.Version
	if err := r.accessLog.Append(ctx, rec); err != nil {
		if CodeOf(err) == "consent_uses_exhausted" {
			return nil, (&Error{Kind: KindConsentRequired, Op: opResolve, Message: "the consent has no uses left",
				Details: map[string]string{"consent_id": rec.ConsentID}}).WithCode("consent_required")
		}
		return nil, err
	}

	// 6. Ticket, bound to the durable record.
	t, err := r.tickets.Issue(ctx, TicketRequest{
		// A question's ticket names the question scope as its data type,
		// so a provider that compares dt with the record asked for refuses
		// it even if it does not know the prd claim.
		ID: jti, Requester: req.Requester, Provider: provider.ID, EID: rec.EID, DataType: req.scope(),
		ConsentID: ticketConsent, AccessID: rec.ID, Purpose: req.Purpose, Digest: route.Digest, Predicate: req.Predicate,
	})
	if err != nil {
		return nil, Wrap(opResolve, err)
	}
	return &ResolveResult{
		AccessID: rec.ID, EID: rec.EID, DataType: req.DataType,
		Provider: ProviderRef{ID: provider.ID, Name: provider.Name, Endpoint: firstEndpoint(provider)},
		Digest:   route.Digest, RouteVersion: route.Version, Schema: route.Schema,
		ConsentID: ticketConsent, PolicyVersion: rec.PolicyVersion,
		Ticket: t.Token, TicketID: t.ID, ExpiresAt: t.ExpiresAt,
		BreakGlass: rec.BreakGlass(), VisibleAfter: rec.VisibleAfter,
	}, nil
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func noRoute(dataType string) error {
	return (&Error{Kind: KindNotFound, Op: opResolve, Message: "no department holds " + dataType + " for this resident"}).WithCode("no_route")
}

func validateResolve(req ResolveRequest) error {
	switch {
	case req.Requester == "":
		return &Error{Kind: KindUnauthenticated, Op: opResolve, Message: "no requesting department"}
	case req.Official == "":
		return Invalid(opResolve, "X-Eidgate-Official", "the acting official must be named")
	case (req.EID == "") == (req.Document == nil):
		return Invalid(opResolve, "subject", "name the resident by exactly one of eid or document")
	case req.EID != "" && !model.ValidDID(req.EID):
		return Invalid(opResolve, "subject.eid", "eid must be a did:eidgate: identifier")
	case !model.ValidDataTypeCode(req.DataType):
		return Invalid(opResolve, "data_type", "data_type must be a data type code such as edu.degree")
	case !model.ValidPurposeCode(req.Purpose):
		return Invalid(opResolve, "purpose", "purpose must be a purpose code such as admission")
	case req.ConsentID != "" && !model.ValidConsentID(req.ConsentID):
		return Invalid(opResolve, "consent_id", "consent_id is not a consent id")
	case req.Provider != "" && !model.ValidDepartmentID(req.Provider):
		return Invalid(opResolve, "provider", "provider is not a department id")
	case req.Predicate != "" && !model.ValidPredicateID(req.Predicate):
		return Invalid(opResolve, "predicate", "predicate is not a predicate id")
	case req.BreakGlass:
		return validateBreakGlass(req)
	case req.LegalBasis != "":
		return Invalid(opResolve, "break_glass.legal_basis", "a legal basis is stated only with break_glass")
	}
	return nil
}

// validateBreakGlass checks the break-glass part of a request: the legal
// basis is required, bounded plain text, and no consent is named.
func validateBreakGlass(req ResolveRequest) error {
	const field = "break_glass.legal_basis"
	switch {
	case strings.TrimSpace(req.LegalBasis) == "":
		return Invalid(opResolve, field, "a break-glass resolve must state its legal basis").WithCode("legal_basis_required")
	case utf8.RuneCountInString(req.LegalBasis) > MaxLegalBasisRunes:
		return Invalid(opResolve, field, "the legal basis is longer than %d characters", MaxLegalBasisRunes)
	case !utf8.ValidString(req.LegalBasis) || strings.IndexFunc(req.LegalBasis, unicode.IsControl) >= 0:
		return Invalid(opResolve, field, "the legal basis must be plain text without control characters")
	case req.ConsentID != "":
		return Invalid(opResolve, "consent_id", "a break-glass resolve uses no consent; leave consent_id out")
	}
	return nil
}

// subject maps the request's subject to an active eID, following merges.
func (r *Resolver) subject(ctx context.Context, req ResolveRequest) (string, error) {
	eid := req.EID
	if req.Document != nil {
		var err error
		eid, err = r.mapper.LookupDocument(ctx, req.Document.Type, req.Document.Number, req.Document.Country)
		if err != nil {
			return "", Wrap(opResolve, err)
		}
	}
	_, end, err := r.dir.Canonical(ctx, eid)
	switch {
	case IsKind(err, KindConflict):
		// A merge chain that is broken or too long names nobody.
		return "", Errorf(KindNotFound, opResolve, "subject not found")
	case err != nil:
		return "", Wrap(opResolve, err)
	case end.Status != model.EIDActive:
		return "", Errorf(KindNotFound, opResolve, "subject not found")
	}
	return end.ID, nil
}

// usableConsents are the consents that allow this request now (any
// provider the consent names is checked against the route later).
func usableConsents(all []model.Consent, req ResolveRequest, now time.Time) []model.Consent {
	var out []model.Consent
	for _, c := range all {
		if req.ConsentID != "" && c.ID != req.ConsentID {
			continue
		}
		if req.Provider != "" && c.Provider != model.ProviderAny && c.Provider != req.Provider {
			continue
		}
		if ok, _ := c.Allows(req.Requester, c.Provider, req.scope(), req.Purpose, now); ok {
			out = append(out, c)
		}
	}
	// Prefer consents bound to a provider, then the one ending first, so
	// broad grants are used last.
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Provider == model.ProviderAny) != (out[j].Provider == model.ProviderAny) {
			return out[j].Provider == model.ProviderAny
		}
		return out[i].ValidUntil < out[j].ValidUntil
	})
	return out
}

// ruleGrant is what a standing rule grants requester for the resolve: a
// consent-shaped permission under the rule's id, from any provider, so the
// route is picked, the use counted (against the rule) and the ticket bound
// to the rule exactly as for a consent.
func ruleGrant(r model.StandingRule, requester string) model.Consent {
	return model.Consent{ID: r.ID, EID: r.EID, Requester: requester, Provider: model.ProviderAny, DataTypes: r.DataTypes,
		PurposeCode: r.PurposeCode, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, MaxUses: r.MaxUses, Uses: r.Uses,
		Status: model.ConsentActive}
}

// pickRoute finds the newest valid route entry for the data type whose
// provider is active and allowed by one of the consents.
func (r *Resolver) pickRoute(ctx context.Context, eid string, req ResolveRequest, usable []model.Consent) (*model.RouteEntry, *model.Department, *model.Consent, error) {
	routes, err := r.dir.RoutesOf(ctx, eid)
	if err != nil {
		return nil, nil, nil, Wrap(opResolve, err)
	}
	var candidates []model.RouteEntry
	for _, e := range routes {
		if e.DataType == req.DataType && e.Status == model.RouteValid && (req.Provider == "" || e.Provider == req.Provider) {
			candidates = append(candidates, e)
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		if candidates[i].UpdatedAt != candidates[j].UpdatedAt {
			return candidates[i].UpdatedAt > candidates[j].UpdatedAt
		}
		return candidates[i].Provider < candidates[j].Provider
	})
	for i := range candidates {
		e := &candidates[i]
		j := slices.IndexFunc(usable, func(c model.Consent) bool {
			return c.Provider == model.ProviderAny || c.Provider == e.Provider
		})
		if j < 0 {
			continue
		}
		dept, err := r.dir.Department(ctx, e.Provider)
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, Wrap(opResolve, err)
		}
		if dept.Active() && len(dept.Endpoints) > 0 {
			return e, dept, &usable[j], nil
		}
	}
	return nil, nil, nil, nil
}

// consentRequired records the refusal and makes sure the resident has a
// request to answer: an open request for the same requester, data type and
// purpose is reused; otherwise, unless the resident denied or revoked the
// same request within the cool-off period (then the answer is
// consent_denied or consent_revoked and nothing is opened), one is opened
// on the ledger.
func (r *Resolver) consentRequired(ctx context.Context, rec *AccessRecord, req ResolveRequest, all []model.Consent, now time.Time) error {
	var pending *model.Consent
	for i := range all {
		c := &all[i]
		if c.Status == model.ConsentRequested && c.Requester == req.Requester && c.PurposeCode == req.Purpose && pendingFits(*c, req) {
			if until, err := model.ParseTime(c.ValidUntil); err == nil && until.After(now) {
				pending = c
				break
			}
		}
	}
	if pending == nil {
		if e := coolOff(all, req.Requester, req.scope(), req.Purpose, now, r.coolOff); e != nil {
			return r.refusedRecently(ctx, rec, e)
		}
	}
	if pending == nil && req.ConsentID == "" {
		validity := r.consentRequestValidity
		if validity <= 0 {
			validity = 30 * 24 * time.Hour
		}
		provider := model.ProviderAny
		if req.Provider != "" {
			provider = req.Provider
		}
		// Without a text the portal names the purpose in plain words.
		text := req.PurposeText
		c, err := r.consents.RequestConsent(ctx, model.ConsentRequest{
			EID: rec.EID, Requester: req.Requester, Provider: provider, DataTypes: []string{req.scope()},
			PurposeCode: req.Purpose, PurposeText: text,
			ValidFrom: now.Format(time.RFC3339), ValidUntil: now.Add(validity).Format(time.RFC3339),
		})
		if err != nil {
			return Wrap(opResolve, err)
		}
		pending = c
		invalidate(ctx, r.dir, r.log, model.Change{Kind: model.KindConsent, ID: c.ID, EID: c.EID})
	}
	rec.Outcome, rec.Reason = OutcomeConsentRequired, "no active consent"
	details := map[string]string{}
	if pending != nil {
		rec.ConsentID = pending.ID
		details["consent_id"] = pending.ID
		details["consent_status"] = pending.Status
	}
	if err := r.accessLog.Append(ctx, rec); err != nil {
		return err
	}
	return &Error{Kind: KindConsentRequired, Code: "consent_required", Op: opResolve,
		Message: "the resident has not consented to this request; a consent request is waiting for them", Details: details}
}

// refusedRecently records a resolve refused because the resident denied
// or revoked the same request within the cool-off period, and returns e.
func (r *Resolver) refusedRecently(ctx context.Context, rec *AccessRecord, e *Error) error {
	rec.Outcome, rec.Reason = OutcomeConsentDenied, "denied by the resident; cooling off until "+e.Details["retry_after"]
	if e.Code == CodeConsentRevoked {
		rec.Outcome, rec.Reason = OutcomeConsentRevoked, "revoked by the resident; cooling off until "+e.Details["retry_after"]
	}
	rec.ConsentID = e.Details["consent_id"]
	if err := r.accessLog.Append(ctx, rec); err != nil {
		return err
	}
	e.Op = opResolve
	return e
}

// pendingFits reports whether an open consent request serves req: one for
// the data type serves a record; a question is served only by a request
// for that very question, so the resident is never asked to hand over the
// record for a yes/no answer.
func pendingFits(c model.Consent, req ResolveRequest) bool {
	if req.Predicate != "" {
		return slices.Contains(c.DataTypes, req.scope())
	}
	return c.Covers(req.DataType)
}

// policyDenied is the refusal of a request the policy does not allow.
func policyDenied(op, requester, dataType, purpose string, version int64) *Error {
	return (&Error{Kind: KindForbidden, Op: op,
		Message: "policy does not allow " + requester + " to request " + dataType + " for purpose " + purpose,
		Details: map[string]string{"policy_version": itoa(version)}}).WithCode("policy_denied")
}

func firstEndpoint(d *model.Department) string {
	if len(d.Endpoints) == 0 {
		return ""
	}
	return d.Endpoints[0]
}
