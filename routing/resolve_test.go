package routing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

const (
	eidAlice = "did:eidgate:00000000000000000000000000000a11"
	eidBob   = "did:eidgate:00000000000000000000000000000b0b"
	eidOld   = "did:eidgate:000000000000000000000000000000ff"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	clock    *routingtest.Clock
	ledger   *routingtest.Ledger
	cache    *routingtest.Cache
	store    *routingtest.Store
	log      *routing.AccessLog
	tickets  *fakeTickets
	policy   *fakePolicy
	dir      *routing.Directory
	consents *routing.ConsentService
	resolver *routing.Resolver
	anchorer *routing.Anchorer
	// eventsDown makes the directory distrust its cache, as while the
	// chaincode event stream is down.
	eventsDown atomic.Bool
}

// openGate lets every resolve through (the anchoring lag gate has its own
// tests).
type openGate struct{}

func (openGate) Check(context.Context) error { return nil }

// must returns a function that returns its value, failing t on its
// error: must[*routing.X](t)(routing.NewX(cfg)).
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// newAnchorer is an anchorer of replica holder over the env's store and
// ledger; edit changes its configuration.
func (e *env) newAnchorer(t testing.TB, holder string, edit func(*routing.AnchorerConfig)) *routing.Anchorer {
	t.Helper()
	cfg := routing.AnchorerConfig{Store: e.store, Ledger: e.ledger, Clock: e.clock, Holder: holder, Logger: quiet}
	if edit != nil {
		edit(&cfg)
	}
	return must[*routing.Anchorer](t)(routing.NewAnchorer(cfg))
}

