package audit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/merkle"
)

// Acts an audit record can name.
const (
	ActEIDCreate         = "eid.create"
	ActEIDMerge          = "eid.merge"
	ActEIDDeactivate     = "eid.deactivate"
	ActDocumentAdd       = "eid.document.add"
	ActDocumentRemove    = "eid.document.remove"
	ActActivationCode    = "eid.activation_code"
	ActDepartmentCreate  = "department.register"
	ActDepartmentUpdate  = "department.update"
	ActDepartmentStatus  = "department.status"
	ActSigningKeyRevoke  = "department.key.revoke"
	ActDataTypeCreate    = "datatype.register"
	ActDataTypeUpdate    = "datatype.update"
	ActAPIKeyIssue       = "apikey.issue"
	ActAPIKeyRevoke      = "apikey.revoke"
	ActPolicyAdd         = "policy.line.add"
	ActPolicyRemove      = "policy.line.remove"
	ActBreakGlassSet     = "policy.break_glass.set"
	ActBreakGlassRemove  = "policy.break_glass.remove"
	ActBreakGlassReview  = "access.break_glass.review"
	ActStaffCreate       = "staff.create"
	ActStaffDisable      = "staff.disable"
	ActStaffEnable       = "staff.enable"
	ActStaffReset        = "staff.reset"
	ActStaffRole         = "staff.role"
	ActBlindingKeyRotate = "key.blinding.rotate"
	ActTicketKeyRotate   = "key.ticket.rotate"
	ActImport            = "import.start"
	ActProposalCreate    = "proposal.create"
	ActProposalApprove   = "proposal.approve"
	ActProposalReject    = "proposal.reject"
	ActDisputeRaise      = "dispute.raise"
	ActDisputeAnswer     = "dispute.answer"
	ActDisputeClose      = "dispute.close"
)

// Acts lists every act, in the order the console offers them as a filter.
func Acts() []string {
	return []string{ActEIDCreate, ActEIDMerge, ActEIDDeactivate, ActDocumentAdd, ActDocumentRemove, ActActivationCode,
		ActDepartmentCreate, ActDepartmentUpdate, ActDepartmentStatus, ActSigningKeyRevoke, ActDataTypeCreate,
		ActDataTypeUpdate, ActAPIKeyIssue, ActAPIKeyRevoke, ActPolicyAdd, ActPolicyRemove, ActBreakGlassSet,
		ActBreakGlassRemove, ActBreakGlassReview, ActStaffCreate, ActStaffDisable, ActStaffEnable, ActStaffReset, ActStaffRole,
		ActBlindingKeyRotate, ActTicketKeyRotate, ActImport, ActProposalCreate, ActProposalApprove, ActProposalReject,
		ActDisputeRaise, ActDisputeAnswer, ActDisputeClose}
}

// ValidAct reports whether s names an act.
func ValidAct(s string) bool {
	for _, a := range Acts() {
		if a == s {
			return true
		}
	}
	return false
}

// Record statuses. An intent is written as pending before the act; the
// act's outcome completes it (done or failed). A pending record whose
// process ended before it was completed is settled by Recover: by
// checking the act's effect where that is possible, otherwise as unknown.
const (
	StatusPending = "pending"
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusUnknown = "unknown"
)

// Record is one administrative act: who, when, what, on what, why, and the
// state before and after where the act has one. Before and After never
// hold a document number (documents appear masked).
type Record struct {
	ID          string          `json:"id"`
	Seq         uint64          `json:"seq"`
	At          time.Time       `json:"at"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
	Official    string          `json:"official"`
	OfficialRef string          `json:"official_ref"`
	Act         string          `json:"act"`
	Target      string          `json:"target"`
	EID         string          `json:"eid,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	Status      string          `json:"status"`
	Error       string          `json:"error,omitempty"`
	ProposalID  string          `json:"proposal_id,omitempty"`
	RequestID   string          `json:"request_id,omitempty"`
	LeafHash    string          `json:"leaf_hash,omitempty"`
	BatchID     string          `json:"batch_id,omitempty"`
	AnchorTxID  string          `json:"anchor_tx_id,omitempty"`
	AnchorBlock uint64          `json:"anchor_block,omitempty"`
}

