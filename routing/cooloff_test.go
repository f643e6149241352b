package routing_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// consentIDs are the ids of every consent of eid on the ledger.
func (e *env) consentIDs(t *testing.T, eid string) []string {
	t.Helper()
	cs, err := e.ledger.ListConsentsByEID(context.Background(), eid)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func asError(t *testing.T, err error) *routing.Error {
	t.Helper()
	var re *routing.Error
	if !errors.As(err, &re) {
		t.Fatalf("not a routing error: %v", err)
	}
	return re
}

// After a resident denies a request, the same department's next resolve
// for that data type and purpose answers 403 consent_denied and opens no
// new request, until the cool-off period is over.
func TestDenialCoolsOffResolve(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	first := asError(t, must2(e.resolver.Resolve(ctx, req(eidAlice))))
	if first.Code != "consent_required" {
		t.Fatalf("first resolve: %v", first)
	}
	id := first.Details["consent_id"]
	e.clock.Advance(time.Hour)
	if _, err := e.consents.Deny(ctx, eidAlice, id, "portal"); err != nil {
		t.Fatal(err)
	}
	deniedAt := e.clock.Now()
	e.clock.Advance(24 * time.Hour)

	for range 3 {
		_, err := e.resolver.Resolve(ctx, req(eidAlice))
		re := asError(t, err)
		want := deniedAt.Add(routing.DefaultConsentCoolOff).UTC().Format(time.RFC3339)
		if re.Kind != routing.KindForbidden || re.Code != "consent_denied" || re.Details["retry_after"] != want || re.Details["consent_id"] != id {
			t.Fatalf("resolve after the denial: %v %+v, want consent_denied retry_after %s", re, re.Details, want)
		}
	}
	if ids := e.consentIDs(t, eidAlice); len(ids) != 1 {
		t.Fatalf("the resident was asked again: consents %v", ids)
	}
	recs := e.store.Records()
	last := recs[len(recs)-1]
	if last.Outcome != routing.OutcomeConsentDenied || last.ConsentID != id {
		t.Fatalf("record %+v", last)
	}

	// Another purpose or another department is a different request.
	e.policy.allow["hrss|edu.degree|admission"] = true
	other := req(eidAlice)
	other.Purpose = "admission"
	if _, err := e.resolver.Resolve(ctx, other); routing.CodeOf(err) != "consent_required" {
		t.Fatalf("another purpose: %v", err)
	}

	// Once the period is over the department may ask again.
	e.clock.Advance(deniedAt.Add(routing.DefaultConsentCoolOff).Sub(e.clock.Now()))
	_, err := e.resolver.Resolve(ctx, req(eidAlice))
	if re := asError(t, err); re.Code != "consent_required" || re.Details["consent_id"] == id {
		t.Fatalf("after the cool-off: %v %+v", re, re.Details)
	}
}

func must2[T any](_ T, err error) error { return err }

func TestRevocationCoolsOffRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	id := e.grant(t, eidAlice, "hrss", "*", 0)
	if _, err := e.consents.Revoke(ctx, eidAlice, id); err != nil {
		t.Fatal(err)
	}
	draft := routing.ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
		PurposeText: "Degree check", ValidUntil: e.clock.Now().Add(24 * time.Hour)}
	_, err := e.consents.Request(ctx, "hrss", draft)
	re := asError(t, err)
	if re.Kind != routing.KindForbidden || re.Code != "consent_revoked" || re.Details["retry_after"] == "" {
		t.Fatalf("request after the revocation: %v %+v", re, re.Details)
	}
	if ids := e.consentIDs(t, eidAlice); len(ids) != 1 {
		t.Fatalf("consents %v", ids)
	}
	// The yes/no answer to a question about the record discloses less:
	// the department may still ask for it.
	q := draft
	q.DataTypes = []string{model.QuestionScope("edu.degree", "bachelor_or_higher")}
	if _, err := e.consents.Request(ctx, "hrss", q); err != nil {
		t.Fatalf("question after the revocation: %v", err)
	}
}