// newResolver is the env's resolver behind gate.
func (e *env) newResolver(t testing.TB, gate routing.Gate) *routing.Resolver {
	t.Helper()
	return must[*routing.Resolver](t)(routing.NewResolver(routing.ResolverConfig{Dir: e.dir,
		Mapper: &fakeMapper{docs: map[string]string{"cn-resident:11010519491231002X": eidAlice}},
		Policy: e.policy, Consents: e.ledger, Rules: e.ledger, AccessLog: e.log, Gate: gate, Tickets: e.tickets, Clock: e.clock,
		PseudonymKey: []byte("pseudonym key for the tests")}))
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clock := routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	e := &env{clock: clock, ledger: routingtest.NewLedger(clock), cache: routingtest.NewCache(), store: routingtest.NewStore(), tickets: &fakeTickets{}}
	now := e.clock.Now()
	e.ledger.PutDepartment(model.Department{ID: "edu-bureau", Name: "Education Bureau", Status: model.DepartmentActive, Endpoints: []string{"https://edu.example/api"}})
	e.ledger.PutDepartment(model.Department{ID: "hrss", Name: "HRSS", Status: model.DepartmentActive, Endpoints: []string{"https://hrss.example"}})
	e.ledger.PutDataType(model.DataType{Code: "edu.degree", Owners: []string{"edu-bureau"}, Predicates: []model.Predicate{
		{ID: "bachelor_or_higher", Name: "本科及以上学位", Expression: `{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}`}}})
	e.ledger.PutIdentity(model.Identity{ID: eidAlice, Status: model.EIDActive})
	e.ledger.PutIdentity(model.Identity{ID: eidBob, Status: model.EIDActive})
	e.ledger.PutIdentity(model.Identity{ID: eidOld, Status: model.EIDMerged, MergedInto: eidAlice})
	e.ledger.PutRoute(model.RouteEntry{EID: eidAlice, DataType: "edu.degree", Provider: "edu-bureau", Version: 3,
		Digest: "sha256:" + hex64('a'), Status: model.RouteValid, UpdatedAt: now.Format(time.RFC3339)})
	e.policy = &fakePolicy{allow: map[string]bool{"hrss|edu.degree|employment": true}, version: 7}
	e.log = must[*routing.AccessLog](t)(routing.NewAccessLog(routing.AccessLogConfig{Store: e.store, Clock: e.clock}))
	t.Cleanup(e.log.Close)
	e.dir = must[*routing.Directory](t)(routing.NewDirectory(routing.DirectoryConfig{Registry: e.ledger, EIDs: e.ledger, Routes: e.ledger,
		Consents: e.ledger, Cache: e.cache, Clock: e.clock, Trust: func() bool { return !e.eventsDown.Load() }}))
	e.consents = must[*routing.ConsentService](t)(routing.NewConsentService(routing.ConsentConfig{Ledger: e.ledger, Dir: e.dir, Policy: e.policy, Clock: e.clock}))
	e.anchorer = e.newAnchorer(t, "r1", nil)
	e.resolver = e.newResolver(t, openGate{})
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
	c, err := e.consents.Request(context.Background(), requester, routing.ConsentDraft{EID: eid, Provider: provider,
		DataTypes: []string{"edu.degree"}, PurposeCode: "employment", PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(24 * time.Hour), MaxUses: maxUses})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.consents.Grant(context.Background(), eid, c.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func req(eid string) routing.ResolveRequest {
	return routing.ResolveRequest{Requester: "hrss", Official: "off-1", EID: eid, DataType: "edu.degree", Purpose: "employment"}
}

func TestResolveIssuesTicketOnlyAfterDurableRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cid := e.grant(t, eidAlice, "hrss", "*", 0)
	res, err := e.resolver.Resolve(context.Background(), req(eidAlice))
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider.ID != "edu-bureau" {
		t.Fatalf("res.Provider.ID = %q, want \"edu-bureau\"; result %+v", res.Provider.ID, res)
	}
	if res.Provider.Endpoint != "https://edu.example/api" {
		t.Fatalf("res.Provider.Endpoint = %q, want \"https://edu.example/api\"; result %+v", res.Provider.Endpoint, res)
	}
	if res.ConsentID != cid {
		t.Fatalf("res.ConsentID = %v, want cid; result %+v", res.ConsentID, res)
	}
	if res.PolicyVersion != 7 {
		t.Fatalf("res.PolicyVersion = %v, want 7; result %+v", res.PolicyVersion, res)
	}
	if res.RouteVersion != 3 {
		t.Fatalf("res.RouteVersion = %v, want 3; result %+v", res.RouteVersion, res)
	}
	rec, err := e.store.GetAccess(context.Background(), res.AccessID)
	if err != nil {
		t.Fatalf("the access behind a ticket is not recorded: %v", err)
	}
	if rec.Outcome != routing.OutcomeIssued {
		t.Fatalf("rec.Outcome = %v, want routing.OutcomeIssued; record %+v", rec.Outcome, rec)
	}
	if rec.TicketID != res.TicketID {
		t.Fatalf("rec.TicketID = %v, want res.TicketID; record %+v", rec.TicketID, rec)
	}
	if rec.Official != "off-1" {
		t.Fatalf("rec.Official = %q, want \"off-1\"; record %+v", rec.Official, rec)
	}
	if rec.PolicyVersion != 7 {
		t.Fatalf("rec.PolicyVersion = %v, want 7; record %+v", rec.PolicyVersion, rec)
	}
	if rec.LeafHash == "" {
		t.Fatalf("rec.LeafHash == \"\", want it different; record %+v", rec)
	}
	if uses, _ := e.store.ConsentUses(context.Background(), cid); uses != 1 {
		t.Fatalf("consent uses %d", uses)
	}
	tr := e.tickets.issued[0]
	if tr.AccessID != rec.ID {
		t.Fatalf("tr.AccessID = %v, want rec.ID; ticket bound to %+v", tr.AccessID, tr)
	}
	if tr.ConsentID != cid {
		t.Fatalf("tr.ConsentID = %v, want cid; ticket bound to %+v", tr.ConsentID, tr)
	}
	if tr.Provider != "edu-bureau" {
		t.Fatalf("tr.Provider = %q, want \"edu-bureau\"; ticket bound to %+v", tr.Provider, tr)
	}
	if tr.EID != eidAlice {
		t.Fatalf("tr.EID = %v, want eidAlice; ticket bound to %+v", tr.EID, tr)
	}
}

func TestResolveByDocumentAndFollowsMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.grant(t, eidAlice, "hrss", "*", 0)
	r := req("")
	r.Document = &routing.DocumentSubject{Type: "cn-resident", Number: "11010519491231002X"}
	if res, err := e.resolver.Resolve(context.Background(), r); err != nil {
		t.Fatalf("err = %v, want nil; by document: %v %+v", err, err, res)
	} else if res.EID != eidAlice {
		t.Fatalf("res.EID = %v, want eidAlice; by document: %v %+v", res.EID, err, res)
	}
	if res, err := e.resolver.Resolve(context.Background(), req(eidOld)); err != nil {
		t.Fatalf("err = %v, want nil; merged eID: %v %+v", err, err, res)
	} else if res.EID != eidAlice {
		t.Fatalf("res.EID = %v, want eidAlice; merged eID: %v %+v", res.EID, err, res)
	}
}

func TestResolveRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, e *env) routing.ResolveRequest
		kind    routing.Kind
		code    string
		outcome string // "" = nothing recorded
	}{
		{"no consent opens one request", func(t *testing.T, e *env) routing.ResolveRequest { return req(eidAlice) }, routing.KindConsentRequired, "consent_required", routing.OutcomeConsentRequired},
		{"policy", func(t *testing.T, e *env) routing.ResolveRequest {
			r := req(eidAlice)
			r.Purpose = "marketing"
			return r
		}, routing.KindForbidden, "policy_denied", routing.OutcomePolicyDenied},
		{"unknown document", func(t *testing.T, e *env) routing.ResolveRequest {
			r := req("")
			r.Document = &routing.DocumentSubject{Type: "cn-resident", Number: "110105194912310021"}
			return r
		}, routing.KindNotFound, "subject_not_found", routing.OutcomeSubjectUnknown},
		{"deactivated eID", func(t *testing.T, e *env) routing.ResolveRequest {
			e.ledger.PutIdentity(model.Identity{ID: eidBob, Status: model.EIDDeactivated})
			return req(eidBob)
		}, routing.KindNotFound, "subject_not_found", routing.OutcomeSubjectUnknown},
		{"merged into nothing", func(t *testing.T, e *env) routing.ResolveRequest {
			e.ledger.PutIdentity(model.Identity{ID: eidBob, Status: model.EIDMerged, MergedInto: "did:eidgate:00000000000000000000000000000404"})
			return req(eidBob)
		}, routing.KindNotFound, "subject_not_found", routing.OutcomeSubjectUnknown},
		{"no route", func(t *testing.T, e *env) routing.ResolveRequest {
			e.grant(t, eidBob, "hrss", "*", 0)
			return req(eidBob)
		}, routing.KindNotFound, "no_route", routing.OutcomeNoRoute},
		{"consent for another provider", func(t *testing.T, e *env) routing.ResolveRequest {
			e.grant(t, eidAlice, "hrss", "hrss", 0)
			return req(eidAlice)
		}, routing.KindNotFound, "no_route", routing.OutcomeNoRoute},
		{"revoked consent", func(t *testing.T, e *env) routing.ResolveRequest {
			id := e.grant(t, eidAlice, "hrss", "*", 0)
			if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.consents.Revoke(context.Background(), eidAlice, id); err != nil {
				t.Fatal(err)
			}
			return req(eidAlice)
		}, routing.KindForbidden, "consent_revoked", routing.OutcomeConsentRevoked},
		{"denied request", func(t *testing.T, e *env) routing.ResolveRequest {
			_, err := e.resolver.Resolve(context.Background(), req(eidAlice))
			var re *routing.Error
			if !errors.As(err, &re) {
				t.Fatal(err)
			}
			if _, err := e.consents.Deny(context.Background(), eidAlice, re.Details["consent_id"], "portal"); err != nil {
				t.Fatal(err)
			}
			return req(eidAlice)
		}, routing.KindForbidden, "consent_denied", routing.OutcomeConsentDenied},
		{"expired consent", func(t *testing.T, e *env) routing.ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 0)
			e.clock.Advance(25 * time.Hour)
			return req(eidAlice)
		}, routing.KindConsentRequired, "consent_required", routing.OutcomeConsentRequired},
		{"uses exhausted", func(t *testing.T, e *env) routing.ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 1)
			if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
				t.Fatal(err)
			}
			return req(eidAlice)
		}, routing.KindConsentRequired, "consent_required", ""},
		{"suspended provider", func(t *testing.T, e *env) routing.ResolveRequest {
			e.grant(t, eidAlice, "hrss", "*", 0)
			d, _ := e.ledger.GetDepartment(context.Background(), "edu-bureau")
			d.Status = model.DepartmentSuspended
			e.ledger.PutDepartment(*d)
			return req(eidAlice)
		}, routing.KindNotFound, "no_route", routing.OutcomeNoRoute},
		{"missing official", func(t *testing.T, e *env) routing.ResolveRequest {
			r := req(eidAlice)
			r.Official = ""
			return r
		}, routing.KindInvalid, "invalid", ""},
		{"both subjects", func(t *testing.T, e *env) routing.ResolveRequest {
			r := req(eidAlice)
			r.Document = &routing.DocumentSubject{Type: "cn-resident", Number: "x"}
			return r
		}, routing.KindInvalid, "invalid", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := tc.setup(t, e)
			before := len(e.store.Records())
			issuedBefore := e.tickets.count()
			_, err := e.resolver.Resolve(context.Background(), r)
			if routing.KindOf(err) != tc.kind || routing.CodeOf(err) != tc.code {
				t.Fatalf("err %v: kind %s code %s, want %s %s", err, routing.KindOf(err), routing.CodeOf(err), tc.kind, tc.code)
			}
			if e.tickets.count() != issuedBefore {
				t.Fatal("a ticket was issued for a refused resolve")
			}
			recs := e.store.Records()[before:]
			if tc.outcome == "" {
				if len(recs) != 0 {
					t.Fatalf("recorded %+v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("len(recs) = %v, want 1; records %+v, want one %s", len(recs), recs, tc.outcome)
			}
			if recs[0].Outcome != tc.outcome {
				t.Fatalf("recs[0].Outcome = %v, want tc.outcome; records %+v, want one %s", recs[0].Outcome, recs, tc.outcome)
			}
		})
	}
}

func TestConsentRequiredReusesOpenRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for range 3 {
		_, err := e.resolver.Resolve(context.Background(), req(eidAlice))
		var de *routing.Error
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
	t.Parallel()
	e := newEnv(t)
	e.grant(t, eidAlice, "hrss", "*", 0)
	e.store.Fail(errors.New("connection refused"))
	_, err := e.resolver.Resolve(context.Background(), req(eidAlice))
	if routing.KindOf(err) != routing.KindUnavailable || routing.CodeOf(err) != "database_unavailable" || e.tickets.count() != 0 {
		t.Fatalf("err %v tickets %d", err, e.tickets.count())
	}
}

func TestCacheDownStaysCorrect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.grant(t, eidAlice, "hrss", "*", 0)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatal(err)
	}
	e.cache.SetDown(true)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatalf("resolve with the cache down: %v", err)
	}
	if _, err := e.consents.Revoke(context.Background(), eidAlice, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); routing.CodeOf(err) != "consent_revoked" {
		t.Fatalf("revoked consent used while the cache was down: %v", err)
	}
}

func TestResidentCannotTouchOthersConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.consents.Request(context.Background(), "hrss", routing.ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"},
		PurposeCode: "employment", PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.consents.Grant(context.Background(), eidBob, c.ID, "portal"); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("bob granted alice's consent: %v", err)
	}
	if _, err := e.consents.Revoke(context.Background(), eidAlice, c.ID); !routing.IsKind(err, routing.KindConflict) {
		t.Fatalf("revoking a requested consent: %v", err)
	}
	if _, err := e.consents.ForDepartment(context.Background(), "edu-bureau", c.ID); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("non-party department read the consent: %v", err)
	}
}

func TestConsentDraftValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := routing.ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"}, PurposeCode: "employment", PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(time.Hour)}
	for _, tc := range []struct {
		field string
		edit  func(d *routing.ConsentDraft)
	}{
		{"eid", func(d *routing.ConsentDraft) { d.EID = "alice" }},
		{"data_types", func(d *routing.ConsentDraft) { d.DataTypes = nil }},
		{"data_types", func(d *routing.ConsentDraft) { d.DataTypes = []string{"edu.unknown"} }},
		{"valid_until", func(d *routing.ConsentDraft) { d.ValidUntil = e.clock.Now().Add(-time.Minute) }},
		{"valid_until", func(d *routing.ConsentDraft) { d.ValidUntil = e.clock.Now().Add(400 * 24 * time.Hour) }},
		{"provider", func(d *routing.ConsentDraft) { d.Provider = "nobody" }},
		{"purpose_text", func(d *routing.ConsentDraft) { d.PurposeText = "" }},
		{"purpose_text", func(d *routing.ConsentDraft) { d.PurposeText = " \t" }},
	} {
		d := base
		tc.edit(&d)
		_, err := e.consents.Request(context.Background(), "hrss", d)
		var de *routing.Error
		if !errors.As(err, &de) || de.Kind != routing.KindInvalid || de.Field != tc.field {
			t.Errorf("field %s: %v", tc.field, err)
		}
	}
}

func TestGroupCommitBatchesConcurrentAppends(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slow := &slowStore{Store: e.store, delay: 5 * time.Millisecond}
	log := must[*routing.AccessLog](t)(routing.NewAccessLog(routing.AccessLogConfig{Store: slow, Clock: e.clock, MaxBatch: 64}))
	defer log.Close()
	var wg sync.WaitGroup
	const n = 200
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- log.Append(context.Background(), &routing.AccessRecord{Requester: "hrss", Outcome: routing.OutcomePolicyDenied})
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
	if st.Records != n {
		t.Fatalf("st.Records = %v, want n; stats %+v: want %d records in far fewer transactions", st.Records, st, n)
	}
	if st.Transactions >= n/2 {
		t.Fatalf("st.Transactions = %v, want < n/2; stats %+v: want %d records in far fewer transactions", st.Transactions, st, n)
	}
	seen := map[uint64]bool{}
	for _, r := range e.store.Records() {
		if seen[r.Seq] {
			t.Fatalf("duplicate seq %d", r.Seq)
		}
		seen[r.Seq] = true
	}
}

type slowStore struct {
	*routingtest.Store
	delay time.Duration
}

func (s *slowStore) AppendAccess(ctx context.Context, recs []*routing.AccessRecord) ([]error, error) {
	time.Sleep(s.delay)
	return s.Store.AppendAccess(ctx, recs)
}

func TestUntrustedCacheReadsThroughToTheLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.grant(t, eidAlice, "hrss", "*", 0)
	e.clock.Advance(time.Second) // past the invalidation, so the next read fills the cache
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatal(err)
	}
	// The consent is revoked on the ledger while this replica misses the
	// event: the cache still holds it as active.
	c, _ := e.ledger.GetConsent(context.Background(), id)
	c.Status = model.ConsentRevoked
	e.ledger.PutConsent(*c)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); err != nil {
		t.Fatalf("with a trusted cache the cached consent is used: %v", err)
	}
	e.eventsDown.Store(true)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); !routing.IsKind(err, routing.KindConsentRequired) {
		t.Fatalf("event stream down: the revoked consent was served from the cache: %v", err)
	}
}

