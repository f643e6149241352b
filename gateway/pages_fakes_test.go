package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/routing"
)

// In-memory implementations of every service behind the pages, wired with
// the real routing services (Directory, ConsentService, Resolver, AccessLog,
// Anchorer) into gateway.Deps. They follow the contracts the real adapters
// follow (ledger validation, one-time activation codes, consent use
// limits, anchoring), so the pages are tested against the same rules. All
// names start with pg to stay clear of other fakes in this package.

// pgClock is a clock the tests may stop or move.
type pgClock struct {
	mu    sync.Mutex
	fixed time.Time // zero: the wall clock
	shift time.Duration
}

func (c *pgClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed.IsZero() {
		return time.Now().Add(c.shift)
	}
	return c.fixed.Add(c.shift)
}

func (c *pgClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.shift += d
	c.mu.Unlock()
}

func pgNotFound(what string) error {
	return &routing.Error{Kind: routing.KindNotFound, Code: "not_found", Op: "fake", Message: what + " not found"}
}

func pgConflict(code, msg string) error {
	return &routing.Error{Kind: routing.KindConflict, Code: code, Op: "fake", Message: msg}
}

func pgInvalid(err error) error {
	return &routing.Error{Kind: routing.KindInvalid, Op: "fake", Message: err.Error()}
}

// pgLedger is the ledger: registry, eIDs, links, routes, consents, anchors.
type pgLedger struct {
	mu       sync.Mutex
	clock    routing.Clock
	depts    map[string]model.Department
	dts      map[string]model.DataType
	eids     map[string]model.Identity
	links    map[string][]model.AccountLink
	routes   map[string][]model.RouteEntry
	consents map[string]model.Consent
	anchors  map[string]model.AccessAnchor
	block    uint64
	seq      int
}

func newPGLedger(clock routing.Clock) *pgLedger {
	return &pgLedger{clock: clock, depts: map[string]model.Department{}, dts: map[string]model.DataType{},
		eids: map[string]model.Identity{}, links: map[string][]model.AccountLink{}, routes: map[string][]model.RouteEntry{},
		consents: map[string]model.Consent{}, anchors: map[string]model.AccessAnchor{}}
}

func (l *pgLedger) now() string { return model.FormatTime(l.clock.Now()) }

func (l *pgLedger) txID() string {
	l.seq++
	return fmt.Sprintf("tx%06d", l.seq)
}

func (l *pgLedger) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.depts[id]
	if !ok {
		return nil, pgNotFound("department")
	}
	return &d, nil
}

func (l *pgLedger) ListDepartments(context.Context) ([]model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.Department, 0, len(l.depts))
	for _, d := range l.depts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (l *pgLedger) GetDataType(_ context.Context, code string) (*model.DataType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.dts[code]
	if !ok {
		return nil, pgNotFound("data type")
	}
	return &d, nil
}

func (l *pgLedger) ListDataTypes(context.Context) ([]model.DataType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.DataType, 0, len(l.dts))
	for _, d := range l.dts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

