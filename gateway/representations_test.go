package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

// errorCodeOf is the code of an error answer.
func errorCodeOf(r reply) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	r.decode(&e)
	return e.Error.Code
}

// guardianFlow: an officer registers bob as alice's parent; bob, signed
// in, reads alice's requests and access log and decides them, signing
// with his own passkey; alice sees who acted. Refusals (someone else's
// ward, oneself, an overlapping relation, an ended relation) change
// nothing.
func guardianFlow(t *testing.T, w *world, officer *caller) {
	t.Helper()
	ctx := context.Background()
	relation := map[string]any{"ward": w.alice, "guardian": w.bob, "kind": "parent", "evidence_kind": "birth_certificate",
		"evidence_reference": "N123456789", "ward_birth_date": "2012-05-01"}
	reg := officer.call(post, "/v1/admin/representations", relation, http.StatusCreated)
	var rep model.Representation
	reg.decode(&rep)
	if rep.ValidUntil != "2030-04-30T16:00:00Z" || bytes.Contains(reg.body, []byte("N123456789")) || rep.Evidence.MaskedRef == "" {
		t.Errorf("registered relation = %s", reg.body)
	}
	for _, c := range []struct {
		change func(map[string]any)
		code   string
	}{
		{func(m map[string]any) {}, "representation_overlap"},
		{func(m map[string]any) { m["guardian"] = w.alice }, "representation_self"},
	} {
		body := map[string]any{}
		for k, v := range relation {
			body[k] = v
		}
		c.change(body)
		if got := errorCodeOf(officer.call(post, "/v1/admin/representations", body, http.StatusConflict)); got != c.code {
			t.Errorf("code = %q, want %q", got, c.code)
		}
	}
	var list struct {
		Representations []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"representations"`
	}
	officer.call(get, "/v1/admin/representations?ward="+esc(w.alice), nil, http.StatusOK).decode(&list)
	if len(list.Representations) != 1 || list.Representations[0].State != "valid" {
		t.Errorf("relations of alice = %+v, want the one relation (refusals changed nothing)", list.Representations)
	}
	officer.call(get, "/v1/admin/representations/"+rep.ID, nil, http.StatusOK)
	// The ward's date of birth from their resident ID: the document must be
	// the ward's, and bob, born in 1950 by his ID, is no minor.
	byDoc := map[string]any{"ward": w.bob, "guardian": w.alice, "kind": "parent", "evidence_kind": "birth_certificate",
		"evidence_reference": "N987654321", "ward_document": w.aliceDoc}
	if r := officer.call(post, "/v1/admin/representations", byDoc, http.StatusBadRequest); !bytes.Contains(r.body, []byte(`"field":"ward_document"`)) ||
		bytes.Contains(r.body, []byte(w.aliceDoc.Number)) {
		t.Errorf("another resident's ID as the ward's: %s", r.body)
	}
	byDoc["ward_document"] = w.bobDoc
	if got := errorCodeOf(officer.call(post, "/v1/admin/representations", byDoc, http.StatusConflict)); got != "representation_adult_ward" {
		t.Errorf("an adult ward by his ID: %q", got)
	}

	// A fresh code: the flow's clock may have outrun bob's first one.
	officer.call(post, "/v1/admin/eids/"+esc(w.bob)+"/activation-code", nil, http.StatusCreated)
	bob := w.residentSession(w.bob, w.bobDoc)
	bobKey := registerPasskey(t, bob, "/v1/me", passkeytest.ES256)
	bob.call(get, "/v1/me/wards", nil, http.StatusOK).decode(&list)
	if len(list.Representations) != 1 || list.Representations[0].ID != rep.ID {
		t.Errorf("bob's wards = %+v", list.Representations)
	}
	request := func(p string) string {
		c, err := w.ledger.RequestConsent(ctx, model.ConsentRequest{EID: w.alice, Requester: hrBureau, Provider: "*", DataTypes: []string{"edu.degree"},
			PurposeCode: p, PurposeText: "Degree check", ValidUntil: w.clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	first := request("guardian.first")
	ward := "/v1/me/wards/" + esc(w.alice)
	if l := bob.call(get, ward+"/consents", nil, http.StatusOK); !bytes.Contains(l.body, []byte(first)) {
		t.Errorf("alice's requests as bob sees them lack %s: %s", first, l.body)
	}
	bob.call(get, ward+"/access", nil, http.StatusOK)
	sign := func(id, action string) reply {
		var ch struct {
			Options requestOptions `json:"options"`
		}
		bob.call(post, ward+"/consents/"+id+"/"+action+"/options", nil, http.StatusOK).decode(&ch)
		return bob.call(post, ward+"/consents/"+id+"/"+action, assertion(t, bobKey, ch.Options.PublicKey.Challenge, passkeytest.Options{}), http.StatusOK)
	}
	var granted model.Consent
	sign(first, "grant").decode(&granted)
	if granted.Status != model.ConsentActive || granted.DecidedByGuardian != w.bob || granted.DecidedUnder != rep.ID ||
		granted.GrantSignature == nil || granted.GrantSignature.Signer != w.bob {
		t.Errorf("granted by bob = %+v", granted)
	}
	// The consent's proof names bob and verifies, offline and on the ledger.
	var report struct {
		Valid            bool   `json:"valid"`
		SignedByGuardian bool   `json:"signed_by_guardian"`
		Guardian         string `json:"guardian"`
	}
	proof := officer.w.admin("auditor").call(get, "/v1/admin/consents/"+first+"/proof", nil, http.StatusOK)
	w.anonymous().call(post, "/v1/consent-proofs/verify", proof.body, http.StatusOK).decode(&report)
	if !report.Valid || !report.SignedByGuardian || report.Guardian != w.bob {
		t.Errorf("proof report = %+v", report)
	}
	sign(first, "revoke")
	second := request("guardian.second")
	bob.call(post, ward+"/consents/"+second+"/deny", nil, http.StatusOK)

	// alice is not bob's guardian: bob's requests do not exist for her.
	alice := w.signIn("/v1/me/login", map[string]any{"document": w.aliceDoc, "password": "a long passphrase"})
	alice.call(get, "/v1/me/guardians", nil, http.StatusOK).decode(&list)
	if len(list.Representations) != 1 {
		t.Errorf("alice's guardians = %+v", list.Representations)
	}
	alice.call(get, "/v1/me/wards/"+esc(w.bob)+"/consents", nil, http.StatusNotFound)

	// Ended, the relation lets bob do nothing more; nothing changes.
	officer.call(post, "/v1/admin/representations/"+rep.ID+"/end", map[string]string{"reason": "custody transferred"}, http.StatusOK)
	third := request("guardian.third")
	if got := errorCodeOf(bob.call(post, ward+"/consents/"+third+"/deny", nil, http.StatusForbidden)); got != "representation_expired" {
		t.Errorf("deny under an ended relation: %q", got)
	}
	bob.call(get, ward+"/consents", nil, http.StatusForbidden)
	if c, _ := w.ledger.GetConsent(ctx, third); c.Status != model.ConsentRequested {
		t.Errorf("a refused guardian changed the consent: %+v", c)
	}
}
