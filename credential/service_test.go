package credential_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/credentialtest"
	"github.com/eidgate/eidgate/routing"
)

// svcWorld is the service on the real chaincode (fabsim) with in-memory
// store, cache and key holders.
type svcWorld struct {
	t        *testing.T
	ctx      context.Context
	ledger   *credentialtest.Ledger
	store    *credentialtest.Store
	access   *credentialtest.AccessLog
	keys     *credentialtest.Keys
	holders  credential.HolderKeys
	provider *credentialtest.Provider
	svc      *credential.Service
	eid      string
}

func newSvcWorld(t *testing.T) *svcWorld {
	t.Helper()
	w := &svcWorld{t: t, ctx: context.Background(), ledger: credentialtest.NewLedger(t, t0), store: credentialtest.NewStore(),
		access: &credentialtest.AccessLog{}, keys: credentialtest.NewKeys(), holders: credentialtest.NewHolders()}
	w.start(w.store)
	return w
}

// start builds the service over st (the in-memory store or a database).
func (w *svcWorld) start(st credential.Store) {
	t := w.t
	t.Helper()
	clock := routing.ClockFunc(w.ledger.L.Now)
	w.keys.Put(eduID, eduID+"-k1", w.ledger.RegisterDepartment(eduID))
	w.ledger.RegisterDepartment("hrss")
	dt := degreeType
	w.ledger.RegisterDataType(dt)
	w.eid = w.ledger.NewEID(1)
	w.provider = &credentialtest.Provider{Ledger: w.ledger, Keys: w.keys, Clock: clock}
	svc, err := credential.NewService(credential.Config{Ledger: w.ledger, Store: st, Access: w.access, Keys: w.keys,
		Holders: w.holders, Answers: w.provider, Cache: memCache(t), Clock: clock, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
}

func (w *svcWorld) issue() *credential.IssuedCredential {
	w.t.Helper()
	c, err := w.svc.Issue(w.ctx, credential.IssueRequest{Issuer: eduID, Subject: w.eid, DataType: "edu.degree",
		Claims: json.RawMessage(degreeRecord), ValidUntil: t0.AddDate(10, 0, 0)})
	if err != nil {
		w.t.Fatalf("issue: %v", err)
	}
	w.provider.Hold(eduID, w.eid, "edu.degree", c.Token)
	return c
}

func (w *svcWorld) verify(token string) *credential.Result {
	w.t.Helper()
	r, err := w.svc.Verify(w.ctx, token, false, "", "")
	if err != nil {
		w.t.Fatalf("verify: %v", err)
	}
	return r
}

// invalidate applies the ledger's events to the service's cache, as the
// event listener does on every replica.
func (w *svcWorld) invalidate() {
	for _, cs := range w.ledger.Events() {
		if err := w.svc.Invalidate(w.ctx, cs); err != nil {
			w.t.Fatal(err)
		}
	}
}

func TestNewServiceRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	_, err := credential.NewService(credential.Config{BaseURL: base})
	if err == nil || !strings.Contains(err.Error(), "Answers, Cache, Clock, Holders, Keys, Ledger, Store") {
		t.Fatalf("err = %v", err)
	}
	w := newSvcWorld(t)
	_ = w
	if _, err := credential.NewService(credential.Config{Ledger: w.ledger, Store: w.store, Access: w.access, Keys: w.keys,
		Holders: w.holders, Answers: w.provider, Cache: memCache(t), Clock: routing.SystemClock{}, BaseURL: "gw"}); err == nil {
		t.Fatal("accepted a relative base URL")
	}
}

// One source of truth: the route entry on the ledger holds the credential's
// digest, signed by the issuer; status lists are anchored before the
// credential is handed out.
func TestServiceIssueAnchorsTheCredential(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	routes, err := w.ledger.GetRoutes(w.ctx, w.eid, "edu.degree")
	if err != nil || len(routes) != 1 {
		t.Fatalf("routes %v %v", routes, err)
	}
	if r := routes[0]; r.Digest != c.Digest {
		t.Fatalf("r.Digest = %v, want c.Digest; route entry %+v", r.Digest, r)
	} else if r.Schema != "vc+sd-jwt:edu.degree" {
		t.Fatalf("r.Schema = %q, want \"vc+sd-jwt:edu.degree\"; route entry %+v", r.Schema, r)
	} else if r.Version != 1 {
		t.Fatalf("r.Version = %v, want 1; route entry %+v", r.Version, r)
	} else if r.KID != "edu-bureau-k1" {
		t.Fatalf("r.KID = %q, want \"edu-bureau-k1\"; route entry %+v", r.KID, r)
	}
	if len(c.Status) != 2 {
		t.Fatalf("len(c.Status) = %v, want 2; status refs %+v", len(c.Status), c.Status)
	}
	if c.Status[0].ListID == c.Status[1].ListID {
		t.Fatalf("c.Status[0].ListID == c.Status[1].ListID, want it different; status refs %+v", c.Status)
	}
	for _, ref := range c.Status {
		a, err := w.ledger.GetStatusListAnchor(w.ctx, eduID, ref.ListID)
		if err != nil {
			t.Fatalf("err = %v, want nil; anchor of %s: %+v %v", err, ref.ListID, a, err)
		}
		if a.Version != 1 {
			t.Fatalf("a.Version = %v, want 1; anchor of %s: %+v %v", a.Version, ref.ListID, a, err)
		}
		if a.Purpose != ref.Purpose {
			t.Fatalf("a.Purpose = %v, want ref.Purpose; anchor of %s: %+v %v", a.Purpose, ref.ListID, a, err)
		}
		tok, err := w.svc.StatusListCredential(w.ctx, eduID, ref.ListID)
		if err != nil || credential.DigestOf(strings.TrimSuffix(tok, "~")) != a.Digest {
			t.Fatalf("served list is not the anchored one: %v", err)
		}
	}
	if r := w.verify(c.Token); !r.Valid {
		t.Fatalf("r.Valid is false; %s %+v", r.Code, r.Checks)
	} else if r.Anchor.TxID == "" {
		t.Fatalf("r.Anchor.TxID == \"\", want it different; %s %+v", r.Code, r.Checks)
	}
	// A second credential publishes the next route version; the first one
	// is no longer the route's current digest.
	w.ledger.L.Advance(time.Hour)
	c2 := w.issue()
	if c2.Version != 2 {
		t.Fatalf("c2.Version = %v, want 2; second credential %+v", c2.Version, c2)
	}
	if c2.Status[0].ListID != c.Status[0].ListID {
		t.Fatalf("c2.Status[0].ListID = %v, want c.Status[0].ListID; second credential %+v", c2.Status[0].ListID, c2)
	}
	if c2.Status[0].Index == c.Status[0].Index {
		t.Fatalf("c2.Status[0].Index == c.Status[0].Index, want it different; second credential %+v", c2)
	}
	if list, _ := w.svc.Credentials(w.ctx, w.eid); len(list) != 2 {
		t.Fatalf("wallet holds %d", len(list))
	}
}

func TestServiceIssueRefuses(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	cases := map[string]struct {
		req  credential.IssueRequest
		code string
	}{
		"not an owner":     {credential.IssueRequest{Issuer: "hrss", Subject: w.eid, DataType: "edu.degree", Claims: json.RawMessage(degreeRecord)}, "not_an_owner"},
		"unknown eID":      {credential.IssueRequest{Issuer: eduID, Subject: "did:eidgate:ffffffffffffffffffffffffffffffff", DataType: "edu.degree", Claims: json.RawMessage(degreeRecord)}, "not_found"},
		"schema":           {credential.IssueRequest{Issuer: eduID, Subject: w.eid, DataType: "edu.degree", Claims: json.RawMessage(`{"name":"x"}`)}, credential.CodeSchema},
		"past valid_until": {credential.IssueRequest{Issuer: eduID, Subject: w.eid, DataType: "edu.degree", Claims: json.RawMessage(degreeRecord), ValidUntil: t0.Add(-time.Hour)}, "invalid"},
	}
	for name, c := range cases {
		if _, err := w.svc.Issue(w.ctx, c.req); routing.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	// A key the gateway holds that is not the department's active key on
	// the ledger signs nothing.
	w.keys.Put(eduID, eduID+"-k1", mustKey())
	if _, err := w.svc.Issue(w.ctx, credential.IssueRequest{Issuer: eduID, Subject: w.eid, DataType: "edu.degree", Claims: json.RawMessage(degreeRecord)}); routing.CodeOf(err) != "issuer_key_unavailable" {
		t.Errorf("foreign key: %v", err)
	}
	w.store.Fail = true
	w2 := newSvcWorld(t)
	w2.store.Fail = true
	if _, err := w2.svc.Issue(w2.ctx, credential.IssueRequest{Issuer: eduID, Subject: w2.eid, DataType: "edu.degree", Claims: json.RawMessage(degreeRecord)}); routing.KindOf(err) != routing.KindUnavailable {
		t.Errorf("database down: %v", err)
	}
	if routes, _ := w2.ledger.GetRoutes(w2.ctx, w2.eid, "edu.degree"); len(routes) != 0 {
		t.Errorf("a failed issue published a route")
	}
}

// Revocation, suspension and reinstatement go through the signed, anchored
// status lists, and every replica sees them once it applies the event.
func TestServiceStatus(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	w.invalidate()
	if r := w.verify(c.Token); !r.Valid {
		t.Fatalf("fresh: %s", r.Code)
	}
	steps := []struct {
		action string
		code   string
		valid  bool
	}{
		{credential.ActionSuspend, credential.CodeSuspended, false},
		{credential.ActionReinstate, credential.CodeVerified, true},
		{credential.ActionRevoke, credential.CodeRevoked, false},
	}
	for _, s := range steps {
		w.ledger.L.Advance(time.Minute)
		if _, err := w.svc.SetStatus(w.ctx, eduID, c.ID, s.action); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
		events := w.ledger.Events()
		found := false
		for _, cs := range events {
			for _, ch := range cs.Changes {
				found = found || (ch.Kind == model.KindStatusList && ch.Department == eduID)
			}
			_ = w.svc.Invalidate(w.ctx, cs)
		}
		if !found {
			t.Fatalf("%s: no status list event", s.action)
		}
		if r := w.verify(c.Token); r.Valid != s.valid || r.Code != s.code {
			t.Fatalf("after %s: %s", s.action, r.Code)
		}
	}
	if _, err := w.svc.SetStatus(w.ctx, eduID, c.ID, credential.ActionReinstate); routing.CodeOf(err) != "credential_revoked" {
		t.Fatalf("reinstating a revoked credential: %v", err)
	}
	if _, err := w.svc.SetStatus(w.ctx, "hrss", c.ID, credential.ActionRevoke); routing.CodeOf(err) != "credential_not_found" {
		t.Fatalf("another department revoking: %v", err)
	}
	a, _ := w.ledger.GetStatusListAnchor(w.ctx, eduID, c.Status[0].ListID)
	if a.Version != 2 {
		t.Fatalf("revocation list anchored at version %d", a.Version)
	}
}

// A key revoked on the ledger reaches the verifier through the cache once
// the department event is applied: the event is what makes every replica
// see it.
func TestServiceKeyRevocationReachesTheCache(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	w.invalidate()
	if r := w.verify(c.Token); !r.Valid { // caches the issuer DID document
		t.Fatalf("fresh: %s", r.Code)
	}
	w.ledger.RevokeKey(eduID, eduID+"-k1", "key file leaked")
	if r := w.verify(c.Token); !r.Valid {
		t.Fatalf("before the event is applied the cached document is used: %s", r.Code)
	}
	w.invalidate()
	if r := w.verify(c.Token); r.Valid || r.Code != credential.CodeIssuerKeyRevoked {
		t.Fatalf("after the event: %s", r.Code)
	}
	res, err := w.svc.ResolveIssuer(w.ctx, "did:eidgate:dept:edu-bureau")
	if err != nil {
		t.Fatalf("err = %v, want nil; resolution %+v %v", err, res, err)
	}
	if res.DIDDocument.VerificationMethod[0].Revoked == "" {
		t.Fatalf("res.DIDDocument.VerificationMethod[0].Revoked == \"\", want it different; resolution %+v %v", res, err)
	}
	if len(res.DIDDocument.AssertionMethod) != 0 {
		t.Fatalf("len(res.DIDDocument.AssertionMethod) = %v, want 0; resolution %+v %v", len(res.DIDDocument.AssertionMethod), res, err)
	}
	if _, err := w.svc.ResolveIssuer(w.ctx, "did:eidgate:0123"); routing.KindOf(err) != routing.KindInvalid {
		t.Fatalf("bad DID: %v", err)
	}
}

// A presentation for a verifier's challenge is recorded as an access once;
// a replay, a wrong audience or a forged one records nothing.
func TestServicePresentation(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	ch, err := w.svc.NewChallenge(w.ctx, "hrss", "employment")
	if err != nil {
		t.Fatalf("err = %v, want nil; challenge %+v %v", err, ch, err)
	}
	if ch.Audience != "did:eidgate:dept:hrss" {
		t.Fatalf("ch.Audience = %q, want \"did:eidgate:dept:hrss\"; challenge %+v %v", ch.Audience, ch, err)
	}
	p, err := w.svc.Present(w.ctx, credential.PresentRequest{EID: w.eid, CredentialID: c.ID, Disclose: []string{"degree", "institution"},
		Audience: ch.Audience, Nonce: ch.Nonce})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Present(w.ctx, credential.PresentRequest{EID: "did:eidgate:ffffffffffffffffffffffffffffffff", CredentialID: c.ID,
		Audience: ch.Audience, Nonce: ch.Nonce}); routing.CodeOf(err) != "credential_not_found" {
		t.Fatalf("someone else's credential: %v", err)
	}
	// Presented to civil affairs instead: refused, nothing recorded.
	other, _ := w.svc.NewChallenge(w.ctx, "hrss", "employment")
	r, err := w.svc.VerifyPresentation(w.ctx, credential.PresentationRequest{Verifier: "civil-affairs", Nonce: other.Nonce, Token: p})
	if err != nil {
		t.Fatalf("err = %v, want nil; wrong audience: %+v %v, %d records", err, r, err, w.access.Len())
	}
	if r.Valid {
		t.Fatalf("r.Valid is true; wrong audience: %+v %v, %d records", r, err, w.access.Len())
	}
	if w.access.Len() != 0 {
		t.Fatalf("w.access.Len() != 0; wrong audience: %+v %v, %d records", r, err, w.access.Len())
	}
	r, err = w.svc.VerifyPresentation(w.ctx, credential.PresentationRequest{Verifier: "hrss", Official: "li.hr", RequestID: "req-1", Nonce: ch.Nonce, Token: p})
	if err != nil {
		t.Fatalf("err = %v, want nil; presentation: %+v %v", err, r, err)
	}
	if !r.Valid {
		t.Fatalf("r.Valid is false; presentation: %+v %v", r, err)
	}
	if w.access.Len() != 1 {
		t.Fatalf("%d access records", w.access.Len())
	}
	rec := w.access.Records[0]
	if rec.Outcome != credential.OutcomePresentation {
		t.Fatalf("rec.Outcome = %v, want credential.OutcomePresentation; access record %+v", rec.Outcome, rec)
	}
	if rec.Requester != "hrss" {
		t.Fatalf("rec.Requester = %q, want \"hrss\"; access record %+v", rec.Requester, rec)
	}
	if rec.Provider != eduID {
		t.Fatalf("rec.Provider = %v, want eduID; access record %+v", rec.Provider, rec)
	}
	if rec.EID != w.eid {
		t.Fatalf("rec.EID = %v, want w.eid; access record %+v", rec.EID, rec)
	}
	if rec.Digest != c.Digest {
		t.Fatalf("rec.Digest = %v, want c.Digest; access record %+v", rec.Digest, rec)
	}
	if rec.Purpose != "employment" {
		t.Fatalf("rec.Purpose = %q, want \"employment\"; access record %+v", rec.Purpose, rec)
	}
	if rec.TicketID != "kb:"+r.SDHash {
		t.Fatalf("rec.TicketID = %v, want \"kb:\"+r.SDHash; access record %+v", rec.TicketID, rec)
	}
	if rec.LeafHash == "" {
		t.Fatalf("rec.LeafHash == \"\", want it different; access record %+v", rec)
	}
	if rec.Reason != "disclosed: degree,institution" {
		t.Fatalf("rec.Reason = %q, want \"disclosed: degree,institution\"; access record %+v", rec.Reason, rec)
	}
	if _, err := w.svc.VerifyPresentation(w.ctx, credential.PresentationRequest{Verifier: "hrss", Nonce: ch.Nonce, Token: p}); routing.CodeOf(err) != credential.CodeChallenge {
		t.Fatalf("replay: %v", err)
	}
	if w.access.Len() != 1 {
		t.Fatal("a replay was recorded")
	}
}

func TestServiceAsk(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	w.issue()
	r, token, err := w.svc.Ask(w.ctx, credential.AskRequest{Requester: "hrss", EID: w.eid, DataType: "edu.degree", PredicateID: "bachelor_or_higher", AccessID: "acc_1"})
	if err != nil {
		t.Fatalf("err = %v, want nil; ask: %+v %v", err, r, err)
	}
	if !r.Valid {
		t.Fatalf("r.Valid is false; ask: %+v %v", r, err)
	}
	if !r.Answer.Answer {
		t.Fatalf("r.Answer.Answer is false; ask: %+v %v", r, err)
	}
	if token == "" {
		t.Fatalf("token == \"\", want it different; ask: %+v %v", r, err)
	}
	if strings.Contains(string(r.Claims), "北京大学") {
		t.Fatalf("the answer carries the record: %s", r.Claims)
	}
	if _, _, err := w.svc.Ask(w.ctx, credential.AskRequest{Requester: "hrss", EID: w.eid, DataType: "edu.degree", PredicateID: "nope"}); routing.CodeOf(err) != credential.CodePredicateUnknown {
		t.Fatalf("unknown predicate: %v", err)
	}
	// The record changed since the provider's answer: it no longer names
	// the route's digest, and the gateway refuses to pass it on.
	stale := &staleAnswerer{inner: w.provider, w: w}
	svc, _ := credential.NewService(credential.Config{Ledger: w.ledger, Store: w.store, Access: w.access, Keys: w.keys, Holders: w.holders,
		Answers: stale, Cache: memCache(t), Clock: routing.ClockFunc(w.ledger.L.Now), BaseURL: base})
	if _, _, err := svc.Ask(w.ctx, credential.AskRequest{Requester: "hrss", EID: w.eid, DataType: "edu.degree", PredicateID: "bachelor_or_higher", AccessID: "acc_2"}); routing.CodeOf(err) != credential.CodeAnswerInvalid {
		t.Fatalf("stale answer: %v", err)
	}
}

// staleAnswerer answers, then a new credential supersedes the record.
type staleAnswerer struct {
	inner *credentialtest.Provider
	w     *svcWorld
}

func (s *staleAnswerer) Answer(ctx context.Context, q credential.Question) (string, error) {
	tok, err := s.inner.Answer(ctx, q)
	s.w.ledger.L.Advance(time.Second)
	s.w.issue()
	return tok, err
}

// The proof bundle lets anyone verify offline, with no ledger or gateway.
func TestServiceBundleVerifiesOffline(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	b, err := w.svc.Bundle(w.ctx, c.Token)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(credential.VerificationFile{Credential: c.Token, Bundle: b})
	var vf credential.VerificationFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	v := &credential.Verifier{Clock: routing.ClockFunc(w.ledger.L.Now)}
	r, err := v.Verify(w.ctx, vf.Bundle, credential.Request{Token: vf.Credential})
	if err != nil {
		t.Fatalf("err = %v, want nil; offline: %+v %v", err, r, err)
	}
	if !r.Valid {
		t.Fatalf("r.Valid is false; offline: %+v %v", r, err)
	}
	if len(b.StatusLists) != 2 || len(b.Anchors) != 1 || len(b.Issuers) != 1 {
		t.Fatalf("bundle %d lists %d anchors %d issuers", len(b.StatusLists), len(b.Anchors), len(b.Issuers))
	}
}

// memCache is an in-process cache for a test.
func memCache(t testing.TB) *cache.Memory {
	t.Helper()
	m, err := cache.NewMemory(cache.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
