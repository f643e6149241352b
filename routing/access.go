package routing

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// AccessRecordsConfig is what an AccessRecords service is built from.
type AccessRecordsConfig struct {
	Store    AccessStore // required
	Anchorer *Anchorer   // required: the inclusion proofs
	Clock    Clock       // default the system clock: when seals end
}

// AccessRecords answers who asked for what: the access records a
// department, a resident or an auditor may see, and a resident's proof
// that a record of theirs is anchored on the ledger.
type AccessRecords struct {
	store    AccessStore
	anchorer *Anchorer
	clock    Clock
}

// NewAccessRecords checks cfg and builds the service.
func NewAccessRecords(cfg AccessRecordsConfig) (*AccessRecords, error) {
	const op = "routing.NewAccessRecords"
	switch {
	case cfg.Store == nil:
		return nil, MissingDependency(op, "an access store")
	case cfg.Anchorer == nil:
		return nil, MissingDependency(op, "an anchorer")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	return &AccessRecords{store: cfg.Store, anchorer: cfg.Anchorer, clock: clock}, nil
}

// ForResident returns the access records of eid that f selects and the
// resident may see now: a break-glass access appears once its seal has
// passed, by the time alone, without anyone acting.
func (s *AccessRecords) ForResident(ctx context.Context, eid string, f AccessFilter) ([]AccessRecord, error) {
	f.EID, f.VisibleAt = eid, s.clock.Now()
	return s.store.ListAccess(ctx, f)
}

// MaxReviewNoteRunes bounds an auditor's review note.
const MaxReviewNoteRunes = 1000

// Review records an auditor's review of a break-glass access: who, when
// and a note (required). A record that is not a break-glass access is
// not_found; one already reviewed is a conflict (break_glass_reviewed).
func (s *AccessRecords) Review(ctx context.Context, id, by, note string) (*AccessRecord, error) {
	const op = "routing.AccessRecords.Review"
	switch {
	case strings.TrimSpace(note) == "":
		return nil, Invalid(op, "note", "say what the review found")
	case utf8.RuneCountInString(note) > MaxReviewNoteRunes || !utf8.ValidString(note) || strings.ContainsRune(note, 0):
		return nil, Invalid(op, "note", "the note must be text of at most %d characters", MaxReviewNoteRunes)
	case by == "":
		return nil, MissingDependency(op, "the reviewing official")
	}
	if err := s.store.ReviewAccess(ctx, id, by, note, s.clock.Now().UTC()); err != nil {
		return nil, err
	}
	return s.store.GetAccess(ctx, id)
}

// Get returns one access record (auditors).
func (s *AccessRecords) Get(ctx context.Context, id string) (*AccessRecord, error) {
	return s.store.GetAccess(ctx, id)
}

// List returns the access records f selects. The caller narrows f to what
// its user may see (a department's own requests, a resident's eID).
func (s *AccessRecords) List(ctx context.Context, f AccessFilter) ([]AccessRecord, error) {
	return s.store.ListAccess(ctx, f)
}

// Proof is the inclusion proof of the resident's access record id, checked
// against the anchor on the ledger. Another resident's record is not
// found, as a missing one is; a record not anchored yet is not_found with
// code not_anchored.
func (s *AccessRecords) Proof(ctx context.Context, eid, id string) (*AccessProof, error) {
	const op = "routing.AccessRecords.Proof"
	rec, err := s.store.GetAccess(ctx, id)
	if err != nil && !IsKind(err, KindNotFound) {
		return nil, Wrap(op, err)
	}
	if err != nil || rec.EID != eid || !rec.VisibleAt(s.clock.Now()) {
		return nil, (&Error{Kind: KindNotFound, Op: op, Message: "no such access record"}).WithCode("not_found")
	}
	return s.anchorer.Proof(ctx, rec)
}

// FoldedAccess is a row of a resident's access log: one access record, or
// for repeated refusals of one kind (same requester, data type, purpose
// and outcome) the newest of them with how many there were and when the
// first was.
type FoldedAccess struct {
	AccessRecord
	Count     int       // records the row stands for, 1 for an unfolded one
	FirstTime time.Time // the oldest folded record's time
}

// FoldRefusals folds repeated refusals in recs (newest first, as a
// resident's log is listed) into the row of the newest of their kind, so a
// department that keeps asking fills one row with a count rather than the
// whole log; granted accesses are never folded, each is a row of its own.
func FoldRefusals(recs []AccessRecord) []FoldedAccess {
	type kind struct{ requester, dataType, purpose, outcome string }
	out := make([]FoldedAccess, 0, len(recs))
	at := map[kind]int{}
	for _, r := range recs {
		if UsesConsent(r.Outcome) {
			out = append(out, FoldedAccess{AccessRecord: r, Count: 1, FirstTime: r.CreatedAt})
			continue
		}
		k := kind{r.Requester, r.DataType, r.Purpose, r.Outcome}
		if i, ok := at[k]; ok {
			out[i].Count++
			if r.CreatedAt.Before(out[i].FirstTime) {
				out[i].FirstTime = r.CreatedAt
			}
			continue
		}
		at[k] = len(out)
		out = append(out, FoldedAccess{AccessRecord: r, Count: 1, FirstTime: r.CreatedAt})
	}
	return out
}