func (l *pgLedger) RegisterDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	if err := d.Validate(); err != nil {
		return nil, pgInvalid(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.depts[d.ID]; ok {
		return nil, pgConflict("department_exists", "department "+d.ID+" is already registered")
	}
	if d.Status == "" {
		d.Status = model.DepartmentActive
	}
	d.CreatedAt, d.UpdatedAt = l.now(), l.now()
	l.depts[d.ID] = d
	return &d, nil
}

func (l *pgLedger) UpdateDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	if err := d.Validate(); err != nil {
		return nil, pgInvalid(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.depts[d.ID]
	if !ok {
		return nil, pgNotFound("department")
	}
	d.Status, d.StatusReason, d.CreatedAt, d.UpdatedAt = old.Status, old.StatusReason, old.CreatedAt, l.now()
	l.depts[d.ID] = d
	return &d, nil
}

func (l *pgLedger) SetDepartmentStatus(_ context.Context, id, status, reason string) (*model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.depts[id]
	if !ok {
		return nil, pgNotFound("department")
	}
	if status != model.DepartmentActive && status != model.DepartmentSuspended {
		return nil, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "status", Message: "status must be active or suspended"}
	}
	d.Status, d.StatusReason, d.UpdatedAt = status, reason, l.now()
	l.depts[id] = d
	return &d, nil
}

func (l *pgLedger) RegisterDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	if err := dt.Validate(); err != nil {
		return nil, pgInvalid(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.dts[dt.Code]; ok {
		return nil, pgConflict("data_type_exists", "data type "+dt.Code+" is already registered")
	}
	if dt.Status == "" {
		dt.Status = model.DataTypeActive
	}
	dt.Owners = model.SortedOwners(dt.Owners)
	dt.CreatedAt, dt.UpdatedAt = l.now(), l.now()
	l.dts[dt.Code] = dt
	return &dt, nil
}

func (l *pgLedger) UpdateDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	if err := dt.Validate(); err != nil {
		return nil, pgInvalid(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.dts[dt.Code]
	if !ok {
		return nil, pgNotFound("data type")
	}
	if dt.Status == "" {
		dt.Status = old.Status
	}
	dt.Owners = model.SortedOwners(dt.Owners)
	dt.CreatedAt, dt.UpdatedAt = old.CreatedAt, l.now()
	l.dts[dt.Code] = dt
	return &dt, nil
}

func (l *pgLedger) GetEID(_ context.Context, eid string) (*model.Identity, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.eids[eid]
	if !ok {
		return nil, pgNotFound("eID")
	}
	return &id, nil
}

func (l *pgLedger) putEID(id model.Identity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id.UpdatedAt = l.now()
	if id.CreatedAt == "" {
		id.CreatedAt = id.UpdatedAt
	}
	id.TxID = l.txID()
	l.eids[id.ID] = id
}

func (l *pgLedger) ListLinks(_ context.Context, eid string) ([]model.AccountLink, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.links[eid]), nil
}

func (l *pgLedger) ResolveDID(ctx context.Context, did string) (*model.DIDResolution, error) {
	id, err := l.GetEID(ctx, did)
	if err != nil {
		return nil, err
	}
	r := id.Resolution(id.MergedInto)
	return &r, nil
}

func (l *pgLedger) GetRoutes(_ context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.RouteEntry
	for _, e := range l.routes[eid] {
		if dataType == "" || e.DataType == dataType {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *pgLedger) GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	rs, _ := l.GetRoutes(ctx, eid, dataType)
	var out []model.RouteHistoryEntry
	for i := range rs {
		if rs[i].Provider == provider {
			out = append(out, model.RouteHistoryEntry{TxID: rs[i].TxID, Timestamp: rs[i].UpdatedAt, Entry: &rs[i]})
		}
	}
	return out, nil
}

func (l *pgLedger) PublishRoutes(_ context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.RouteOutcome
	for _, r := range batch {
		st := r.Statement
		e := model.RouteEntry{EID: st.EID, DataType: st.DataType, Provider: st.Provider, Version: st.Version, Digest: st.Digest,
			Schema: st.Schema, KID: r.KID, Signature: r.Signature, Status: model.RouteValid, PublishedAt: l.now(), UpdatedAt: l.now(), TxID: l.txID()}
		l.routes[st.EID] = append(l.routes[st.EID], e)
		out = append(out, model.RouteOutcome{EID: st.EID, DataType: st.DataType, Provider: st.Provider, Version: st.Version, Outcome: model.OutcomePublished})
	}
	return out, nil
}

func (l *pgLedger) RevokeRoute(_ context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.routes[eid] {
		if e.DataType == dataType && e.Provider == provider {
			e.Status, e.RevokedReason, e.UpdatedAt = model.RouteRevoked, reason, l.now()
			l.routes[eid][i] = e
			return &e, nil
		}
	}
	return nil, pgNotFound("route")
}

func (l *pgLedger) RequestConsent(_ context.Context, req model.ConsentRequest) (*model.Consent, error) {
	if err := req.Validate(); err != nil {
		return nil, pgInvalid(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tx := l.txID()
	c := model.Consent{ID: model.DeriveConsentID(tx), EID: req.EID, Requester: req.Requester, Provider: req.Provider,
		DataTypes: req.DataTypes, PurposeCode: req.PurposeCode, PurposeText: req.PurposeText,
		ValidFrom: req.ValidFrom, ValidUntil: req.ValidUntil, MaxUses: req.MaxUses,
		Status: model.ConsentRequested, RequestedAt: l.now(), UpdatedAt: l.now(), TxID: tx}
	if c.ValidFrom == "" {
		c.ValidFrom = l.now()
	}
	l.consents[c.ID] = c
	return &c, nil
}

func (l *pgLedger) setConsent(id, from, to, method string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.consents[id]
	if !ok {
		return nil, pgNotFound("consent")
	}
	if c.Status != from {
		return nil, pgConflict("consent_state", "consent is "+c.Status)
	}
	c.Status, c.UpdatedAt, c.TxID = to, l.now(), l.txID()
	if to == model.ConsentRevoked {
		c.RevokedAt, c.RevokedBy = l.now(), c.EID
	} else {
		c.DecidedAt, c.DecidedBy, c.DecisionMethod = l.now(), c.EID, method
	}
	l.consents[id] = c
	return &c, nil
}

func (l *pgLedger) GrantConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.setConsent(id, model.ConsentRequested, model.ConsentActive, method)
}

func (l *pgLedger) DenyConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.setConsent(id, model.ConsentRequested, model.ConsentDenied, method)
}

func (l *pgLedger) RevokeConsent(_ context.Context, id string) (*model.Consent, error) {
	return l.setConsent(id, model.ConsentActive, model.ConsentRevoked, "")
}

func (l *pgLedger) ExpireConsents(_ context.Context, ids []string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if c, ok := l.consents[id]; ok && (c.Status == model.ConsentActive || c.Status == model.ConsentRequested) {
			c.Status = model.ConsentExpired
			l.consents[id] = c
		}
	}
	return ids, nil
}

func (l *pgLedger) GetConsent(_ context.Context, id string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.consents[id]
	if !ok {
		return nil, pgNotFound("consent")
	}
	return &c, nil
}

func (l *pgLedger) listConsents(keep func(model.Consent) bool) []model.Consent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Consent
	for _, c := range l.consents {
		if keep(c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TxID < out[j].TxID })
	return out
}

func (l *pgLedger) ListConsentsByEID(_ context.Context, eid string) ([]model.Consent, error) {
	return l.listConsents(func(c model.Consent) bool { return c.EID == eid }), nil
}

func (l *pgLedger) ListConsentsByRequester(_ context.Context, requester string) ([]model.Consent, error) {
	return l.listConsents(func(c model.Consent) bool { return c.Requester == requester }), nil
}

func (l *pgLedger) AnchorAccessBatch(_ context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.block++
	if prev, ok := l.anchors[a.BatchID]; ok {
		return &prev, l.block, nil
	}
	a.TxID, a.AnchoredAt = l.txID(), l.now()
	l.anchors[a.BatchID] = a
	return &a, l.block, nil
}

func (l *pgLedger) GetAnchor(_ context.Context, id string) (*model.AccessAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.anchors[id]
	if !ok {
		return nil, pgNotFound("anchor")
	}
	return &a, nil
}

// pgCache is routing.Cache in a map.
type pgCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *pgCache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *pgCache) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[k] = v
	return nil
}

