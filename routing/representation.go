package routing

import (
	"context"
	"sort"
	"strings"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RepresentationLedger reads guardians' relations and records a
// guardian's denial for a ward (the ledger client).
type RepresentationLedger interface {
	GetRepresentation(ctx context.Context, id string) (*model.Representation, error)
	ListRepresentationsByWard(ctx context.Context, eid string) ([]model.Representation, error)
	ListRepresentationsByGuardian(ctx context.Context, eid string) ([]model.Representation, error)
	DenyConsentForWard(ctx context.Context, id, representation, guardian string) (*model.Consent, error)
}

// CodeRepresentationExpired: the relation under which a guardian would
// act for the ward has expired (the ward came of age, its end date
// passed) or an officer ended it.
const CodeRepresentationExpired = "representation_expired"

// Representations is the guardian's side of representation: which wards
// a signed-in resident may act for now, and acting for one. Whether a
// relation is valid is decided from the ledger's record on every use; the
// chaincode checks it again against the transaction time of every
// decision, so a relation that ends between the two checks still stops
// the decision.
type Representations struct {
	ledger   RepresentationLedger
	consents *ConsentService
	clock    Clock
}

// NewRepresentations checks its dependencies and builds the service.
func NewRepresentations(l RepresentationLedger, consents *ConsentService, clock Clock) (*Representations, error) {
	const op = "routing.NewRepresentations"
	switch {
	case l == nil:
		return nil, MissingDependency(op, "a representation ledger")
	case consents == nil:
		return nil, MissingDependency(op, "the consent service")
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Representations{ledger: l, consents: consents, clock: clock}, nil
}

// Relation states as people see them.
const (
	RelationValid      = "valid"
	RelationNotYet     = "not_yet_valid"
	RelationExpired    = "expired"
	RelationEndedState = "ended"
)

// RelationView is a relation and its state now.
type RelationView struct {
	model.Representation
	State string `json:"state"`
}

const opRepresentation = "routing.Representations"

func (s *Representations) view(r model.Representation) RelationView {
	ok, reason := r.ValidAt(s.clock.Now())
	state := RelationValid
	switch {
	case ok:
	case reason == model.RepresentationNotYetValid:
		state = RelationNotYet
	case reason == model.RepresentationEndedReason:
		state = RelationEndedState
	default:
		state = RelationExpired
	}
	return RelationView{Representation: r, State: state}
}

func (s *Representations) views(rs []model.Representation, err error) ([]RelationView, error) {
	if err != nil {
		return nil, Wrap(opRepresentation, err)
	}
	out := make([]RelationView, 0, len(rs))
	for _, r := range rs {
		out = append(out, s.view(r))
	}
	// Newest first: the relation a person looks for is usually the last.
	sort.SliceStable(out, func(i, j int) bool { return out[i].RegisteredAt > out[j].RegisteredAt })
	return out, nil
}

// Wards lists the relations under which guardian acts, or acted, for
// others.
func (s *Representations) Wards(ctx context.Context, guardian string) ([]RelationView, error) {
	return s.views(s.ledger.ListRepresentationsByGuardian(ctx, guardian))
}

// Guardians lists the relations under which others may act, or acted,
// for ward.
func (s *Representations) Guardians(ctx context.Context, ward string) ([]RelationView, error) {
	return s.views(s.ledger.ListRepresentationsByWard(ctx, ward))
}

// Get reads one relation (for officers).
func (s *Representations) Get(ctx context.Context, id string) (*RelationView, error) {
	if !model.ValidRepresentationID(id) {
		return nil, Invalid(opRepresentation, "id", "not a representation id")
	}
	r, err := s.ledger.GetRepresentation(ctx, id)
	if err != nil {
		return nil, Wrap(opRepresentation, err)
	}
	v := s.view(*r)
	return &v, nil
}

// ActingFor returns the relation under which guardian may act for ward
// now. Someone who was never the ward's guardian gets not_found, as if
// the ward did not exist; a guardian whose every relation to the ward has
// expired or ended gets 403 representation_expired.
func (s *Representations) ActingFor(ctx context.Context, guardian, ward string) (*model.Representation, error) {
	if !model.ValidDID(ward) {
		return nil, Errorf(KindNotFound, opRepresentation, "no such ward")
	}
	all, err := s.ledger.ListRepresentationsByGuardian(ctx, guardian)
	if err != nil {
		return nil, Wrap(opRepresentation, err)
	}
	var last *RelationView
	for _, r := range all {
		if r.Ward != ward {
			continue
		}
		v := s.view(r)
		if v.State == RelationValid {
			return &r, nil
		}
		last = &v
	}
	if last == nil {
		return nil, Errorf(KindNotFound, opRepresentation, "no such ward")
	}
	return nil, expired(last.State)
}

func expired(state string) error {
	msg := "your right to act for this resident has expired"
	switch state {
	case RelationEndedState:
		msg = "your right to act for this resident was ended by an officer"
	case RelationNotYet:
		msg = "your right to act for this resident has not begun yet"
	}
	return (&Error{Kind: KindForbidden, Op: opRepresentation, Message: msg}).WithCode(CodeRepresentationExpired)
}

// Refused gives the ledger's refusal of a guardian's decision under a
// relation that is no longer valid at the transaction time its stable
// code; other errors are returned as they are.
func Refused(err error) error {
	msg := MessageOf(err)
	for _, reason := range []string{model.RepresentationExpired, model.RepresentationEndedReason, model.RepresentationNotYetValid} {
		if strings.Contains(msg, reason) {
			return (&Error{Kind: KindForbidden, Op: opRepresentation, Message: "the ledger refused the decision: the right to act for this resident is not valid now", Err: err}).WithCode(CodeRepresentationExpired)
		}
	}
	return err
}

// WardConsents lists the ward's consents for their guardian.
func (s *Representations) WardConsents(ctx context.Context, guardian, ward string) ([]ConsentView, error) {
	if _, err := s.ActingFor(ctx, guardian, ward); err != nil {
		return nil, err
	}
	return s.consents.ListForResident(ctx, ward)
}

// Deny refuses the ward's request id as their guardian.
func (s *Representations) Deny(ctx context.Context, guardian, ward, id string) (*model.Consent, error) {
	r, err := s.ActingFor(ctx, guardian, ward)
	if err != nil {
		return nil, err
	}
	out, err := s.consents.decide(ctx, ward, id, model.ConsentRequested, "denied", func() (*model.Consent, error) {
		return s.ledger.DenyConsentForWard(ctx, id, r.ID, guardian)
	})
	return out, Refused(err)
}
