package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing/merkle"
)

// Anchoring defaults.
const (
	DefaultAnchorBatch    = 2000
	DefaultAnchorInterval = 250 * time.Millisecond
	DefaultLagBound       = 30 * time.Second
	anchorLease           = "anchorer"
)

// Anchoring streams: access records, and officials' audit records. Each
// stream has its own records, batches and lease, and its anchors carry its
// kind on the ledger.
const (
	StreamAccess = "access"
	StreamAudit  = model.AnchorKindAudit
)

// AnchorSubmitter is the ledger side of anchoring: the block number is that
// of the transaction that carried the call.
type AnchorSubmitter interface {
	AnchorAccessBatch(ctx context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error)
	GetAnchor(ctx context.Context, batchID string) (*model.AccessAnchor, error)
}

// Anchorer moves access records onto the ledger as Merkle roots. Every
// replica runs one; the holder of the database lease anchors, the others
// only watch the lag. A batch is planned (its records assigned to it and
// its root fixed) in the database before it is submitted, so a restart
// resubmits exactly the same batch id and content, which the chaincode
// accepts idempotently: every record is anchored exactly once.
type Anchorer struct {
	store    AnchorStore
	ledger   AnchorSubmitter
	clock    Clock
	holder   string
	stream   string
	lease    string // the lease's name: one per stream
	prefix   string // of batch ids: "ab" for access, "au" for audit
	maxBatch int
	interval time.Duration
	lagBound time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	status AnchorStatus
	// standDownUntil: a leader that failed to anchor gives the lease up
	// and does not ask for it again before this time, so a replica that
	// can reach the ledger takes over instead of every replica failing
	// closed behind one broken link.
	standDownUntil time.Time
}

// AnchorerConfig is what an Anchorer is built from.
type AnchorerConfig struct {
	Store    AnchorStore     // required
	Ledger   AnchorSubmitter // required
	Holder   string          // required: this replica's name for the anchoring lease
	Stream   string          // StreamAccess (default) or StreamAudit
	Clock    Clock           // default the system clock
	MaxBatch int             // default DefaultAnchorBatch
	Interval time.Duration   // default DefaultAnchorInterval
	LagBound time.Duration   // default DefaultLagBound
	Logger   *slog.Logger    // default slog.Default()
}

