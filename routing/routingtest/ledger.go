package routingtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Ledger is the chaincode's state in memory: departments, data types,
// eIDs with their blinded indexes and account links, route entries with
// their history, consents and access anchors. Its methods are the typed
// ledger client's (one per contract function) and follow the chaincode's
// rules for what they check and record; every write is a transaction with
// a transaction id and time. Errors are classified the way the ledger
// client classifies them.
//
// The Put methods write state directly, as if earlier transactions had put
// it there.
type Ledger struct {
	mu        sync.Mutex
	clock     routing.Clock
	txs       int
	block     uint64
	calls     map[string]int
	failWrite error
	holds     map[string]*hold

	depts    map[string]model.Department
	dts      map[string]model.DataType
	eids     map[string]model.Identity
	index    map[model.BlindedIndex]string // blinded index → eID
	links    map[string]model.AccountLink  // eid|department
	routes   map[string]model.RouteEntry   // eid|data type|provider
	history  map[string][]model.RouteHistoryEntry
	consents map[string]model.Consent
	anchors  map[string]model.AccessAnchor
	lists    map[string]model.StatusListAnchor // issuer|list id
	passkeys map[string]model.Passkey          // verification method id → passkey
	rules    map[string]model.StandingRule
	disputes map[string]model.Dispute // made on first use
}

// NewLedger returns an empty ledger whose transactions take their time
// from clock.
func NewLedger(clock routing.Clock) *Ledger {
	return &Ledger{
		clock: clock, calls: map[string]int{},
		depts: map[string]model.Department{}, dts: map[string]model.DataType{},
		eids: map[string]model.Identity{}, index: map[model.BlindedIndex]string{},
		links: map[string]model.AccountLink{}, routes: map[string]model.RouteEntry{},
		history: map[string][]model.RouteHistoryEntry{}, consents: map[string]model.Consent{},
		anchors: map[string]model.AccessAnchor{}, lists: map[string]model.StatusListAnchor{},
		passkeys: map[string]model.Passkey{}, rules: map[string]model.StandingRule{},
	}
}

// FailWrites makes every later submission fail with err (the peers cannot
// be reached) until FailWrites(nil). Evaluations keep working.
func (l *Ledger) FailWrites(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failWrite = err
}

// hold stops a coming submission of a function until it is released.
type hold struct {
	skip    int // submissions to let through first
	reached chan struct{}
	release chan struct{}
}

// Hold makes the nth coming submission of the contract function fn (1:
// the next one) wait, before it changes anything, until release is
// called; reached is closed when it starts waiting. A test watches a long
// operation half-way this way, without timing anything.
func (l *Ledger) Hold(fn string, nth int) (reached <-chan struct{}, release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holds == nil {
		l.holds = map[string]*hold{}
	}
	h := &hold{skip: nth - 1, reached: make(chan struct{}), release: make(chan struct{})}
	l.holds[fn] = h
	var once sync.Once
	return h.reached, func() { once.Do(func() { close(h.release) }) }
}

// waitHold waits at a hold set for fn when its turn has come.
func (l *Ledger) waitHold(fn string) {
	l.mu.Lock()
	h := l.holds[fn]
	if h != nil && h.skip > 0 {
		h.skip--
		h = nil
	} else if h != nil {
		delete(l.holds, fn)
	}
	l.mu.Unlock()
	if h != nil {
		close(h.reached)
		<-h.release
	}
}

// Calls is how many times the contract function fn was called.
func (l *Ledger) Calls(fn string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[fn]
}

// read locks the ledger for an evaluation of fn; the caller unlocks.
func (l *Ledger) read(fn string) {
	l.mu.Lock()
	l.calls[fn]++
}

// tx is a transaction: the operation's name as the ledger client gives
// it, and the transaction's id and time.
type tx struct{ op, id, now string }

// submit runs change as a submission of fn: it locks the ledger, counts
// the call, fails with the error set by FailWrites and otherwise hands
// change a new transaction.
func submit[T any](l *Ledger, fn string, change func(tx) (T, error)) (T, error) {
	l.waitHold(fn)
	l.read(fn)
	defer l.mu.Unlock()
	if l.failWrite != nil {
		var zero T
		return zero, l.failWrite
	}
	l.txs++
	sum := sha256.Sum256([]byte(fmt.Sprintf("tx-%d", l.txs)))
	return change(tx{op: "ledger." + fn, id: hex.EncodeToString(sum[:]), now: model.FormatTime(l.clock.Now())})
}

// PutDepartment stores d as it is.
func (l *Ledger) PutDepartment(d model.Department) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.depts[d.ID] = d
}

// PutDataType stores dt as it is.
func (l *Ledger) PutDataType(dt model.DataType) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dts[dt.Code] = dt
}

// PutIdentity stores id as it is, with its indexes.
func (l *Ledger) PutIdentity(id model.Identity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.eids[id.ID] = id
	for _, b := range id.Indexes {
		l.index[b] = id.ID
	}
}

// PutRoute stores a route entry as it is.
func (l *Ledger) PutRoute(e model.RouteEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.putRoute(e)
}

// PutConsent stores c as it is.
func (l *Ledger) PutConsent(c model.Consent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.consents[c.ID] = c
}

func notFound(op, what string) error {
	return routing.Errorf(routing.KindNotFound, op, "%s not found", what)
}

func conflict(op, format string, args ...any) error {
	return routing.Errorf(routing.KindConflict, op, format, args...)
}

// fromChaincode classifies a chaincode refusal the way the ledger client
// does: the code gives the kind, the text after it the message.
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
	var e *model.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	return &routing.Error{Kind: kind, Op: op, Message: msg, Err: err}
}

// --- registry ---

