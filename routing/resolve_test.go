package routing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

const (
	eidAlice = "did:eidgate:00000000000000000000000000000a11"
	eidBob   = "did:eidgate:00000000000000000000000000000b0b"
	eidOld   = "did:eidgate:000000000000000000000000000000ff"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	clock    *fakeClock
	ledger   *fakeLedger
	cache    *memCache
	store    *memStore
	log      *AccessLog
	tickets  *fakeTickets
	policy   *fakePolicy
	dir      *Directory
	consents *ConsentService
	resolver *Resolver
	anchorer *Anchorer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: newClock(), ledger: newFakeLedger(), cache: newMemCache(), store: newMemStore(), tickets: &fakeTickets{}}
	now := e.clock.Now()
	e.ledger.depts["edu-bureau"] = model.Department{ID: "edu-bureau", Name: "Education Bureau", Status: model.DepartmentActive, Endpoints: []string{"https://edu.example/api"}}
	e.ledger.depts["hrss"] = model.Department{ID: "hrss", Name: "HRSS", Status: model.DepartmentActive, Endpoints: []string{"https://hrss.example"}}
	e.ledger.dts["edu.degree"] = model.DataType{Code: "edu.degree", Owners: []string{"edu-bureau"}}
	e.ledger.eids[eidAlice] = model.Identity{ID: eidAlice, Status: model.EIDActive}
	e.ledger.eids[eidBob] = model.Identity{ID: eidBob, Status: model.EIDActive}
	e.ledger.eids[eidOld] = model.Identity{ID: eidOld, Status: model.EIDMerged, MergedInto: eidAlice}
	e.ledger.routes[eidAlice] = []model.RouteEntry{{EID: eidAlice, DataType: "edu.degree", Provider: "edu-bureau", Version: 3,
		Digest: "sha256:" + hex64('a'), Status: model.RouteValid, UpdatedAt: now.Format(time.RFC3339)}}
	e.policy = &fakePolicy{allow: map[string]bool{"hrss|edu.degree|employment": true}, version: 7}
	e.log = NewAccessLog(e.store, e.clock, 0)
	t.Cleanup(e.log.Close)
	e.dir = &Directory{Registry: e.ledger, EIDs: e.ledger, Routes: e.ledger, Consents: e.ledger, Cache: e.cache, Clock: e.clock}
	e.consents = &ConsentService{Ledger: e.ledger, Dir: e.dir, Clock: e.clock}
	e.anchorer = &Anchorer{Store: e.store, Ledger: e.ledger, Clock: e.clock, Holder: "r1", Logger: quiet}
	e.resolver = &Resolver{Dir: e.dir, Mapper: &fakeMapper{docs: map[string]string{"cn-resident:11010519491231002X": eidAlice}},
		Policy: e.policy, Consents: e.ledger, Log: e.log, Tickets: e.tickets, Clock: e.clock}
	return e
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func (e *env) grant(t *testing.T, eid, requester, provider string, maxUses uint64) string {
	t.Helper()
	c, err := e.consents.Request(context.Background(), requester, ConsentDraft{EID: eid, Provider: provider,
		DataTypes: []string{"edu.degree"}, PurposeCode: "employment", ValidUntil: e.clock.Now().Add(24 * time.Hour), MaxUses: maxUses})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.consents.Grant(context.Background(), eid, c.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func req(eid string) ResolveRequest {
	return ResolveRequest{Requester: "hrss", Official: "off-1", EID: eid, DataType: "edu.degree", Purpose: "employment"}
}

func TestResolveIssuesTicketOnlyAfterDurableRecord(t *testing.T) {
	e := newEnv(t)
	cid := e.grant(t, eidAlice, "hrss", "*", 0)
	res, err := e.resolver.Resolve(context.Background(), req(eidAlice))
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider.ID != "edu-bureau" || res.Provider.Endpoint != "https://edu.example/api" || res.ConsentID != cid || res.PolicyVersion != 7 || res.RouteVersion != 3 {
		t.Fatalf("result %+v", res)
	}
	rec, err := e.store.GetAccess(context.Background(), res.AccessID)
	if err != nil {
		t.Fatalf("the access behind a ticket is not recorded: %v", err)
	}
	if rec.Outcome != OutcomeIssued || rec.TicketID != res.TicketID || rec.Official != "off-1" || rec.PolicyVersion != 7 || rec.LeafHash == "" {
		t.Fatalf("record %+v", rec)
	}
	if uses, _ := e.store.ConsentUses(context.Background(), cid); uses != 1 {
		t.Fatalf("consent uses %d", uses)
	}
	tr := e.tickets.issued[0]
	if tr.AccessID != rec.ID || tr.ConsentID != cid || tr.Provider != "edu-bureau" || tr.EID != eidAlice {
		t.Fatalf("ticket bound to %+v", tr)
	}
}

func TestResolveByDocumentAndFollowsMerge(t *testing.T) {
	e := newEnv(t)
	e.grant(t, eidAlice, "hrss", "*", 0)
	r := req("")
	r.Document = &DocumentSubject{Type: "cn-resident", Number: "11010519491231002X"}
	if res, err := e.resolver.Resolve(context.Background(), r); err != nil || res.EID != eidAlice {
		t.Fatalf("by document: %v %+v", err, res)
	}
	if res, err := e.resolver.Resolve(context.Background(), req(eidOld)); err != nil || res.EID != eidAlice {
		t.Fatalf("merged eID: %v %+v", err, res)
	}
}

func TestResolveRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, e *env) ResolveRequest
		kind    Kind
		code    string
		outcome string // "" = nothing recorded
	}{
		{"no consent opens one request", func(t *testing.T, e *env) ResolveRequest { return req(eidAlice) }, KindConsentRequired, "consent_required", OutcomeConsentRequired},
		{"policy", func(t *testing.T, e *env) ResolveRequest {
			r := req(eidAlice)
			r.Purpose = "marketing"
			return r
		}, KindForbidden, "policy_denied", OutcomePolicyDenied},
		{"unknown document", func(t *testing.T, e *env) ResolveRequest {
			r := req("")
			r.Document = &DocumentSubject{Type: "cn-resident", Number: "110105194912310021"}
			return r
		}, KindNotFound, "subject_not_found", OutcomeSubjectUnknown},
		{"no route", func(t *testing.T, e *env) ResolveRequest {
			e.grant(t, eidBob, "hrss", "*", 0)
			return req(eidBob)
		}, KindNotFound, "no_route", OutcomeNoRoute},
		{"consent for another provider", func(t *testing.T, e *env) ResolveRequest {
			e.grant(t, eidAlice, "hrss", "hrss", 0)
			return req(eidAlice)
		}, KindNotFound, "no_route", OutcomeNoRoute},
		{"revoked consent", func(t *testing.T, e *env) ResolveRequest {
			id := e.grant(t, eidAlice, "hrss", "*", 0)
			if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.consents.Revoke(context.Background(), eidAlice, id); err != nil {
				t.Fatal(err)
			}
			return req(eidAlice)
		}, KindConsentRequired, "consent_required", OutcomeConsentRequired},
		{"expired consent", func(t *testing.T, e *env) ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 0)
			e.clock.Advance(25 * time.Hour)
			return req(eidAlice)
		}, KindConsentRequired, "consent_required", OutcomeConsentRequired},
		{"uses exhausted", func(t *testing.T, e *env) ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 1)
			if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
				t.Fatal(err)
			}
			return req(eidAlice)
		}, KindConsentRequired, "consent_required", ""},
		{"suspended provider", func(t *testing.T, e *env) ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 0)
			d := e.ledger.depts["edu-bureau"]
			d.Status = model.DepartmentSuspended
			e.ledger.depts["edu-bureau"] = d
			return req(eidAlice)
		}, KindNotFound, "no_route", OutcomeNoRoute},
		{"missing official", func(t *testing.T, e *env) ResolveRequest {
			r := req(eidAlice)
			r.Official = ""
			return r
		}, KindInvalid, "invalid", ""},
		{"both subjects", func(t *testing.T, e *env) ResolveRequest {
			r := req(eidAlice)
			r.Document = &DocumentSubject{Type: "cn-resident", Number: "x"}
			return r
		}, KindInvalid, "invalid", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := tc.setup(t, e)
			before := len(e.store.recs)
			issuedBefore := e.tickets.count()
			_, err := e.resolver.Resolve(context.Background(), r)
			if KindOf(err) != tc.kind || CodeOf(err) != tc.code {
				t.Fatalf("err %v: kind %s code %s, want %s %s", err, KindOf(err), CodeOf(err), tc.kind, tc.code)
			}
			if e.tickets.count() != issuedBefore {
				t.Fatal("a ticket was issued for a refused resolve")
			}
			recs := e.store.recs[before:]
			if tc.outcome == "" {
				if len(recs) != 0 {
					t.Fatalf("recorded %+v", recs)
				}
				return
			}
			if len(recs) != 1 || recs[0].Outcome != tc.outcome {
				t.Fatalf("records %+v, want one %s", recs, tc.outcome)
			}
		})
	}
}

