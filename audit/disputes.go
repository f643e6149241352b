package audit

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Disputes is the dispute service with each step audited: the resident's
// dispute, the department's answer and the auditor's outcome are records
// of the trail (the texts stay out of it: only their digests, as on the
// ledger).
type Disputes struct {
	*routing.DisputeService
	trail *Trail
}

// NewDisputes wraps the dispute service.
func NewDisputes(s *routing.DisputeService, t *Trail) *Disputes {
	return &Disputes{DisputeService: s, trail: t}
}

// disputeState is what an audit record shows of a dispute.
type disputeState struct {
	ID       string `json:"id"`
	AccessID string `json:"access_id"`
	Status   string `json:"status"`
	Outcome  string `json:"outcome,omitempty"`
	TxID     string `json:"tx_id"`
}

func stateOf(d *routing.Dispute) any {
	return disputeState{ID: d.ID, AccessID: d.AccessID, Status: d.Status, Outcome: d.Outcome, TxID: d.TxID}
}

// Raise records resident eid's dispute of an access; the resident is the
// actor.
func (s *Disputes) Raise(ctx context.Context, eid, accessID, reason, text string) (*routing.Dispute, error) {
	ctx = routing.WithActor(ctx, routing.Actor{Official: "resident:" + eid, Role: "resident", RequestID: requestOf(ctx)})
	return Do(ctx, s.trail, Entry{Act: ActDisputeRaise, Target: accessID, EID: eid, Reason: reason},
		func(ctx context.Context) (*routing.Dispute, error) {
			return s.DisputeService.Raise(ctx, eid, accessID, reason, text)
		}, stateOf)
}

// Answer records department dept's answer, given by official; the
// department's official is the actor.
func (s *Disputes) Answer(ctx context.Context, dept, official, id, answer string) (*routing.Dispute, error) {
	ctx = routing.WithActor(ctx, routing.Actor{Official: "department:" + dept + ":" + official, Role: "department", RequestID: requestOf(ctx)})
	return Do(ctx, s.trail, Entry{Act: ActDisputeAnswer, Target: id, EID: s.eidOf(ctx, id)},
		func(ctx context.Context) (*routing.Dispute, error) {
			return s.DisputeService.Answer(ctx, dept, official, id, answer)
		}, stateOf)
}

// Close records the signed-in auditor's outcome; the auditor appears on
// the ledger as their pseudonym in the trail.
func (s *Disputes) Close(ctx context.Context, id, outcome, note string) (*routing.Dispute, error) {
	a, err := actor(ctx, "audit.Disputes.Close")
	if err != nil {
		return nil, err
	}
	return Do(ctx, s.trail, Entry{Act: ActDisputeClose, Target: id, EID: s.eidOf(ctx, id), Reason: outcome},
		func(ctx context.Context) (*routing.Dispute, error) {
			return s.DisputeService.Close(ctx, s.trail.Pseudonym(a.Official), id, outcome, note)
		}, stateOf)
}

// eidOf names the resident of a dispute in its records, so the resident
// sees the steps in the portal ("" when it cannot be read).
func (s *Disputes) eidOf(ctx context.Context, id string) string {
	if !model.ValidDisputeID(id) {
		return ""
	}
	d, err := s.DisputeService.Get(ctx, id)
	if err != nil {
		return ""
	}
	return d.EID
}

func requestOf(ctx context.Context) string {
	a, _ := routing.ActorFrom(ctx)
	return a.RequestID
}