// GetDepartment returns a department.
func (l *Ledger) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	return get(l, "GetDepartment", l.depts, id, "department "+id)
}

// ListDepartments returns every department in id order.
func (l *Ledger) ListDepartments(context.Context) ([]model.Department, error) {
	l.read("ListDepartments")
	defer l.mu.Unlock()
	return sortedValues(l.depts), nil
}

// GetDataType returns a data type.
func (l *Ledger) GetDataType(_ context.Context, code string) (*model.DataType, error) {
	return get(l, "GetDataType", l.dts, code, "data type "+code)
}

// ListDataTypes returns every data type in code order.
func (l *Ledger) ListDataTypes(context.Context) ([]model.DataType, error) {
	l.read("ListDataTypes")
	defer l.mu.Unlock()
	return sortedValues(l.dts), nil
}

// get returns m[k] for an evaluation of fn; what names the record in the
// answer when there is none.
func get[V any](l *Ledger, fn string, m map[string]V, k, what string) (*V, error) {
	l.read(fn)
	defer l.mu.Unlock()
	v, ok := m[k]
	if !ok {
		return nil, notFound("ledger."+fn, what)
	}
	return &v, nil
}

// sortedValues returns the values of m in key order.
func sortedValues[V any](m map[string]V) []V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]V, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// RegisterDepartment registers a new department, active unless d says
// otherwise.
func (l *Ledger) RegisterDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	return submit(l, "RegisterDepartment", func(t tx) (*model.Department, error) {
		if err := d.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, ok := l.depts[d.ID]; ok {
			return nil, conflict(t.op, "department %s is already registered", d.ID)
		}
		if d.Status == "" {
			d.Status = model.DepartmentActive
		}
		d.CreatedAt, d.UpdatedAt = t.now, t.now
		l.depts[d.ID] = d
		return &d, nil
	})
}

// UpdateDepartment replaces a department's description; its status stays.
func (l *Ledger) UpdateDepartment(_ context.Context, d model.Department) (*model.Department, error) {
	return submit(l, "UpdateDepartment", func(t tx) (*model.Department, error) {
		if err := d.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		prev, ok := l.depts[d.ID]
		if !ok {
			return nil, notFound(t.op, "department "+d.ID)
		}
		d.Status, d.StatusReason, d.CreatedAt, d.UpdatedAt = prev.Status, prev.StatusReason, prev.CreatedAt, t.now
		l.depts[d.ID] = d
		return &d, nil
	})
}

// SetDepartmentStatus suspends or reactivates a department.
func (l *Ledger) SetDepartmentStatus(_ context.Context, id, status, reason string) (*model.Department, error) {
	return submit(l, "SetDepartmentStatus", func(t tx) (*model.Department, error) {
		if status != model.DepartmentActive && status != model.DepartmentSuspended {
			return nil, routing.Invalid(t.op, "status", "status must be active or suspended")
		}
		d, ok := l.depts[id]
		if !ok {
			return nil, notFound(t.op, "department "+id)
		}
		d.Status, d.StatusReason, d.UpdatedAt = status, reason, t.now
		l.depts[id] = d
		return &d, nil
	})
}

// RevokeSigningKey marks a department's key revoked with the reason.
func (l *Ledger) RevokeSigningKey(_ context.Context, dept, kid, reason string) (*model.Department, error) {
	return submit(l, "RevokeSigningKey", func(t tx) (*model.Department, error) {
		if reason == "" {
			return nil, routing.Invalid(t.op, "reason", "give the reason the key is revoked")
		}
		d, ok := l.depts[dept]
		if !ok {
			return nil, notFound(t.op, "department "+dept)
		}
		for i := range d.SigningKeys {
			if d.SigningKeys[i].KID == kid {
				if d.SigningKeys[i].Status == model.KeyRevoked {
					return nil, conflict(t.op, "key %s is already revoked", kid)
				}
				d.SigningKeys = append([]model.SigningKey(nil), d.SigningKeys...)
				d.SigningKeys[i].Status, d.SigningKeys[i].RevokedAt, d.SigningKeys[i].RevokedReason = model.KeyRevoked, t.now, reason
				d.UpdatedAt = t.now
				l.depts[dept] = d
				return &d, nil
			}
		}
		return nil, notFound(t.op, "key "+kid)
	})
}

// RegisterDataType registers a new data type owned by registered
// departments.
func (l *Ledger) RegisterDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	return submit(l, "RegisterDataType", func(t tx) (*model.DataType, error) {
		if err := dt.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, ok := l.dts[dt.Code]; ok {
			return nil, conflict(t.op, "data type %s is already registered", dt.Code)
		}
		for _, o := range dt.Owners {
			if _, ok := l.depts[o]; !ok {
				return nil, notFound(t.op, "owner department "+o)
			}
		}
		if dt.Status == "" {
			dt.Status = model.DataTypeActive
		}
		dt.Owners, dt.CreatedAt, dt.UpdatedAt = model.SortedOwners(dt.Owners), t.now, t.now
		l.dts[dt.Code] = dt
		return &dt, nil
	})
}

// UpdateDataType replaces a data type's description; an empty status
// keeps the current one.
func (l *Ledger) UpdateDataType(_ context.Context, dt model.DataType) (*model.DataType, error) {
	return submit(l, "UpdateDataType", func(t tx) (*model.DataType, error) {
		if err := dt.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		prev, ok := l.dts[dt.Code]
		if !ok {
			return nil, notFound(t.op, "data type "+dt.Code)
		}
		if dt.Status == "" {
			dt.Status = prev.Status
		}
		dt.Owners, dt.CreatedAt, dt.UpdatedAt = model.SortedOwners(dt.Owners), prev.CreatedAt, t.now
		l.dts[dt.Code] = dt
		return &dt, nil
	})
}

