package credential_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/credentialtest"
	"github.com/eidgate/eidgate/store/storetest"
)

// The whole life of a credential on the database store (SQLite and
// PostgreSQL): issue, verify, present once, suspend, reinstate, revoke.
func TestServiceOnDatabase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		t.Parallel()
		db := d.Open(t)
		holders, err := credential.NewSealedHolders(db, make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		w := &svcWorld{t: t, ctx: context.Background(), ledger: credentialtest.NewLedger(t, t0),
			access: &credentialtest.AccessLog{}, keys: credentialtest.NewKeys(), holders: holders}
		w.start(db)
		c := w.issue()
		w.invalidate()
		if r := w.verify(c.Token); !r.Valid {
			t.Fatalf("issued: %s", r.Code)
		}
		ch, err := w.svc.NewChallenge(w.ctx, "hrss", "employment")
		if err != nil {
			t.Fatal(err)
		}
		p, err := w.svc.Present(w.ctx, credential.PresentRequest{EID: w.eid, CredentialID: c.ID, Disclose: []string{"degree"}, Audience: ch.Audience, Nonce: ch.Nonce})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.svc.VerifyPresentation(w.ctx, credential.PresentationRequest{Verifier: "hrss", Nonce: ch.Nonce, Token: p}); err != nil {
			t.Fatalf("err = %v, want nil; presentation: %+v %v", err, r, err)
		} else if !r.Valid {
			t.Fatalf("r.Valid is false; presentation: %+v %v", r, err)
		}
		if _, err := w.svc.VerifyPresentation(w.ctx, credential.PresentationRequest{Verifier: "hrss", Nonce: ch.Nonce, Token: p}); err == nil {
			t.Fatal("replayed presentation accepted")
		}
		for _, step := range []struct{ action, code string }{
			{credential.ActionSuspend, credential.CodeSuspended},
			{credential.ActionReinstate, credential.CodeVerified},
			{credential.ActionRevoke, credential.CodeRevoked},
		} {
			w.ledger.L.Advance(time.Minute)
			if _, err := w.svc.SetStatus(w.ctx, eduID, c.ID, step.action); err != nil {
				t.Fatal(err)
			}
			w.invalidate()
			if r := w.verify(c.Token); r.Code != step.code {
				t.Fatalf("after %s: %s", step.action, r.Code)
			}
		}
		list, err := w.svc.Credentials(w.ctx, w.eid)
		if err != nil {
			t.Fatalf("err = %v, want nil; wallet %+v %v", err, list, err)
		}
		if len(list) != 1 {
			t.Fatalf("len(list) = %v, want 1; wallet %+v %v", len(list), list, err)
		}
		if !list[0].Revoked {
			t.Fatalf("list[0].Revoked is false; wallet %+v %v", list, err)
		}
		raw, _ := json.Marshal(list[0].Status)
		if len(list[0].Status) != 2 {
			t.Fatalf("status refs %s", raw)
		}
	})
}
