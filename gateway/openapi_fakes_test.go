package gateway_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/routing"
	jose "github.com/go-jose/go-jose/v4"
)

// In-memory stand-ins for the services behind the gateway. They answer
// with the shapes and error kinds the real adapters produce (ledger
// records with transaction ids and RFC 3339 times, stable error codes), so
// the API description is checked against realistic traffic.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

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

func notFound(op, what string) error {
	return routing.Errorf(routing.KindNotFound, op, "%s not found", what)
}

func conflict(op, format string, args ...any) error {
	return routing.Errorf(routing.KindConflict, op, format, args...)
}

// fromChaincode classifies a chaincode validation error the way the ledger
// client does.
func fromChaincode(op string, err error) error {
	if err == nil {
		return nil
	}
	kind := routing.KindInternal
	switch model.CodeOf(err) {
	case model.CodeInvalid:
		kind = routing.KindInvalid
	case model.CodeForbidden:
		kind = routing.KindForbidden
	case model.CodeNotFound:
		kind = routing.KindNotFound
	case model.CodeConflict:
		kind = routing.KindConflict
	}
	msg := err.Error()
	if e, ok := err.(*model.Error); ok {
		msg = e.Message
	}
	return &routing.Error{Kind: kind, Op: op, Message: msg, Err: err}
}

// memCache is routing.Cache over a map.
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *memCache) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
	return nil
}

func (c *memCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}

// fakeLedger is the chaincode's state: registry, eIDs, routes, consents,
// links and anchors. It implements the routing ledger interfaces and the
// gateway's AdminLedger and AgentLedger.
type fakeLedger struct {
	mu       sync.Mutex
	clock    *fakeClock
	txs      int
	block    uint64
	depts    map[string]model.Department
	dts      map[string]model.DataType
	eids     map[string]model.Identity
	routes   map[string]model.RouteEntry // eid|data type|provider
	consents map[string]model.Consent
	links    map[string]model.AccountLink // eid|department
	anchors  map[string]model.AccessAnchor
}

func newFakeLedger(clock *fakeClock) *fakeLedger {
	return &fakeLedger{
		clock: clock, depts: map[string]model.Department{}, dts: map[string]model.DataType{},
		eids: map[string]model.Identity{}, routes: map[string]model.RouteEntry{},
		consents: map[string]model.Consent{}, links: map[string]model.AccountLink{},
		anchors: map[string]model.AccessAnchor{},
	}
}

// tx starts a transaction: its id and time. Call with l.mu held.
func (l *fakeLedger) tx() (string, string) {
	l.txs++
	sum := sha256.Sum256([]byte(fmt.Sprintf("tx-%d", l.txs)))
	return hex.EncodeToString(sum[:]), model.FormatTime(l.clock.Now())
}

func (l *fakeLedger) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.depts[id]
	if !ok {
		return nil, notFound("ledger.GetDepartment", "department "+id)
	}
	return &d, nil
}

func (l *fakeLedger) ListDepartments(context.Context) ([]model.Department, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.Department, 0, len(l.depts))
	for _, d := range l.depts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (l *fakeLedger) GetDataType(_ context.Context, code string) (*model.DataType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dt, ok := l.dts[code]
	if !ok {
		return nil, notFound("ledger.GetDataType", "data type "+code)
	}
	return &dt, nil
}

