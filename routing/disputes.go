package routing

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eidgate/eidgate/chaincode/model"
)

// DisputeLedger records disputes on the ledger.
type DisputeLedger interface {
	RaiseDispute(ctx context.Context, d model.DisputeDraft) (*model.Dispute, error)
	AnswerDispute(ctx context.Context, a model.DisputeAnswer) (*model.Dispute, error)
	CloseDispute(ctx context.Context, c model.DisputeClosing) (*model.Dispute, error)
	GetDispute(ctx context.Context, id string) (*model.Dispute, error)
	ListDisputesByEID(ctx context.Context, eid string) ([]model.Dispute, error)
}

// DisputeStore keeps the off-chain part of disputes: the free text whose
// digests are on the ledger, and a copy of the on-chain state to list and
// filter.
type DisputeStore interface {
	// InsertDispute adds a dispute; SaveDispute replaces a known one.
	InsertDispute(ctx context.Context, d *Dispute) error
	SaveDispute(ctx context.Context, d *Dispute) error
	// GetDispute is not_found for an unknown id.
	GetDispute(ctx context.Context, id string) (*Dispute, error)
	ListDisputes(ctx context.Context, f DisputeFilter) ([]Dispute, error)
}

// Dispute is a resident's dispute of an access: the on-chain record and
// the words kept off the chain (the resident's text, the department's
// answer, the auditor's note), each checkable against its digest on the
// ledger.
type Dispute struct {
	model.Dispute
	Text   string `json:"text,omitempty"`
	Answer string `json:"answer,omitempty"`
	Note   string `json:"note,omitempty"`
}

// DisputeFilter selects disputes; zero fields do not filter.
type DisputeFilter struct {
	EID        string
	Department string
	Status     string
	AccessID   string
	Limit      int
}

// MaxDisputeTextRunes bounds each free text of a dispute.
const MaxDisputeTextRunes = 2000

// DisputeService lets a resident dispute an access recorded about them, the
// department that made it answer, and an auditor record the outcome. Each
// step is a ledger transaction first (tied to the access record's leaf
// hash and its anchored batch), then the off-chain copy with the text.
type DisputeService struct {
	ledger       DisputeLedger
	store        DisputeStore
	access       AccessStore
	pseudonymKey []byte
	clock        Clock
}

// DisputeConfig is what a DisputeService is built from.
type DisputeConfig struct {
	Ledger       DisputeLedger // required
	Store        DisputeStore  // required
	Access       AccessStore   // required: the disputed access records
	PseudonymKey []byte        // required (16 bytes or more): answering officials appear as OfficialPseudonym
	Clock        Clock         // default the system clock: a sealed break-glass access cannot be disputed yet
}

// NewDisputeService checks cfg and builds the service.
func NewDisputeService(cfg DisputeConfig) (*DisputeService, error) {
	const op = "routing.NewDisputeService"
	switch {
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "a dispute ledger")
	case cfg.Store == nil:
		return nil, MissingDependency(op, "a dispute store")
	case cfg.Access == nil:
		return nil, MissingDependency(op, "an access store")
	case len(cfg.PseudonymKey) < 16:
		return nil, MissingDependency(op, "a pseudonym key of 16 bytes or more")
	}
	s := &DisputeService{ledger: cfg.Ledger, store: cfg.Store, access: cfg.Access, pseudonymKey: cfg.PseudonymKey, clock: cfg.Clock}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	return s, nil
}

const opDispute = "routing.Dispute"

func disputeNotFound() error {
	return (&Error{Kind: KindNotFound, Op: opDispute, Message: "no such dispute"}).WithCode("not_found")
}