// --- eIDs, indexes and account links ---

// CreateEID mints an eID holding indexes, none of which may map to an eID
// yet.
func (l *Ledger) CreateEID(_ context.Context, indexes []model.BlindedIndex) (*model.Identity, error) {
	return submit(l, "CreateEID", func(t tx) (*model.Identity, error) {
		if len(indexes) == 0 || len(indexes) > model.MaxIndexesPerEID {
			return nil, routing.Invalid(t.op, "indexes", "indexes must hold 1 to %d indexes", model.MaxIndexesPerEID)
		}
		for i, b := range indexes {
			if err := b.Validate(fmt.Sprintf("indexes[%d]", i)); err != nil {
				return nil, fromChaincode(t.op, err)
			}
			if holder, ok := l.index[b]; ok {
				return nil, conflict(t.op, "indexes[%d] already maps to eID %s", i, holder)
			}
		}
		id := model.Identity{ID: model.DeriveEID(t.id, 0), Status: model.EIDActive, Indexes: slices.Clone(indexes),
			CreatedAt: t.now, UpdatedAt: t.now, TxID: t.id}
		l.eids[id.ID] = id
		for _, b := range indexes {
			l.index[b] = id.ID
		}
		return &id, nil
	})
}

// CreateEIDs mints one eID per item whose indexes no eID holds, answers
// "exists" for an item whose indexes one eID holds already, and refuses
// (outcome conflict) an item whose indexes are held by several eIDs, by
// some and not others, or named by another item of the batch.
func (l *Ledger) CreateEIDs(_ context.Context, items []model.EIDRequest) ([]model.EIDOutcome, error) {
	return submit(l, "CreateEIDs", func(t tx) ([]model.EIDOutcome, error) {
		if len(items) == 0 || len(items) > model.MaxBatch {
			return nil, routing.Invalid(t.op, "items", "items must hold 1 to %d entries", model.MaxBatch)
		}
		seen := map[model.BlindedIndex]int{}
		for i, it := range items {
			if len(it.Indexes) == 0 || len(it.Indexes) > model.MaxIndexesPerEID {
				return nil, routing.Invalid(t.op, fmt.Sprintf("items[%d].indexes", i), "an item holds 1 to %d indexes", model.MaxIndexesPerEID)
			}
			for j, b := range it.Indexes {
				if err := b.Validate(fmt.Sprintf("items[%d].indexes[%d]", i, j)); err != nil {
					return nil, fromChaincode(t.op, err)
				}
				seen[b]++
			}
		}
		out := make([]model.EIDOutcome, len(items))
		for i, it := range items {
			out[i] = model.EIDOutcome{Ref: it.Ref, Outcome: model.OutcomeConflict}
			holders := map[string]bool{}
			repeated := false
			for _, b := range it.Indexes {
				holders[l.index[b]] = true
				repeated = repeated || seen[b] > 1
			}
			switch {
			case repeated:
				out[i].Reason = "an index appears in more than one item of the batch"
			case len(holders) > 1:
				out[i].Reason = "the indexes map to different eIDs, or some to none"
			case holders[""]:
				id := model.Identity{ID: model.DeriveEID(t.id, i), Status: model.EIDActive, Indexes: slices.Clone(it.Indexes),
					CreatedAt: t.now, UpdatedAt: t.now, TxID: t.id}
				l.eids[id.ID] = id
				for _, b := range it.Indexes {
					l.index[b] = id.ID
				}
				out[i].EID, out[i].Outcome = id.ID, model.OutcomeCreated
			default:
				out[i].EID, out[i].Outcome = l.index[it.Indexes[0]], model.OutcomeExists
			}
		}
		return out, nil
	})
}

// LookupIndex returns the eID holding idx, at the end of its merge chain.
func (l *Ledger) LookupIndex(_ context.Context, idx model.BlindedIndex) (string, error) {
	l.read("LookupIndex")
	defer l.mu.Unlock()
	holder, ok := l.index[idx]
	if !ok {
		return "", notFound("ledger.LookupIndex", "index")
	}
	return l.follow(holder), nil
}

// LookupAccount returns the eID a department's account hash is linked to,
// at the end of its merge chain.
func (l *Ledger) LookupAccount(_ context.Context, dept, accountHash string) (string, error) {
	l.read("LookupAccount")
	defer l.mu.Unlock()
	for _, a := range sortedValues(l.links) {
		if a.Department == dept && a.AccountHash == accountHash {
			return l.follow(a.EID), nil
		}
	}
	return "", notFound("ledger.LookupAccount", "account link")
}

// follow returns the end of eid's merge chain. Call with l.mu held.
func (l *Ledger) follow(eid string) string {
	for range 64 {
		id, ok := l.eids[eid]
		if !ok || id.Status != model.EIDMerged {
			break
		}
		eid = id.MergedInto
	}
	return eid
}

// activeIdentity returns an eID that must exist and be active. Call with
// l.mu held.
func (l *Ledger) activeIdentity(op, eid string) (model.Identity, error) {
	id, ok := l.eids[eid]
	switch {
	case !ok:
		return id, notFound(op, "eID")
	case id.Status == model.EIDMerged:
		return id, conflict(op, "the eID is merged into %s", id.MergedInto)
	case id.Status != model.EIDActive:
		return id, conflict(op, "the eID is %s", id.Status)
	}
	return id, nil
}

