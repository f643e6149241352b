package routing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Test doubles of the domain's ports. They keep state in memory and
// enforce the documented contracts (one transaction per AppendAccess,
// consent use limits, batch planning) so the domain logic is tested
// against the rules the real adapters follow.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fakeLedger struct {
	mu        sync.Mutex
	depts     map[string]model.Department
	dts       map[string]model.DataType
	eids      map[string]model.Identity
	routes    map[string][]model.RouteEntry
	consents  map[string]model.Consent
	anchors   map[string]model.AccessAnchor
	calls     map[string]int
	failWrite error // returned by every write when set
	block     uint64
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{
		depts: map[string]model.Department{}, dts: map[string]model.DataType{},
		eids: map[string]model.Identity{}, routes: map[string][]model.RouteEntry{},
		consents: map[string]model.Consent{}, anchors: map[string]model.AccessAnchor{},
		calls: map[string]int{},
	}
}

func (l *fakeLedger) count(fn string) {
	l.mu.Lock()
	l.calls[fn]++
	l.mu.Unlock()
}

func (l *fakeLedger) Calls(fn string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[fn]
}

func notFound(what string) error { return Errorf(KindNotFound, "fake", "%s not found", what) }

func (l *fakeLedger) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	l.count("GetDepartment")
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.depts[id]
	if !ok {
		return nil, notFound("department")
	}
	return &d, nil
}

func (l *fakeLedger) ListDepartments(context.Context) ([]model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Department
	for _, d := range l.depts {
		out = append(out, d)
	}
	return out, nil
}

func (l *fakeLedger) GetDataType(_ context.Context, code string) (*model.DataType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.dts[code]
	if !ok {
		return nil, notFound("data type")
	}
	return &d, nil
}

func (l *fakeLedger) ListDataTypes(context.Context) ([]model.DataType, error) { return nil, nil }

func (l *fakeLedger) GetEID(_ context.Context, eid string) (*model.Identity, error) {
	l.count("GetEID")
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.eids[eid]
	if !ok {
		return nil, notFound("eid")
	}
	return &id, nil
}

func (l *fakeLedger) GetRoutes(_ context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	l.count("GetRoutes")
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

func (l *fakeLedger) PublishRoutes(context.Context, []model.SignedRoute) ([]model.RouteOutcome, error) {
	return nil, errors.New("not used")
}

func (l *fakeLedger) RevokeRoute(context.Context, string, string, string, string) (*model.RouteEntry, error) {
	return nil, errors.New("not used")
}

func (l *fakeLedger) RequestConsent(_ context.Context, req model.ConsentRequest) (*model.Consent, error) {
	l.count("RequestConsent")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failWrite != nil {
		return nil, l.failWrite
	}
	id := fmt.Sprintf("cs-%024x", len(l.consents)+1)
	c := model.Consent{ID: id, EID: req.EID, Requester: req.Requester, Provider: req.Provider,
		DataTypes: req.DataTypes, PurposeCode: req.PurposeCode, PurposeText: req.PurposeText,
		ValidFrom: req.ValidFrom, ValidUntil: req.ValidUntil, MaxUses: req.MaxUses,
		Status: model.ConsentRequested, RequestedAt: req.ValidFrom}
	l.consents[id] = c
	return &c, nil
}

func (l *fakeLedger) setStatus(id, from, to string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failWrite != nil {
		return nil, l.failWrite
	}
	c, ok := l.consents[id]
	if !ok {
		return nil, notFound("consent")
	}
	if c.Status != from {
		return nil, Errorf(KindConflict, "fake", "consent is %s", c.Status)
	}
	c.Status = to
	l.consents[id] = c
	return &c, nil
}

func (l *fakeLedger) GrantConsent(_ context.Context, id, _ string) (*model.Consent, error) {
	return l.setStatus(id, model.ConsentRequested, model.ConsentActive)
}

func (l *fakeLedger) DenyConsent(_ context.Context, id, _ string) (*model.Consent, error) {
	return l.setStatus(id, model.ConsentRequested, model.ConsentDenied)
}

func (l *fakeLedger) RevokeConsent(_ context.Context, id string) (*model.Consent, error) {
	return l.setStatus(id, model.ConsentActive, model.ConsentRevoked)
}

func (l *fakeLedger) ExpireConsents(_ context.Context, ids []string) ([]string, error) {
	return ids, nil
}

func (l *fakeLedger) GetConsent(_ context.Context, id string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.consents[id]
	if !ok {
		return nil, notFound("consent")
	}
	return &c, nil
}

func (l *fakeLedger) ListConsentsByEID(_ context.Context, eid string) ([]model.Consent, error) {
	l.count("ListConsentsByEID")
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Consent
	for _, c := range l.consents {
		if c.EID == eid {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (l *fakeLedger) ListConsentsByRequester(context.Context, string) ([]model.Consent, error) {
	return nil, nil
}

func (l *fakeLedger) AnchorAccessBatch(_ context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	l.count("AnchorAccessBatch")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failWrite != nil {
		return nil, 0, l.failWrite
	}
	l.block++
	if prev, ok := l.anchors[a.BatchID]; ok {
		if !prev.SameContent(a) {
			return nil, 0, Errorf(KindConflict, "fake", "batch id reused")
		}
		return &prev, l.block, nil
	}
	a.TxID = fmt.Sprintf("tx%d", l.block)
	l.anchors[a.BatchID] = a
	return &a, l.block, nil
}

func (l *fakeLedger) GetAnchor(_ context.Context, id string) (*model.AccessAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.anchors[id]
	if !ok {
		return nil, notFound("anchor")
	}
	return &a, nil
}

// memCache is a map cache that can be switched off to simulate an outage.
type memCache struct {
	mu   sync.Mutex
	m    map[string][]byte
	down bool
}

func newMemCache() *memCache { return &memCache{m: map[string][]byte{}} }

func (c *memCache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, false, errors.New("cache down")
	}
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *memCache) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errors.New("cache down")
	}
	c.m[k] = v
	return nil
}

func (c *memCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errors.New("cache down")
	}
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}

