package routing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing/merkle"
)

// The on-chain records are the domain's records.
type (
	Department   = model.Department
	DataType     = model.DataType
	Identity     = model.Identity
	RouteEntry   = model.RouteEntry
	SignedRoute  = model.SignedRoute
	Consent      = model.Consent
	AccessAnchor = model.AccessAnchor
	AccountLink  = model.AccountLink
	BlindedIndex = model.BlindedIndex
)

// Access record outcomes.
const (
	OutcomeIssued          = "issued"
	OutcomePolicyDenied    = "policy_denied"
	OutcomeConsentRequired = "consent_required"
	// OutcomeConsentDenied and OutcomeConsentRevoked are resolves refused
	// without a new request because the resident denied or revoked the
	// same request within the cool-off period.
	OutcomeConsentDenied  = "consent_denied"
	OutcomeConsentRevoked = "consent_revoked"
	OutcomeNoRoute        = "no_route"
	OutcomeSubjectUnknown = "subject_not_found"
	// OutcomeQuestion is a granted yes/no question: the ticket entitles
	// the requester to the provider's signed answer to one predicate,
	// never to the record (ResolveRequest.Predicate).
	OutcomeQuestion = "question_issued"
)

// UsesConsent reports whether a record of outcome counts one use of its
// consent: a record or an answer was granted under it.
func UsesConsent(outcome string) bool { return outcome == OutcomeIssued || outcome == OutcomeQuestion }

// AccessRecord is the durable audit record of one resolve. Every resolve
// that passed authentication leaves one, whatever its outcome; a ticket is
// issued only after its record is durable.
type AccessRecord struct {
	ID            string // "acc_" + 32 hex, unique
	Seq           uint64 // assigned by the store, increasing in commit order per store
	CreatedAt     time.Time
	RequestID     string
	Requester     string // department id
	Official      string // the acting official named by the department
	OfficialRef   string // keyed pseudonym of the official (see OfficialPseudonym)
	Provider      string // department id, empty when no route was found
	EID           string // empty when the subject was not found
	DataType      string
	Purpose       string
	ConsentID     string
	PolicyVersion int64
	Outcome       string
	Reason        string // safe detail for denials
	TicketID      string // jti of the issued ticket
	Digest        string // digest expected from the provider
	RouteVersion  uint64

	// LegalBasis is set on a break-glass access: the statutory ground the
	// official stated for resolving without the resident's consent. The
	// access is sealed from the resident until VisibleAfter (zero: never
	// sealed), then shown in their access log without anyone acting.
	LegalBasis   string
	VisibleAfter time.Time

	// UseConsent asks the store to count one use of ConsentID in the same
	// transaction, refusing the record when that passes ConsentMaxUses
	// (0 = unlimited).
	UseConsent     bool
	ConsentMaxUses uint64

	LeafHash string // hex SHA-256 Merkle leaf hash of the record (LeafHash)

	// Anchoring state, filled by the store.
	BatchID       string
	AnchorTxID    string
	AnchorBlock   uint64
	AnchoredAt    time.Time
	Flagged       bool
	FlagReason    string
	DeliveredHash string // proxy mode: digest of what the provider returned

	// An auditor's review of a break-glass access (zero until reviewed).
	ReviewedAt time.Time
	ReviewedBy string
	ReviewNote string
}

// BreakGlass reports whether the access was resolved without consent under
// a break-glass grant.
func (r *AccessRecord) BreakGlass() bool { return r.LegalBasis != "" }

// VisibleAt reports whether the resident may see the record at t: a
// break-glass access only once its seal has passed.
func (r *AccessRecord) VisibleAt(t time.Time) bool {
	return r.VisibleAfter.IsZero() || !t.Before(r.VisibleAfter)
}

// Leaf formats: a break-glass access also commits to its legal basis and
// the end of its seal, so neither can be changed once anchored.
const (
	LeafFormat           = "eidgate-access-v1"
	LeafFormatBreakGlass = "eidgate-access-bg-v1"
)

// LeafFields are the record's audited fields in the order the Merkle leaf
// commits to them. The official appears only as its keyed pseudonym, so a
// resident can check the leaf without learning staff identifiers.
func (r *AccessRecord) LeafFields() []string {
	if r.BreakGlass() {
		return append(r.leafFields(LeafFormatBreakGlass), r.LegalBasis, r.VisibleAfter.UTC().Format(time.RFC3339Nano))
	}
	return r.leafFields(LeafFormat)
}