// AddDocumentIndex adds an index to an active eID; adding one it holds
// changes nothing.
func (l *Ledger) AddDocumentIndex(_ context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	return submit(l, "AddDocumentIndex", func(t tx) (*model.Identity, error) {
		id, err := l.activeIdentity(t.op, eid)
		if err != nil {
			return nil, err
		}
		switch holder, ok := l.index[idx]; {
		case holder == eid:
			return &id, nil
		case ok:
			return nil, conflict(t.op, "the index already maps to eID %s", holder)
		case len(id.Indexes) >= model.MaxIndexesPerEID:
			return nil, conflict(t.op, "the eID already holds %d indexes", model.MaxIndexesPerEID)
		}
		id.Indexes = append(id.Indexes, idx)
		id.TxID, id.UpdatedAt = t.id, t.now
		l.eids[eid], l.index[idx] = id, eid
		return &id, nil
	})
}

// RemoveDocumentIndex removes an index from an active eID; the last one
// stays.
func (l *Ledger) RemoveDocumentIndex(_ context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	return submit(l, "RemoveDocumentIndex", func(t tx) (*model.Identity, error) {
		id, err := l.activeIdentity(t.op, eid)
		if err != nil {
			return nil, err
		}
		at := slices.Index(id.Indexes, idx)
		switch {
		case at < 0:
			return nil, notFound(t.op, "index")
		case len(id.Indexes) == 1:
			return nil, conflict(t.op, "the last index of an eID cannot be removed")
		}
		id.Indexes = slices.Delete(slices.Clone(id.Indexes), at, at+1)
		id.TxID, id.UpdatedAt = t.id, t.now
		l.eids[eid] = id
		delete(l.index, idx)
		return &id, nil
	})
}

// MergeEID folds eID from into eID into: from's indexes and links move to
// into, from becomes merged. Both must be active.
func (l *Ledger) MergeEID(_ context.Context, from, into, reason string) (*model.Identity, error) {
	return submit(l, "MergeEID", func(t tx) (*model.Identity, error) {
		if from == into {
			return nil, routing.Invalid(t.op, "into", "from and into must be different eIDs")
		}
		if err := model.CheckReason("reason", reason, true); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		src, err := l.activeIdentity(t.op, from)
		if err != nil {
			return nil, err
		}
		dst, err := l.activeIdentity(t.op, into)
		if err != nil {
			return nil, err
		}
		for k, a := range l.links {
			if a.EID == from {
				if _, clash := l.links[into+"|"+a.Department]; clash {
					return nil, conflict(t.op, "both eIDs are linked at department %s; unlink one first", a.Department)
				}
				delete(l.links, k)
				a.EID, a.TxID = into, t.id
				l.links[into+"|"+a.Department] = a
			}
		}
		for _, b := range src.Indexes {
			l.index[b] = into
		}
		dst.Indexes = append(dst.Indexes, src.Indexes...)
		dst.MergedFrom = append(dst.MergedFrom, from)
		src.Status, src.MergedInto, src.MergeReason, src.Indexes = model.EIDMerged, into, reason, nil
		src.TxID, src.UpdatedAt, dst.TxID, dst.UpdatedAt = t.id, t.now, t.id, t.now
		l.eids[from], l.eids[into] = src, dst
		return &dst, nil
	})
}

// DeactivateEID deactivates an active eID; its indexes keep pointing to
// it.
func (l *Ledger) DeactivateEID(_ context.Context, eid, reason string) (*model.Identity, error) {
	return submit(l, "DeactivateEID", func(t tx) (*model.Identity, error) {
		if err := model.CheckReason("reason", reason, true); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		id, ok := l.eids[eid]
		switch {
		case !ok:
			return nil, notFound(t.op, "eID")
		case id.Status == model.EIDDeactivated:
			return &id, nil
		case id.Status == model.EIDMerged:
			return nil, conflict(t.op, "the eID is merged into %s", id.MergedInto)
		}
		id.Status, id.DeactivationReason, id.TxID, id.UpdatedAt = model.EIDDeactivated, reason, t.id, t.now
		l.eids[eid] = id
		return &id, nil
	})
}

// GetEID returns an eID with its indexes.
func (l *Ledger) GetEID(_ context.Context, eid string) (*model.Identity, error) {
	return get(l, "GetEID", l.eids, eid, "eID")
}

// ResolveDID resolves an eID to its DID document; a merged eID names the
// end of its merge chain.
func (l *Ledger) ResolveDID(_ context.Context, did string) (*model.DIDResolution, error) {
	l.read("ResolveDID")
	defer l.mu.Unlock()
	id, ok := l.eids[did]
	if !ok {
		return nil, notFound("ledger.ResolveDID", "DID")
	}
	canonical := id
	for range 8 {
		next, ok := l.eids[canonical.MergedInto]
		if canonical.Status != model.EIDMerged || !ok {
			break
		}
		canonical = next
	}
	res := id.Resolution(canonical.ID, l.passkeysOf(id.ID))
	return &res, nil
}

// LinkAccount links an active eID to a department's account hash; linking
// the same account again changes nothing.
func (l *Ledger) LinkAccount(_ context.Context, eid, dept, accountHash string) (*model.AccountLink, error) {
	return submit(l, "LinkAccount", func(t tx) (*model.AccountLink, error) {
		if _, err := l.activeIdentity(t.op, eid); err != nil {
			return nil, err
		}
		if old, ok := l.links[eid+"|"+dept]; ok {
			if old.AccountHash == accountHash {
				return &old, nil
			}
			return nil, conflict(t.op, "the eID is already linked to another account at department %s; unlink it first", dept)
		}
		for _, a := range l.links {
			if a.Department == dept && a.AccountHash == accountHash {
				return nil, conflict(t.op, "the account is already linked to another eID")
			}
		}
		a := model.AccountLink{EID: eid, Department: dept, AccountHash: accountHash, LinkedAt: t.now, TxID: t.id}
		l.links[eid+"|"+dept] = a
		return &a, nil
	})
}