// NewAnchorer checks cfg and builds the anchorer; Run anchors.
func NewAnchorer(cfg AnchorerConfig) (*Anchorer, error) {
	const op = "routing.NewAnchorer"
	switch {
	case cfg.Store == nil:
		return nil, MissingDependency(op, "an anchor store")
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "an anchoring ledger")
	case cfg.Holder == "":
		return nil, MissingDependency(op, "the replica's lease holder name")
	}
	a := &Anchorer{store: cfg.Store, ledger: cfg.Ledger, clock: cfg.Clock, holder: cfg.Holder, maxBatch: cfg.MaxBatch,
		interval: cfg.Interval, lagBound: cfg.LagBound, log: cfg.Logger, stream: StreamAccess, lease: anchorLease, prefix: "ab"}
	switch cfg.Stream {
	case "", StreamAccess:
	case StreamAudit:
		a.stream, a.lease, a.prefix = StreamAudit, anchorLease+"-"+StreamAudit, "au"
	default:
		return nil, Invalid(op, "stream", "an anchoring stream is access or audit")
	}
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	if a.maxBatch <= 0 {
		a.maxBatch = DefaultAnchorBatch
	}
	if a.interval <= 0 {
		a.interval = DefaultAnchorInterval
	}
	if a.lagBound <= 0 {
		a.lagBound = DefaultLagBound
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

// Holder is this replica's name for the anchoring lease.
func (a *Anchorer) Holder() string { return a.holder }

// leaseReleaser is implemented by stores that can give a lease up early.
type leaseReleaser interface {
	ReleaseLease(ctx context.Context, name, holder string) error
}

// AnchorStatus is the anchoring state a replica last observed.
type AnchorStatus struct {
	CheckedAt      time.Time // when the oldest unanchored record was last read
	Oldest         time.Time // zero when everything is anchored
	Lag            time.Duration
	Leader         bool
	LastBatch      string
	LastBlock      uint64
	LastAnchoredAt time.Time
	Batches        uint64
	Records        uint64
	LastError      string
}

// Status returns the last observed state.
func (a *Anchorer) Status() AnchorStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Check fails closed when the oldest unanchored record is older than the
// lag bound, or when the anchoring state has not been read for longer than
// the bound (the database is unreachable), so no ticket is issued while
// access records may not reach the chain.
func (a *Anchorer) Check(context.Context) error {
	const op = "routing.Anchorer.Check"
	st := a.Status()
	now := a.clock.Now()
	bound := a.lagBound
	if st.CheckedAt.IsZero() {
		return Unavailable(op, "anchoring_unknown", "anchoring state not known yet; try again shortly", nil)
	}
	if now.Sub(st.CheckedAt) > bound {
		return Unavailable(op, "anchoring_unknown", "anchoring state could not be read recently; no ticket is issued", errors.New(st.LastError))
	}
	if !st.Oldest.IsZero() && now.Sub(st.Oldest) > bound {
		return Unavailable(op, "anchoring_lag", fmt.Sprintf("access records are not anchored on the ledger within %s; no ticket is issued", bound), nil)
	}
	return nil
}

// Run anchors until ctx ends.
func (a *Anchorer) Run(ctx context.Context) error {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		a.Step(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Step does one round: refresh the lag, and when holding the lease,
// resubmit pending batches and anchor new ones.
func (a *Anchorer) Step(ctx context.Context) {
	lease := 3 * a.interval
	if lease < 2*time.Second {
		lease = 2 * time.Second
	}
	a.mu.Lock()
	standingDown := a.clock.Now().Before(a.standDownUntil)
	a.mu.Unlock()
	leader := false
	if !standingDown {
		var err error
		if leader, err = a.store.AcquireLease(ctx, a.lease, a.holder, lease); err != nil {
			a.fail("lease", err)
		}
	}
	a.mu.Lock()
	a.status.Leader = leader
	a.mu.Unlock()
	if leader {
		if err := a.anchorAll(ctx); err != nil {
			a.fail("anchor", err)
			a.standDown(ctx, lease)
		}
	}
	a.refresh(ctx)
}

// standDown gives the lease up after a failed round and keeps away from it
// for one lease period. Another replica takes over at its next round and
// resubmits the pending batch (the ledger accepts a batch id once, with
// the same content), so records are still anchored exactly once; alone,
// this replica takes the lease again after the pause and retries.
func (a *Anchorer) standDown(ctx context.Context, lease time.Duration) {
	a.mu.Lock()
	a.standDownUntil = a.clock.Now().Add(lease)
	a.status.Leader = false
	a.mu.Unlock()
	if r, ok := a.store.(leaseReleaser); ok {
		if err := r.ReleaseLease(ctx, a.lease, a.holder); err != nil {
			a.log.Warn("giving the anchoring lease up failed; it expires by itself", "err", err)
		}
	}
}

func (a *Anchorer) fail(what string, err error) {
	a.log.Warn("anchoring step failed", "stream", a.stream, "step", what, "err", err)
	a.mu.Lock()
	a.status.LastError = what + ": " + err.Error()
	a.mu.Unlock()
}

func (a *Anchorer) refresh(ctx context.Context) {
	oldest, ok, err := a.store.OldestUnanchored(ctx)
	if err != nil {
		a.fail("lag", err)
		return
	}
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status.CheckedAt = now
	if ok {
		a.status.Oldest = oldest
		a.status.Lag = now.Sub(oldest)
	} else {
		a.status.Oldest, a.status.Lag = time.Time{}, 0
	}
}

// anchorAll submits pending batches first (a restart resumes them), then
// plans and submits new batches while full ones are left, bounded per
// round.
func (a *Anchorer) anchorAll(ctx context.Context) error {
	pending, err := a.store.PendingBatches(ctx)
	if err != nil {
		return err
	}
	for i := range pending {
		if err := a.submit(ctx, &pending[i]); err != nil {
			return err
		}
	}
	for range 16 {
		b, err := a.store.PlanBatch(ctx, a.maxBatch, a.plan)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		if err := a.submit(ctx, b); err != nil {
			return err
		}
		// A batch short of the maximum took every record there was; the
		// records that arrived while it was submitted wait for the next
		// round, so that under steady load each round anchors one full
		// batch instead of many small ones, each a ledger transaction and
		// two database commits competing with the access log's.
		if b.Count < a.maxBatch {
			return nil
		}
	}
	return nil
}

// plan fixes a batch's content from its records (in sequence order).
func (a *Anchorer) plan(recs []AnchorLeaf) (*AnchorBatch, error) {
	if len(recs) == 0 {
		return nil, errors.New("empty batch")
	}
	hashes := make([]merkle.Hash, len(recs))
	uses := map[string]uint64{}
	var breakGlass []string
	for i := range recs {
		h, err := merkle.ParseHash(recs[i].LeafHash)
		if err != nil {
			return nil, fmt.Errorf("record %s has no valid leaf hash: %w", recs[i].ID, err)
		}
		hashes[i] = h
		if recs[i].ConsentUse != "" {
			uses[recs[i].ConsentUse]++
		}
		if recs[i].BreakGlass {
			breakGlass = append(breakGlass, recs[i].ID)
		}
	}
	root := merkle.RootFromHashes(hashes)
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	b := &AnchorBatch{
		ID:       fmt.Sprintf("%s-%d-%d-%s", a.prefix, first, last, root.String()[:12]),
		FirstSeq: first, LastSeq: last, Count: len(recs),
		MerkleRoot: root.String(), Status: BatchPending, CreatedAt: a.clock.Now().UTC(), BreakGlass: breakGlass,
	}
	ids := make([]string, 0, len(uses))
	for id := range uses {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		b.ConsentUses = append(b.ConsentUses, model.ConsentUse{ConsentID: id, Uses: uses[id]})
	}
	return b, nil
}

func (a *Anchorer) submit(ctx context.Context, b *AnchorBatch) error {
	anchor := model.AccessAnchor{
		BatchID: b.ID, MerkleRoot: b.MerkleRoot, Count: uint64(b.Count),
		FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, ConsentUses: b.ConsentUses, BreakGlass: b.BreakGlass,
	}
	if a.stream == StreamAudit {
		anchor.Kind = model.AnchorKindAudit
	}
	got, block, err := a.ledger.AnchorAccessBatch(ctx, anchor)
	if err != nil {
		return fmt.Errorf("anchor batch %s: %w", b.ID, err)
	}
	if got.MerkleRoot != b.MerkleRoot || got.Count != uint64(b.Count) || got.Kind != anchor.Kind {
		return fmt.Errorf("anchor batch %s: the ledger holds different content for this batch id", b.ID)
	}
	now := a.clock.Now().UTC()
	if err := a.store.MarkAnchored(ctx, b.ID, got.TxID, block, now); err != nil {
		return err
	}
	a.mu.Lock()
	a.status.LastBatch, a.status.LastBlock, a.status.LastAnchoredAt = b.ID, block, now
	a.status.Batches++
	a.status.Records += uint64(b.Count)
	a.status.LastError = ""
	a.mu.Unlock()
	a.log.Info("records anchored", "stream", a.stream, "batch", b.ID, "records", b.Count, "block", block)
	return nil
}

// AccessProof is what a resident's browser needs to check that an access
// record is anchored: the record's leaf hash, the audit path, and the
// anchor as read from the ledger (not from the database).
type AccessProof struct {
	AccessID string                 `json:"access_id"`
	BatchID  string                 `json:"batch_id"`
	TxID     string                 `json:"tx_id"`
	Block    uint64                 `json:"block"`
	Proof    *merkle.InclusionProof `json:"proof"`
	Anchor   *model.AccessAnchor    `json:"anchor"`
	Verified bool                   `json:"verified"`
	// LeafFields are the record's audited fields exactly as the leaf
	// encodes them, so that a browser recomputes the leaf hash before
	// checking the path.
	LeafFields []string `json:"leaf_fields"`
}

// Proof builds the inclusion proof of an access record and checks it
// against the anchor on the ledger. A record not yet anchored is a
// not_found with code "not_anchored".
func (a *Anchorer) Proof(ctx context.Context, rec *AccessRecord) (*AccessProof, error) {
	const op = "routing.Anchorer.Proof"
	if rec.BatchID == "" || rec.AnchorTxID == "" {
		return nil, notAnchored(op, "access")
	}
	proof, anchor, verified, err := a.ProveLeaf(ctx, rec.BatchID, rec.LeafHash)
	if err != nil {
		return nil, Wrap(op, err)
	}
	return &AccessProof{
		AccessID: rec.ID, BatchID: rec.BatchID, TxID: rec.AnchorTxID, Block: rec.AnchorBlock,
		Proof: proof, Anchor: anchor, Verified: verified, LeafFields: rec.LeafFields(),
	}, nil
}

func notAnchored(op, what string) error {
	return (&Error{Kind: KindNotFound, Op: op, Message: "this " + what + " is not anchored on the ledger yet"}).WithCode("not_anchored")
}

// ProveLeaf builds the inclusion proof of the leaf in its batch of this
// stream and checks it against the anchor read from the ledger (not from
// the database); verified says whether the path leads to that root.
func (a *Anchorer) ProveLeaf(ctx context.Context, batchID, leafHash string) (*merkle.InclusionProof, *model.AccessAnchor, bool, error) {
	const op = "routing.Anchorer.ProveLeaf"
	leaves, err := a.store.BatchLeaves(ctx, batchID)
	if err != nil {
		return nil, nil, false, Wrap(op, err)
	}
	hashes := make([]merkle.Hash, len(leaves))
	index := -1
	for i, l := range leaves {
		h, err := merkle.ParseHash(l)
		if err != nil {
			return nil, nil, false, Wrap(op, err)
		}
		hashes[i] = h
		if l == leafHash {
			index = i
		}
	}
	if index < 0 {
		return nil, nil, false, Errorf(KindInternal, op, "record is missing from its batch")
	}
	proof, err := merkle.NewInclusionProof(hashes, uint64(index))
	if err != nil {
		return nil, nil, false, Wrap(op, err)
	}
	anchor, err := a.ledger.GetAnchor(ctx, batchID)
	if err != nil {
		return nil, nil, false, Wrap(op, err)
	}
	root, err := merkle.ParseHash(anchor.MerkleRoot)
	if err != nil {
		return nil, nil, false, Wrap(op, err)
	}
	wantKind := ""
	if a.stream == StreamAudit {
		wantKind = model.AnchorKindAudit
	}
	return proof, anchor, anchor.Kind == wantKind && proof.Verify(root, anchor.Count), nil
}