// LeafFields are the record's audited fields in the order its Merkle leaf
// commits to them; the official appears as its keyed pseudonym, as in
// access records, so a proof can be shown without the staff name.
func (r *Record) LeafFields() []string {
	return []string{
		"eidgate-audit-v1", r.ID, r.At.UTC().Format(time.RFC3339Nano), r.CompletedAt.UTC().Format(time.RFC3339Nano),
		r.OfficialRef, r.Act, r.Target, r.EID, r.Reason, string(r.Before), string(r.After), r.Status, r.Error, r.ProposalID,
	}
}

// LeafBytes encodes LeafFields as access records do: each field as a
// 4-byte big-endian length and its bytes.
func (r *Record) LeafBytes() []byte {
	var out []byte
	var n [4]byte
	for _, f := range r.LeafFields() {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		out = append(out, n[:]...)
		out = append(out, f...)
	}
	return out
}

// ComputeLeafHash sets LeafHash to the RFC 6962 leaf hash of LeafBytes.
func (r *Record) ComputeLeafHash() { r.LeafHash = merkle.LeafHash(r.LeafBytes()).String() }

// Filter selects audit records; zero fields do not filter. EID matches a
// record about the eID as subject or as target (a merge names both).
type Filter struct {
	Act        string
	Official   string
	EID        string
	Status     string
	ProposalID string
	From, To   time.Time
	BeforeSeq  uint64 // newest first: continue below this sequence number
	Limit      int
}

// Store keeps audit records. BeginAudit writes a record (pending, or
// already final) and assigns its Seq; CompleteAudit turns a pending one
// final with its leaf hash, and refuses (not_found) a record that is not
// pending, so a record is completed once.
type Store interface {
	BeginAudit(ctx context.Context, r *Record) error
	CompleteAudit(ctx context.Context, r *Record) error
	GetAudit(ctx context.Context, id string) (*Record, error)
	ListAudit(ctx context.Context, f Filter) ([]Record, error)
	PendingAudit(ctx context.Context, before time.Time, limit int) ([]Record, error)
}

// Prover proves an anchored audit record (*routing.Anchorer of the audit
// stream).
type Prover interface {
	ProveLeaf(ctx context.Context, batchID, leafHash string) (*merkle.InclusionProof, *routing.AccessAnchor, bool, error)
}

// Checker settles a pending record whose process ended before its outcome
// was written, by looking at the act's effect: done, failed, or unknown
// when the effect cannot be told. after is the state found.
type Checker func(ctx context.Context, r *Record) (status string, after any, err error)

// Trail records administrative acts.
type Trail struct {
	store    Store
	prover   Prover
	key      []byte
	clock    routing.Clock
	log      *slog.Logger
	checkers map[string]Checker

	fourEyes  FourEyes
	executors map[string]Executor
}

// Config is what a Trail is built from.
type Config struct {
	Store        Store         // required
	Prover       Prover        // required: the audit stream's anchorer
	PseudonymKey []byte        // required: keys officials' pseudonyms
	Clock        routing.Clock // default the system clock
	Logger       *slog.Logger  // default slog.Default()
}