// UnlinkAccount removes the link of an eID at a department.
func (l *Ledger) UnlinkAccount(_ context.Context, eid, dept string) error {
	_, err := submit(l, "UnlinkAccount", func(t tx) (bool, error) {
		if _, ok := l.links[eid+"|"+dept]; !ok {
			return false, notFound(t.op, "account link")
		}
		delete(l.links, eid+"|"+dept)
		return true, nil
	})
	return err
}

// ListLinks returns the account links of an eID in department order.
func (l *Ledger) ListLinks(_ context.Context, eid string) ([]model.AccountLink, error) {
	l.read("ListLinks")
	defer l.mu.Unlock()
	out := []model.AccountLink{}
	for _, a := range sortedValues(l.links) {
		if a.EID == eid {
			out = append(out, a)
		}
	}
	return out, nil
}

// --- routes ---

func routeKey(eid, dataType, provider string) string { return eid + "|" + dataType + "|" + provider }

// putRoute stores an entry and appends it to its history. Call with l.mu
// held.
func (l *Ledger) putRoute(e model.RouteEntry) {
	k := routeKey(e.EID, e.DataType, e.Provider)
	l.routes[k] = e
	l.history[k] = append(l.history[k], model.RouteHistoryEntry{TxID: e.TxID, Timestamp: e.UpdatedAt, Entry: &e})
}

// GetRoutes returns the route entries of an eID, of one data type unless
// dataType is empty, in key order.
func (l *Ledger) GetRoutes(_ context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	l.read("GetRoutes")
	defer l.mu.Unlock()
	var out []model.RouteEntry
	for _, e := range sortedValues(l.routes) {
		if e.EID == eid && (dataType == "" || e.DataType == dataType) {
			out = append(out, e)
		}
	}
	return out, nil
}

// GetRouteHistory returns every version of a route entry, oldest first.
func (l *Ledger) GetRouteHistory(_ context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	l.read("GetRouteHistory")
	defer l.mu.Unlock()
	return append([]model.RouteHistoryEntry{}, l.history[routeKey(eid, dataType, provider)]...), nil
}

// PublishRoutes records signed digests in one transaction. Each is
// verified against the provider's registered key; the provider must own
// the data type; republishing a version with the same digest is
// "unchanged", a version not above the stored one a conflict.
func (l *Ledger) PublishRoutes(_ context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	return submit(l, "PublishRoutes", func(t tx) ([]model.RouteOutcome, error) {
		out := make([]model.RouteOutcome, 0, len(batch))
		for i, sr := range batch {
			s := sr.Statement
			dept, ok := l.depts[s.Provider]
			if !ok {
				return nil, notFound(t.op, "department "+s.Provider)
			}
			key, ok := dept.Key(sr.KID)
			if !ok {
				return nil, routing.Errorf(routing.KindInvalid, t.op, "item %d: department %s has no key %s", i, s.Provider, sr.KID)
			}
			if err := model.VerifyRoute(key.PublicKeyPEM, sr); err != nil {
				return nil, fromChaincode(t.op, model.Prefixed(err, fmt.Sprintf("item %d", i)))
			}
			dt, ok := l.dts[s.DataType]
			if !ok {
				return nil, notFound(t.op, "data type "+s.DataType)
			}
			if !dt.OwnedBy(s.Provider) {
				return nil, routing.Errorf(routing.KindForbidden, t.op, "item %d: %s does not own data type %s", i, s.Provider, s.DataType)
			}
			if _, ok := l.eids[s.EID]; !ok {
				return nil, notFound(t.op, "eID")
			}
			outcome := model.OutcomePublished
			if prev, ok := l.routes[routeKey(s.EID, s.DataType, s.Provider)]; ok {
				switch {
				case prev.Version == s.Version && prev.Digest == s.Digest:
					outcome = model.OutcomeUnchanged
				case prev.Version >= s.Version:
					return nil, conflict(t.op, "item %d: version %d is not above the stored version %d", i, s.Version, prev.Version)
				}
			}
			if outcome == model.OutcomePublished {
				l.putRoute(model.RouteEntry{EID: s.EID, DataType: s.DataType, Provider: s.Provider, Version: s.Version,
					Digest: s.Digest, Schema: s.Schema, KID: sr.KID, Signature: sr.Signature, Status: model.RouteValid,
					PublishedAt: t.now, UpdatedAt: t.now, TxID: t.id})
			}
			out = append(out, model.RouteOutcome{EID: s.EID, DataType: s.DataType, Provider: s.Provider, Version: s.Version, Outcome: outcome})
		}
		return out, nil
	})
}

// RevokeRoute revokes a valid route entry.
func (l *Ledger) RevokeRoute(_ context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error) {
	return submit(l, "RevokeRoute", func(t tx) (*model.RouteEntry, error) {
		e, ok := l.routes[routeKey(eid, dataType, provider)]
		if !ok {
			return nil, notFound(t.op, "route entry")
		}
		if e.Status == model.RouteRevoked {
			return nil, conflict(t.op, "the route entry is already revoked")
		}
		e.Status, e.RevokedReason, e.TxID, e.UpdatedAt = model.RouteRevoked, reason, t.id, t.now
		l.putRoute(e)
		return &e, nil
	})
}

// --- consents ---

