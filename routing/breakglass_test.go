package routing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

const seal = 30 * 24 * time.Hour

// withBreakGlass lets the police resolve edu.degree for a criminal
// investigation: the policy allows it and holds a break-glass grant.
func withBreakGlass(e *env) {
	e.policy.allow["hrss|edu.degree|criminal_investigation"] = true
	e.policy.breakGlass = map[string]routing.BreakGlassGrant{"hrss|edu.degree|criminal_investigation": {
		Subject: "hrss", DataType: "edu.degree", Purpose: "criminal_investigation", Seal: seal}}
}

func breakGlassRequest() routing.ResolveRequest {
	return routing.ResolveRequest{Requester: "hrss", Official: "officer-7", EID: eidAlice, DataType: "edu.degree",
		Purpose: "criminal_investigation", BreakGlass: true, LegalBasis: "Criminal Procedure Law art. 137; case 2026-0412"}
}

// TestBreakGlassResolvesWithoutConsentAndSealsTheRecord: with a grant the
// resolve succeeds with no consent; the durable record names the legal
// basis, is sealed for the grant's period and no consent request reaches
// the resident; the resident's log shows it only once the seal ends,
// by the time alone.
func TestBreakGlassResolvesWithoutConsentAndSealsTheRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withBreakGlass(e)
	ctx := context.Background()
	res, err := e.resolver.Resolve(ctx, breakGlassRequest())
	if err != nil {
		t.Fatalf("break-glass resolve: %v", err)
	}
	now := e.clock.Now()
	if !res.BreakGlass || !res.VisibleAfter.Equal(now.Add(seal)) || res.ConsentID != routing.BreakGlassTicketConsent {
		t.Fatalf("result = %+v", res)
	}
	rec, err := e.store.GetAccess(ctx, res.AccessID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != routing.OutcomeIssued || rec.LegalBasis != breakGlassRequest().LegalBasis || rec.ConsentID != "" ||
		rec.UseConsent || !rec.VisibleAfter.Equal(now.Add(seal)) || !strings.Contains(rec.Reason, "break-glass") {
		t.Fatalf("record = %+v", rec)
	}
	if iss := e.tickets.issued; len(iss) != 1 || iss[0].ConsentID != routing.BreakGlassTicketConsent || iss[0].AccessID != rec.ID {
		t.Fatalf("tickets = %+v", iss)
	}
	if cs, _ := e.ledger.ListConsentsByEID(ctx, eidAlice); len(cs) != 0 {
		t.Fatalf("a break-glass resolve opened consent requests: %+v", cs)
	}
	// The leaf commits to the legal basis and the end of the seal.
	if f := rec.LeafFields(); f[0] != routing.LeafFormatBreakGlass || f[14] != rec.LegalBasis || len(f) != 16 {
		t.Fatalf("leaf fields = %q", f)
	}

	access := must[*routing.AccessRecords](t)(routing.NewAccessRecords(routing.AccessRecordsConfig{Store: e.store, Anchorer: e.anchorer, Clock: e.clock}))
	e.anchorer.Step(ctx)
	visible := func() bool {
		recs, err := access.ForResident(ctx, eidAlice, routing.AccessFilter{})
		if err != nil {
			t.Fatal(err)
		}
		_, perr := access.Proof(ctx, eidAlice, rec.ID)
		if (perr == nil) != (len(recs) == 1) {
			t.Fatalf("log and proof disagree: %d records, proof error %v", len(recs), perr)
		}
		return len(recs) == 1
	}
	if visible() {
		t.Fatal("the resident sees a sealed break-glass access")
	}
	e.clock.Advance(seal - time.Second)
	if visible() {
		t.Fatal("the resident sees the access a second before its seal ends")
	}
	e.clock.Advance(time.Second)
	if !visible() {
		t.Fatal("the access is not shown once its seal has ended")
	}
	// Anchored with the batch's break-glass list.
	got, _ := e.store.GetAccess(ctx, rec.ID)
	if got.BatchID == "" {
		t.Fatal("not anchored")
	}
	if a, err := e.ledger.GetAnchor(ctx, got.BatchID); err != nil || len(a.BreakGlass) != 1 || a.BreakGlass[0] != rec.ID {
		t.Fatalf("anchor = %+v, %v", a, err)
	}
}

// fieldOf is the field a routing error names ("" for none).
func fieldOf(err error) string {
	var re *routing.Error
	if errors.As(err, &re) {
		return re.Field
	}
	return ""
}