func (c *pgCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}

// pgStore is the access log and anchoring state.
type pgStore struct {
	mu      sync.Mutex
	recs    []*routing.AccessRecord
	uses    map[string]uint64
	batches map[string]*routing.AnchorBatch
	order   []string
}

func newPGStore() *pgStore {
	return &pgStore{uses: map[string]uint64{}, batches: map[string]*routing.AnchorBatch{}}
}

func (s *pgStore) AppendAccess(_ context.Context, recs []*routing.AccessRecord) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	per := make([]error, len(recs))
	for i, r := range recs {
		if r.UseConsent {
			if r.ConsentMaxUses > 0 && s.uses[r.ConsentID] >= r.ConsentMaxUses {
				per[i] = (&routing.Error{Kind: routing.KindConflict, Op: "fake", Message: "no uses left"}).WithCode("consent_uses_exhausted")
				continue
			}
			s.uses[r.ConsentID]++
		}
		c := *r
		c.Seq = uint64(len(s.recs) + 1)
		r.Seq = c.Seq
		s.recs = append(s.recs, &c)
	}
	return per, nil
}

func (s *pgStore) GetAccess(_ context.Context, id string) (*routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.ID == id {
			c := *r
			return &c, nil
		}
	}
	return nil, pgNotFound("access record")
}

func (s *pgStore) ListAccess(_ context.Context, f routing.AccessFilter) ([]routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []routing.AccessRecord
	match := func(r *routing.AccessRecord) bool {
		return (f.Requester == "" || r.Requester == f.Requester) && (f.Provider == "" || r.Provider == f.Provider) &&
			(f.EID == "" || r.EID == f.EID) && (f.DataType == "" || r.DataType == f.DataType) &&
			(f.Purpose == "" || r.Purpose == f.Purpose) && (f.Outcome == "" || r.Outcome == f.Outcome) &&
			(f.From.IsZero() || !r.CreatedAt.Before(f.From)) && (f.To.IsZero() || !r.CreatedAt.After(f.To)) &&
			(f.BeforeSeq == 0 || r.Seq < f.BeforeSeq) && r.Seq > f.AfterSeq
	}
	for _, r := range s.recs {
		if match(r) {
			out = append(out, *r)
		}
	}
	if f.Desc {
		slices.Reverse(out)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s *pgStore) ConsentUses(_ context.Context, id string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uses[id], nil
}

func (s *pgStore) FlagAccess(context.Context, string, string, string) error { return nil }

func (s *pgStore) OldestUnanchored(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.AnchorTxID == "" {
			return r.CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

func (s *pgStore) PlanBatch(_ context.Context, max int, plan func([]routing.AccessRecord) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pick []*routing.AccessRecord
	for _, r := range s.recs {
		if r.BatchID == "" && len(pick) < max {
			pick = append(pick, r)
		}
	}
	if len(pick) == 0 {
		return nil, nil
	}
	vals := make([]routing.AccessRecord, len(pick))
	for i, r := range pick {
		vals[i] = *r
	}
	b, err := plan(vals)
	if err != nil {
		return nil, err
	}
	for _, r := range pick {
		r.BatchID = b.ID
	}
	s.batches[b.ID] = b
	s.order = append(s.order, b.ID)
	return b, nil
}

func (s *pgStore) PendingBatches(context.Context) ([]routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []routing.AnchorBatch
	for _, id := range s.order {
		if b := s.batches[id]; b.Status == routing.BatchPending {
			out = append(out, *b)
		}
	}
	return out, nil
}

func (s *pgStore) GetBatch(_ context.Context, id string) (*routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, pgNotFound("batch")
	}
	c := *b
	return &c, nil
}

func (s *pgStore) BatchLeaves(_ context.Context, id string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		if r.BatchID == id {
			out = append(out, r.LeafHash)
		}
	}
	return out, nil
}

func (s *pgStore) MarkAnchored(_ context.Context, id, txID string, block uint64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return pgNotFound("batch")
	}
	b.Status, b.TxID, b.Block, b.AnchoredAt = routing.BatchAnchored, txID, block, at
	for _, r := range s.recs {
		if r.BatchID == id {
			r.AnchorTxID, r.AnchorBlock, r.AnchoredAt = txID, block, at
		}
	}
	return nil
}

func (s *pgStore) AcquireLease(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}

// pgDoc is a document held by an eID.
type pgDoc struct {
	key    string // type|country|normalised number: the fake's blinded index
	masked MaskedDocument
}

// pgIdentities is the mapping service. Numbers are kept only as the
// lookup key, as the real service keeps only the blinded index. (The
// mapping package implements this package's interfaces, so the fakes
// cannot use it; pgParseDoc checks documents as far as the tests need.)
type pgIdentities struct {
	mu       sync.Mutex
	clock    routing.Clock
	ledger   *pgLedger
	accounts *pgAccounts
	byKey    map[string]string // doc key → eID
	docs     map[string][]pgDoc
	links    map[string]string // dept|account → eID
	refs     int
}