// RequestConsent records a consent request for an existing eID; the id
// derives from the transaction id and valid_from defaults to its time.
func (l *Ledger) RequestConsent(_ context.Context, req model.ConsentRequest) (*model.Consent, error) {
	return submit(l, "RequestConsent", func(t tx) (*model.Consent, error) {
		if err := req.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, ok := l.eids[req.EID]; !ok {
			return nil, notFound(t.op, "eID")
		}
		from := req.ValidFrom
		if from == "" {
			from = t.now
		}
		c := model.Consent{ID: model.DeriveConsentID(t.id), EID: req.EID, Requester: req.Requester, Provider: req.Provider,
			DataTypes: slices.Clone(req.DataTypes), PurposeCode: req.PurposeCode, PurposeText: req.PurposeText,
			ValidFrom: from, ValidUntil: req.ValidUntil, MaxUses: req.MaxUses, Status: model.ConsentRequested,
			RequestedAt: t.now, UpdatedAt: t.now, TxID: t.id}
		l.consents[c.ID] = c
		return &c, nil
	})
}

// moveConsent moves a consent from one state to another on the resident's
// behalf.
func (l *Ledger) moveConsent(fn, id, from, to, method string) (*model.Consent, error) {
	return submit(l, fn, func(t tx) (*model.Consent, error) {
		c, ok := l.consents[id]
		if !ok {
			return nil, notFound(t.op, "consent")
		}
		if c.Status != from {
			return nil, conflict(t.op, "the consent is %s", c.Status)
		}
		c.Status, c.UpdatedAt, c.TxID = to, t.now, t.id
		if to == model.ConsentRevoked {
			c.RevokedAt, c.RevokedBy, c.RevokeAssurance = t.now, "resident", model.AssurancePassword
		} else {
			c.DecidedAt, c.DecidedBy, c.DecisionMethod = t.now, "resident", method
			if to == model.ConsentActive {
				c.GrantAssurance = model.AssurancePassword
			}
		}
		l.consents[id] = c
		return &c, nil
	})
}

// GrantConsent activates a requested consent.
func (l *Ledger) GrantConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.moveConsent("GrantConsent", id, model.ConsentRequested, model.ConsentActive, method)
}

// DenyConsent refuses a requested consent.
func (l *Ledger) DenyConsent(_ context.Context, id, method string) (*model.Consent, error) {
	return l.moveConsent("DenyConsent", id, model.ConsentRequested, model.ConsentDenied, method)
}

// RevokeConsent withdraws an active consent.
func (l *Ledger) RevokeConsent(_ context.Context, id string) (*model.Consent, error) {
	return l.moveConsent("RevokeConsent", id, model.ConsentActive, model.ConsentRevoked, "")
}

// ExpireConsents expires the listed requested or active consents whose
// valid_until has passed and returns their ids.
func (l *Ledger) ExpireConsents(_ context.Context, ids []string) ([]string, error) {
	return submit(l, "ExpireConsents", func(t tx) ([]string, error) {
		expired := []string{}
		for _, id := range ids {
			c, ok := l.consents[id]
			if !ok || (c.Status != model.ConsentActive && c.Status != model.ConsentRequested) {
				continue
			}
			if until, err := model.ParseTime(c.ValidUntil); err == nil && !until.Before(l.clock.Now()) {
				continue
			}
			c.Status, c.UpdatedAt, c.TxID = model.ConsentExpired, t.now, t.id
			l.consents[id] = c
			expired = append(expired, id)
		}
		return expired, nil
	})
}

// GetConsent returns a consent.
func (l *Ledger) GetConsent(_ context.Context, id string) (*model.Consent, error) {
	return get(l, "GetConsent", l.consents, id, "consent")
}

