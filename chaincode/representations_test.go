package chaincode_test

import (
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
)

func evidence() model.RepresentationEvidence {
	return model.RepresentationEvidence{Kind: "birth_certificate", HashedRef: "v1:" + digest("N123456789")[7:], MaskedRef: "N1******89"}
}

// parentOf registers guardian as the parent of ward, born on birth.
func (e *consentEnv) parentOf(ward, guardian, birth string) model.Representation {
	return decode[model.Representation](e.t, e.ok(e.agent, model.FnRegisterRepresentation, model.RepresentationDraft{
		Ward: ward, Guardian: guardian, Kind: model.RepresentationParent, Evidence: evidence(),
		WardBirthDate: birth, Officer: "officer.li"}))
}

// approveAs signs statement kind over the ward's consent cs as guardian
// under relation rep.
func approveAs(t testingT, kind string, cs model.Consent, guardian, rep string, c *passkeytest.Credential, n string) model.PasskeyApproval {
	d, err := model.GuardianConsentStatement(kind, cs, guardian, n, rep).Digest()
	if err != nil {
		t.Fatal(err)
	}
	a := c.Assert(rpID, origin, d[:], passkeytest.Options{}).Approval(model.PasskeyMethodID(guardian, c.KeyID()), n)
	a.Representation = rep
	return a
}