func (r *AccessRecord) leafFields(format string) []string {
	return []string{
		format, r.ID, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.Requester, r.OfficialRef,
		r.Provider, r.EID, r.DataType, r.Purpose, r.ConsentID,
		itoa(r.PolicyVersion), r.Outcome, r.TicketID, r.Digest,
	}
}

// LeafBytes is the canonical encoding of LeafFields: each field as a
// 4-byte big-endian length and its UTF-8 bytes, so a browser can rebuild it.
func (r *AccessRecord) LeafBytes() []byte {
	fields := r.LeafFields()
	var out []byte
	var n [4]byte
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		out = append(out, n[:]...)
		out = append(out, f...)
	}
	return out
}

// ComputeLeafHash sets LeafHash to the RFC 6962 leaf hash of LeafBytes.
func (r *AccessRecord) ComputeLeafHash() { r.LeafHash = merkle.LeafHash(r.LeafBytes()).String() }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// OfficialPseudonym is how an official appears to residents and in Merkle
// leaves: a keyed hash, stable per department and official.
func OfficialPseudonym(key []byte, department, official string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(department + "\x00" + official))
	return "official-" + hex.EncodeToString(m.Sum(nil))[:16]
}

// AccessFilter selects access records; zero fields do not filter.
type AccessFilter struct {
	Requester string
	Provider  string
	EID       string
	DataType  string
	Purpose   string
	Outcome   string
	From, To  time.Time
	// VisibleAt, when set, leaves out break-glass accesses still sealed at
	// that time (what a resident may see).
	VisibleAt time.Time
	// BreakGlass selects only break-glass accesses; Reviewed, when set,
	// only those reviewed (true) or not yet reviewed (false).
	BreakGlass bool
	Reviewed   *bool
	// Paging: Desc lists newest first; AfterSeq (ascending) or BeforeSeq
	// (descending) continue from the last page's boundary; Limit bounds a
	// page (0 = the store's default).
	AfterSeq  uint64
	BeforeSeq uint64
	Limit     int
	Desc      bool
}

// AnchorBatch is a planned or submitted batch of access records.
type AnchorBatch struct {
	ID          string
	FirstSeq    uint64
	LastSeq     uint64
	Count       int
	MerkleRoot  string // hex
	ConsentUses []model.ConsentUse
	BreakGlass  []string // ids of the batch's break-glass accesses, in sequence order
	Status      string   // pending | anchored
	TxID        string
	Block       uint64
	CreatedAt   time.Time
	AnchoredAt  time.Time
}

// AnchorLeaf is one record as a batch plan sees it: its place in the
// stream, its leaf hash, and the consent use it consumed (access records
// whose outcome used a consent; "" otherwise). Access records and
// officials' audit records are planned into batches the same way.
type AnchorLeaf struct {
	Seq        uint64
	ID         string
	LeafHash   string
	CreatedAt  time.Time
	ConsentUse string
	BreakGlass bool // an access resolved without consent under a statutory purpose
}

// Anchor batch statuses.
const (
	BatchPending  = "pending"
	BatchAnchored = "anchored"
)

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// AccessStore keeps access records durably. Implementations must make
// AppendAccess one database transaction that is durable when it returns.
type AccessStore interface {
	// AppendAccess writes recs in one transaction, assigning Seq and
	// counting consent uses (see AccessRecord.UseConsent). perRecord[i] is
	// nil when recs[i] is durable, or a *Error with code
	// "consent_uses_exhausted" when its consent had no use left (that record
	// is not written, the others are). err is set when the transaction
	// failed as a whole: then nothing was written.
	AppendAccess(ctx context.Context, recs []*AccessRecord) (perRecord []error, err error)
	GetAccess(ctx context.Context, id string) (*AccessRecord, error)
	ListAccess(ctx context.Context, f AccessFilter) ([]AccessRecord, error)
	// FlagAccess marks a record (proxy mode digest mismatch).
	FlagAccess(ctx context.Context, id, reason, deliveredHash string) error
	// ReviewAccess records an auditor's review of a break-glass access
	// once: not_found (access_not_found) for a record that is not one,
	// conflict (break_glass_reviewed) when it was reviewed already.
	ReviewAccess(ctx context.Context, id, by, note string, at time.Time) error
}

