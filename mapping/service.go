package mapping

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// MaxDocumentsPerCreate bounds the documents of one KYC creation.
const MaxDocumentsPerCreate = 8

// Config is what a Service is built from; cmd/eidgate wires it.
type Config struct {
	Ledger      Ledger
	Documents   DocumentStore
	Activations ActivationIssuer
	// Cache holds document index → eID and account link → eID answers
	// (positive ones only); nil disables caching.
	Cache    routing.Cache
	CacheTTL time.Duration // default routing.DefaultCacheTTL
	Keys     *Keyring
	Sealing  *SealingKey
	Clock    routing.Clock // default the wall clock
	Logger   *slog.Logger  // default slog.Default()
}

// Service is the mapping service: identity documents to eIDs, the eID
// lifecycle and department account links. It implements
// routing.SubjectMapper.
//
// New mappings are written under every key version of the keyring (the
// contract checks each for a clash), so documents mapped while a rotation
// is under way resolve under the old and the new version alike; lookups try
// every version, newest first.
type Service struct {
	ledger   Ledger
	docs     DocumentStore
	issuer   ActivationIssuer
	cache    routing.Cache
	cacheTTL time.Duration
	keys     atomic.Pointer[Keyring]
	sealing  *SealingKey
	clock    routing.Clock
	log      *slog.Logger
}

var _ routing.SubjectMapper = (*Service)(nil)