func (l *fakeLedger) ListDataTypes(context.Context) ([]model.DataType, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.DataType, 0, len(l.dts))
	for _, dt := range l.dts {
		out = append(out, dt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

func (l *fakeLedger) RegisterDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	const op = "ledger.RegisterDepartment"
	if err := d.Validate(); err != nil {
		return nil, fromChaincode(op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.depts[d.ID]; ok {
		return nil, conflict(op, "department %s is already registered", d.ID)
	}
	_, now := l.tx()
	if d.Status == "" {
		d.Status = model.DepartmentActive
	}
	d.CreatedAt, d.UpdatedAt = now, now
	l.depts[d.ID] = d
	return &d, nil
}

func (l *fakeLedger) UpdateDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	const op = "ledger.UpdateDepartment"
	if err := d.Validate(); err != nil {
		return nil, fromChaincode(op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, ok := l.depts[d.ID]
	if !ok {
		return nil, notFound(op, "department "+d.ID)
	}
	_, now := l.tx()
	d.Status, d.StatusReason, d.CreatedAt, d.UpdatedAt = prev.Status, prev.StatusReason, prev.CreatedAt, now
	l.depts[d.ID] = d
	return &d, nil
}

func (l *fakeLedger) SetDepartmentStatus(_ context.Context, id, status, reason string) (*model.Department, error) {
	const op = "ledger.SetDepartmentStatus"
	if status != model.DepartmentActive && status != model.DepartmentSuspended {
		return nil, routing.Invalid(op, "status", "status must be active or suspended")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.depts[id]
	if !ok {
		return nil, notFound(op, "department "+id)
	}
	_, now := l.tx()
	d.Status, d.StatusReason, d.UpdatedAt = status, reason, now
	l.depts[id] = d
	return &d, nil
}

func (l *fakeLedger) RegisterDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	const op = "ledger.RegisterDataType"
	if err := dt.Validate(); err != nil {
		return nil, fromChaincode(op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.dts[dt.Code]; ok {
		return nil, conflict(op, "data type %s is already registered", dt.Code)
	}
	for _, o := range dt.Owners {
		if _, ok := l.depts[o]; !ok {
			return nil, notFound(op, "owner department "+o)
		}
	}
	_, now := l.tx()
	if dt.Status == "" {
		dt.Status = model.DataTypeActive
	}
	dt.Owners, dt.CreatedAt, dt.UpdatedAt = model.SortedOwners(dt.Owners), now, now
	l.dts[dt.Code] = dt
	return &dt, nil
}

func (l *fakeLedger) UpdateDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	const op = "ledger.UpdateDataType"
	if err := dt.Validate(); err != nil {
		return nil, fromChaincode(op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, ok := l.dts[dt.Code]
	if !ok {
		return nil, notFound(op, "data type "+dt.Code)
	}
	_, now := l.tx()
	if dt.Status == "" {
		dt.Status = prev.Status
	}
	dt.Owners, dt.CreatedAt, dt.UpdatedAt = model.SortedOwners(dt.Owners), prev.CreatedAt, now
	l.dts[dt.Code] = dt
	return &dt, nil
}

// createEID mints an eID holding indexes.
func (l *fakeLedger) createEID(indexes []model.BlindedIndex) model.Identity {
	l.mu.Lock()
	defer l.mu.Unlock()
	txID, now := l.tx()
	id := model.Identity{ID: model.DeriveEID(txID, 0), Status: model.EIDActive, Indexes: indexes,
		CreatedAt: now, UpdatedAt: now, TxID: txID}
	l.eids[id.ID] = id
	return id
}

// updateEID changes an eID record in one transaction.
func (l *fakeLedger) updateEID(op, eid string, change func(*model.Identity) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.eids[eid]
	if !ok {
		return notFound(op, "eID")
	}
	if err := change(&id); err != nil {
		return err
	}
	id.TxID, id.UpdatedAt = l.tx()
	l.eids[eid] = id
	return nil
}

func (l *fakeLedger) GetEID(_ context.Context, eid string) (*model.Identity, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.eids[eid]
	if !ok {
		return nil, notFound("ledger.GetEID", "eID")
	}
	return &id, nil
}

func (l *fakeLedger) ResolveDID(_ context.Context, did string) (*model.DIDResolution, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.eids[did]
	if !ok {
		return nil, notFound("ledger.ResolveDID", "DID")
	}
	canonical := id.ID
	for range 8 {
		next, ok := l.eids[canonical]
		if !ok || next.MergedInto == "" {
			break
		}
		canonical = next.MergedInto
	}
	res := id.Resolution(canonical)
	return &res, nil
}

func routeKey(eid, dataType, provider string) string { return eid + "|" + dataType + "|" + provider }

func (l *fakeLedger) GetRoutes(_ context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.RouteEntry
	for _, e := range l.routes {
		if e.EID == eid && (dataType == "" || e.DataType == dataType) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return routeKey(out[i].EID, out[i].DataType, out[i].Provider) < routeKey(out[j].EID, out[j].DataType, out[j].Provider)
	})
	return out, nil
}

func (l *fakeLedger) PublishRoutes(_ context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	const op = "ledger.PublishRoutes"
	l.mu.Lock()
	defer l.mu.Unlock()
	txID, now := l.tx()
	out := make([]model.RouteOutcome, 0, len(batch))
	for i, sr := range batch {
		s := sr.Statement
		dept, ok := l.depts[s.Provider]
		if !ok {
			return nil, notFound(op, "department "+s.Provider)
		}
		key, ok := dept.Key(sr.KID)
		if !ok {
			return nil, routing.Errorf(routing.KindInvalid, op, "item %d: department %s has no key %s", i, s.Provider, sr.KID)
		}
		if err := model.VerifyRoute(key.PublicKeyPEM, sr); err != nil {
			return nil, fromChaincode(op, model.Prefixed(err, fmt.Sprintf("item %d", i)))
		}
		dt, ok := l.dts[s.DataType]
		if !ok {
			return nil, notFound(op, "data type "+s.DataType)
		}
		if !dt.OwnedBy(s.Provider) {
			return nil, routing.Errorf(routing.KindForbidden, op, "item %d: %s does not own data type %s", i, s.Provider, s.DataType)
		}
		if _, ok := l.eids[s.EID]; !ok {
			return nil, notFound(op, "eID")
		}
		k := routeKey(s.EID, s.DataType, s.Provider)
		outcome := model.OutcomePublished
		if prev, ok := l.routes[k]; ok {
			switch {
			case prev.Version == s.Version && prev.Digest == s.Digest:
				outcome = model.OutcomeUnchanged
			case prev.Version >= s.Version:
				return nil, conflict(op, "item %d: version %d is not above the stored version %d", i, s.Version, prev.Version)
			}
		}
		if outcome == model.OutcomePublished {
			l.routes[k] = model.RouteEntry{EID: s.EID, DataType: s.DataType, Provider: s.Provider, Version: s.Version,
				Digest: s.Digest, Schema: s.Schema, KID: sr.KID, Signature: sr.Signature, Status: model.RouteValid,
				PublishedAt: now, UpdatedAt: now, TxID: txID}
		}
		out = append(out, model.RouteOutcome{EID: s.EID, DataType: s.DataType, Provider: s.Provider, Version: s.Version, Outcome: outcome})
	}
	return out, nil
}

func (l *fakeLedger) RevokeRoute(_ context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error) {
	const op = "ledger.RevokeRoute"
	l.mu.Lock()
	defer l.mu.Unlock()
	k := routeKey(eid, dataType, provider)
	e, ok := l.routes[k]
	if !ok {
		return nil, notFound(op, "route entry")
	}
	if e.Status == model.RouteRevoked {
		return nil, conflict(op, "the route entry is already revoked")
	}
	e.TxID, e.UpdatedAt = l.tx()
	e.Status, e.RevokedReason = model.RouteRevoked, reason
	l.routes[k] = e
	return &e, nil
}

func (l *fakeLedger) GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.routes[routeKey(eid, dataType, provider)]
	if !ok {
		return []model.RouteHistoryEntry{}, nil
	}
	return []model.RouteHistoryEntry{{TxID: e.TxID, Timestamp: e.UpdatedAt, Entry: &e}}, nil
}

func (l *fakeLedger) ListLinks(_ context.Context, eid string) ([]model.AccountLink, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.AccountLink
	for _, a := range l.links {
		if a.EID == eid {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department })
	return out, nil
}

func (l *fakeLedger) link(eid, dept, accountHash string) model.AccountLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	txID, now := l.tx()
	a := model.AccountLink{EID: eid, Department: dept, AccountHash: accountHash, LinkedAt: now, TxID: txID}
	l.links[eid+"|"+dept] = a
	return a
}

func (l *fakeLedger) unlink(eid, dept string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.links[eid+"|"+dept]
	delete(l.links, eid+"|"+dept)
	return ok
}

func (l *fakeLedger) RequestConsent(_ context.Context, req model.ConsentRequest) (*model.Consent, error) {
	const op = "ledger.RequestConsent"
	if err := req.Validate(); err != nil {
		return nil, fromChaincode(op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.eids[req.EID]; !ok {
		return nil, notFound(op, "eID")
	}
	txID, now := l.tx()
	from := req.ValidFrom
	if from == "" {
		from = now
	}
	c := model.Consent{ID: model.DeriveConsentID(txID), EID: req.EID, Requester: req.Requester, Provider: req.Provider,
		DataTypes: req.DataTypes, PurposeCode: req.PurposeCode, PurposeText: req.PurposeText,
		ValidFrom: from, ValidUntil: req.ValidUntil, MaxUses: req.MaxUses, Status: model.ConsentRequested,
		RequestedAt: now, UpdatedAt: now, TxID: txID}
	l.consents[c.ID] = c
	return &c, nil
}

func (l *fakeLedger) moveConsent(op, id, from, to, method string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.consents[id]
	if !ok {
		return nil, notFound(op, "consent")
	}
	if c.Status != from {
		return nil, conflict(op, "the consent is %s", c.Status)
	}
	txID, now := l.tx()
	c.Status, c.UpdatedAt, c.TxID = to, now, txID
	switch to {
	case model.ConsentRevoked:
		c.RevokedAt, c.RevokedBy = now, "resident"
	default:
		c.DecidedAt, c.DecidedBy, c.DecisionMethod = now, "resident", method
	}
	l.consents[id] = c
	return &c, nil
}

func (l *fakeLedger) GrantConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.moveConsent("ledger.GrantConsent", id, model.ConsentRequested, model.ConsentActive, method)
}

func (l *fakeLedger) DenyConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.moveConsent("ledger.DenyConsent", id, model.ConsentRequested, model.ConsentDenied, method)
}

func (l *fakeLedger) RevokeConsent(_ context.Context, id string) (*model.Consent, error) {
	return l.moveConsent("ledger.RevokeConsent", id, model.ConsentActive, model.ConsentRevoked, "")
}

func (l *fakeLedger) ExpireConsents(_ context.Context, ids []string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range ids {
		if c, ok := l.consents[id]; ok && (c.Status == model.ConsentActive || c.Status == model.ConsentRequested) {
			c.Status = model.ConsentExpired
			l.consents[id] = c
			out = append(out, id)
		}
	}
	return out, nil
}

func (l *fakeLedger) GetConsent(_ context.Context, id string) (*model.Consent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.consents[id]
	if !ok {
		return nil, notFound("ledger.GetConsent", "consent")
	}
	return &c, nil
}

func (l *fakeLedger) listConsents(keep func(model.Consent) bool) []model.Consent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Consent
	for _, c := range l.consents {
		if keep(c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (l *fakeLedger) ListConsentsByEID(_ context.Context, eid string) ([]model.Consent, error) {
	return l.listConsents(func(c model.Consent) bool { return c.EID == eid }), nil
}

func (l *fakeLedger) ListConsentsByRequester(_ context.Context, requester string) ([]model.Consent, error) {
	return l.listConsents(func(c model.Consent) bool { return c.Requester == requester }), nil
}

func (l *fakeLedger) AnchorAccessBatch(_ context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.block++
	if prev, ok := l.anchors[a.BatchID]; ok {
		return &prev, l.block, nil
	}
	a.TxID, a.AnchoredAt = l.tx()
	a.Submitter = "PlatformMSP"
	l.anchors[a.BatchID] = a
	return &a, l.block, nil
}

func (l *fakeLedger) GetAnchor(_ context.Context, id string) (*model.AccessAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.anchors[id]
	if !ok {
		return nil, notFound("ledger.GetAnchor", "anchor")
	}
	return &a, nil
}

// memStore is routing.AccessStore and routing.AnchorStore in memory.
type memStore struct {
	mu      sync.Mutex
	recs    []*routing.AccessRecord
	uses    map[string]uint64
	batches map[string]*routing.AnchorBatch
	order   []string
}

func newMemStore() *memStore {
	return &memStore{uses: map[string]uint64{}, batches: map[string]*routing.AnchorBatch{}}
}

func (s *memStore) AppendAccess(_ context.Context, recs []*routing.AccessRecord) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	per := make([]error, len(recs))
	for i, r := range recs {
		if r.UseConsent {
			if r.ConsentMaxUses > 0 && s.uses[r.ConsentID] >= r.ConsentMaxUses {
				per[i] = (&routing.Error{Kind: routing.KindConflict, Op: "store", Message: "no uses left"}).WithCode("consent_uses_exhausted")
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

func (s *memStore) GetAccess(_ context.Context, id string) (*routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.ID == id {
			c := *r
			return &c, nil
		}
	}
	return nil, notFound("store.GetAccess", "access record")
}

func (s *memStore) ListAccess(_ context.Context, f routing.AccessFilter) ([]routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []routing.AccessRecord
	for i := len(s.recs) - 1; i >= 0; i-- {
		r := s.recs[i]
		switch {
		case f.Requester != "" && r.Requester != f.Requester,
			f.EID != "" && r.EID != f.EID,
			f.DataType != "" && r.DataType != f.DataType,
			f.Purpose != "" && r.Purpose != f.Purpose,
			f.Outcome != "" && r.Outcome != f.Outcome,
			f.Provider != "" && r.Provider != f.Provider,
			f.BeforeSeq != 0 && r.Seq >= f.BeforeSeq,
			!f.From.IsZero() && r.CreatedAt.Before(f.From),
			!f.To.IsZero() && !r.CreatedAt.Before(f.To):
			continue
		}
		out = append(out, *r)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
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
	return notFound("store.FlagAccess", "access record")
}

func (s *memStore) OldestUnanchored(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.AnchorTxID == "" {
			return r.CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

func (s *memStore) PlanBatch(_ context.Context, max int, plan func([]routing.AccessRecord) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
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

func (s *memStore) PendingBatches(context.Context) ([]routing.AnchorBatch, error) {
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

func (s *memStore) GetBatch(_ context.Context, id string) (*routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, notFound("store.GetBatch", "batch")
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
		return notFound("store.MarkAnchored", "batch")
	}
	b.Status, b.TxID, b.Block, b.AnchoredAt = routing.BatchAnchored, txID, block, at
	for _, r := range s.recs {
		if r.BatchID == id {
			r.AnchorTxID, r.AnchorBlock, r.AnchoredAt = txID, block, at
		}
	}
	return nil
}

func (s *memStore) AcquireLease(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}

// docKey is how the fakes index a document: its normalised type, number
// and country. The real mapping service blinds it with HMAC.
func docKey(d gateway.Document) string {
	return d.Type + "|" + strings.ToUpper(strings.TrimSpace(d.Number)) + "|" + strings.ToUpper(d.Country)
}

var knownDocTypes = []string{"cn-resident", "cn-passport", "passport", "hkmo-permit", "tw-permit", "cn-hkmo-pass", "hkmotw-residence", "foreign-permanent"}

func checkDocument(op, field string, d gateway.Document) error {
	if !slices.Contains(knownDocTypes, d.Type) {
		return routing.Invalid(op, field+".type", "unknown document type")
	}
	if strings.TrimSpace(d.Number) == "" {
		return routing.Invalid(op, field+".number", "the document number is required")
	}
	return nil
}

func maskNumber(n string) string {
	if len(n) <= 8 {
		return strings.Repeat("*", len(n))
	}
	return n[:4] + strings.Repeat("*", len(n)-8) + n[len(n)-4:]
}

type heldDocument struct {
	key    string
	masked gateway.MaskedDocument
}

// fakeIdentities is the mapping service.
type fakeIdentities struct {
	mu       sync.Mutex
	ledger   *fakeLedger
	accounts *fakeAccounts
	clock    *fakeClock
	index    map[string]string         // docKey → eID
	docs     map[string][]heldDocument // eID → documents
	locals   map[string]string         // department|local account → eID
	refs     int
}

func newFakeIdentities(l *fakeLedger, a *fakeAccounts, clock *fakeClock) *fakeIdentities {
	return &fakeIdentities{ledger: l, accounts: a, clock: clock, index: map[string]string{}, docs: map[string][]heldDocument{}, locals: map[string]string{}}
}

func blind(key string) model.BlindedIndex {
	sum := sha256.Sum256([]byte("v1|" + key))
	return model.BlindedIndex{KeyVersion: "v1", Value: hex.EncodeToString(sum[:])}
}

// hold records a document of eid. Call with f.mu held.
func (f *fakeIdentities) hold(eid string, d gateway.Document) gateway.MaskedDocument {
	f.refs++
	k := docKey(d)
	m := gateway.MaskedDocument{Type: d.Type, Country: d.Country, Masked: maskNumber(strings.ToUpper(d.Number)),
		KeyVersion: "v1", Ref: fmt.Sprintf("doc-%04d", f.refs), AddedAt: f.clock.Now().UTC()}
	f.index[k] = eid
	f.docs[eid] = append(f.docs[eid], heldDocument{key: k, masked: m})
	return m
}

func (f *fakeIdentities) Create(_ context.Context, docs []gateway.Document, _ string) (*gateway.CreatedIdentity, error) {
	const op = "mapping.Create"
	f.mu.Lock()
	defer f.mu.Unlock()
	indexes := make([]model.BlindedIndex, len(docs))
	for i, d := range docs {
		if err := checkDocument(op, fmt.Sprintf("documents[%d]", i), d); err != nil {
			return nil, err
		}
		if _, taken := f.index[docKey(d)]; taken {
			return nil, (&routing.Error{Kind: routing.KindConflict, Op: op, Message: fmt.Sprintf("documents[%d] already belongs to an eID", i)}).WithCode("document_taken")
		}
		indexes[i] = blind(docKey(d))
	}
	id := f.ledger.createEID(indexes)
	out := &gateway.CreatedIdentity{EID: id.ID}
	for _, d := range docs {
		out.Documents = append(out.Documents, f.hold(id.ID, d))
	}
	out.ActivationCode = f.accounts.newCode(id.ID)
	return out, nil
}

func (f *fakeIdentities) AddDocument(_ context.Context, eid string, d gateway.Document, _ string) (*gateway.MaskedDocument, error) {
	const op = "mapping.AddDocument"
	if err := checkDocument(op, "document", d); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.index[docKey(d)]; taken {
		return nil, (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "the document already belongs to an eID"}).WithCode("document_taken")
	}
	idx := blind(docKey(d))
	err := f.ledger.updateEID(op, eid, func(id *model.Identity) error {
		if id.Status != model.EIDActive {
			return conflict(op, "the eID is %s", id.Status)
		}
		id.Indexes = append(id.Indexes, idx)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := f.hold(eid, d)
	return &m, nil
}

func (f *fakeIdentities) RemoveDocument(_ context.Context, eid, ref, _ string) error {
	const op = "mapping.RemoveDocument"
	f.mu.Lock()
	defer f.mu.Unlock()
	docs := f.docs[eid]
	for i, h := range docs {
		if h.masked.Ref != ref {
			continue
		}
		if len(docs) == 1 {
			return conflict(op, "an eID keeps at least one document")
		}
		idx := blind(h.key)
		if err := f.ledger.updateEID(op, eid, func(id *model.Identity) error {
			id.Indexes = slices.DeleteFunc(id.Indexes, func(b model.BlindedIndex) bool { return b == idx })
			return nil
		}); err != nil {
			return err
		}
		delete(f.index, h.key)
		f.docs[eid] = slices.Delete(docs, i, i+1)
		return nil
	}
	return notFound(op, "document")
}

func (f *fakeIdentities) Merge(_ context.Context, from, into, reason, _ string) error {
	const op = "mapping.Merge"
	if reason == "" {
		return routing.Invalid(op, "reason", "give a reason for the merge")
	}
	if from == into {
		return routing.Invalid(op, "into", "an eID cannot be merged into itself")
	}
	if _, err := f.ledger.GetEID(context.Background(), into); err != nil {
		return err
	}
	if err := f.ledger.updateEID(op, from, func(id *model.Identity) error {
		if id.Status != model.EIDActive {
			return conflict(op, "the eID is %s", id.Status)
		}
		id.Status, id.MergedInto, id.MergeReason = model.EIDMerged, into, reason
		return nil
	}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.docs[from] {
		f.index[h.key] = into
	}
	f.docs[into] = append(f.docs[into], f.docs[from]...)
	delete(f.docs, from)
	return f.ledger.updateEID(op, into, func(id *model.Identity) error {
		id.MergedFrom = append(id.MergedFrom, from)
		return nil
	})
}

func (f *fakeIdentities) Deactivate(_ context.Context, eid, reason, _ string) error {
	const op = "mapping.Deactivate"
	if reason == "" {
		return routing.Invalid(op, "reason", "give a reason for the deactivation")
	}
	return f.ledger.updateEID(op, eid, func(id *model.Identity) error {
		if id.Status != model.EIDActive {
			return conflict(op, "the eID is %s", id.Status)
		}
		id.Status, id.DeactivationReason = model.EIDDeactivated, reason
		return nil
	})
}

func (f *fakeIdentities) Find(_ context.Context, d gateway.Document) (string, error) {
	const op = "mapping.Find"
	if err := checkDocument(op, "document", d); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	eid, ok := f.index[docKey(d)]
	if !ok {
		return "", (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no eID holds this document"}).WithCode("subject_not_found")
	}
	return eid, nil
}

// LookupDocument makes the fake the resolver's routing.SubjectMapper.
func (f *fakeIdentities) LookupDocument(ctx context.Context, docType, number, country string) (string, error) {
	return f.Find(ctx, gateway.Document{Type: docType, Number: number, Country: country})
}

func (f *fakeIdentities) Documents(_ context.Context, eid string) ([]gateway.MaskedDocument, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []gateway.MaskedDocument{}
	for _, h := range f.docs[eid] {
		out = append(out, h.masked)
	}
	return out, nil
}

func (f *fakeIdentities) NewActivationCode(ctx context.Context, eid, _ string) (string, error) {
	id, err := f.ledger.GetEID(ctx, eid)
	if err != nil {
		return "", err
	}
	if id.Status != model.EIDActive {
		return "", conflict("mapping.NewActivationCode", "the eID is %s", id.Status)
	}
	return f.accounts.newCode(eid), nil
}

func accountHash(dept, local string) string {
	sum := sha256.Sum256([]byte("link|" + dept + "|" + local))
	return hex.EncodeToString(sum[:])
}

func (f *fakeIdentities) LinkAccount(ctx context.Context, dept, local string, d gateway.Document) (*model.AccountLink, error) {
	const op = "mapping.LinkAccount"
	if local == "" {
		return nil, routing.Invalid(op, "local_account", "local_account is required")
	}
	eid, err := f.Find(ctx, d)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if prev, ok := f.locals[dept+"|"+local]; ok && prev != eid {
		f.mu.Unlock()
		return nil, conflict(op, "the local account is linked to another eID")
	}
	f.locals[dept+"|"+local] = eid
	f.mu.Unlock()
	a := f.ledger.link(eid, dept, accountHash(dept, local))
	return &a, nil
}

func (f *fakeIdentities) LookupAccount(_ context.Context, dept, local string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	eid, ok := f.locals[dept+"|"+local]
	if !ok {
		return "", notFound("mapping.LookupAccount", "account link")
	}
	return eid, nil
}

func (f *fakeIdentities) UnlinkAccount(_ context.Context, dept, eid string) error {
	if !f.ledger.unlink(eid, dept) {
		return notFound("mapping.UnlinkAccount", "account link")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.locals {
		if v == eid && strings.HasPrefix(k, dept+"|") {
			delete(f.locals, k)
		}
	}
	return nil
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomB32(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b32.EncodeToString(b)[:n]
}

type adminAccount struct {
	password, role string
	disabled       bool
}

type issuedKey struct {
	token string
	key   gateway.APIKey
}

// fakeAccounts holds residents, administrators, API keys and sessions.
type fakeAccounts struct {
	mu        sync.Mutex
	clock     *fakeClock
	codes     map[string]string // eID → activation code
	passwords map[string]string // eID → password
	langs     map[string]string
	admins    map[string]adminAccount
	keys      []*issuedKey
	sessions  map[string]gateway.Session
}

func newFakeAccounts(clock *fakeClock) *fakeAccounts {
	return &fakeAccounts{clock: clock, codes: map[string]string{}, passwords: map[string]string{},
		langs: map[string]string{}, admins: map[string]adminAccount{}, sessions: map[string]gateway.Session{}}
}

func accountsError(kind routing.Kind, code, msg string) error {
	return &routing.Error{Kind: kind, Code: code, Op: "accounts", Message: msg}
}

func (a *fakeAccounts) newCode(eid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	code := strings.ToUpper(randomB32(4) + "-" + randomB32(4))
	a.codes[eid] = code
	return code
}

func (a *fakeAccounts) Activate(_ context.Context, eid, code, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	want, ok := a.codes[eid]
	switch {
	case !ok && a.passwords[eid] != "":
		return accountsError(routing.KindConflict, "activation_used", "this activation code was already used; sign in with your password")
	case !ok || want != code:
		return accountsError(routing.KindUnauthenticated, "activation_code_invalid", "the activation code is not right")
	case len(password) < 10:
		e := &routing.Error{Kind: routing.KindInvalid, Code: "weak_password", Op: "accounts", Message: "a password has at least 10 characters", Field: "password"}
		return e
	}
	delete(a.codes, eid)
	a.passwords[eid] = password
	return nil
}

func (a *fakeAccounts) ResidentLogin(_ context.Context, eid, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.passwords[eid]; !ok || p != password {
		return accountsError(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	return nil
}

func (a *fakeAccounts) SetResidentLang(_ context.Context, eid, lang string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.langs[eid] = lang
	return nil
}

func (a *fakeAccounts) ResidentLang(_ context.Context, eid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.langs[eid]; ok {
		return l, nil
	}
	return "zh-CN", nil
}

func (a *fakeAccounts) AdminLogin(_ context.Context, username, password string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.admins[username]
	if !ok || acc.password != password {
		return "", accountsError(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	if acc.disabled {
		return "", accountsError(routing.KindForbidden, "account_disabled", "this administrator account is disabled")
	}
	return acc.role, nil
}

func (a *fakeAccounts) CreateAdmin(_ context.Context, username, password, role string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if username == "" {
		return &routing.Error{Kind: routing.KindInvalid, Code: "invalid_username", Op: "accounts", Message: "a user name is required", Field: "username"}
	}
	if _, ok := a.admins[username]; ok {
		return accountsError(routing.KindConflict, "admin_exists", "an administrator with this name exists")
	}
	a.admins[username] = adminAccount{password: password, role: role}
	return nil
}

func (a *fakeAccounts) Admins(context.Context) ([]gateway.AdminUser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []gateway.AdminUser{}
	for name, acc := range a.admins {
		out = append(out, gateway.AdminUser{Username: name, Role: acc.role, Disabled: acc.disabled})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

func (a *fakeAccounts) IssueAPIKey(_ context.Context, dept, name string) (string, *gateway.APIKey, error) {
	if name == "" || len(name) > 100 {
		return "", nil, &routing.Error{Kind: routing.KindInvalid, Code: "invalid_name", Op: "accounts", Message: "a key name has 1 to 100 printable characters", Field: "name"}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id := randomB32(8)
	k := &issuedKey{token: "egk_" + id + "_" + randomB32(40),
		key: gateway.APIKey{ID: id, Department: dept, Name: name, CreatedAt: a.clock.Now().UTC()}}
	a.keys = append(a.keys, k)
	key := k.key
	return k.token, &key, nil
}

func (a *fakeAccounts) AuthenticateAPIKey(_ context.Context, token string) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys {
		if k.token == token {
			if !k.key.RevokedAt.IsZero() {
				return "", "", accountsError(routing.KindUnauthenticated, "api_key_revoked", "this API key was revoked")
			}
			k.key.LastUsedAt = a.clock.Now().UTC()
			return k.key.Department, k.key.ID, nil
		}
	}
	return "", "", accountsError(routing.KindUnauthenticated, "invalid_credentials", "not a valid API key")
}

func (a *fakeAccounts) RevokeAPIKey(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys {
		if k.key.ID == id {
			if k.key.RevokedAt.IsZero() {
				k.key.RevokedAt = a.clock.Now().UTC()
			}
			return nil
		}
	}
	return accountsError(routing.KindNotFound, "api_key_not_found", "no such API key")
}

func (a *fakeAccounts) APIKeys(_ context.Context, dept string) ([]gateway.APIKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []gateway.APIKey{}
	for _, k := range a.keys {
		if k.key.Department == dept {
			out = append(out, k.key)
		}
	}
	return out, nil
}

func (a *fakeAccounts) NewSession(_ context.Context, s gateway.Session) (string, *gateway.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	token := randomB32(32)
	sum := sha256.Sum256([]byte("csrf|" + token))
	s.CSRFToken = base64.RawURLEncoding.EncodeToString(sum[:])
	s.ExpiresAt = a.clock.Now().Add(30 * time.Minute).UTC()
	a.sessions[token] = s
	return token, &s, nil
}

func (a *fakeAccounts) LookupSession(_ context.Context, token string) (*gateway.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok {
		return nil, accountsError(routing.KindUnauthenticated, "session_invalid", "not signed in")
	}
	return &s, nil
}

func (a *fakeAccounts) RevokeSession(_ context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, token)
	return nil
}

// fakePolicies is a small Casbin stand-in: p rules (subject, object with
// an optional trailing *, action = purpose, effect) and g memberships.
type fakePolicies struct {
	mu      sync.Mutex
	clock   *fakeClock
	rules   []gateway.PolicyRule
	history []gateway.PolicyVersion
}

func (p *fakePolicies) version() int64 { return int64(len(p.history)) }

func ruleText(r gateway.PolicyRule) string {
	if r.Kind == "g" {
		return "g, " + r.Subject + ", " + r.Role
	}
	return "p, " + r.Subject + ", " + r.Object + ", " + r.Action + ", " + r.Effect
}

func (p *fakePolicies) matching(dept, dataType, purpose string) []gateway.PolicyRule {
	subjects := []string{dept}
	for _, r := range p.rules {
		if r.Kind == "g" && r.Subject == dept {
			subjects = append(subjects, r.Role)
		}
	}
	out := []gateway.PolicyRule{}
	for _, r := range p.rules {
		if r.Kind != "p" || !slices.Contains(subjects, r.Subject) || r.Action != purpose {
			continue
		}
		if r.Object == dataType || (strings.HasSuffix(r.Object, "*") && strings.HasPrefix(dataType, strings.TrimSuffix(r.Object, "*"))) {
			out = append(out, r)
		}
	}
	return out
}

func (p *fakePolicies) Decide(_ context.Context, dept, dataType, purpose string) (routing.Decision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := routing.Decision{Version: p.version(), Reason: "no rule allows it"}
	for _, r := range p.matching(dept, dataType, purpose) {
		if r.Effect == "deny" {
			return routing.Decision{Rule: ruleText(r), Version: p.version(), Reason: "a rule denies it"}, nil
		}
		d = routing.Decision{Allowed: true, Rule: ruleText(r), Version: p.version(), Reason: "allowed by rule"}
	}
	return d, nil
}

func (p *fakePolicies) Explain(ctx context.Context, dept, dataType, purpose string) (*gateway.Explanation, error) {
	d, _ := p.Decide(ctx, dept, dataType, purpose)
	p.mu.Lock()
	defer p.mu.Unlock()
	return &gateway.Explanation{Allowed: d.Allowed, Rule: d.Rule, Version: d.Version, Reason: d.Reason,
		Matched: p.matching(dept, dataType, purpose)}, nil
}

func (p *fakePolicies) Rules(context.Context) ([]gateway.PolicyRule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rules), nil
}

func (p *fakePolicies) change(by, summary string) int64 {
	p.history = append(p.history, gateway.PolicyVersion{Version: int64(len(p.history) + 1), ChangedBy: by, Summary: summary, CreatedAt: p.clock.Now().UTC()})
	return p.version()
}

func (p *fakePolicies) AddRule(_ context.Context, r gateway.PolicyRule, by string) (int64, error) {
	const op = "policies.AddRule"
	switch {
	case r.Kind != "p" && r.Kind != "g":
		return 0, routing.Invalid(op, "kind", `kind must be "p" or "g"`)
	case r.Subject == "":
		return 0, routing.Invalid(op, "subject", "subject is required")
	case r.Kind == "p" && (r.Object == "" || r.Action == "" || (r.Effect != "allow" && r.Effect != "deny")):
		return 0, routing.Invalid(op, "effect", "a rule needs object, action and effect allow or deny")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.rules, r) {
		return 0, conflict(op, "the rule exists")
	}
	p.rules = append(p.rules, r)
	return p.change(by, "add "+ruleText(r)), nil
}

func (p *fakePolicies) RemoveRule(_ context.Context, r gateway.PolicyRule, by string) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.rules, r)
	if i < 0 {
		return 0, notFound("policies.RemoveRule", "rule")
	}
	p.rules = slices.Delete(p.rules, i, i+1)
	return p.change(by, "remove "+ruleText(r)), nil
}

func (p *fakePolicies) History(_ context.Context, limit int) ([]gateway.PolicyVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []gateway.PolicyVersion{}
	for i := len(p.history) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, p.history[i])
	}
	return out, nil
}

// fakeImporter runs imports synchronously: every line after the header is
// a row; rows whose number contains "bad" are rejected.
type fakeImporter struct {
	mu      sync.Mutex
	clock   *fakeClock
	jobs    []*gateway.ImportJob
	rejects map[string][]string
}

func (im *fakeImporter) Start(_ context.Context, name string, body io.Reader, _ string) (*gateway.ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	job := &gateway.ImportJob{ID: fmt.Sprintf("imp-%06d", len(im.jobs)+1), FileName: name, Status: "done",
		StartedAt: im.clock.Now().UTC(), FinishedAt: im.clock.Now().UTC(), RowsPerSec: 1200}
	sc := bufio.NewScanner(body)
	var rejects []string
	for row := 0; sc.Scan(); row++ {
		if row == 0 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		job.Total++
		job.Done++
		fields := strings.Split(sc.Text(), ",")
		number := fields[len(fields)-1]
		if strings.Contains(number, "bad") {
			job.Rejected++
			rejects = append(rejects, fmt.Sprintf("%d,%s,checksum", row+1, maskNumber(number)))
			continue
		}
		job.Created++
	}
	if err := sc.Err(); err != nil {
		return nil, routing.Invalid("import", "file", "the file could not be read")
	}
	if im.rejects == nil {
		im.rejects = map[string][]string{}
	}
	im.rejects[job.ID] = rejects
	im.jobs = append(im.jobs, job)
	c := *job
	return &c, nil
}

func (im *fakeImporter) Job(_ context.Context, id string) (*gateway.ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range im.jobs {
		if j.ID == id {
			c := *j
			return &c, nil
		}
	}
	return nil, notFound("import.Job", "import")
}

func (im *fakeImporter) Jobs(_ context.Context, limit int) ([]gateway.ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	out := []gateway.ImportJob{}
	for i := len(im.jobs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, *im.jobs[i])
	}
	return out, nil
}

func (im *fakeImporter) WriteRejects(_ context.Context, id string, w io.Writer) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if _, err := io.WriteString(w, "row,number,reason\n"); err != nil {
		return err
	}
	for _, line := range im.rejects[id] {
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// fakeTickets signs real EdDSA tickets and introspects them once.
type fakeTickets struct {
	mu     sync.Mutex
	clock  *fakeClock
	issuer string
	key    ed25519.PrivateKey
	kid    string
	issued map[string]map[string]any // token → claims
	used   map[string]bool
}

func newFakeTickets(clock *fakeClock, issuer string) (*fakeTickets, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &fakeTickets{clock: clock, issuer: issuer, key: priv, kid: base64.RawURLEncoding.EncodeToString(thumb),
		issued: map[string]map[string]any{}, used: map[string]bool{}}, nil
}

func (t *fakeTickets) Issue(_ context.Context, req routing.TicketRequest) (routing.Ticket, error) {
	now := t.clock.Now().UTC()
	exp := now.Add(2 * time.Minute)
	claims := map[string]any{
		"iss": t.issuer, "aud": req.Provider, "sub": req.EID, "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"jti": req.ID, "req": req.Requester, "dt": req.DataType, "cid": req.ConsentID, "aid": req.AccessID,
		"pur": req.Purpose, "dig": req.Digest,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return routing.Ticket{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: t.key},
		(&jose.SignerOptions{}).WithType("eidgate-ticket+jwt").WithHeader("kid", t.kid))
	if err != nil {
		return routing.Ticket{}, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return routing.Ticket{}, err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return routing.Ticket{}, err
	}
	t.mu.Lock()
	t.issued[token] = claims
	t.mu.Unlock()
	return routing.Ticket{Token: token, ID: req.ID, ExpiresAt: exp}, nil
}

func (t *fakeTickets) Introspect(_ context.Context, provider, token string) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	claims, ok := t.issued[token]
	if !ok || t.used[token] || claims["aud"] != provider {
		return map[string]any{"active": false}, nil
	}
	t.used[token] = true
	out := map[string]any{"active": true, "token_type": "eidgate-ticket+jwt"}
	for k, v := range claims {
		out[k] = v
	}
	return out, nil
}

func (t *fakeTickets) JWKS() ([]byte, error) {
	return json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: t.key.Public(), KeyID: t.kid, Algorithm: string(jose.EdDSA), Use: "sig"}}})
}

// fakeLimiter refuses every request of the departments it names.
type fakeLimiter struct{ blocked map[string]bool }

func (l fakeLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	if l.blocked[strings.TrimPrefix(key, "dept:")] {
		return false, 1500 * time.Millisecond, nil
	}
	return true, 0, nil
}