// pgDoc is a parsed document: its lookup key (type, country, normalised
// number) and its masked form, as mapping.Mask masks.
type pgParsed struct {
	typ, country, key, masked string
}

var (
	pgCNPassport = regexp.MustCompile(`^(E[0-9A-HJ-NP-Z][0-9]{7}|G[0-9]{8})$`)
	pgPassport   = regexp.MustCompile(`^[0-9A-Z]{1,9}$`)
	pgPermit     = regexp.MustCompile(`^[0-9A-Z]{8,18}$`)
)

func pgParseDoc(d Document) (pgParsed, error) {
	num := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(d.Number)))
	country := strings.ToUpper(strings.TrimSpace(d.Country))
	bad := func(msg string) error {
		return &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "number", Message: d.Type + ": " + msg}
	}
	switch d.Type {
	case "cn-resident", "hkmotw-residence":
		if len(num) != 18 {
			return pgParsed{}, bad("the number must have 18 characters")
		}
		if !pgGB11643(num) {
			return pgParsed{}, bad("the check character does not match")
		}
	case "cn-passport":
		if !pgCNPassport.MatchString(num) {
			return pgParsed{}, bad("not a passport number")
		}
	case "passport":
		if len(country) != 3 {
			return pgParsed{}, bad("give the issuing state")
		}
		if !pgPassport.MatchString(num) {
			return pgParsed{}, bad("not a passport number")
		}
	case "hkmo-permit", "tw-permit", "cn-hkmo-pass", "foreign-permanent":
		if !pgPermit.MatchString(num) {
			return pgParsed{}, bad("not a permit number")
		}
	default:
		return pgParsed{}, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "type", Message: "unknown document type"}
	}
	if d.Type != "passport" {
		country = ""
	}
	return pgParsed{typ: d.Type, country: country, key: d.Type + "|" + country + "|" + num, masked: pgMask(num)}, nil
}

// pgGB11643 checks the ISO 7064 MOD 11-2 check character of an 18-character
// identity number.
func pgGB11643(n string) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
		sum += int(n[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11] == n[17]
}

// pgMask is mapping.Mask: 4+4 characters of 15 or more, 2+2 of 9 to 14,
// 1+1 of 6 to 8, none of fewer.
func pgMask(s string) string {
	r := []rune(s)
	keep := 0
	switch n := len(r); {
	case n >= 15:
		keep = 4
	case n >= 9:
		keep = 2
	case n >= 6:
		keep = 1
	}
	for i := keep; i < len(r)-keep; i++ {
		r[i] = '*'
	}
	return string(r)
}

func (m *pgIdentities) masked(doc pgParsed) MaskedDocument {
	m.refs++
	return MaskedDocument{Type: doc.typ, Country: doc.country, Masked: doc.masked, KeyVersion: "v1",
		Ref: fmt.Sprintf("ref%04d", m.refs), AddedAt: m.clock.Now().UTC()}
}

func newEID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return model.DIDPrefix + hex.EncodeToString(b[:])
}

func (m *pgIdentities) Create(ctx context.Context, docs []Document, _ string) (*CreatedIdentity, error) {
	m.mu.Lock()
	var keys []string
	var parsed []pgParsed
	for _, d := range docs {
		doc, err := pgParseDoc(d)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		if _, taken := m.byKey[doc.key]; taken || slices.Contains(keys, doc.key) {
			m.mu.Unlock()
			return nil, pgConflict("document_taken", "an eID already holds "+doc.typ+" "+doc.masked)
		}
		keys, parsed = append(keys, doc.key), append(parsed, doc)
	}
	eid := newEID()
	out := &CreatedIdentity{EID: eid}
	for i, key := range keys {
		md := m.masked(parsed[i])
		m.byKey[key] = eid
		m.docs[eid] = append(m.docs[eid], pgDoc{key: key, masked: md})
		out.Documents = append(out.Documents, md)
	}
	m.mu.Unlock()
	m.ledger.putEID(model.Identity{ID: eid, Status: model.EIDActive})
	out.ActivationCode = m.accounts.newCode(eid)
	return out, nil
}

func (m *pgIdentities) AddDocument(_ context.Context, eid string, d Document, _ string) (*MaskedDocument, error) {
	doc, err := pgParseDoc(d)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.docs[eid]; !ok {
		return nil, pgNotFound("eID")
	}
	if _, taken := m.byKey[doc.key]; taken {
		return nil, pgConflict("document_taken", "an eID already holds "+doc.typ+" "+doc.masked)
	}
	md := m.masked(doc)
	m.byKey[doc.key] = eid
	m.docs[eid] = append(m.docs[eid], pgDoc{key: doc.key, masked: md})
	return &md, nil
}

func (m *pgIdentities) RemoveDocument(_ context.Context, eid, ref, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, d := range m.docs[eid] {
		if d.masked.Ref == ref {
			if len(m.docs[eid]) == 1 {
				return pgConflict("last_document", "an eID keeps at least one document")
			}
			delete(m.byKey, d.key)
			m.docs[eid] = slices.Delete(m.docs[eid], i, i+1)
			return nil
		}
	}
	return pgNotFound("document")
}