// NewService checks cfg and builds the service.
func NewService(cfg Config) (*Service, error) {
	const op = "mapping.NewService"
	switch {
	case cfg.Ledger == nil:
		return nil, routing.MissingDependency(op, "a ledger")
	case cfg.Documents == nil:
		return nil, routing.MissingDependency(op, "a document store")
	case cfg.Activations == nil:
		return nil, routing.MissingDependency(op, "an activation code issuer")
	case cfg.Keys == nil:
		return nil, routing.MissingDependency(op, "blinding keys")
	case cfg.Sealing == nil:
		return nil, routing.MissingDependency(op, "a sealing key")
	}
	s := &Service{
		ledger:   cfg.Ledger,
		docs:     cfg.Documents,
		issuer:   cfg.Activations,
		cache:    cfg.Cache,
		cacheTTL: cfg.CacheTTL,
		sealing:  cfg.Sealing,
		clock:    cfg.Clock,
		log:      cfg.Logger,
	}
	if s.cacheTTL <= 0 {
		s.cacheTTL = routing.DefaultCacheTTL
	}
	if s.clock == nil {
		s.clock = routing.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.keys.Store(cfg.Keys)
	return s, nil
}

// Keyring returns the blinding keys in use.
func (s *Service) Keyring() *Keyring { return s.keys.Load() }

// SetKeyring replaces the blinding keys, e.g. after the key file changed.
// Stored documents keep the version they were written under until Rotate
// blinds them again.
func (s *Service) SetKeyring(k *Keyring) {
	if k != nil {
		s.keys.Store(k)
	}
}

// --- errors ---

// documentInvalid names a parse rejection's field within the request
// (prefix.type, prefix.number or prefix.country) and its type in the
// message; the answer's details keep the reason only, never the masked
// number.
func documentInvalid(op, prefix string, err error) error {
	re := rejectionOf(err)
	if re == nil {
		return routing.Wrap(op, err)
	}
	t := re.Details[detailType]
	if t == "" {
		t = "document"
	}
	return &routing.Error{
		Kind: routing.KindInvalid, Code: CodeInvalidDocument, Op: op, Field: prefix + "." + re.Field,
		Message: t + ": " + re.Message, Err: err,
		Details: map[string]string{detailReason: re.Details[detailReason]},
	}
}

// alreadyMapped is the answer when a document belongs to some eID already.
// It says nothing about that eID.
func alreadyMapped(op, field string) error {
	return &routing.Error{
		Kind: routing.KindConflict, Code: "document_already_mapped", Op: op, Field: field,
		Message: "the document is already mapped to an eID; search for it instead of creating or adding it again",
	}
}

func notMapped(op string) error {
	return &routing.Error{Kind: routing.KindNotFound, Code: "document_not_mapped", Op: op,
		Message: "no eID is mapped to this document"}
}

func checkEID(op, field, eid string) error {
	if !model.ValidDID(eid) {
		return routing.Invalid(op, field, "%s must be an eID (did:eidgate: and 32 lowercase hex digits)", field).WithCode("invalid_eid")
	}
	return nil
}

func ledgerErr(op string, err error) error { return routing.Wrap(op, err) }

// --- parsing and blinding ---

func (s *Service) parse(op, field string, in Input) (Document, error) {
	doc, err := Parse(in, s.clock.Now())
	if err != nil {
		return Document{}, documentInvalid(op, field, err)
	}
	return doc, nil
}

func toModel(idx []Index) []model.BlindedIndex {
	out := make([]model.BlindedIndex, len(idx))
	for i, x := range idx {
		out[i] = model.BlindedIndex(x)
	}
	return out
}

// stored builds the stored form of doc for eid, at the index idx.
func (s *Service) stored(doc Document, idx Index, eid, externalRef, addedBy string, at time.Time) StoredDocument {
	// References in time order are appended to the documents table's key,
	// where random ones made every row of an import batch rewrite a
	// different index page.
	ref := routing.NewTimeOrderedID("doc_", at)
	return StoredDocument{
		Ref: ref, EID: eid, Type: string(doc.d.typ), Country: doc.d.country,
		Masked: Mask(doc.d.number), KeyVersion: idx.KeyVersion, BlindValue: idx.Value,
		Sealed: s.sealing.sealDocument(doc, ref), ExternalRef: externalRef,
		AddedBy: addedBy, AddedAt: at,
	}
}

// MaskedDocument is a mapped document as it may be shown: to officers, to
// the resident, in the API.
type MaskedDocument struct {
	Type       string    `json:"type"`
	Country    string    `json:"country,omitempty"`
	Masked     string    `json:"masked"`
	KeyVersion string    `json:"key_version"`
	Ref        string    `json:"ref"` // opaque handle for removal (never the number)
	AddedAt    time.Time `json:"added_at"`
}

// CreatedIdentity is the KYC counter's result; the activation code is
// shown once.
type CreatedIdentity struct {
	EID            string           `json:"eid"`
	ActivationCode string           `json:"activation_code"`
	Documents      []MaskedDocument `json:"documents"`
}

// --- lookups ---

// Find returns the eID of a document, trying its index under every key
// version, newest first. The ledger follows merges, so the answer is the
// surviving eID; a deactivated eID is returned as it is.
func (s *Service) Find(ctx context.Context, in Input) (string, error) {
	const op = "mapping.Find"
	doc, err := s.parse(op, "document", in)
	if err != nil {
		return "", err
	}
	return s.find(ctx, op, doc)
}

// LookupDocument is Find for the resolve flow (routing.SubjectMapper).
func (s *Service) LookupDocument(ctx context.Context, docType, number, country string) (string, error) {
	const op = "mapping.LookupDocument"
	doc, err := s.parse(op, "subject.document", Input{Type: DocType(docType), Number: number, Country: country})
	if err != nil {
		return "", err
	}
	return s.find(ctx, op, doc)
}

func (s *Service) find(ctx context.Context, op string, doc Document) (string, error) {
	indexes, err := s.Keyring().BlindAll(doc)
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	for _, idx := range indexes {
		eid, err := s.lookupIndex(ctx, idx)
		if err != nil {
			return "", ledgerErr(op, err)
		}
		if eid != "" {
			return eid, nil
		}
	}
	return "", notMapped(op)
}

// lookupIndex returns the eID holding idx, "" when none. Only answers that
// name an eID are cached: a document mapped a moment ago must resolve at
// once, so a miss is never remembered.
func (s *Service) lookupIndex(ctx context.Context, idx Index) (string, error) {
	key := routing.CacheKeyIndex(idx.KeyVersion, idx.Value)
	if eid, ok := s.cacheGet(ctx, key); ok {
		return eid, nil
	}
	eid, err := s.ledger.LookupIndex(ctx, model.BlindedIndex(idx))
	if routing.IsKind(err, routing.KindNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	s.cacheSet(ctx, key, eid)
	return eid, nil
}

// holderOf asks the ledger, never the cache, which eID holds idx ("" when
// none); writes decide on it.
func (s *Service) holderOf(ctx context.Context, idx Index) (string, error) {
	eid, err := s.ledger.LookupIndex(ctx, model.BlindedIndex(idx))
	if routing.IsKind(err, routing.KindNotFound) {
		return "", nil
	}
	return eid, err
}

func (s *Service) cacheGet(ctx context.Context, key string) (string, bool) {
	if s.cache == nil {
		return "", false
	}
	b, ok, err := s.cache.Get(ctx, key)
	if err != nil {
		s.log.DebugContext(ctx, "cache read failed; asking the ledger", "err", err)
		return "", false
	}
	if !ok || !model.ValidDID(string(b)) {
		return "", false
	}
	return string(b), true
}

func (s *Service) cacheSet(ctx context.Context, key, eid string) {
	if s.cache == nil {
		return
	}
	if err := s.cache.Set(ctx, key, []byte(eid), s.cacheTTL); err != nil {
		s.log.DebugContext(ctx, "cache write failed", "err", err)
	}
}

// cacheDrop removes entries this replica knows are stale now; the
// chaincode events drop them on every other replica.
func (s *Service) cacheDrop(ctx context.Context, keys ...string) {
	if s.cache == nil || len(keys) == 0 {
		return
	}
	if err := s.cache.Delete(ctx, keys...); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed; entries expire with their TTL", "err", err)
	}
}

func indexKeys(idx []model.BlindedIndex) []string {
	keys := make([]string, len(idx))
	for i, b := range idx {
		keys[i] = routing.CacheKeyIndex(b.KeyVersion, b.Value)
	}
	return keys
}

// --- creation ---

// Create mints an eID for a resident's documents at the KYC counter, stores
// the documents and issues the activation code (shown once). A document that
// is already mapped is a conflict (document_already_mapped) that reveals
// nothing about the eID it belongs to.
func (s *Service) Create(ctx context.Context, in []Input, officer string) (*CreatedIdentity, error) {
	const op = "mapping.Create"
	if len(in) == 0 || len(in) > MaxDocumentsPerCreate {
		return nil, routing.Invalid(op, "documents", "give 1 to %d documents", MaxDocumentsPerCreate).WithCode("invalid_documents")
	}
	docs := make([]Document, len(in))
	for i, d := range in {
		doc, err := s.parse(op, fmt.Sprintf("documents[%d]", i), d)
		if err != nil {
			return nil, err
		}
		for j := range i {
			if docs[j].Equal(doc) {
				return nil, routing.Invalid(op, fmt.Sprintf("documents[%d]", i), "documents[%d] is the same document as documents[%d]", i, j).WithCode("duplicate_document")
			}
		}
		docs[i] = doc
	}
	keys := s.Keyring()
	var all []Index
	newest := make([]Index, len(docs))
	for i, doc := range docs {
		idx, err := keys.BlindAll(doc)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		newest[i] = idx[0]
		all = append(all, idx...)
	}

	id, err := s.ledger.CreateEID(ctx, toModel(all))
	if routing.IsKind(err, routing.KindConflict) {
		// A creation whose documents were never stored (the database failed
		// after the ledger committed) is finished instead of refused.
		eid, ok, oerr := s.orphanHolding(ctx, all)
		if oerr != nil {
			return nil, ledgerErr(op, oerr)
		}
		if !ok {
			s.log.InfoContext(ctx, "eID creation refused: a document is already mapped", "officer", officer, "documents", docs)
			return nil, alreadyMapped(op, "documents")
		}
		s.log.WarnContext(ctx, "finishing an earlier eID creation whose documents were not stored", "eid", eid, "officer", officer)
		id = &model.Identity{ID: eid}
	} else if err != nil {
		return nil, ledgerErr(op, err)
	}

	now := s.clock.Now()
	stored := make([]StoredDocument, len(docs))
	out := &CreatedIdentity{EID: id.ID, Documents: make([]MaskedDocument, len(docs))}
	for i, doc := range docs {
		stored[i] = s.stored(doc, newest[i], id.ID, "", officer, now)
		out.Documents[i] = stored[i].View()
	}
	if err := s.docs.PutDocuments(ctx, stored); err != nil {
		s.log.ErrorContext(ctx, "eID created on the ledger but its documents were not stored; creating it again finishes it", "eid", id.ID, "err", err)
		return nil, routing.Unavailable(op, "database_unavailable", "the eID was created but its documents could not be stored; submit the same documents again to finish", err)
	}
	code, err := s.issuer.CreateActivation(ctx, id.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "eID created but no activation code issued", "eid", id.ID, "err", err)
		return nil, &routing.Error{Kind: routing.KindUnavailable, Code: "activation_code_failed", Op: op, Err: err,
			Message: "the eID was created but no activation code could be issued; issue a new code for it",
			Details: map[string]string{"eid": id.ID}}
	}
	out.ActivationCode = code
	s.log.InfoContext(ctx, "eID created", "eid", id.ID, "officer", officer, "documents", docs, "key_version", keys.Current())
	return out, nil
}

