package mapping

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// RepresentationLedger records guardians' relations (the ledger client).
type RepresentationLedger interface {
	RegisterRepresentation(ctx context.Context, d model.RepresentationDraft) (*model.Representation, error)
	EndRepresentation(ctx context.Context, id, reason, officer string) (*model.Representation, error)
}

// Representations is how an officer registers and ends the relations
// under which a guardian acts for a ward. The evidence's reference is
// hashed with the blinding key and masked before it leaves this package;
// a parent's relation takes the ward's date of birth from the ward's PRC
// resident ID number (GB 11643) when the officer gives it, or as the
// officer enters it.
type Representations struct {
	ids    *Service
	ledger RepresentationLedger
}

// NewRepresentations builds the officer's side of representation.
func NewRepresentations(ids *Service, l RepresentationLedger) (*Representations, error) {
	const op = "mapping.NewRepresentations"
	switch {
	case ids == nil:
		return nil, routing.MissingDependency(op, "the mapping service")
	case l == nil:
		return nil, routing.MissingDependency(op, "a representation ledger")
	}
	return &Representations{ids: ids, ledger: l}, nil
}

// RelationInput is what an officer enters to register a relation.
type RelationInput struct {
	Ward, Guardian    string // eIDs
	Kind              string
	EvidenceKind      string
	EvidenceReference string // the document's number as the officer read it; never stored
	// WardDocument is the ward's PRC resident ID, from whose number the
	// date of birth is taken; or WardBirthDate (YYYY-MM-DD) is entered.
	WardDocument  *Input
	WardBirthDate string
	ValidUntil    string // RFC 3339; empty for a parent: the 18th birthday
}

const opRepresentation = "mapping.Representations"

// Codes of refused relations.
const (
	CodeRepresentationSelf    = "representation_self"
	CodeRepresentationOverlap = "representation_overlap"
	CodeRepresentationAdult   = "representation_adult_ward"
)

// Register records a relation for officer.
func (r *Representations) Register(ctx context.Context, in RelationInput, officer string) (*model.Representation, error) {
	d, err := r.draft(ctx, in, officer)
	if err != nil {
		return nil, err
	}
	rep, err := r.ledger.RegisterRepresentation(ctx, d)
	if err != nil {
		return nil, relationRefused(err)
	}
	return rep, nil
}

// End ends an active relation for officer.
func (r *Representations) End(ctx context.Context, id, reason, officer string) (*model.Representation, error) {
	switch {
	case !model.ValidRepresentationID(id):
		return nil, routing.Invalid(opRepresentation, "id", "not a representation id")
	case strings.TrimSpace(reason) == "":
		return nil, routing.Invalid(opRepresentation, "reason", "say why the relation ends")
	}
	rep, err := r.ledger.EndRepresentation(ctx, id, strings.TrimSpace(reason), officer)
	if err != nil {
		return nil, relationRefused(err)
	}
	return rep, nil
}