func TestCoolOffConfigurable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		coolOff time.Duration
		after   time.Duration
		code    string
	}{
		{"short period over", time.Hour, 2 * time.Hour, "consent_required"},
		{"short period running", time.Hour, 30 * time.Minute, "consent_denied"},
		{"turned off", -1, time.Minute, "consent_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.resolver = must[*routing.Resolver](t)(routing.NewResolver(routing.ResolverConfig{Dir: e.dir,
				Mapper: &fakeMapper{}, Policy: e.policy, Consents: e.ledger, Rules: e.ledger, AccessLog: e.log, Gate: openGate{},
				Tickets: e.tickets, Clock: e.clock, PseudonymKey: []byte("pseudonym key for the tests"), ConsentCoolOff: tc.coolOff}))
			id := asError(t, must2(e.resolver.Resolve(ctx, req(eidAlice)))).Details["consent_id"]
			if _, err := e.consents.Deny(ctx, eidAlice, id, "portal"); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tc.after)
			if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// A request the policy can never allow never reaches the resident.
func TestConsentRequestPolicyDenied(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, err := e.consents.Request(ctx, "hrss", routing.ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"},
		PurposeCode: "marketing", PurposeText: "Offers", ValidUntil: e.clock.Now().Add(24 * time.Hour)})
	re := asError(t, err)
	if re.Kind != routing.KindForbidden || re.Code != "policy_denied" || re.Details["policy_version"] != "7" {
		t.Fatalf("got %v %+v", re, re.Details)
	}
	if ids := e.consentIDs(t, eidAlice); len(ids) != 0 {
		t.Fatalf("consents %v", ids)
	}
	if n := e.consents.Waiting(ctx, eidAlice); n != 0 {
		t.Fatalf("inbox %d", n)
	}
}

func TestWaitingCountsOpenRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.resolver.Resolve(ctx, req(eidAlice)); routing.CodeOf(err) != "consent_required" {
		t.Fatal(err)
	}
	if n := e.consents.Waiting(ctx, eidAlice); n != 1 {
		t.Fatalf("waiting %d, want 1", n)
	}
	e.clock.Advance(31 * 24 * time.Hour) // the request's validity ended
	if n := e.consents.Waiting(ctx, eidAlice); n != 0 {
		t.Fatalf("waiting %d after the request expired, want 0", n)
	}
}

func TestFoldRefusals(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	rec := func(min int, requester, outcome string) routing.AccessRecord {
		return routing.AccessRecord{ID: requester + outcome + t0.Add(time.Duration(min)*time.Minute).Format("1504"),
			CreatedAt: t0.Add(time.Duration(min) * time.Minute), Requester: requester, DataType: "edu.degree", Purpose: "employment", Outcome: outcome}
	}
	// Newest first, as the resident's log lists them.
	recs := []routing.AccessRecord{
		rec(6, "hrss", routing.OutcomeConsentDenied),
		rec(5, "hrss", routing.OutcomeIssued),
		rec(4, "hrss", routing.OutcomeConsentDenied),
		rec(3, "edu-bureau", routing.OutcomeConsentRequired),
		rec(2, "hrss", routing.OutcomeConsentDenied),
		rec(1, "hrss", routing.OutcomeIssued),
		rec(0, "hrss", routing.OutcomeConsentRequired),
	}
	rows := routing.FoldRefusals(recs)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID+"×"+strconv.Itoa(r.Count)+"@"+r.FirstTime.Format("1504"))
	}
	want := []string{"hrssconsent_denied0906×3@0902", "hrssissued0905×1@0905", "edu-bureauconsent_required0903×1@0903",
		"hrssissued0901×1@0901", "hrssconsent_required0900×1@0900"}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rows %v, want %v", got, want)
		}
	}
}