// TestBreakGlassNeverBypassesPolicy: without a grant the request takes the
// consent path (403 consent_required, a request for the resident); a
// request the policy refuses is refused even when asked as break-glass.
func TestBreakGlassNeverBypassesPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.policy.allow["hrss|edu.degree|criminal_investigation"] = true // allowed, but no grant
	_, err := e.resolver.Resolve(ctx, breakGlassRequest())
	if routing.CodeOf(err) != "consent_required" {
		t.Fatalf("without a grant: %v, want consent_required", err)
	}
	if e.tickets.count() != 0 {
		t.Fatal("a ticket was issued without a grant")
	}
	recs, _ := e.store.ListAccess(ctx, routing.AccessFilter{BreakGlass: true})
	if len(recs) != 0 {
		t.Fatalf("a refused request was recorded as break-glass: %+v", recs)
	}

	e2 := newEnv(t)
	e2.policy.breakGlass = map[string]routing.BreakGlassGrant{"hrss|edu.degree|criminal_investigation": {Seal: seal}}
	_, err = e2.resolver.Resolve(ctx, breakGlassRequest())
	if routing.CodeOf(err) != "policy_denied" || e2.tickets.count() != 0 {
		t.Fatalf("policy refuses, grant present: %v", err)
	}
}

func TestBreakGlassRequestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withBreakGlass(e)
	for name, tc := range map[string]struct {
		edit        func(*routing.ResolveRequest)
		field, code string
	}{
		"no legal basis":     {func(r *routing.ResolveRequest) { r.LegalBasis = "" }, "break_glass.legal_basis", "legal_basis_required"},
		"blank legal basis":  {func(r *routing.ResolveRequest) { r.LegalBasis = "  \t" }, "break_glass.legal_basis", "legal_basis_required"},
		"too long":           {func(r *routing.ResolveRequest) { r.LegalBasis = strings.Repeat("法", routing.MaxLegalBasisRunes+1) }, "break_glass.legal_basis", "invalid"},
		"control characters": {func(r *routing.ResolveRequest) { r.LegalBasis = "art. 1\x00" }, "break_glass.legal_basis", "invalid"},
		"with a consent":     {func(r *routing.ResolveRequest) { r.ConsentID = "cs-0123456789abcdef01234567" }, "consent_id", "invalid"},
		"basis without flag": {func(r *routing.ResolveRequest) { r.BreakGlass = false }, "break_glass.legal_basis", "invalid"},
	} {
		req := breakGlassRequest()
		tc.edit(&req)
		_, err := e.resolver.Resolve(context.Background(), req)
		if !routing.IsKind(err, routing.KindInvalid) || fieldOf(err) != tc.field || routing.CodeOf(err) != tc.code {
			t.Errorf("%s: %v (field %q), want %s on %s", name, err, fieldOf(err), tc.code, tc.field)
		}
	}
	if e.tickets.count() != 0 {
		t.Fatal("a ticket was issued for a bad request")
	}
	// The longest legal basis allowed is taken.
	req := breakGlassRequest()
	req.LegalBasis = strings.Repeat("法", routing.MaxLegalBasisRunes)
	if _, err := e.resolver.Resolve(context.Background(), req); err != nil {
		t.Fatalf("legal basis of %d characters: %v", routing.MaxLegalBasisRunes, err)
	}
}

// TestBreakGlassReview: an auditor reviews a break-glass access once, with
// a note; other records cannot be reviewed.
func TestBreakGlassReview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	withBreakGlass(e)
	res, err := e.resolver.Resolve(ctx, breakGlassRequest())
	if err != nil {
		t.Fatal(err)
	}
	access := must[*routing.AccessRecords](t)(routing.NewAccessRecords(routing.AccessRecordsConfig{Store: e.store, Anchorer: e.anchorer, Clock: e.clock}))
	if _, err := access.Review(ctx, res.AccessID, "auditor-1", " "); fieldOf(err) != "note" {
		t.Fatalf("empty note: %v", err)
	}
	unreviewed := false
	if recs, _ := access.List(ctx, routing.AccessFilter{BreakGlass: true, Reviewed: &unreviewed}); len(recs) != 1 {
		t.Fatalf("unreviewed = %d, want 1", len(recs))
	}
	rec, err := access.Review(ctx, res.AccessID, "auditor-1", "warrant on file, scope matches")
	if err != nil || rec.ReviewedBy != "auditor-1" || !rec.ReviewedAt.Equal(e.clock.Now()) {
		t.Fatalf("review: %+v, %v", rec, err)
	}
	if _, err := access.Review(ctx, res.AccessID, "auditor-2", "again"); routing.CodeOf(err) != "break_glass_reviewed" {
		t.Fatalf("second review: %v", err)
	}
	if recs, _ := access.List(ctx, routing.AccessFilter{BreakGlass: true, Reviewed: &unreviewed}); len(recs) != 0 {
		t.Fatalf("unreviewed after review = %d", len(recs))
	}
	// An ordinary access is not a break-glass access to review.
	e.policy.allow["hrss|edu.degree|employment"] = true
	_, _ = e.resolver.Resolve(ctx, routing.ResolveRequest{Requester: "hrss", Official: "clerk", EID: eidAlice, DataType: "edu.degree", Purpose: "employment"})
	plain, _ := access.List(ctx, routing.AccessFilter{Purpose: "employment"})
	if len(plain) != 1 {
		t.Fatalf("plain records = %d", len(plain))
	}
	if _, err := access.Review(ctx, plain[0].ID, "auditor-1", "n/a"); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("review of a consent access: %v", err)
	}
}