// listConsents returns the consents keep accepts, in id order.
func (l *Ledger) listConsents(fn string, keep func(model.Consent) bool) []model.Consent {
	l.read(fn)
	defer l.mu.Unlock()
	out := []model.Consent{}
	for _, c := range sortedValues(l.consents) {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// ListConsentsByEID returns the consents of an eID in id order.
func (l *Ledger) ListConsentsByEID(_ context.Context, eid string) ([]model.Consent, error) {
	return l.listConsents("ListConsentsByEID", func(c model.Consent) bool { return c.EID == eid }), nil
}

// ListConsentsByRequester returns the consents a department requested, in
// id order.
func (l *Ledger) ListConsentsByRequester(_ context.Context, requester string) ([]model.Consent, error) {
	return l.listConsents("ListConsentsByRequester", func(c model.Consent) bool { return c.Requester == requester }), nil
}

// --- standing rules ---

// CreateStandingRule records a resident's standing rule for an existing
// eID; the id derives from the transaction id.
func (l *Ledger) CreateStandingRule(_ context.Context, d model.RuleDraft) (*model.StandingRule, error) {
	return l.createRule("CreateStandingRule", d, nil)
}

// CreateStandingRuleSigned records a standing rule with the resident's
// signature over its terms; one signature creates one rule.
func (l *Ledger) CreateStandingRuleSigned(_ context.Context, d model.RuleDraft, a model.PasskeyApproval) (*model.StandingRule, error) {
	return l.createRule("CreateStandingRuleSigned", d, &a)
}

func (l *Ledger) createRule(fn string, d model.RuleDraft, a *model.PasskeyApproval) (*model.StandingRule, error) {
	return submit(l, fn, func(t tx) (*model.StandingRule, error) {
		if err := d.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, ok := l.eids[d.EID]; !ok {
			return nil, notFound(t.op, "eID")
		}
		for _, dept := range d.Departments {
			if _, ok := l.depts[dept]; !ok {
				return nil, notFound(t.op, "department")
			}
		}
		from := d.ValidFrom
		if from == "" {
			from = t.now
		}
		r := model.StandingRule{ID: model.DeriveRuleID(t.id), EID: d.EID, Departments: slices.Clone(d.Departments), Roles: slices.Clone(d.Roles),
			DataTypes: slices.Clone(d.DataTypes), PurposeCode: d.PurposeCode, Note: d.Note, ValidFrom: from, ValidUntil: d.ValidUntil,
			MaxUses: d.MaxUses, Status: model.RuleActive, Assurance: model.AssurancePassword, CreatedAt: t.now, CreatedBy: "agent",
			UpdatedAt: t.now, TxID: t.id}
		if a != nil {
			sig, err := l.ruleSignature(t, model.StatementRuleCreate, r, *a)
			if err != nil {
				return nil, err
			}
			for _, o := range l.rules {
				if o.Signature != nil && o.Signature.Digest == sig.Digest {
					return nil, conflict(t.op, "this signature already created standing rule %s", o.ID)
				}
			}
			r.Assurance, r.Signature = model.AssurancePasskey, sig
		}
		l.rules[r.ID] = r
		return &r, nil
	})
}

// ruleSignature checks the resident's approval of statement kind over r.
func (l *Ledger) ruleSignature(t tx, kind string, r model.StandingRule, a model.PasskeyApproval) (*model.PasskeySignature, error) {
	key, ok := l.passkeys[a.Key]
	if !ok {
		return nil, notFound(t.op, "passkey")
	}
	if key.EID != r.EID {
		return nil, fromChaincode(t.op, model.Forbidden("%s: the passkey is not the rule's resident's", model.AssertionKeyOfOtherSigner))
	}
	sig, err := model.CheckApproval(key, model.RuleStatement(kind, r, key.EID, a.Nonce), a, t.now)
	if err != nil {
		return nil, fromChaincode(t.op, model.Invalid("approval: %v", err))
	}
	return sig, nil
}

// RevokeStandingRule revokes an active standing rule.
func (l *Ledger) RevokeStandingRule(_ context.Context, id string) (*model.StandingRule, error) {
	return l.revokeRule("RevokeStandingRule", id, nil)
}

// RevokeStandingRuleSigned revokes an active standing rule with the
// resident's signature over its terms.
func (l *Ledger) RevokeStandingRuleSigned(_ context.Context, id string, a model.PasskeyApproval) (*model.StandingRule, error) {
	return l.revokeRule("RevokeStandingRuleSigned", id, &a)
}

func (l *Ledger) revokeRule(fn, id string, a *model.PasskeyApproval) (*model.StandingRule, error) {
	return submit(l, fn, func(t tx) (*model.StandingRule, error) {
		r, ok := l.rules[id]
		if !ok {
			return nil, notFound(t.op, "standing rule")
		}
		if r.Status != model.RuleActive {
			return nil, conflict(t.op, "the standing rule is %s", r.Status)
		}
		r.RevokeAssurance = model.AssurancePassword
		if a != nil {
			sig, err := l.ruleSignature(t, model.StatementRuleRevoke, r, *a)
			if err != nil {
				return nil, err
			}
			r.RevokeAssurance, r.RevokeSignature = model.AssurancePasskey, sig
		}
		r.Status, r.RevokedAt, r.RevokedBy, r.UpdatedAt, r.TxID = model.RuleRevoked, t.now, "agent", t.now, t.id
		l.rules[id] = r
		return &r, nil
	})
}

// GetStandingRule reads one standing rule.
func (l *Ledger) GetStandingRule(_ context.Context, id string) (*model.StandingRule, error) {
	l.read("GetStandingRule")
	defer l.mu.Unlock()
	r, ok := l.rules[id]
	if !ok {
		return nil, notFound("routingtest.GetStandingRule", "standing rule")
	}
	return &r, nil
}

// ListStandingRulesByEID returns the standing rules of an eID in id order.
func (l *Ledger) ListStandingRulesByEID(_ context.Context, eid string) ([]model.StandingRule, error) {
	l.read("ListStandingRulesByEID")
	defer l.mu.Unlock()
	out := []model.StandingRule{}
	for _, r := range sortedValues(l.rules) {
		if r.EID == eid {
			out = append(out, r)
		}
	}
	return out, nil
}

// --- anchors ---

// AnchorAccessBatch records an access anchor; resubmitting a batch id
// with the same content returns the stored anchor, with other content is
// a conflict. The block number grows with every call.
func (l *Ledger) AnchorAccessBatch(_ context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	var block uint64
	out, err := submit(l, "AnchorAccessBatch", func(t tx) (*model.AccessAnchor, error) {
		l.block++
		block = l.block
		if prev, ok := l.anchors[a.BatchID]; ok {
			if !prev.SameContent(a) {
				return nil, conflict(t.op, "batch %s was anchored with other content", a.BatchID)
			}
			return &prev, nil
		}
		a.TxID, a.AnchoredAt, a.Submitter = t.id, t.now, "PlatformMSP"
		l.anchors[a.BatchID] = a
		// Standing rules count their uses here, as the chaincode does.
		for _, u := range a.ConsentUses {
			if r, ok := l.rules[u.ConsentID]; ok {
				r.Uses += u.Uses
				l.rules[u.ConsentID] = r
			}
		}
		return &a, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, block, nil
}

// GetAnchor returns an access anchor.
func (l *Ledger) GetAnchor(_ context.Context, id string) (*model.AccessAnchor, error) {
	return get(l, "GetAnchor", l.anchors, id, "anchor")
}

// AnchorStatusList anchors a new version of a status list: only the
// issuing department's next version (or the same content again).
func (l *Ledger) AnchorStatusList(_ context.Context, a model.StatusListAnchor) (*model.StatusListAnchor, error) {
	return submit(l, "AnchorStatusList", func(t tx) (*model.StatusListAnchor, error) {
		if _, ok := l.depts[a.Issuer]; !ok {
			return nil, notFound(t.op, "department")
		}
		k := a.Issuer + "|" + a.ListID
		if prev, ok := l.lists[k]; ok {
			switch {
			case a.Version == prev.Version && a.Digest == prev.Digest:
				return &prev, nil
			case a.Version <= prev.Version:
				return nil, conflict(t.op, "status list %s is at version %d", a.ListID, prev.Version)
			}
		}
		a.AnchoredAt, a.TxID, a.Submitter = t.now, t.id, "PlatformMSP"
		l.lists[k] = a
		return &a, nil
	})
}

// GetStatusListAnchor returns the newest anchor of a status list.
func (l *Ledger) GetStatusListAnchor(_ context.Context, issuer, listID string) (*model.StatusListAnchor, error) {
	return get(l, "GetStatusListAnchor", l.lists, issuer+"|"+listID, "status list anchor")
}

// --- passkeys and signed consent decisions ---

func (l *Ledger) passkeysOf(eid string) []model.Passkey {
	out := []model.Passkey{}
	for _, p := range sortedValues(l.passkeys) {
		if p.EID == eid {
			out = append(out, p)
		}
	}
	return out
}

// RegisterPasskey puts a resident's passkey on the ledger, as the
// chaincode does.
func (l *Ledger) RegisterPasskey(_ context.Context, reg model.PasskeyRegistration) (*model.Passkey, error) {
	return submit(l, "RegisterPasskey", func(t tx) (*model.Passkey, error) {
		if err := reg.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, err := l.activeIdentity(t.op, reg.EID); err != nil {
			return nil, err
		}
		id := model.PasskeyMethodID(reg.EID, reg.KeyID())
		if _, ok := l.passkeys[id]; ok {
			return nil, conflict(t.op, "passkey %s is already registered", id)
		}
		p := model.Passkey{ID: id, EID: reg.EID, CredentialID: reg.CredentialID, PublicKeyJWK: reg.PublicKeyJWK,
			RPID: reg.RPID, Status: model.PasskeyActive, RegisteredAt: t.now, TxID: t.id}
		l.passkeys[id] = p
		return &p, nil
	})
}

// RetirePasskeys retires the listed passkeys of an eID, or every active
// one when the list is empty.
func (l *Ledger) RetirePasskeys(_ context.Context, eid string, keyIDs []string, reason string) ([]model.Passkey, error) {
	return submit(l, "RetirePasskeys", func(t tx) ([]model.Passkey, error) {
		if !model.ValidRetireReason(reason) {
			return nil, fromChaincode(t.op, model.Invalid("reason must match ^[a-z][a-z0-9_-]{1,31}$"))
		}
		for _, k := range keyIDs {
			if _, ok := l.passkeys[model.PasskeyMethodID(eid, k)]; !ok {
				return nil, notFound(t.op, "passkey")
			}
		}
		out := []model.Passkey{}
		for _, p := range l.passkeysOf(eid) {
			if p.Status != model.PasskeyActive || (len(keyIDs) > 0 && !slices.Contains(keyIDs, p.KeyID())) {
				continue
			}
			p.Status, p.RetiredAt, p.RetiredReason, p.TxID = model.PasskeyRetired, t.now, reason, t.id
			l.passkeys[p.ID] = p
			out = append(out, p)
		}
		return out, nil
	})
}

// ListPasskeys returns every passkey of an eID in id order.
func (l *Ledger) ListPasskeys(_ context.Context, eid string) ([]model.Passkey, error) {
	l.read("ListPasskeys")
	defer l.mu.Unlock()
	if _, ok := l.eids[eid]; !ok {
		return nil, notFound("ledger.ListPasskeys", "eID")
	}
	return l.passkeysOf(eid), nil
}

// signedMove moves a consent with a resident's approval, checked as the
// chaincode checks it (model.CheckApproval against the stored terms).
func (l *Ledger) signedMove(fn, kind, id, from string, a model.PasskeyApproval) (*model.Consent, error) {
	return submit(l, fn, func(t tx) (*model.Consent, error) {
		c, ok := l.consents[id]
		if !ok {
			return nil, notFound(t.op, "consent")
		}
		if c.Status != from {
			return nil, conflict(t.op, "the consent is %s", c.Status)
		}
		key, ok := l.passkeys[a.Key]
		if !ok {
			return nil, notFound(t.op, "passkey")
		}
		if key.EID != c.EID {
			return nil, fromChaincode(t.op, model.Forbidden("%s: the passkey is not the consent's resident's", model.AssertionKeyOfOtherSigner))
		}
		sig, err := model.CheckApproval(key, model.ConsentStatement(kind, c, key.EID, a.Nonce), a, t.now)
		if err != nil {
			return nil, fromChaincode(t.op, model.Invalid("approval: %v", err))
		}
		c.UpdatedAt, c.TxID = t.now, t.id
		if kind == model.StatementConsentGrant {
			c.Status, c.DecidedAt, c.DecidedBy, c.DecisionMethod = model.ConsentActive, t.now, "resident", "passkey"
			c.GrantAssurance, c.GrantSignature = model.AssurancePasskey, sig
		} else {
			c.Status, c.RevokedAt, c.RevokedBy = model.ConsentRevoked, t.now, "resident"
			c.RevokeAssurance, c.RevokeSignature = model.AssurancePasskey, sig
		}
		l.consents[id] = c
		return &c, nil
	})
}

// GrantConsentSigned activates a requested consent with the resident's
// signature.
func (l *Ledger) GrantConsentSigned(_ context.Context, id string, a model.PasskeyApproval) (*model.Consent, error) {
	return l.signedMove("GrantConsentSigned", model.StatementConsentGrant, id, model.ConsentRequested, a)
}

// RevokeConsentSigned withdraws an active consent with the resident's
// signature.
func (l *Ledger) RevokeConsentSigned(_ context.Context, id string, a model.PasskeyApproval) (*model.Consent, error) {
	return l.signedMove("RevokeConsentSigned", model.StatementConsentRevoke, id, model.ConsentActive, a)
}