// orphanHolding reports whether indexes are exactly the indexes of one
// active eID that has no stored document: the trace of a creation whose
// database write failed. Only then may Create finish it.
func (s *Service) orphanHolding(ctx context.Context, indexes []Index) (string, bool, error) {
	holder := ""
	for _, idx := range indexes {
		eid, err := s.holderOf(ctx, idx)
		if err != nil {
			return "", false, err
		}
		if eid == "" || (holder != "" && eid != holder) {
			return "", false, nil
		}
		holder = eid
	}
	id, err := s.ledger.GetEID(ctx, holder)
	if err != nil {
		return "", false, err
	}
	if id.Status != model.EIDActive || len(id.Indexes) != len(indexes) {
		return "", false, nil
	}
	for _, idx := range indexes {
		if !id.HasIndex(model.BlindedIndex(idx)) {
			return "", false, nil
		}
	}
	have, err := s.docs.DocumentsOf(ctx, holder)
	if err != nil {
		return "", false, err
	}
	return holder, len(have) == 0, nil
}

// --- the eID lifecycle ---

// activeEID loads an eID that must exist and be active.
func (s *Service) activeEID(ctx context.Context, op, eid string) (*model.Identity, error) {
	id, err := s.ledger.GetEID(ctx, eid)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, &routing.Error{Kind: routing.KindNotFound, Code: "eid_not_found", Op: op, Message: "eID " + eid + " does not exist"}
	}
	if err != nil {
		return nil, ledgerErr(op, err)
	}
	switch id.Status {
	case model.EIDActive:
		return id, nil
	case model.EIDMerged:
		return nil, &routing.Error{Kind: routing.KindConflict, Code: "eid_merged", Op: op,
			Message: "eID " + eid + " is merged into " + id.MergedInto + "; use that eID",
			Details: map[string]string{"merged_into": id.MergedInto}}
	}
	return nil, &routing.Error{Kind: routing.KindConflict, Code: "eid_not_active", Op: op, Message: "eID " + eid + " is " + id.Status}
}