// AnchorStore keeps the anchoring state of access records.
type AnchorStore interface {
	// OldestUnanchored is the creation time of the oldest record not yet in
	// an anchored batch; ok is false when every record is anchored.
	OldestUnanchored(ctx context.Context) (t time.Time, ok bool, err error)
	// PlanBatch takes up to max records that are in no batch, in sequence
	// order, and in one transaction records a pending batch with the given
	// id built by plan from those records, and assigns them to it. It
	// returns nil when there is nothing to anchor.
	PlanBatch(ctx context.Context, max int, plan func(leaves []AnchorLeaf) (*AnchorBatch, error)) (*AnchorBatch, error)
	// PendingBatches are planned batches not yet confirmed on the ledger,
	// oldest first.
	PendingBatches(ctx context.Context) ([]AnchorBatch, error)
	// BatchLeaves are the leaf hashes of a batch's records in sequence order.
	BatchLeaves(ctx context.Context, batchID string) ([]string, error)
	MarkAnchored(ctx context.Context, batchID, txID string, block uint64, at time.Time) error
	// AcquireLease takes or renews a named lease for holder until ttl
	// passes; only the holder of the "anchorer" lease anchors, so replicas
	// never anchor the same record twice.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// Cache is a shared or in-process byte cache. Errors mean the cache is
// unusable right now: callers fall back to the source of truth.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
}

// VersionedCache is a Cache shared by replicas whose fills lose to
// invalidations: GetVersion names the state of a key it finds empty, and
// Fill stores a value only while the key is still in that state. A value a
// replica read from the ledger before a change is then never written over
// the change's invalidation, whichever replica made it; the replica that
// made the change reads its own write at once.
type VersionedCache interface {
	Cache
	GetVersion(ctx context.Context, key string) (value []byte, ok bool, version string, err error)
	Fill(ctx context.Context, key string, value []byte, ttl time.Duration, version string) error
}

// SharedCache is a Cache that can hand out the bytes it holds without
// copying them. The directory reads through it on every lookup: a copy of
// the value on each hit was a quarter of all the bytes a resolve
// allocated. GetShared answers as GetVersion does (version "" for a cache
// without versions); the caller must not modify the bytes.
type SharedCache interface {
	GetShared(ctx context.Context, key string) (value []byte, ok bool, version string, err error)
}

// Decision is a policy answer.
type Decision struct {
	Allowed bool
	// Rule is the matched policy rule, e.g. "p, edu-bureau, edu.*, admission, allow".
	Rule    string
	Version int64
	Reason  string
	// BreakGlass is the break-glass grant that matches the request, if
	// any: with it and the official's legal basis the department may
	// resolve without consent (only where Allowed).
	BreakGlass *BreakGlassGrant
}

// BreakGlassGrant lets a department (or every department in a role)
// resolve a data type for a statutory purpose without the resident's
// consent, stating a legal basis each time; each such access is sealed
// from the resident for Seal, then shown in their access log.
type BreakGlassGrant struct {
	Subject  string        `json:"subject"`   // department id or role name
	DataType string        `json:"data_type"` // code or prefix pattern (edu.*)
	Purpose  string        `json:"purpose"`   // purpose code
	Seal     time.Duration `json:"-"`
}

// String names the grant as the policy lists it.
func (g BreakGlassGrant) String() string {
	seal := g.Seal.String()
	if g.Seal%(24*time.Hour) == 0 {
		seal = itoa(int64(g.Seal/(24*time.Hour))) + " days"
	}
	return "break-glass, " + g.Subject + ", " + g.DataType + ", " + g.Purpose + ", sealed " + seal
}

// Policy decides whether a department may ask for a data type for a
// purpose.
type Policy interface {
	Decide(ctx context.Context, department, dataType, purpose string) (Decision, error)
}

// SubjectMapper finds the eID of an identity document. The number is the
// resident's document number: implementations must never log it unmasked.
type SubjectMapper interface {
	LookupDocument(ctx context.Context, docType, number, country string) (eid string, err error)
}

// TicketRequest is what an access ticket binds.
type TicketRequest struct {
	ID        string // jti, chosen before the access record is written
	Requester string
	Provider  string
	EID       string
	DataType  string
	ConsentID string
	AccessID  string
	Purpose   string
	Digest    string
	Predicate string // the yes/no question the ticket is for; empty for a record
}

// Ticket is an issued access ticket.
type Ticket struct {
	Token     string
	ID        string // jti
	ExpiresAt time.Time
}

// TicketIssuer signs access tickets.
type TicketIssuer interface {
	Issue(ctx context.Context, req TicketRequest) (Ticket, error)
}