func (m *pgIdentities) Merge(ctx context.Context, from, into, reason, _ string) error {
	a, err := m.ledger.GetEID(ctx, from)
	if err != nil {
		return err
	}
	b, err := m.ledger.GetEID(ctx, into)
	if err != nil {
		return err
	}
	if a.Status != model.EIDActive || b.Status != model.EIDActive {
		return pgConflict("eid_state", "both eIDs must be active")
	}
	m.mu.Lock()
	for _, d := range m.docs[from] {
		m.byKey[d.key] = into
	}
	m.docs[into] = append(m.docs[into], m.docs[from]...)
	delete(m.docs, from)
	m.docs[from] = nil
	m.mu.Unlock()
	a.Status, a.MergedInto, a.MergeReason = model.EIDMerged, into, reason
	b.MergedFrom = append(b.MergedFrom, from)
	m.ledger.putEID(*a)
	m.ledger.putEID(*b)
	return nil
}

func (m *pgIdentities) Deactivate(ctx context.Context, eid, reason, _ string) error {
	id, err := m.ledger.GetEID(ctx, eid)
	if err != nil {
		return err
	}
	id.Status, id.DeactivationReason = model.EIDDeactivated, reason
	m.ledger.putEID(*id)
	return nil
}

func (m *pgIdentities) Find(_ context.Context, d Document) (string, error) {
	doc, err := pgParseDoc(d)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	eid, ok := m.byKey[doc.key]
	if !ok {
		return "", pgNotFound("eID")
	}
	return eid, nil
}

func (m *pgIdentities) LookupDocument(ctx context.Context, docType, number, country string) (string, error) {
	return m.Find(ctx, Document{Type: docType, Number: number, Country: country})
}

func (m *pgIdentities) Documents(_ context.Context, eid string) ([]MaskedDocument, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MaskedDocument
	for _, d := range m.docs[eid] {
		out = append(out, d.masked)
	}
	return out, nil
}

func (m *pgIdentities) NewActivationCode(ctx context.Context, eid, _ string) (string, error) {
	if _, err := m.ledger.GetEID(ctx, eid); err != nil {
		return "", err
	}
	return m.accounts.newCode(eid), nil
}

func (m *pgIdentities) LinkAccount(ctx context.Context, dept, account string, d Document) (*model.AccountLink, error) {
	eid, err := m.Find(ctx, d)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(dept + "\x00" + account))
	link := model.AccountLink{EID: eid, Department: dept, AccountHash: hex.EncodeToString(sum[:]), LinkedAt: m.ledger.now()}
	m.mu.Lock()
	m.links[dept+"|"+account] = eid
	m.mu.Unlock()
	m.ledger.mu.Lock()
	m.ledger.links[eid] = append(m.ledger.links[eid], link)
	m.ledger.mu.Unlock()
	return &link, nil
}

func (m *pgIdentities) LookupAccount(_ context.Context, dept, account string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if eid, ok := m.links[dept+"|"+account]; ok {
		return eid, nil
	}
	return "", pgNotFound("account")
}

func (m *pgIdentities) UnlinkAccount(context.Context, string, string) error { return nil }

// pgAccounts holds residents, administrators, API keys and sessions.
type pgAccounts struct {
	mu        sync.Mutex
	clock     routing.Clock
	residents map[string]*pgResident
	admins    map[string]pgAdmin
	keys      map[string]pgKey // token → key
	sessions  map[string]Session
	n         int
}

type pgResident struct {
	password string
	code     string
	codeUsed bool
	lang     string
}

type pgAdmin struct {
	password, role string
}

type pgKey struct {
	token string
	key   APIKey
}

func newPGAccounts(clock routing.Clock) *pgAccounts {
	return &pgAccounts{clock: clock, residents: map[string]*pgResident{}, admins: map[string]pgAdmin{},
		keys: map[string]pgKey{}, sessions: map[string]Session{}}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *pgAccounts) newCode(eid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil {
		r = &pgResident{}
		a.residents[eid] = r
	}
	code := strings.ToUpper(randHex(2) + "-" + randHex(2) + "-" + randHex(2) + "-" + randHex(2))
	r.code, r.codeUsed = code, false
	return code
}

func accountErr(kind routing.Kind, code, msg string) error {
	return &routing.Error{Kind: kind, Code: code, Op: "fake", Message: msg}
}

func (a *pgAccounts) Activate(_ context.Context, eid, code, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil || r.code == "" || !strings.EqualFold(strings.ReplaceAll(code, " ", ""), r.code) {
		return accountErr(routing.KindUnauthenticated, "activation_code_invalid", "the document, code or password is not correct")
	}
	if r.codeUsed {
		return accountErr(routing.KindConflict, "activation_used", "the activation code was already used")
	}
	if len(password) < 12 {
		return &routing.Error{Kind: routing.KindInvalid, Code: "weak_password", Op: "fake", Field: "password", Message: "use at least 12 characters"}
	}
	r.codeUsed, r.password = true, password
	return nil
}