// AddDocument maps one more document to an active eID.
func (s *Service) AddDocument(ctx context.Context, eid string, in Input, officer string) (*MaskedDocument, error) {
	const op = "mapping.AddDocument"
	if err := checkEID(op, "eid", eid); err != nil {
		return nil, err
	}
	doc, err := s.parse(op, "document", in)
	if err != nil {
		return nil, err
	}
	id, err := s.activeEID(ctx, op, eid)
	if err != nil {
		return nil, err
	}
	indexes, err := s.Keyring().BlindAll(doc)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	var missing []Index
	for _, idx := range indexes {
		holder, err := s.holderOf(ctx, idx)
		if err != nil {
			return nil, ledgerErr(op, err)
		}
		switch holder {
		case "":
			missing = append(missing, idx)
		case eid:
		default:
			s.log.InfoContext(ctx, "document refused: mapped to another eID", "eid", eid, "officer", officer, "document", doc)
			return nil, alreadyMapped(op, "document")
		}
	}
	if len(missing) == 0 {
		// Already mapped to this eID: answer with the stored document.
		known, err := s.docs.DocumentsByIndex(ctx, indexes)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		for _, sd := range known {
			if sd.EID == eid {
				m := sd.View()
				return &m, nil
			}
		}
	}
	if len(id.Indexes)+len(missing) > model.MaxIndexesPerEID {
		return nil, &routing.Error{Kind: routing.KindConflict, Code: "too_many_documents", Op: op,
			Message: fmt.Sprintf("an eID holds at most %d document indexes", model.MaxIndexesPerEID)}
	}
	for _, idx := range missing {
		if _, err := s.ledger.AddDocumentIndex(ctx, eid, model.BlindedIndex(idx)); err != nil {
			if routing.IsKind(err, routing.KindConflict) {
				// The eID was active a moment ago, so the clash is the index.
				return nil, alreadyMapped(op, "document")
			}
			return nil, ledgerErr(op, err)
		}
	}
	sd := s.stored(doc, indexes[0], eid, "", officer, s.clock.Now())
	if err := s.docs.PutDocuments(ctx, []StoredDocument{sd}); err != nil {
		return nil, routing.Unavailable(op, "database_unavailable", "the document was mapped but could not be stored; add it again to finish", err)
	}
	s.log.InfoContext(ctx, "document added", "eid", eid, "officer", officer, "document", doc, "ref", sd.Ref)
	m := sd.View()
	return &m, nil
}