// Raise records resident eid's dispute of their access record accessID.
// Someone else's access is not found, as a missing one is; an access not
// anchored yet is refused (dispute_not_anchored) — the dispute must name
// the anchored batch; an access with a dispute that is not closed is a
// conflict (dispute_open).
func (s *DisputeService) Raise(ctx context.Context, eid, accessID, reason, text string) (*Dispute, error) {
	if !slices.Contains(model.DisputeReasons, reason) {
		return nil, Invalid(opDispute, "reason", "reason must be one of %s", strings.Join(model.DisputeReasons, ", "))
	}
	text, err := disputeText("text", text, false)
	if err != nil {
		return nil, err
	}
	rec, err := residentAccess(ctx, s.access, opDispute, eid, accessID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	if rec.BatchID == "" || rec.AnchorTxID == "" {
		return nil, (&Error{Kind: KindConflict, Op: opDispute, Field: "access_id",
			Message: "this access is not recorded on the ledger yet; you can dispute it once it is, usually within a minute"}).WithCode("dispute_not_anchored")
	}
	open, err := s.store.ListDisputes(ctx, DisputeFilter{AccessID: accessID})
	if err != nil {
		return nil, Wrap(opDispute, err)
	}
	for _, d := range open {
		if d.Status != model.DisputeClosed {
			return nil, disputeConflict("dispute_open", "this access already has a dispute that is not closed", d.ID)
		}
	}
	draft := model.DisputeDraft{AccessID: rec.ID, EID: eid, Department: rec.Requester, BatchID: rec.BatchID,
		LeafHash: rec.LeafHash, Reason: reason}
	if text != "" {
		draft.TextDigest = model.TextDigest(text)
	}
	onChain, err := s.ledger.RaiseDispute(ctx, draft)
	if IsKind(err, KindConflict) {
		onChain, err = s.raisedEarlier(ctx, draft, err)
	}
	if err != nil {
		return nil, s.ledgerRefusal(err)
	}
	d := &Dispute{Dispute: *onChain, Text: text}
	if err := s.store.InsertDispute(ctx, d); err != nil {
		return nil, Wrap(opDispute, err)
	}
	return d, nil
}

// Answer records department dept's explanation of a dispute about its
// access, given by official. A dispute of another department's access is
// not found; only an open dispute is answered (dispute_state).
func (s *DisputeService) Answer(ctx context.Context, dept, official, id, answer string) (*Dispute, error) {
	answer, err := disputeText("answer", answer, true)
	if err != nil {
		return nil, err
	}
	d, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Department != dept {
		return nil, disputeNotFound()
	}
	if d.Status != model.DisputeOpen {
		return nil, disputeConflict("dispute_state", "the dispute is "+d.Status+" and can no longer be answered", d.ID)
	}
	onChain, err := s.ledger.AnswerDispute(ctx, model.DisputeAnswer{ID: d.ID, Department: dept,
		Official: OfficialPseudonym(s.pseudonymKey, dept, official), AnswerDigest: model.TextDigest(answer)})
	if IsKind(err, KindConflict) {
		onChain, err = s.doneEarlier(ctx, d.ID, err, func(c *model.Dispute) bool {
			return c.Status == model.DisputeAnswered && c.AnswerDigest == model.TextDigest(answer)
		})
	}
	if err != nil {
		return nil, s.ledgerRefusal(err)
	}
	d.Dispute, d.Answer = *onChain, answer
	if err := s.store.SaveDispute(ctx, d); err != nil {
		return nil, Wrap(opDispute, err)
	}
	return d, nil
}

// Close records an auditor's outcome (upheld or dismissed) with a note;
// officialRef is the auditor's pseudonym. A closed dispute is final
// (dispute_state).
func (s *DisputeService) Close(ctx context.Context, officialRef, id, outcome, note string) (*Dispute, error) {
	if outcome != model.DisputeUpheld && outcome != model.DisputeDismissed {
		return nil, Invalid(opDispute, "outcome", "outcome must be upheld or dismissed")
	}
	note, err := disputeText("note", note, true)
	if err != nil {
		return nil, err
	}
	d, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status == model.DisputeClosed {
		return nil, disputeConflict("dispute_state", "the dispute is closed", d.ID)
	}
	onChain, err := s.ledger.CloseDispute(ctx, model.DisputeClosing{ID: d.ID, Outcome: outcome, Official: officialRef,
		OutcomeDigest: model.TextDigest(note)})
	if IsKind(err, KindConflict) {
		onChain, err = s.doneEarlier(ctx, d.ID, err, func(c *model.Dispute) bool {
			return c.Status == model.DisputeClosed && c.Outcome == outcome && c.OutcomeDigest == model.TextDigest(note)
		})
	}
	if err != nil {
		return nil, s.ledgerRefusal(err)
	}
	d.Dispute, d.Note = *onChain, note
	if err := s.store.SaveDispute(ctx, d); err != nil {
		return nil, Wrap(opDispute, err)
	}
	return d, nil
}

// Get returns one dispute (for auditors).
func (s *DisputeService) Get(ctx context.Context, id string) (*Dispute, error) { return s.get(ctx, id) }

// ForResident returns one dispute of resident eid; someone else's is not
// found.
func (s *DisputeService) ForResident(ctx context.Context, eid, id string) (*Dispute, error) {
	d, err := s.get(ctx, id)
	if err == nil && d.EID != eid {
		return nil, disputeNotFound()
	}
	return d, err
}

// ForDepartment returns one dispute of department dept's accesses;
// another department's is not found.
func (s *DisputeService) ForDepartment(ctx context.Context, dept, id string) (*Dispute, error) {
	d, err := s.get(ctx, id)
	if err == nil && d.Department != dept {
		return nil, disputeNotFound()
	}
	return d, err
}

// List returns the disputes f selects, newest first. The caller narrows f
// to what its user may see (a resident's eID, a department's own).
func (s *DisputeService) List(ctx context.Context, f DisputeFilter) ([]Dispute, error) {
	if f.Status != "" && !slices.Contains([]string{model.DisputeOpen, model.DisputeAnswered, model.DisputeClosed}, f.Status) {
		return nil, Invalid(opDispute, "status", "status must be open, answered or closed")
	}
	out, err := s.store.ListDisputes(ctx, f)
	return out, Wrap(opDispute, err)
}

func (s *DisputeService) get(ctx context.Context, id string) (*Dispute, error) {
	if !model.ValidDisputeID(id) {
		return nil, disputeNotFound()
	}
	d, err := s.store.GetDispute(ctx, id)
	if IsKind(err, KindNotFound) {
		return nil, disputeNotFound()
	}
	return d, Wrap(opDispute, err)
}

// raisedEarlier finds, after the ledger refused a dispute as a conflict,
// the same dispute raised by an earlier attempt whose database write
// failed (same access, reason and text, not closed): the database then
// catches up and the retry succeeds. Otherwise the refusal stands.
func (s *DisputeService) raisedEarlier(ctx context.Context, d model.DisputeDraft, refusal error) (*model.Dispute, error) {
	list, err := s.ledger.ListDisputesByEID(ctx, d.EID)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if c.AccessID == d.AccessID && c.Status != model.DisputeClosed && c.Reason == d.Reason && c.TextDigest == d.TextDigest {
			return &c, nil
		}
	}
	return nil, refusal
}

