package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// A resident gets the anchoring proof of their own access records only;
// another's record is as missing as one that does not exist.
func TestAccessProofOfTheResidentsOwnRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	records := must[*routing.AccessRecords](t)(routing.NewAccessRecords(routing.AccessRecordsConfig{Store: e.store, Anchorer: e.anchorer}))
	rec := appendN(t, e, 1, routing.OutcomePolicyDenied, "")[0]

	if _, err := records.Proof(ctx, eidAlice, rec.ID); routing.CodeOf(err) != "not_anchored" {
		t.Errorf("proof before anchoring: %v, want not_anchored", err)
	}
	e.anchorer.Step(ctx)
	p, err := records.Proof(ctx, eidAlice, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Verified {
		t.Errorf("p.Verified is false; proof %+v, want a verified proof of %s with its transaction", p, rec.ID)
	} else if p.AccessID != rec.ID {
		t.Errorf("p.AccessID = %v, want rec.ID; proof %+v, want a verified proof of %s with its transaction", p.AccessID, p, rec.ID)
	} else if p.TxID == "" {
		t.Errorf("p.TxID == \"\", want it different; proof %+v, want a verified proof of %s with its transaction", p, rec.ID)
	}
	if len(p.LeafFields) == 0 || p.LeafFields[0] != rec.LeafFields()[0] {
		t.Errorf("leaf fields %v, want the record's %v", p.LeafFields, rec.LeafFields())
	}
	for name, c := range map[string]struct{ eid, id string }{
		"another resident's record":    {eidBob, rec.ID},
		"a record that does not exist": {eidAlice, "acc_" + hex64('0')[:32]},
	} {
		if _, err := records.Proof(ctx, c.eid, c.id); routing.CodeOf(err) != "not_found" {
			t.Errorf("%s: %v, want not_found", name, err)
		}
	}
	list, err := records.List(ctx, routing.AccessFilter{EID: eidAlice})
	if err != nil {
		t.Errorf("err = %v, want nil; List = %+v, %v; want the one record", err, list, err)
	} else if len(list) != 1 {
		t.Errorf("len(list) = %v, want 1; List = %+v, %v; want the one record", len(list), list, err)
	} else if list[0].ID != rec.ID {
		t.Errorf("list[0].ID = %v, want rec.ID; List = %+v, %v; want the one record", list[0].ID, list, err)
	}
}

// The consent state the explain endpoints show: the best consent of the
// resident for the department's request.
func TestConsentStateFor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	state := func() string {
		s, _ := e.consents.StateFor(ctx, eidAlice, "hrss", "edu.degree", "employment")
		return s
	}
	if got := state(); got != routing.ConsentStateNone {
		t.Errorf("without a consent: %s, want none", got)
	}
	c, err := e.consents.Request(ctx, "hrss", routing.ConsentDraft{EID: eidAlice, DataTypes: []string{"edu.degree"},
		PurposeCode: "employment", ValidUntil: e.clock.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, id := e.consents.StateFor(ctx, eidAlice, "hrss", "edu.degree", "employment"); got != "requested" || id != c.ID {
		t.Errorf("with a request: %s %s, want requested %s", got, id, c.ID)
	}
	if got, _ := e.consents.StateFor(ctx, eidAlice, "hrss", "edu.degree", "admission"); got != routing.ConsentStateNone {
		t.Errorf("for another purpose: %s, want none", got)
	}
	if _, err := e.consents.Grant(ctx, eidAlice, c.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != routing.ConsentStateActive {
		t.Errorf("granted: %s, want active", got)
	}
	if _, err := e.consents.Revoke(ctx, eidAlice, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != "revoked" {
		t.Errorf("revoked: %s, want revoked", got)
	}
}
