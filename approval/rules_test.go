package approval_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// A standing rule created and revoked with the resident's passkey: the
// ledger records exactly the terms signed, the proof verifies offline and
// against the ledger, and every bent proof or answer is refused.
func TestSignedStandingRule(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		draft := routing.RuleDraft{Departments: []string{"hrss"}, DataTypes: []string{"edu.degree"}, PurposeCode: "employment",
			Note: "employers may check my degree", ValidUntil: e.clock.Now().Add(90 * 24 * time.Hour), MaxUses: 5}
		ch, err := e.svc.BeginRuleCreate(ctx, alice, draft)
		if err != nil {
			t.Fatal(err)
		}
		terms := ch.Statement.Terms.(model.RuleTerms)
		if ch.Statement.Type != model.StatementRuleCreate || terms.Rule != "" || terms.MaxUses != 5 || terms.ValidFrom == "" {
			t.Fatalf("statement: %+v", ch.Statement)
		}
		// Bob's passkey cannot answer a ceremony of Alice's.
		other, err := e.svc.BeginRuleCreate(ctx, alice, draft)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.FinishRuleCreate(ctx, bob, e.sign(bob, other, passkeytest.Options{})); err == nil {
			t.Fatal("bob finished alice's ceremony")
		}
		r, err := e.svc.FinishRuleCreate(ctx, alice, e.sign(alice, ch, passkeytest.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if r.Assurance != model.AssurancePasskey || r.Signature == nil || r.ValidFrom != terms.ValidFrom || r.MaxUses != 5 {
			t.Fatalf("rule: %+v", r)
		}
		// Replaying the same answer changes nothing.
		if _, err := e.svc.FinishRuleCreate(ctx, alice, e.sign(alice, ch, passkeytest.Options{})); routing.CodeOf(err) == "" {
			t.Fatalf("replay: %v", err)
		}
		if list, _ := e.rules.ListForResident(ctx, alice); len(list) != 1 {
			t.Fatalf("rules after a replay: %+v", list)
		}

		e.clock.Advance(time.Hour)
		rv, err := e.svc.BeginRuleRevoke(ctx, alice, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.FinishRuleRevoke(ctx, alice, model.DeriveRuleID("other"), e.sign(alice, rv, passkeytest.Options{})); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("another rule: %v", err)
		}
		if _, err := e.svc.FinishRuleRevoke(ctx, alice, r.ID, e.sign(alice, rv, passkeytest.Options{})); err != nil {
			t.Fatal(err)
		}

		p, err := e.svc.RuleProofForResident(ctx, alice, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RuleProofForResident(ctx, bob, r.ID); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("bob's proof of alice's rule: %v", err)
		}
		raw, _ := json.Marshal(p)
		parsed, err := approval.ParseRuleProof(raw)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.svc.VerifyRuleProof(ctx, parsed)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid || !rep.SignedByResident || !rep.Creation.Verified || rep.Revoke == nil || !rep.Revoke.Verified || !rep.Ledger.Matches {
			t.Fatalf("report: %+v %+v %+v %+v", rep, rep.Creation, rep.Revoke, rep.Ledger)
		}

		// Widened terms no longer match the signature, offline or on the
		// ledger.
		bent := *parsed
		bent.Rule.MaxUses = 0
		rep, err = e.svc.VerifyRuleProof(ctx, &bent)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Valid || rep.SignedByResident || rep.Creation.Reason != model.AssertionWrongChallenge || rep.Ledger.Matches {
			t.Fatalf("bent proof: %+v %+v %+v", rep, rep.Creation, rep.Ledger)
		}

		// A password-only rule is valid but not signed by the resident.
		pw, err := e.rules.Create(ctx, alice, draft)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := e.svc.RuleProof(ctx, pw.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep := approval.VerifyRule(pp); !rep.Valid || rep.SignedByResident || rep.Creation.Assurance != model.AssurancePassword {
			t.Fatalf("password-only: %+v %+v", rep, rep.Creation)
		}
		if _, err := approval.ParseRuleProof([]byte(`{"format":"eidgate-consent-proof/v1"}`)); !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("a consent proof parsed as a rule proof: %v", err)
		}
	})
}

func FuzzParseRuleProof(f *testing.F) {
	f.Add([]byte(`{"format":"eidgate-rule-proof/v1","rule":{"id":"sr-000000000000000000000000","eid":"did:eidgate:00000000000000000000000000000000","assurance":"passkey","signature":{}},"passkeys":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := approval.ParseRuleProof(raw)
		if err != nil {
			return
		}
		r := approval.VerifyRule(p)
		if r.SignedByResident && !r.Valid {
			t.Fatal("signed but not valid")
		}
	})
}