func (a *pgAccounts) ResidentLogin(_ context.Context, eid, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil || r.password == "" || r.password != password {
		return accountErr(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	return nil
}

func (a *pgAccounts) SetResidentLang(_ context.Context, eid, lang string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil {
		return pgNotFound("resident")
	}
	r.lang = lang
	return nil
}

func (a *pgAccounts) ResidentLang(_ context.Context, eid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.residents[eid]; r != nil {
		return r.lang, nil
	}
	return "", nil
}

func (a *pgAccounts) AdminLogin(_ context.Context, username, password string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.admins[username]
	if !ok || u.password != password {
		return "", accountErr(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	return u.role, nil
}

func (a *pgAccounts) CreateAdmin(_ context.Context, username, password, role string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.admins[username]; ok {
		return &routing.Error{Kind: routing.KindConflict, Code: "admin_exists", Op: "fake", Field: "username", Message: "the username is taken"}
	}
	if len(password) < 12 {
		return &routing.Error{Kind: routing.KindInvalid, Code: "weak_password", Op: "fake", Field: "password", Message: "use at least 12 characters"}
	}
	a.admins[username] = pgAdmin{password: password, role: role}
	return nil
}

func (a *pgAccounts) Admins(context.Context) ([]AdminUser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []AdminUser
	for name, u := range a.admins {
		out = append(out, AdminUser{Username: name, Role: u.role})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

func (a *pgAccounts) IssueAPIKey(_ context.Context, dept, name string) (string, *APIKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	token := "egk_" + randHex(24)
	k := APIKey{ID: fmt.Sprintf("key%04d", a.n), Department: dept, Name: name, CreatedAt: a.clock.Now().UTC()}
	a.keys[token] = pgKey{token: token, key: k}
	return token, &k, nil
}

func (a *pgAccounts) AuthenticateAPIKey(_ context.Context, token string) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.keys[token]
	if !ok || !k.key.RevokedAt.IsZero() {
		return "", "", accountErr(routing.KindUnauthenticated, "invalid_credentials", "not a valid key")
	}
	k.key.LastUsedAt = a.clock.Now().UTC()
	a.keys[token] = k
	return k.key.Department, k.key.ID, nil
}

func (a *pgAccounts) RevokeAPIKey(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, k := range a.keys {
		if k.key.ID == id {
			k.key.RevokedAt = a.clock.Now().UTC()
			a.keys[t] = k
			return nil
		}
	}
	return pgNotFound("API key")
}

func (a *pgAccounts) APIKeys(_ context.Context, dept string) ([]APIKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []APIKey
	for _, k := range a.keys {
		if k.key.Department == dept {
			out = append(out, k.key)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (a *pgAccounts) NewSession(_ context.Context, s Session) (string, *Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	token := "sess_" + randHex(16)
	s.CSRFToken = randHex(16)
	// Sessions expire on the wall clock: the browser's cookie does.
	s.ExpiresAt = time.Now().Add(8 * time.Hour)
	a.sessions[token] = s
	return token, &s, nil
}

func (a *pgAccounts) LookupSession(_ context.Context, token string) (*Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok || time.Now().After(s.ExpiresAt) {
		return nil, accountErr(routing.KindUnauthenticated, "session_invalid", "no session")
	}
	return &s, nil
}

func (a *pgAccounts) RevokeSession(_ context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, token)
	return nil
}

func (a *pgAccounts) sessionCount(kind string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.sessions {
		if s.Kind == kind {
			n++
		}
	}
	return n
}

// pgPolicies is a small Casbin-like policy: rules "p, subject, object
// (may end in *), purpose, effect" and memberships "g, department, role";
// deny wins. It serves both routing.Policy and gateway.Policies.
type pgPolicies struct {
	mu      sync.Mutex
	clock   routing.Clock
	rules   []PolicyRule
	history []PolicyVersion
}

func (p *pgPolicies) version() int64 { return int64(len(p.history)) }

func (p *pgPolicies) decide(dept, dataType, purpose string) (*Explanation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	subjects := []string{dept}
	for _, r := range p.rules {
		if r.Kind == "g" && r.Subject == dept {
			subjects = append(subjects, r.Role)
		}
	}
	ex := &Explanation{Version: p.version(), Reason: "no rule allows it"}
	for _, r := range p.rules {
		if r.Kind != "p" || !slices.Contains(subjects, r.Subject) || (r.Action != purpose && r.Action != "*") {
			continue
		}
		if obj, ok := strings.CutSuffix(r.Object, "*"); (ok && strings.HasPrefix(dataType, obj)) || r.Object == dataType {
			ex.Matched = append(ex.Matched, r)
			text := "p, " + r.Subject + ", " + r.Object + ", " + r.Action + ", " + r.Effect
			if r.Effect == "deny" {
				ex.Allowed, ex.Rule, ex.Reason = false, text, "a deny rule matches"
				return ex, nil
			}
			if !ex.Allowed {
				ex.Allowed, ex.Rule, ex.Reason = true, text, "an allow rule matches"
			}
		}
	}
	return ex, nil
}

func (p *pgPolicies) Decide(_ context.Context, dept, dataType, purpose string) (routing.Decision, error) {
	ex, err := p.decide(dept, dataType, purpose)
	if err != nil {
		return routing.Decision{}, err
	}
	return routing.Decision{Allowed: ex.Allowed, Rule: ex.Rule, Version: ex.Version, Reason: ex.Reason}, nil
}

func (p *pgPolicies) Explain(_ context.Context, dept, dataType, purpose string) (*Explanation, error) {
	return p.decide(dept, dataType, purpose)
}

func (p *pgPolicies) Rules(context.Context) ([]PolicyRule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rules), nil
}

func (p *pgPolicies) change(summary, by string) int64 {
	p.history = append(p.history, PolicyVersion{Version: int64(len(p.history) + 1), ChangedBy: by, Summary: summary, CreatedAt: p.clock.Now().UTC()})
	return p.version()
}

func (p *pgPolicies) AddRule(_ context.Context, r PolicyRule, by string) (int64, error) {
	switch {
	case r.Kind == "p" && (r.Subject == "" || r.Object == "" || r.Action == "" || (r.Effect != "allow" && r.Effect != "deny")):
		return 0, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "object", Message: "a rule needs subject, object, action and effect"}
	case r.Kind == "g" && (r.Subject == "" || r.Role == ""):
		return 0, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "role", Message: "a membership needs subject and role"}
	case r.Kind != "p" && r.Kind != "g":
		return 0, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "kind", Message: "kind must be p or g"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.rules, r) {
		return 0, pgConflict("rule_exists", "the rule exists")
	}
	p.rules = append(p.rules, r)
	return p.change("add "+r.Kind+", "+r.Subject+", "+r.Object+r.Role, by), nil
}

func (p *pgPolicies) RemoveRule(_ context.Context, r PolicyRule, by string) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.rules, r)
	if i < 0 {
		return 0, pgNotFound("rule")
	}
	p.rules = slices.Delete(p.rules, i, i+1)
	return p.change("remove "+r.Kind+", "+r.Subject+", "+r.Object+r.Role, by), nil
}

func (p *pgPolicies) History(_ context.Context, limit int) ([]PolicyVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.history)
	slices.Reverse(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// pgTickets issues opaque tickets.
type pgTickets struct{ clock routing.Clock }

func (t pgTickets) Issue(_ context.Context, req routing.TicketRequest) (routing.Ticket, error) {
	return routing.Ticket{Token: "ticket." + req.ID, ID: req.ID, ExpiresAt: t.clock.Now().Add(5 * time.Minute)}, nil
}

func (pgTickets) Introspect(context.Context, string, string) (map[string]any, error) {
	return map[string]any{"active": false}, nil
}

func (pgTickets) JWKS() ([]byte, error) { return []byte(`{"keys":[]}`), nil }

// pgImporter reads a CSV of documents (type,number,country per row; a
// header row is skipped) and creates eIDs row by row in the background.
// When hold is set, the job stops after half of its rows until the test
// releases it, so a test can watch progress without timing anything.
type pgImporter struct {
	mu    sync.Mutex
	clock routing.Clock
	ids   *pgIdentities
	jobs  []*ImportJob
	rej   map[string][][3]string
	hold  chan struct{}
	held  chan struct{} // closed when a held job reached its pause
}

func (im *pgImporter) Start(ctx context.Context, name string, body io.Reader, _ string) (*ImportJob, error) {
	var rows [][]string
	r := csv.NewReader(bufio.NewReader(body))
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &routing.Error{Kind: routing.KindInvalid, Op: "fake", Field: "file", Message: "not a CSV file: " + err.Error()}
		}
		if len(rows) == 0 && len(rec) > 0 && rec[0] == "type" {
			continue
		}
		rows = append(rows, rec)
	}
	im.mu.Lock()
	job := &ImportJob{ID: fmt.Sprintf("imp_%04d", len(im.jobs)+1), FileName: name, Status: "running", Total: int64(len(rows)), StartedAt: im.clock.Now().UTC()}
	im.jobs = append(im.jobs, job)
	if im.rej == nil {
		im.rej = map[string][][3]string{}
	}
	hold, held := im.hold, im.held
	out := *job
	im.mu.Unlock()
	go im.run(context.WithoutCancel(ctx), job, rows, hold, held)
	return &out, nil
}

func (im *pgImporter) run(ctx context.Context, job *ImportJob, rows [][]string, hold, held chan struct{}) {
	for i, row := range rows {
		if hold != nil && i == len(rows)/2 {
			close(held)
			<-hold
		}
		for len(row) < 3 {
			row = append(row, "")
		}
		doc := Document{Type: row[0], Number: row[1], Country: row[2]}
		outcome := "created"
		if _, err := im.ids.Find(ctx, doc); err == nil {
			outcome = "existing"
		} else if _, err := im.ids.Create(ctx, []Document{doc}, "import"); err != nil {
			outcome = "rejected"
			im.mu.Lock()
			im.rej[job.ID] = append(im.rej[job.ID], [3]string{strconv.Itoa(i + 1), pgMask(row[1]), routing.MessageOf(err)})
			im.mu.Unlock()
		}
		im.mu.Lock()
		job.Done++
		switch outcome {
		case "created":
			job.Created++
		case "existing":
			job.Existing++
		default:
			job.Rejected++
		}
		if secs := im.clock.Now().Sub(job.StartedAt).Seconds(); secs > 0 {
			job.RowsPerSec = float64(job.Done) / secs
		}
		im.mu.Unlock()
	}
	im.mu.Lock()
	job.Status, job.FinishedAt = "done", im.clock.Now().UTC()
	im.mu.Unlock()
}

func (im *pgImporter) Job(_ context.Context, id string) (*ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range im.jobs {
		if j.ID == id {
			out := *j
			return &out, nil
		}
	}
	return nil, pgNotFound("import job")
}

func (im *pgImporter) Jobs(_ context.Context, limit int) ([]ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	var out []ImportJob
	for i := len(im.jobs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, *im.jobs[i])
	}
	return out, nil
}