func TestRegisterRepresentation(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	r := e.ok(e.agent, model.FnRegisterRepresentation, model.RepresentationDraft{Ward: e.a, Guardian: e.b,
		Kind: model.RepresentationParent, Evidence: evidence(), WardBirthDate: "2010-06-15", Officer: "officer.li"})
	rep := decode[model.Representation](t, r)
	// Born 2010-06-15 (UTC+8): of age at 2028-06-15T00:00+08:00.
	if rep.ID != model.DeriveRepresentationID(r.TxID) || rep.Status != model.RepresentationActive ||
		rep.ValidFrom != "2026-03-01T09:00:00Z" || rep.ValidUntil != "2028-06-14T16:00:00Z" || rep.RegisteredBy != "officer.li" {
		t.Fatalf("relation: %+v", rep)
	}
	if got := changes(t, r); len(got) != 1 || got[0] != (model.Change{Kind: model.KindRepresentation, Op: model.OpRegistered, ID: rep.ID, EID: e.a, Value: e.b}) {
		t.Fatalf("event: %+v", got)
	}
	for _, fn := range []string{model.FnListRepresentationsByWard, model.FnListRepresentationsByGuardian} {
		eid := e.a
		if fn == model.FnListRepresentationsByGuardian {
			eid = e.b
		}
		if list := decode[[]model.Representation](t, e.ok(e.agent, fn, eid)); len(list) != 1 || list[0].ID != rep.ID {
			t.Fatalf("%s: %+v", fn, list)
		}
	}
	if got := decode[model.Representation](t, e.ok(e.admin, model.FnGetRepresentation, rep.ID)); got.Ward != e.a {
		t.Fatalf("get: %+v", got)
	}
	// A later relation of another kind, after this one ends, does not overlap.
	later := e.ok(e.agent, model.FnRegisterRepresentation, model.RepresentationDraft{Ward: e.a, Guardian: e.b,
		Kind: model.RepresentationGuardian, Evidence: evidence(), ValidFrom: "2028-06-14T16:00:00Z", ValidUntil: "2030-01-01T00:00:00Z", Officer: "officer.li"})
	if decode[model.Representation](t, later).ValidFrom != "2028-06-14T16:00:00Z" {
		t.Fatalf("later: %s", text(later))
	}

	c := e.newEID(3)
	base := model.RepresentationDraft{Ward: c, Guardian: e.b, Kind: model.RepresentationGuardian, Evidence: evidence(),
		ValidUntil: "2027-01-01T00:00:00Z", Officer: "officer.li"}
	with := func(f func(*model.RepresentationDraft)) model.RepresentationDraft { d := base; f(&d); return d }
	for _, tc := range []struct {
		name  string
		draft model.RepresentationDraft
		code  model.Code
		want  string
	}{
		{"oneself", with(func(d *model.RepresentationDraft) { d.Guardian = c }), model.CodeConflict, "representation_self"},
		{"overlapping", model.RepresentationDraft{Ward: e.a, Guardian: e.b, Kind: model.RepresentationAgent, Evidence: evidence(),
			ValidUntil: "2027-01-01T00:00:00Z", Officer: "officer.li"}, model.CodeConflict, "representation_overlap"},
		{"adult ward", with(func(d *model.RepresentationDraft) {
			d.Kind, d.WardBirthDate, d.ValidUntil = model.RepresentationParent, "2008-03-01", ""
		}), model.CodeConflict, "representation_adult_ward"},
		{"parent without birth date", with(func(d *model.RepresentationDraft) { d.Kind = model.RepresentationParent }), model.CodeInvalid, "ward_birth_date"},
		{"guardian without end", with(func(d *model.RepresentationDraft) { d.ValidUntil = "" }), model.CodeInvalid, "valid_until"},
		{"past end", with(func(d *model.RepresentationDraft) { d.ValidUntil = "2026-02-01T00:00:00Z" }), model.CodeInvalid, "valid_until"},
		{"plain evidence", with(func(d *model.RepresentationDraft) { d.Evidence.HashedRef = "N123456789" }), model.CodeInvalid, "hashed_ref"},
		{"unknown kind", with(func(d *model.RepresentationDraft) { d.Kind = "friend" }), model.CodeInvalid, "kind"},
		{"unknown ward", with(func(d *model.RepresentationDraft) { d.Ward = "did:eidgate:" + digest("x")[7:39] }), model.CodeNotFound, "does not exist"},
		{"no officer", with(func(d *model.RepresentationDraft) { d.Officer = "" }), model.CodeInvalid, "officer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.fail(e.agent, tc.code, []string{tc.want}, model.FnRegisterRepresentation, tc.draft)
		})
	}
	e.t = t
	// Departments neither register nor read relations.
	e.fail(e.hr.User, model.CodeForbidden, []string{"requires"}, model.FnRegisterRepresentation, base)
	if r := e.evaluate(e.hr.User, model.FnListRepresentationsByWard, e.a); r.Response.GetStatus() < 400 {
		t.Fatalf("a department read relations: %s", text(r))
	}

	// Ended, it stays listed and cannot be ended twice.
	ended := decode[model.Representation](t, e.ok(e.agent, model.FnEndRepresentation, rep.ID, "court order revoked custody", "officer.wang"))
	if ended.Status != model.RepresentationEnded || ended.EndedBy != "officer.wang" || ended.EndedAt == "" {
		t.Fatalf("ended: %+v", ended)
	}
	e.fail(e.agent, model.CodeConflict, []string{"is ended"}, model.FnEndRepresentation, rep.ID, "again", "officer.wang")
	e.fail(e.agent, model.CodeInvalid, []string{"reason"}, model.FnEndRepresentation, decode[model.Representation](t, later).ID, "", "officer.wang")
}