// RemoveDocument unmaps a stored document (by its ref) from its eID, under
// every key version the eID holds it. The last document cannot be removed.
func (s *Service) RemoveDocument(ctx context.Context, eid, ref, officer string) error {
	const op = "mapping.RemoveDocument"
	if err := checkEID(op, "eid", eid); err != nil {
		return err
	}
	sd, err := s.docs.Document(ctx, ref)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return routing.Wrap(op, err)
	}
	if sd == nil || sd.EID != eid {
		return &routing.Error{Kind: routing.KindNotFound, Code: "document_not_found", Op: op, Field: "ref",
			Message: "eID " + eid + " has no document with this ref"}
	}
	all, err := s.docs.DocumentsOf(ctx, eid)
	if err != nil {
		return routing.Wrap(op, err)
	}
	if len(all) <= 1 {
		return &routing.Error{Kind: routing.KindConflict, Code: "last_document", Op: op,
			Message: "the last document of an eID cannot be removed; merge or deactivate the eID instead"}
	}
	id, err := s.activeEID(ctx, op, eid)
	if err != nil {
		return err
	}
	doc, err := s.sealing.openDocument(sd)
	if err != nil {
		return routing.Wrap(op, err)
	}
	indexes, err := s.Keyring().BlindAll(doc)
	if err != nil {
		return routing.Wrap(op, err)
	}
	var held []model.BlindedIndex
	for _, idx := range indexes {
		if id.HasIndex(model.BlindedIndex(idx)) {
			held = append(held, model.BlindedIndex(idx))
		}
	}
	if id.HasIndex(model.BlindedIndex(sd.Index())) && !containsIndex(held, sd.Index()) {
		held = append(held, model.BlindedIndex(sd.Index())) // a version no longer in the keyring
	}
	if len(held) >= len(id.Indexes) {
		return &routing.Error{Kind: routing.KindConflict, Code: "last_document", Op: op,
			Message: "the last document of an eID cannot be removed; merge or deactivate the eID instead"}
	}
	for _, b := range held {
		if _, err := s.ledger.RemoveDocumentIndex(ctx, eid, b); err != nil && !routing.IsKind(err, routing.KindNotFound) {
			return ledgerErr(op, err)
		}
	}
	s.cacheDrop(ctx, indexKeys(held)...)
	if err := s.docs.RemoveDocument(ctx, ref); err != nil {
		return routing.Unavailable(op, "database_unavailable", "the document was unmapped but its record could not be deleted; remove it again to finish", err)
	}
	s.log.InfoContext(ctx, "document removed", "eid", eid, "officer", officer, "document", doc, "ref", ref)
	return nil
}

func containsIndex(xs []model.BlindedIndex, idx Index) bool {
	for _, x := range xs {
		if x == model.BlindedIndex(idx) {
			return true
		}
	}
	return false
}