// TestYesNoQuestionsAreTheirOwnAccess: a question is recorded as
// question_issued with its predicate, and its ticket is bound to the
// predicate with the question scope as its data type; a consent to the
// question only allows the question, never the record; a consent to the
// record allows both; a question without consent opens a request for the
// question scope only.
func TestYesNoQuestionsAreTheirOwnAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	question := func(eid string) routing.ResolveRequest {
		r := req(eid)
		r.Predicate = "bachelor_or_higher"
		return r
	}
	scope := model.QuestionScope("edu.degree", "bachelor_or_higher")

	t.Run("consent to the question only", func(t *testing.T) {
		e := newEnv(t)
		c, err := e.consents.Request(ctx, "hrss", routing.ConsentDraft{EID: eidAlice, Provider: "*", DataTypes: []string{scope},
			PurposeCode: "employment", PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.consents.Grant(ctx, eidAlice, c.ID, "portal"); err != nil {
			t.Fatal(err)
		}
		res, err := e.resolver.Resolve(ctx, question(eidAlice))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.store.GetAccess(ctx, res.AccessID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome != routing.OutcomeQuestion {
			t.Errorf("rec.Outcome = %v, want routing.OutcomeQuestion; record %+v", rec.Outcome, rec)
		} else if rec.Reason != "predicate: bachelor_or_higher" {
			t.Errorf("rec.Reason = %q, want \"predicate: bachelor_or_higher\"; record %+v", rec.Reason, rec)
		} else if rec.DataType != "edu.degree" {
			t.Errorf("rec.DataType = %q, want \"edu.degree\"; record %+v", rec.DataType, rec)
		}
		tr := e.tickets.issued[0]
		if tr.Predicate != "bachelor_or_higher" || tr.DataType != scope {
			t.Errorf("ticket bound to data type %q, predicate %q", tr.DataType, tr.Predicate)
		}
		if uses, _ := e.store.ConsentUses(ctx, c.ID); uses != 1 {
			t.Errorf("consent uses %d", uses)
		}
		if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "consent_required" {
			t.Fatalf("a consent to the question let the record through: %v", err)
		}
	})

	t.Run("consent to the record covers its questions", func(t *testing.T) {
		e := newEnv(t)
		e.grant(t, eidAlice, "hrss", "*", 0)
		if _, err := e.resolver.Resolve(ctx, question(eidAlice)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no consent opens a request for the question only", func(t *testing.T) {
		e := newEnv(t)
		// An open request for the whole record is not reused for a question.
		if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "consent_required" {
			t.Fatal(err)
		}
		_, err := e.resolver.Resolve(ctx, question(eidAlice))
		if routing.CodeOf(err) != "consent_required" {
			t.Fatalf("got %v", err)
		}
		var re *routing.Error
		if !errors.As(err, &re) {
			t.Fatal(err)
		}
		c, err := e.ledger.GetConsent(ctx, re.Details["consent_id"])
		if err != nil {
			t.Fatalf("err = %v, want nil; request %+v %v", err, c, err)
		}
		if len(c.DataTypes) != 1 {
			t.Fatalf("len(c.DataTypes) = %v, want 1; request %+v %v", len(c.DataTypes), c, err)
		}
		if c.DataTypes[0] != scope {
			t.Fatalf("c.DataTypes[0] = %v, want scope; request %+v %v", c.DataTypes[0], c, err)
		}
	})

	t.Run("a consent to an uncatalogued question", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.consents.Request(ctx, "hrss", routing.ConsentDraft{EID: eidAlice, Provider: "*", DataTypes: []string{"edu.degree#is_famous"},
			PurposeCode: "employment", PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(24 * time.Hour)})
		if !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("a malformed predicate", func(t *testing.T) {
		e := newEnv(t)
		r := req(eidAlice)
		r.Predicate = "Not A Predicate"
		if _, err := e.resolver.Resolve(ctx, r); !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("got %v", err)
		}
	})
}