func TestGuardianDecidesForWard(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	ward, guardian, stranger := e.a, e.b, e.newEID(3)
	gc, gpk := e.addPasskey(guardian, passkeytest.ES256)
	sc, _ := e.addPasskey(stranger, passkeytest.ES256)
	rep := e.parentOf(ward, guardian, "2012-05-01")
	cs := e.request(e.hr.User, nil)
	e.l.Advance(time.Minute)

	// A guardian's key without a relation, a relation of someone else, a
	// resident naming a relation: refused, nothing changes.
	plain := approve(t, model.StatementConsentGrant, cs, guardian, gc, nonce("g0"), passkeytest.Options{})
	e.fail(e.agent, model.CodeForbidden, []string{model.AssertionKeyOfOtherSigner}, model.FnGrantConsentSigned, cs.ID, plain)
	e.fail(e.agent, model.CodeForbidden, []string{"representation_other"}, model.FnGrantConsentSigned, cs.ID,
		approveAs(t, model.StatementConsentGrant, cs, stranger, rep.ID, sc, nonce("s1")))
	// The signature covers the relation: another relation id is refused.
	other := approveAs(t, model.StatementConsentGrant, cs, guardian, rep.ID, gc, nonce("g1"))
	other.Representation = model.DeriveRepresentationID("elsewhere")
	e.fail(e.agent, model.CodeNotFound, []string{"does not exist"}, model.FnGrantConsentSigned, cs.ID, other)

	a := approveAs(t, model.StatementConsentGrant, cs, guardian, rep.ID, gc, nonce("g2"))
	got := decode[model.Consent](t, e.ok(e.agent, model.FnGrantConsentSigned, cs.ID, a))
	sig := got.GrantSignature
	if got.Status != model.ConsentActive || got.DecidedByGuardian != guardian || got.DecidedUnder != rep.ID ||
		sig == nil || sig.Signer != guardian || sig.Representation != rep.ID || got.GrantAssurance != model.AssurancePasskey {
		t.Fatalf("granted by the guardian: %+v %+v", got, sig)
	}
	// Anyone rebuilds the guardian's statement from the ledger's record.
	st := model.GuardianConsentStatement(model.StatementConsentGrant, got, sig.Signer, sig.Nonce, sig.Representation)
	if _, err := model.CheckApproval(gpk, st, sig.Approval(), sig.SignedAt); err != nil {
		t.Fatalf("stored guardian grant does not verify: %v", err)
	}

	// Deny under the relation records the guardian.
	cs2 := e.request(e.hr.User, func(r *model.ConsentRequest) { r.PurposeCode = "hiring.other" })
	e.fail(e.agent, model.CodeForbidden, []string{"representation_other"}, model.FnDenyConsentForWard, cs2.ID, rep.ID, stranger)
	denied := decode[model.Consent](t, e.ok(e.agent, model.FnDenyConsentForWard, cs2.ID, rep.ID, guardian))
	if denied.Status != model.ConsentDenied || denied.DecidedByGuardian != guardian || denied.DecidedUnder != rep.ID {
		t.Fatalf("denied: %+v", denied)
	}

	// At the ward's 18th birthday the relation expires without anyone
	// acting: the guardian can no longer revoke, the ward still can.
	e.l.SetTime(time.Date(2030, 4, 30, 16, 0, 0, 0, time.UTC))
	e.fail(e.agent, model.CodeForbidden, []string{model.RepresentationExpired}, model.FnRevokeConsentSigned, cs.ID,
		approveAs(t, model.StatementConsentRevoke, got, guardian, rep.ID, gc, nonce("g3")))
	cs3 := e.request(e.hr.User, func(r *model.ConsentRequest) { r.PurposeCode = "hiring.third"; r.ValidUntil = "2031-01-01T00:00:00Z" })
	e.fail(e.agent, model.CodeForbidden, []string{model.RepresentationExpired}, model.FnDenyConsentForWard, cs3.ID, rep.ID, guardian)
	e.l.SetTime(time.Date(2030, 4, 30, 15, 59, 0, 0, time.UTC))
	rv := decode[model.Consent](t, e.ok(e.agent, model.FnRevokeConsentSigned, cs.ID, approveAs(t, model.StatementConsentRevoke, got, guardian, rep.ID, gc, nonce("g4"))))
	if rv.Status != model.ConsentRevoked || rv.RevokedByGuardian != guardian || rv.RevokedUnder != rep.ID || rv.RevokeSignature.Representation != rep.ID {
		t.Fatalf("revoked by the guardian: %+v", rv)
	}

	// An ended relation refuses at once.
	e.ok(e.agent, model.FnEndRepresentation, rep.ID, "custody transferred", "officer.li")
	e.fail(e.agent, model.CodeForbidden, []string{model.RepresentationEndedReason}, model.FnDenyConsentForWard, cs3.ID, rep.ID, guardian)

	// The ward signs for themselves naming no relation.
	wc, _ := e.addPasskey(ward, passkeytest.ES256)
	own := approve(t, model.StatementConsentGrant, cs3, ward, wc, nonce("w1"), passkeytest.Options{})
	own.Representation = rep.ID
	e.fail(e.agent, model.CodeInvalid, []string{"names no representation"}, model.FnGrantConsentSigned, cs3.ID, own)
}