// New checks cfg and builds the trail.
func New(cfg Config) (*Trail, error) {
	const op = "audit.New"
	switch {
	case cfg.Store == nil:
		return nil, routing.MissingDependency(op, "an audit store")
	case len(cfg.PseudonymKey) == 0:
		return nil, routing.MissingDependency(op, "the pseudonym key")
	}
	t := &Trail{store: cfg.Store, prover: cfg.Prover, key: cfg.PseudonymKey, clock: cfg.Clock, log: cfg.Logger, checkers: map[string]Checker{},
		executors: map[string]Executor{}}
	if t.clock == nil {
		t.clock = routing.SystemClock{}
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t, nil
}

// Entry is an act about to be performed.
type Entry struct {
	Act    string
	Target string
	EID    string
	Reason string
	Before any
	// ProposalID links an act to the four-eyes proposal it executes or
	// decides.
	ProposalID string
}

// OnRecover registers how a pending record of act is settled after a
// crash.
func (t *Trail) OnRecover(act string, c Checker) { t.checkers[act] = c }

// Pseudonym is how an official appears to residents and in leaves.
func (t *Trail) Pseudonym(official string) string {
	return routing.OfficialPseudonym(t.key, "eidgate-staff", official)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "aud_" + hex.EncodeToString(b[:])
}

func marshal(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

// actor is who acts: the context's actor, which every administrative
// request and command carries. An act without one is refused, so no act
// goes unattributed.
func actor(ctx context.Context, op string) (routing.Actor, error) {
	a, ok := routing.ActorFrom(ctx)
	if !ok {
		return a, (&routing.Error{Kind: routing.KindInternal, Op: op, Message: "an administrative act needs an acting official"}).WithCode("no_actor")
	}
	return a, nil
}

// Begin writes the intent of an act, before the act. When it cannot be
// written the act must not happen: the caller returns the error.
func (t *Trail) Begin(ctx context.Context, e Entry) (*Record, error) {
	const op = "audit.Begin"
	a, err := actor(ctx, op)
	if err != nil {
		return nil, err
	}
	if e.ProposalID == "" {
		e.ProposalID = proposalOf(ctx)
	}
	r := &Record{
		ID: newID(), At: t.clock.Now().UTC(), Official: a.Official, OfficialRef: t.Pseudonym(a.Official),
		Act: e.Act, Target: e.Target, EID: e.EID, Reason: e.Reason, Before: marshal(e.Before),
		Status: StatusPending, ProposalID: e.ProposalID, RequestID: a.RequestID,
	}
	if err := t.store.BeginAudit(ctx, r); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return r, nil
}

// Finish completes an intent with the act's outcome. A failure to write it
// is logged, not returned: the act has happened, and Recover settles the
// record from the act's effect.
func (t *Trail) Finish(ctx context.Context, r *Record, after any, actErr error) {
	r.CompletedAt = t.clock.Now().UTC()
	r.After = marshal(after)
	if actErr != nil {
		r.Status, r.Error = StatusFailed, routing.MessageOf(actErr)
	} else {
		r.Status = StatusDone
	}
	r.ComputeLeafHash()
	if err := t.store.CompleteAudit(context.WithoutCancel(ctx), r); err != nil {
		t.log.Warn("audit record left pending; it is settled at the next recovery", "id", r.ID, "act", r.Act, "err", err)
	}
}

// Do records an act around it: the intent first (no intent, no act), then
// the outcome.
func Do[T any](ctx context.Context, t *Trail, e Entry, act func(context.Context) (T, error), after func(T) any) (T, error) {
	rec, err := t.Begin(ctx, e)
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := act(ctx)
	var state any
	if err == nil && after != nil {
		state = after(out)
	}
	t.Finish(ctx, rec, state, err)
	return out, err
}

// Note records an act that has already happened and has no separate
// effect to wait for (a proposal, a decision), as one final record.
func (t *Trail) Note(ctx context.Context, e Entry, after any) (*Record, error) {
	const op = "audit.Note"
	a, err := actor(ctx, op)
	if err != nil {
		return nil, err
	}
	now := t.clock.Now().UTC()
	r := &Record{
		ID: newID(), At: now, CompletedAt: now, Official: a.Official, OfficialRef: t.Pseudonym(a.Official),
		Act: e.Act, Target: e.Target, EID: e.EID, Reason: e.Reason, Before: marshal(e.Before), After: marshal(after),
		Status: StatusDone, ProposalID: e.ProposalID, RequestID: a.RequestID,
	}
	r.ComputeLeafHash()
	if err := t.store.BeginAudit(ctx, r); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return r, nil
}

// RecoverAfter is how old a pending record must be before Recover settles
// it: longer than any request lives, so an act still in progress on
// another replica is never settled under it.
const RecoverAfter = 10 * time.Minute

// Recover settles pending records older than RecoverAfter; it returns how
// many it settled.
func (t *Trail) Recover(ctx context.Context) (int, error) {
	recs, err := t.store.PendingAudit(ctx, t.clock.Now().Add(-RecoverAfter), 500)
	if err != nil {
		return 0, routing.Wrap("audit.Recover", err)
	}
	n := 0
	for i := range recs {
		r := &recs[i]
		status, after := StatusUnknown, any(nil)
		r.Error = "the gateway stopped before the outcome was recorded"
		if c := t.checkers[r.Act]; c != nil {
			s, a, err := c(ctx, r)
			if err != nil {
				t.log.Warn("checking an unfinished act failed; retried later", "id", r.ID, "act", r.Act, "err", err)
				continue
			}
			status, after = s, a
		}
		if status == StatusDone {
			r.Error = ""
		}
		r.Status, r.After, r.CompletedAt = status, marshal(after), t.clock.Now().UTC()
		r.ComputeLeafHash()
		if err := t.store.CompleteAudit(ctx, r); err != nil {
			if routing.IsKind(err, routing.KindNotFound) {
				continue // completed meanwhile
			}
			return n, routing.Wrap("audit.Recover", err)
		}
		n++
	}
	return n, nil
}

// Run settles unfinished records once a minute until ctx ends.
func (t *Trail) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if n, err := t.Recover(ctx); err != nil {
			t.log.Warn("audit recovery failed", "err", err)
		} else if n > 0 {
			t.log.Info("unfinished audit records settled", "records", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// List returns records newest first.
func (t *Trail) List(ctx context.Context, f Filter) ([]Record, error) {
	const op = "audit.List"
	if f.Act != "" && !ValidAct(f.Act) {
		return nil, routing.Invalid(op, "act", "no such act").WithCode("invalid_filter")
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return nil, routing.Invalid(op, "to", "the end of the time range is before its start").WithCode("invalid_filter")
	}
	out, err := t.store.ListAudit(ctx, f)
	return out, routing.Wrap(op, err)
}

// Get returns one record.
func (t *Trail) Get(ctx context.Context, id string) (*Record, error) {
	r, err := t.store.GetAudit(ctx, id)
	return r, routing.Wrap("audit.Get", err)
}

// ResidentView is an act on a resident's eID as the resident sees it: the
// official as a pseudonym, no before/after state of other residents.
type ResidentView struct {
	ID          string    `json:"id"`
	At          time.Time `json:"at"`
	Act         string    `json:"act"`
	OfficialRef string    `json:"official_ref"`
	Reason      string    `json:"reason,omitempty"`
	Status      string    `json:"status"`
	Anchored    bool      `json:"anchored"`
}

// ForResident lists the completed acts on a resident's eID, newest first.
func (t *Trail) ForResident(ctx context.Context, eid string, limit int) ([]ResidentView, error) {
	const op = "audit.ForResident"
	if eid == "" {
		return nil, routing.Invalid(op, "eid", "no eID")
	}
	recs, err := t.store.ListAudit(ctx, Filter{EID: eid, Limit: limit})
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	out := make([]ResidentView, 0, len(recs))
	for _, r := range recs {
		if r.Status == StatusPending {
			continue
		}
		out = append(out, ResidentView{ID: r.ID, At: r.At, Act: r.Act, OfficialRef: r.OfficialRef, Reason: r.Reason,
			Status: r.Status, Anchored: r.AnchorTxID != ""})
	}
	return out, nil
}

// Proof is an audit record's inclusion proof against its anchored batch,
// checked against the anchor read from the ledger.
type Proof struct {
	RecordID   string                 `json:"record_id"`
	BatchID    string                 `json:"batch_id"`
	TxID       string                 `json:"tx_id"`
	Block      uint64                 `json:"block"`
	Proof      *merkle.InclusionProof `json:"proof"`
	Anchor     *routing.AccessAnchor  `json:"anchor"`
	Verified   bool                   `json:"verified"`
	LeafFields []string               `json:"leaf_fields"`
}

// Proof proves an anchored record; eid, when not empty, limits it to
// records about that eID (a resident's own).
func (t *Trail) Proof(ctx context.Context, id, eid string) (*Proof, error) {
	const op = "audit.Proof"
	r, err := t.store.GetAudit(ctx, id)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if eid != "" && r.EID != eid && r.Target != eid {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such audit record"}).WithCode("audit_record_not_found")
	}
	if r.BatchID == "" || r.AnchorTxID == "" {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "this audit record is not anchored on the ledger yet"}).WithCode("not_anchored")
	}
	if t.prover == nil {
		return nil, routing.Unavailable(op, "ledger_unavailable", "proofs need the ledger", nil)
	}
	p, anchor, ok, err := t.prover.ProveLeaf(ctx, r.BatchID, r.LeafHash)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &Proof{RecordID: r.ID, BatchID: r.BatchID, TxID: r.AnchorTxID, Block: r.AnchorBlock, Proof: p, Anchor: anchor,
		Verified: ok, LeafFields: r.LeafFields()}, nil
}

// jsonInto decodes raw into v; false when raw is empty or not v's shape.
func jsonInto(raw json.RawMessage, v any) bool {
	return len(raw) > 0 && json.Unmarshal(raw, v) == nil
}