// memStore is an AccessStore and AnchorStore in memory.
type memStore struct {
	mu      sync.Mutex
	recs    []*AccessRecord
	uses    map[string]uint64
	batches map[string]*AnchorBatch
	order   []string
	lease   map[string]string
	txs     int
	fail    error
}

func newMemStore() *memStore {
	return &memStore{uses: map[string]uint64{}, batches: map[string]*AnchorBatch{}, lease: map[string]string{}}
}

func (s *memStore) AppendAccess(_ context.Context, recs []*AccessRecord) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.txs++
	per := make([]error, len(recs))
	for i, r := range recs {
		if r.UseConsent {
			if r.ConsentMaxUses > 0 && s.uses[r.ConsentID] >= r.ConsentMaxUses {
				per[i] = (&Error{Kind: KindConflict, Op: "store", Message: "no uses left"}).WithCode("consent_uses_exhausted")
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

func (s *memStore) GetAccess(_ context.Context, id string) (*AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.ID == id {
			c := *r
			return &c, nil
		}
	}
	return nil, notFound("access")
}

func (s *memStore) ListAccess(context.Context, AccessFilter) ([]AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AccessRecord, len(s.recs))
	for i, r := range s.recs {
		out[i] = *r
	}
	return out, nil
}

func (s *memStore) ConsentUses(_ context.Context, id string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uses[id], nil
}

func (s *memStore) FlagAccess(_ context.Context, id, reason, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.ID == id {
			r.Flagged, r.FlagReason, r.DeliveredHash = true, reason, hash
			return nil
		}
	}
	return notFound("access")
}

func (s *memStore) OldestUnanchored(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return time.Time{}, false, s.fail
	}
	for _, r := range s.recs {
		if r.AnchorTxID == "" {
			return r.CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

func (s *memStore) PlanBatch(_ context.Context, max int, plan func([]AccessRecord) (*AnchorBatch, error)) (*AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pick []*AccessRecord
	for _, r := range s.recs {
		if r.BatchID == "" && len(pick) < max {
			pick = append(pick, r)
		}
	}
	if len(pick) == 0 {
		return nil, nil
	}
	vals := make([]AccessRecord, len(pick))
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

func (s *memStore) PendingBatches(context.Context) ([]AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AnchorBatch
	for _, id := range s.order {
		if b := s.batches[id]; b.Status == BatchPending {
			out = append(out, *b)
		}
	}
	return out, nil
}

func (s *memStore) GetBatch(_ context.Context, id string) (*AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, notFound("batch")
	}
	c := *b
	return &c, nil
}

func (s *memStore) BatchLeaves(_ context.Context, id string) ([]string, error) {
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

func (s *memStore) MarkAnchored(_ context.Context, id, txID string, block uint64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return notFound("batch")
	}
	b.Status, b.TxID, b.Block, b.AnchoredAt = BatchAnchored, txID, block, at
	for _, r := range s.recs {
		if r.BatchID == id {
			r.AnchorTxID, r.AnchorBlock, r.AnchoredAt = txID, block, at
		}
	}
	return nil
}

func (s *memStore) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.lease[name]; ok && cur != holder {
		return false, nil
	}
	s.lease[name] = holder
	return true, nil
}

func (s *memStore) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease[name] == holder {
		delete(s.lease, name)
	}
	return nil
}

type fakePolicy struct {
	allow   map[string]bool // "dept|dt|purpose"
	version int64
}

func (p *fakePolicy) Decide(_ context.Context, dept, dt, purpose string) (Decision, error) {
	if p.allow[dept+"|"+dt+"|"+purpose] {
		return Decision{Allowed: true, Rule: "p, " + dept + ", " + dt + ", " + purpose + ", allow", Version: p.version}, nil
	}
	return Decision{Allowed: false, Version: p.version, Reason: "no rule allows it"}, nil
}

type fakeMapper struct{ docs map[string]string }

func (m *fakeMapper) LookupDocument(_ context.Context, docType, number, _ string) (string, error) {
	if eid, ok := m.docs[docType+":"+number]; ok {
		return eid, nil
	}
	return "", Errorf(KindNotFound, "fake", "no eID")
}

type fakeTickets struct {
	mu     sync.Mutex
	issued []TicketRequest
}

func (t *fakeTickets) Issue(_ context.Context, req TicketRequest) (Ticket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.issued = append(t.issued, req)
	return Ticket{Token: "token-" + req.ID, ID: req.ID, ExpiresAt: time.Now().Add(2 * time.Minute)}, nil
}

func (t *fakeTickets) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.issued)
}