func TestConsentRequiredReusesOpenRequest(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for range 3 {
		_, err := e.resolver.Resolve(context.Background(), req(eidAlice))
		var de *Error
		if !errors.As(err, &de) || de.Details["consent_id"] == "" {
			t.Fatalf("err %v", err)
		}
		ids = append(ids, de.Details["consent_id"])
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || e.ledger.Calls("RequestConsent") != 1 {
		t.Fatalf("consent requests %v, %d ledger calls: want one reused request", ids, e.ledger.Calls("RequestConsent"))
	}
	// Once granted, the same request resolves.
	if _, err := e.consents.Grant(context.Background(), eidAlice, ids[0], "portal"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseDownFailsClosed(t *testing.T) {
	e := newEnv(t)
	e.grant(t, eidAlice, "hrss", "*", 0)
	e.store.mu.Lock()
	e.store.fail = errors.New("connection refused")
	e.store.mu.Unlock()
	_, err := e.resolver.Resolve(context.Background(), req(eidAlice))
	if KindOf(err) != KindUnavailable || CodeOf(err) != "database_unavailable" || e.tickets.count() != 0 {
		t.Fatalf("err %v tickets %d", err, e.tickets.count())
	}
}

func TestCacheDownStaysCorrect(t *testing.T) {
	e := newEnv(t)
	id := e.grant(t, eidAlice, "hrss", "*", 0)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatal(err)
	}
	e.cache.mu.Lock()
	e.cache.down = true
	e.cache.mu.Unlock()
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatalf("resolve with the cache down: %v", err)
	}
	if _, err := e.consents.Revoke(context.Background(), eidAlice, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); !IsKind(err, KindConsentRequired) {
		t.Fatalf("revoked consent used while the cache was down: %v", err)
	}
}

func TestResidentCannotTouchOthersConsent(t *testing.T) {
	e := newEnv(t)
	c, err := e.consents.Request(context.Background(), "hrss", ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"},
		PurposeCode: "employment", ValidUntil: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.consents.Grant(context.Background(), eidBob, c.ID, "portal"); !IsKind(err, KindNotFound) {
		t.Fatalf("bob granted alice's consent: %v", err)
	}
	if _, err := e.consents.Revoke(context.Background(), eidAlice, c.ID); !IsKind(err, KindConflict) {
		t.Fatalf("revoking a requested consent: %v", err)
	}
	if _, err := e.consents.ForDepartment(context.Background(), "edu-bureau", c.ID); !IsKind(err, KindNotFound) {
		t.Fatalf("non-party department read the consent: %v", err)
	}
}

func TestConsentDraftValidation(t *testing.T) {
	e := newEnv(t)
	base := ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"}, PurposeCode: "employment", ValidUntil: e.clock.Now().Add(time.Hour)}
	for _, tc := range []struct {
		field string
		edit  func(d *ConsentDraft)
	}{
		{"eid", func(d *ConsentDraft) { d.EID = "alice" }},
		{"data_types", func(d *ConsentDraft) { d.DataTypes = nil }},
		{"data_types", func(d *ConsentDraft) { d.DataTypes = []string{"edu.unknown"} }},
		{"valid_until", func(d *ConsentDraft) { d.ValidUntil = e.clock.Now().Add(-time.Minute) }},
		{"valid_until", func(d *ConsentDraft) { d.ValidUntil = e.clock.Now().Add(400 * 24 * time.Hour) }},
		{"provider", func(d *ConsentDraft) { d.Provider = "nobody" }},
	} {
		d := base
		tc.edit(&d)
		_, err := e.consents.Request(context.Background(), "hrss", d)
		var de *Error
		if !errors.As(err, &de) || de.Kind != KindInvalid || de.Field != tc.field {
			t.Errorf("field %s: %v", tc.field, err)
		}
	}
}

func TestGroupCommitBatchesConcurrentAppends(t *testing.T) {
	e := newEnv(t)
	slow := &slowStore{memStore: e.store, delay: 5 * time.Millisecond}
	log := NewAccessLog(slow, e.clock, 64)
	defer log.Close()
	var wg sync.WaitGroup
	const n = 200
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- log.Append(context.Background(), &AccessRecord{Requester: "hrss", Outcome: OutcomePolicyDenied})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := log.Stats()
	if st.Records != n || st.Transactions >= n/2 {
		t.Fatalf("stats %+v: want %d records in far fewer transactions", st, n)
	}
	seen := map[uint64]bool{}
	for _, r := range e.store.recs {
		if seen[r.Seq] {
			t.Fatalf("duplicate seq %d", r.Seq)
		}
		seen[r.Seq] = true
	}
}

type slowStore struct {
	*memStore
	delay time.Duration
}

func (s *slowStore) AppendAccess(ctx context.Context, recs []*AccessRecord) ([]error, error) {
	time.Sleep(s.delay)
	return s.memStore.AppendAccess(ctx, recs)
}

func TestUntrustedCacheReadsThroughToTheLedger(t *testing.T) {
	e := newEnv(t)
	id := e.grant(t, eidAlice, "hrss", "*", 0)
	e.clock.Advance(time.Second) // past the invalidation, so the next read fills the cache
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatal(err)
	}
	// The consent is revoked on the ledger while this replica misses the
	// event: the cache still holds it as active.
	e.ledger.mu.Lock()
	c := e.ledger.consents[id]
	c.Status = model.ConsentRevoked
	e.ledger.consents[id] = c
	e.ledger.mu.Unlock()
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatalf("with a trusted cache the cached consent is used: %v", err)
	}
	e.dir.Trust = func() bool { return false }
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); !IsKind(err, KindConsentRequired) {
		t.Fatalf("event stream down: the revoked consent was served from the cache: %v", err)
	}
}