// Merge folds eID from into eID into: the ledger moves the document indexes
// and account links, and the stored documents follow. Merging again after a
// failure half-way finishes the move.
func (s *Service) Merge(ctx context.Context, from, into, reason, officer string) error {
	const op = "mapping.Merge"
	if err := checkEID(op, "eid", from); err != nil {
		return err
	}
	if err := checkEID(op, "into", into); err != nil {
		return err
	}
	if from == into {
		return routing.Invalid(op, "into", "an eID cannot be merged into itself").WithCode("invalid_merge")
	}
	if reason == "" {
		return routing.Invalid(op, "reason", "give the reason for the merge").WithCode("reason_required")
	}
	src, err := s.ledger.GetEID(ctx, from)
	if err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			return &routing.Error{Kind: routing.KindNotFound, Code: "eid_not_found", Op: op, Message: "eID " + from + " does not exist"}
		}
		return ledgerErr(op, err)
	}
	var stale []string
	if src.Status == model.EIDMerged && src.MergedInto == into {
		s.log.InfoContext(ctx, "finishing an earlier merge", "from", from, "into", into)
	} else {
		links, err := s.ledger.ListLinks(ctx, from)
		if err != nil {
			return ledgerErr(op, err)
		}
		if _, err := s.ledger.MergeEID(ctx, from, into, reason); err != nil {
			return ledgerErr(op, err)
		}
		stale = indexKeys(src.Indexes)
		for _, l := range links {
			stale = append(stale, routing.CacheKeyLink(l.Department, l.AccountHash))
		}
	}
	s.cacheDrop(ctx, stale...)
	if err := s.docs.MoveDocuments(ctx, from, into); err != nil {
		return routing.Unavailable(op, "database_unavailable", "the eIDs were merged but the documents could not be moved; merge again to finish", err)
	}
	s.log.InfoContext(ctx, "eIDs merged", "from", from, "into", into, "officer", officer)
	return nil
}

// Deactivate deactivates an eID (e.g. after the resident's death). Its
// documents stay mapped so that no new eID is minted for them.
func (s *Service) Deactivate(ctx context.Context, eid, reason, officer string) error {
	const op = "mapping.Deactivate"
	if err := checkEID(op, "eid", eid); err != nil {
		return err
	}
	if reason == "" {
		return routing.Invalid(op, "reason", "give the reason for the deactivation").WithCode("reason_required")
	}
	if _, err := s.ledger.DeactivateEID(ctx, eid, reason); err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			return &routing.Error{Kind: routing.KindNotFound, Code: "eid_not_found", Op: op, Message: "eID " + eid + " does not exist"}
		}
		return ledgerErr(op, err)
	}
	s.log.InfoContext(ctx, "eID deactivated", "eid", eid, "officer", officer)
	return nil
}

// Documents lists the stored documents of an eID, masked.
func (s *Service) Documents(ctx context.Context, eid string) ([]MaskedDocument, error) {
	const op = "mapping.Documents"
	if err := checkEID(op, "eid", eid); err != nil {
		return nil, err
	}
	have, err := s.docs.DocumentsOf(ctx, eid)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	out := make([]MaskedDocument, len(have))
	for i, sd := range have {
		out[i] = sd.View()
	}
	return out, nil
}

// IdentityDetail is an eID as an officer sees it, and a resident their
// own: the ledger's record, the stored documents (masked) and the
// departments' account links.
type IdentityDetail struct {
	Identity  *model.Identity
	Documents []MaskedDocument
	Links     []model.AccountLink
}

// Identity returns the detail of an eID; its lists are never nil.
func (s *Service) Identity(ctx context.Context, eid string) (*IdentityDetail, error) {
	const op = "mapping.Identity"
	id, err := s.ledger.GetEID(ctx, eid)
	if err != nil {
		return nil, ledgerErr(op, err)
	}
	docs, err := s.Documents(ctx, eid)
	if err != nil {
		return nil, err
	}
	links, err := s.ledger.ListLinks(ctx, eid)
	if err != nil {
		return nil, ledgerErr(op, err)
	}
	if links == nil {
		links = []model.AccountLink{}
	}
	return &IdentityDetail{Identity: id, Documents: docs, Links: links}, nil
}

// NewActivationCode issues a new activation code for an active eID,
// replacing any earlier one.
func (s *Service) NewActivationCode(ctx context.Context, eid, officer string) (string, error) {
	const op = "mapping.NewActivationCode"
	if err := checkEID(op, "eid", eid); err != nil {
		return "", err
	}
	if _, err := s.activeEID(ctx, op, eid); err != nil {
		return "", err
	}
	code, err := s.issuer.CreateActivation(ctx, eid)
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	s.log.InfoContext(ctx, "activation code issued", "eid", eid, "officer", officer)
	return code, nil
}