// doneEarlier is raisedEarlier for an answer or an outcome: the ledger
// already holds exactly what this call asked for.
func (s *DisputeService) doneEarlier(ctx context.Context, id string, refusal error, same func(*model.Dispute) bool) (*model.Dispute, error) {
	c, err := s.ledger.GetDispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if !same(c) {
		return nil, refusal
	}
	return c, nil
}

// ledgerRefusal passes the ledger's answer on: a refusal the checks above
// did not foresee (a race with another replica) keeps its kind.
func (s *DisputeService) ledgerRefusal(err error) error {
	if IsKind(err, KindConflict) {
		return disputeConflict("dispute_state", "the dispute changed meanwhile; reload it", "")
	}
	return Wrap(opDispute, err)
}

func disputeConflict(code, msg, id string) error {
	e := (&Error{Kind: KindConflict, Op: opDispute, Message: msg}).WithCode(code)
	if id != "" {
		e.Details = map[string]string{"dispute_id": id}
	}
	return e
}

// disputeText checks one free text of a dispute: trimmed, valid UTF-8, no
// control characters other than line breaks, at most MaxDisputeTextRunes.
func disputeText(field, s string, required bool) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch {
	case s == "" && required:
		return "", Invalid(opDispute, field, "%s is required", field)
	case !utf8.ValidString(s):
		return "", Invalid(opDispute, field, "%s is not valid UTF-8", field)
	case utf8.RuneCountInString(s) > MaxDisputeTextRunes:
		return "", Invalid(opDispute, field, "%s is longer than %d characters", field, MaxDisputeTextRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return "", Invalid(opDispute, field, "%s contains a control character", field)
		}
	}
	return s, nil
}

// RaisedTime is when the dispute was raised.
func (d Dispute) RaisedTime() time.Time {
	t, _ := model.ParseTime(d.RaisedAt)
	return t
}

// ResidentRecord returns resident eid's access record id; someone else's,
// or a break-glass access still sealed from the resident, is not found, as
// a missing one is.
func (s *AccessRecords) ResidentRecord(ctx context.Context, eid, id string) (*AccessRecord, error) {
	return residentAccess(ctx, s.store, "routing.AccessRecords.ResidentRecord", eid, id, s.clock.Now())
}

func residentAccess(ctx context.Context, store AccessStore, op, eid, id string, now time.Time) (*AccessRecord, error) {
	rec, err := store.GetAccess(ctx, id)
	if err != nil && !IsKind(err, KindNotFound) {
		return nil, Wrap(op, err)
	}
	if err != nil || eid == "" || rec.EID != eid || !rec.VisibleAt(now) {
		return nil, (&Error{Kind: KindNotFound, Op: op, Message: "no such access record", Field: "access_id"}).WithCode("not_found")
	}
	return rec, nil
}
