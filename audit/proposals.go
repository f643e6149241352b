package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

// Acts that can require a second official's approval (four eyes).
const (
	FourEyesMerge      = ActEIDMerge
	FourEyesDeactivate = ActEIDDeactivate
	FourEyesPolicy     = "policy"             // every policy change
	FourEyesSuspend    = "department.suspend" // a department's suspension
)

// FourEyesActs lists the acts four eyes can be required for.
func FourEyesActs() []string {
	return []string{FourEyesMerge, FourEyesDeactivate, FourEyesPolicy, FourEyesSuspend}
}

// ParseFourEyes reads a comma-separated list of four-eyes acts.
func ParseFourEyes(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ok := false
		for _, a := range FourEyesActs() {
			ok = ok || a == f
		}
		if !ok {
			return nil, errors.New("four-eyes act " + f + ": want " + strings.Join(FourEyesActs(), ", "))
		}
		out[f] = true
	}
	return out, nil
}

// Proposal statuses: pending until a second official decides; approved
// while it executes; executed or failed after; rejected.
const (
	ProposalPending  = "pending"
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
	ProposalExecuted = "executed"
	ProposalFailed   = "failed"
)

// Proposal is an act waiting for a second official.
type Proposal struct {
	ID         string          `json:"id"`
	Act        string          `json:"act"`
	Target     string          `json:"target"`
	EID        string          `json:"eid,omitempty"`
	Params     json.RawMessage `json:"params"`
	Reason     string          `json:"reason,omitempty"`
	ProposedBy string          `json:"proposed_by"`
	ProposedAt time.Time       `json:"proposed_at"`
	Status     string          `json:"status"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	DecidedAt  time.Time       `json:"decided_at,omitzero"`
	Note       string          `json:"note,omitempty"`
	Result     string          `json:"result,omitempty"`
}

// ProposalStore keeps proposals. DecideProposal moves a pending proposal
// to status when decider is not its proposer, atomically, and reports
// whether it did (false: not pending any more, or the proposer's own).
type ProposalStore interface {
	CreateProposal(ctx context.Context, p *Proposal) error
	GetProposal(ctx context.Context, id string) (*Proposal, error)
	ListProposals(ctx context.Context, status string, limit int) ([]Proposal, error)
	DecideProposal(ctx context.Context, id, status, decider, note string, at time.Time) (bool, error)
	FinishProposal(ctx context.Context, id, status, result string) error
}

// Pending is the answer to an act that four eyes hold: it became the
// proposal, which a second official approves or rejects.
type Pending struct{ Proposal *Proposal }

func (p *Pending) Error() string {
	return "the act waits for a second official's approval: proposal " + p.Proposal.ID
}

// Executor performs an approved proposal's act from its parameters.
type Executor func(ctx context.Context, params json.RawMessage) (any, error)

// FourEyes configures which acts need a second official.
type FourEyes struct {
	Store ProposalStore
	Acts  map[string]bool
}

type executingKey struct{}

// SetFourEyes makes the acts in f.Acts proposals.
func (t *Trail) SetFourEyes(f FourEyes) { t.fourEyes = f }

// OnExecute registers how an approved proposal of act is carried out.
func (t *Trail) OnExecute(act string, e Executor) { t.executors[act] = e }

// held reports whether group (an act, or "policy" for every policy
// change) needs a second official and this act is not already the
// execution of an approved proposal.
func (t *Trail) held(ctx context.Context, group string) bool {
	if t.fourEyes.Store == nil || !t.fourEyes.Acts[group] {
		return false
	}
	_, executing := ctx.Value(executingKey{}).(string)
	return !executing
}

// proposalOf is the proposal an act executes ("" for none).
func proposalOf(ctx context.Context) string {
	id, _ := ctx.Value(executingKey{}).(string)
	return id
}

// propose records the act as a proposal and returns *Pending.
func (t *Trail) propose(ctx context.Context, e Entry, params any) error {
	const op = "audit.Propose"
	a, err := actor(ctx, op)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return routing.Wrap(op, err)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	p := &Proposal{ID: "prop_" + hex.EncodeToString(b[:]), Act: e.Act, Target: e.Target, EID: e.EID, Params: raw,
		Reason: e.Reason, ProposedBy: a.Official, ProposedAt: t.clock.Now().UTC(), Status: ProposalPending}
	if err := t.fourEyes.Store.CreateProposal(ctx, p); err != nil {
		return routing.Wrap(op, err)
	}
	if _, err := t.Note(ctx, Entry{Act: ActProposalCreate, Target: e.Target, EID: e.EID, Reason: e.Reason, ProposalID: p.ID},
		map[string]any{"act": e.Act, "params": json.RawMessage(raw)}); err != nil {
		return err
	}
	return &Pending{Proposal: p}
}

// Proposals lists proposals in status ("" for all), newest first.
func (t *Trail) Proposals(ctx context.Context, status string) ([]Proposal, error) {
	if t.fourEyes.Store == nil {
		return nil, nil
	}
	out, err := t.fourEyes.Store.ListProposals(ctx, status, 200)
	return out, routing.Wrap("audit.Proposals", err)
}

// permissionFor is the permission an official needs to approve act.
func permissionFor(act string) accounts.Permission {
	switch {
	case strings.HasPrefix(act, "policy."):
		return accounts.PermPoliciesWrite
	case strings.HasPrefix(act, "department."):
		return accounts.PermRegistryWrite
	}
	return accounts.PermResidents
}

func proposalErr(kind routing.Kind, code, msg string) error {
	return (&routing.Error{Kind: kind, Op: "audit.Decide", Message: msg}).WithCode(code)
}

// Approve lets a second official approve a proposal: it moves to approved
// exactly once (a second approval, or the proposer's own, is refused),
// then its act runs under the approver, as an audit record naming the
// proposal.
func (t *Trail) Approve(ctx context.Context, id, note string) (*Proposal, error) {
	p, err := t.decide(ctx, id, ProposalApproved, note)
	if err != nil {
		return nil, err
	}
	exec := t.executors[p.Act]
	status, result := ProposalExecuted, ""
	if exec == nil {
		status, result = ProposalFailed, "no executor for "+p.Act
	} else if _, err := exec(context.WithValue(ctx, executingKey{}, p.ID), p.Params); err != nil {
		status, result = ProposalFailed, routing.MessageOf(err)
	}
	if err := t.fourEyes.Store.FinishProposal(context.WithoutCancel(ctx), p.ID, status, result); err != nil {
		return nil, routing.Wrap("audit.Approve", err)
	}
	p.Status, p.Result = status, result
	return p, nil
}

// Reject closes a proposal without its act.
func (t *Trail) Reject(ctx context.Context, id, note string) (*Proposal, error) {
	return t.decide(ctx, id, ProposalRejected, note)
}

func (t *Trail) decide(ctx context.Context, id, status, note string) (*Proposal, error) {
	const op = "audit.Decide"
	if t.fourEyes.Store == nil {
		return nil, proposalErr(routing.KindNotFound, "proposal_not_found", "no such proposal")
	}
	a, err := actor(ctx, op)
	if err != nil {
		return nil, err
	}
	p, err := t.fourEyes.Store.GetProposal(ctx, id)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if p.ProposedBy == a.Official {
		return nil, proposalErr(routing.KindForbidden, "own_proposal", "a second official must decide; you proposed this")
	}
	if a.Role != "" && !accounts.RoleCan(a.Role, permissionFor(p.Act)) {
		return nil, proposalErr(routing.KindForbidden, "forbidden", "your role may not decide this proposal")
	}
	now := t.clock.Now().UTC()
	ok, err := t.fourEyes.Store.DecideProposal(ctx, id, status, a.Official, note, now)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if !ok {
		return nil, proposalErr(routing.KindConflict, "proposal_decided", "this proposal was decided already")
	}
	act := ActProposalApprove
	if status == ProposalRejected {
		act = ActProposalReject
	}
	if _, err := t.Note(ctx, Entry{Act: act, Target: p.Target, EID: p.EID, Reason: note, ProposalID: p.ID},
		map[string]string{"act": p.Act, "proposed_by": p.ProposedBy, "decided_by": a.Official}); err != nil {
		return nil, err
	}
	p.Status, p.DecidedBy, p.DecidedAt, p.Note = status, a.Official, now, note
	return p, nil
}