func (r *Representations) draft(ctx context.Context, in RelationInput, officer string) (model.RepresentationDraft, error) {
	const op = opRepresentation
	switch {
	case !model.ValidDID(in.Ward):
		return model.RepresentationDraft{}, routing.Invalid(op, "ward", "the ward must be an eID (did:eidgate:…)")
	case !model.ValidDID(in.Guardian):
		return model.RepresentationDraft{}, routing.Invalid(op, "guardian", "the guardian must be an eID (did:eidgate:…)")
	case in.Ward == in.Guardian:
		return model.RepresentationDraft{}, (&routing.Error{Kind: routing.KindConflict, Op: op, Field: "guardian",
			Message: "a resident cannot be their own guardian"}).WithCode(CodeRepresentationSelf)
	case !slices.Contains(model.RepresentationKinds(), in.Kind):
		return model.RepresentationDraft{}, routing.Invalid(op, "kind", "the kind must be parent, guardian or legal_representative")
	case !slices.Contains(model.EvidenceKinds(), in.EvidenceKind):
		return model.RepresentationDraft{}, routing.Invalid(op, "evidence_kind", "the evidence kind must be one of %s", strings.Join(model.EvidenceKinds(), ", "))
	}
	ref := fold(strings.TrimSpace(in.EvidenceReference))
	if len(ref) < 4 || len(ref) > 64 || strings.ContainsAny(ref, "*") {
		return model.RepresentationDraft{}, routing.Invalid(op, "evidence_reference", "the evidence reference must be 4 to 64 letters and digits")
	}
	birth, err := r.birthDate(ctx, in)
	if err != nil {
		return model.RepresentationDraft{}, err
	}
	keys := r.ids.Keyring()
	d := model.RepresentationDraft{Ward: in.Ward, Guardian: in.Guardian, Kind: in.Kind, WardBirthDate: birth,
		Evidence: model.RepresentationEvidence{Kind: in.EvidenceKind, HashedRef: keys.EvidenceHash(in.EvidenceKind, in.Ward, ref),
			MaskedRef: Mask(ref)},
		ValidUntil: in.ValidUntil, Officer: officer}
	if err := d.Validate(); err != nil {
		return model.RepresentationDraft{}, relationRefused(err)
	}
	return d, nil
}

// birthDate is a parent's ward's date of birth: from the ward's resident
// ID, which must be mapped to the ward, or as entered.
func (r *Representations) birthDate(ctx context.Context, in RelationInput) (string, error) {
	const op = opRepresentation
	if in.Kind != model.RepresentationParent {
		if in.WardDocument != nil || in.WardBirthDate != "" {
			return "", routing.Invalid(op, "ward_birth_date", "a date of birth is recorded for a parent's relation only")
		}
		return "", nil
	}
	if in.WardDocument == nil {
		if _, err := model.ParseBirthDate(in.WardBirthDate); err != nil {
			return "", routing.Invalid(op, "ward_birth_date", "enter the ward's date of birth (YYYY-MM-DD) or their resident ID")
		}
		return in.WardBirthDate, nil
	}
	if in.WardDocument.Type != CNResident {
		return "", routing.Invalid(op, "ward_document", "only a PRC resident ID carries the date of birth; enter it instead")
	}
	doc, err := r.ids.parse(op, "ward_document", *in.WardDocument)
	if err != nil {
		return "", err
	}
	eid, err := r.ids.find(ctx, op, doc)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return "", err
	}
	if eid != in.Ward {
		return "", routing.Invalid(op, "ward_document", "the resident ID %s is not the ward's", doc)
	}
	n := doc.RevealNormalized() // 18 characters; YYYYMMDD at 6
	birth := n[6:10] + "-" + n[10:12] + "-" + n[12:14]
	if in.WardBirthDate != "" && in.WardBirthDate != birth {
		return "", routing.Invalid(op, "ward_birth_date", "the date of birth entered is not the one in the ward's resident ID")
	}
	return birth, nil
}

// relationRefused gives the ledger's refusals of a relation their stable
// codes.
func relationRefused(err error) error {
	msg := routing.MessageOf(err)
	conflict := &routing.Error{Kind: routing.KindConflict, Op: opRepresentation, Message: msg, Err: err}
	switch {
	case strings.Contains(msg, CodeRepresentationSelf):
		return conflict.WithCode(CodeRepresentationSelf)
	case strings.Contains(msg, CodeRepresentationOverlap):
		return conflict.WithCode(CodeRepresentationOverlap)
	case strings.Contains(msg, CodeRepresentationAdult):
		return conflict.WithCode(CodeRepresentationAdult)
	}
	var me *model.Error
	if errors.As(err, &me) && me.Code == model.CodeInvalid {
		return routing.Invalid(opRepresentation, "relation", "%s", me.Message)
	}
	return routing.Wrap(opRepresentation, err)
}