func (im *pgImporter) WriteRejects(_ context.Context, id string, w io.Writer) error {
	im.mu.Lock()
	rows := slices.Clone(im.rej[id])
	im.mu.Unlock()
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"row", "masked_number", "reason"})
	for _, r := range rows {
		_ = cw.Write(r[:])
	}
	cw.Flush()
	return cw.Error()
}

// pgWorld is the whole fake consortium behind one gateway.Server.
type pgWorld struct {
	clock    *pgClock
	ledger   *pgLedger
	store    *pgStore
	ids      *pgIdentities
	accounts *pgAccounts
	policies *pgPolicies
	importer *pgImporter
	anchorer *routing.Anchorer
	log      *routing.AccessLog
	deps     Deps

	// The demo residents' first documents and eIDs, in demo order.
	residentDocs []Document
	residentEIDs []string
	apiKey       string // the hrss department's API key
}

// Credentials of the seeded accounts.
const (
	pgResidentPassword = "correct horse battery"
	pgAdminPassword    = "admin password 1234"
)

// newPGWorld seeds the demo consortium: its departments and data types,
// its residents with their route entries, administrators of every role, a
// resident password for the first resident, an API key for hrss, and a
// policy letting hrss read degrees for hiring.
func newPGWorld(t testing.TB, clock *pgClock) *pgWorld {
	t.Helper()
	w := &pgWorld{clock: clock}
	w.ledger = newPGLedger(clock)
	w.store = newPGStore()
	w.accounts = newPGAccounts(clock)
	w.ids = &pgIdentities{clock: clock, ledger: w.ledger, accounts: w.accounts, byKey: map[string]string{},
		docs: map[string][]pgDoc{}, links: map[string]string{}}
	w.policies = &pgPolicies{clock: clock}
	w.importer = &pgImporter{clock: clock, ids: w.ids}
	ctx := context.Background()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := model.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range demo.Departments {
		if _, err := w.ledger.RegisterDepartment(ctx, model.Department{ID: d.ID, Name: d.Name, NameEN: d.NameEN, MSPID: d.MSPID,
			Endpoints:   []string{"https://" + d.ID + ".example.gov.cn/records"},
			SigningKeys: []model.SigningKey{{KID: d.ID + "-1", PublicKeyPEM: pem, Status: model.KeyActive}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dt := range demo.DataTypes {
		if _, err := w.ledger.RegisterDataType(ctx, model.DataType{Code: dt.Code, Name: dt.Name, NameEN: dt.NameEN, Schema: dt.Schema, Owners: []string{dt.Owner}}); err != nil {
			t.Fatal(err)
		}
	}
	owner := map[string]string{}
	for _, dt := range demo.DataTypes {
		owner[dt.Code] = dt.Owner
	}
	for _, r := range demo.Residents {
		var docs []Document
		for _, d := range r.Documents {
			docs = append(docs, Document{Type: d.Type, Number: d.Number, Country: d.Country})
		}
		created, err := w.ids.Create(ctx, docs, "seed")
		if err != nil {
			t.Fatal(err)
		}
		w.residentDocs = append(w.residentDocs, docs[0])
		w.residentEIDs = append(w.residentEIDs, created.EID)
		var batch []model.SignedRoute
		for i, rec := range r.Records {
			sum := sha256.Sum256(demo.RecordJSON(rec))
			batch = append(batch, model.SignedRoute{Statement: model.RouteStatement{EID: created.EID, DataType: rec.DataType,
				Provider: owner[rec.DataType], Version: uint64(i + 1), Digest: model.DigestPrefix + hex.EncodeToString(sum[:]), Schema: rec.DataType + "/1"},
				KID: owner[rec.DataType] + "-1", Signature: "c2ln"})
		}
		if _, err := w.ledger.PublishRoutes(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// The first resident has activated the account; the others have not.
	w.accounts.residents[w.residentEIDs[0]].password = pgResidentPassword
	w.accounts.residents[w.residentEIDs[0]].codeUsed = true
	for name, role := range map[string]string{"root": RoleAdmin, "mapper": RoleMappingOfficer, "auditor": RoleAuditor} {
		if err := w.accounts.CreateAdmin(ctx, name, pgAdminPassword, role); err != nil {
			t.Fatal(err)
		}
	}
	if w.apiKey, _, err = w.accounts.IssueAPIKey(ctx, "hrss", "hrss system"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []PolicyRule{
		{Kind: "p", Subject: "hrss", Object: "edu.*", Action: "hiring", Effect: "allow"},
		{Kind: "g", Subject: "edu-bureau", Role: "school"},
	} {
		if _, err := w.policies.AddRule(ctx, r, "seed"); err != nil {
			t.Fatal(err)
		}
	}

	cache := &pgCache{}
	dir := &routing.Directory{Registry: w.ledger, EIDs: w.ledger, Routes: w.ledger, Consents: w.ledger, Cache: cache, Clock: clock}
	w.log = routing.NewAccessLog(w.store, clock, 0)
	t.Cleanup(w.log.Close)
	w.anchorer = &routing.Anchorer{Store: w.store, Ledger: w.ledger, Clock: clock, Holder: "test", LagBound: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w.anchorer.Step(ctx)
	tickets := pgTickets{clock: clock}
	w.deps = Deps{
		Resolver: &routing.Resolver{Dir: dir, Mapper: w.ids, Policy: w.policies, Consents: w.ledger, Log: w.log, Gate: w.anchorer,
			Tickets: tickets, Clock: clock, PseudonymKey: []byte("pseudonym key")},
		Consents:   &routing.ConsentService{Ledger: w.ledger, Dir: dir, Clock: clock},
		Anchorer:   w.anchorer,
		Access:     w.store,
		Dir:        dir,
		Admin:      w.ledger,
		Agent:      w.ledger,
		Identities: w.ids,
		Importer:   w.importer,
		Accounts:   w.accounts,
		Policies:   w.policies,
		Tickets:    tickets,
		Clock:      clock,
	}
	return w
}

// anchor runs one anchoring round, as the background anchorer would.
func (w *pgWorld) anchor() { w.anchorer.Step(context.Background()) }
