package chaincode_test

import (
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

type consentEnv struct {
	*routeEnv
}

func newConsentEnv(t *testing.T) *consentEnv { return &consentEnv{newRouteEnv(t)} }

func (e *consentEnv) request(who *devcrypto.Identity, f func(*model.ConsentRequest)) model.Consent {
	req := model.ConsentRequest{EID: e.a, Requester: "hr", Provider: "edu", DataTypes: []string{"edu.degree"},
		PurposeCode: "hiring.verify", PurposeText: "核验学历", ValidUntil: "2026-06-01T00:00:00Z", MaxUses: 2}
	if f != nil {
		f(&req)
	}
	return decode[model.Consent](e.t, e.ok(who, model.FnRequestConsent, req))
}

func TestRequestConsent(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	r := e.ok(e.hr.User, model.FnRequestConsent, model.ConsentRequest{EID: e.a, Requester: "hr", Provider: "edu",
		DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T08:00:00+08:00"})
	cs := decode[model.Consent](t, r)
	if cs.ID != model.DeriveConsentID(r.TxID) {
		t.Fatalf("cs.ID = %v, want model.DeriveConsentID(r.TxID); consent: %+v", cs.ID, cs)
	}
	if cs.Status != model.ConsentRequested {
		t.Fatalf("cs.Status = %v, want model.ConsentRequested; consent: %+v", cs.Status, cs)
	}
	if cs.ValidFrom != "2026-03-01T09:00:00Z" {
		t.Fatalf("cs.ValidFrom = %q, want \"2026-03-01T09:00:00Z\"; consent: %+v", cs.ValidFrom, cs)
	}
	if cs.ValidUntil != "2026-06-01T00:00:00Z" {
		t.Fatalf("cs.ValidUntil = %q, want \"2026-06-01T00:00:00Z\"; consent: %+v", cs.ValidUntil, cs)
	}
	if cs.MaxUses != 0 {
		t.Fatalf("cs.MaxUses = %v, want 0; consent: %+v", cs.MaxUses, cs)
	}
	if cs.RequestedAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("cs.RequestedAt = %q, want \"2026-03-01T09:00:00Z\"; consent: %+v", cs.RequestedAt, cs)
	}
	want := model.Change{Kind: model.KindConsent, Op: model.OpRequested, ID: cs.ID, EID: e.a, Requester: "hr", Provider: "edu", DataType: "edu.degree"}
	if got := changes(t, r); len(got) != 1 {
		t.Fatalf("len(got) = %v, want 1; event: %+v", len(got), got)
	} else if got[0] != want {
		t.Fatalf("got[0] = %v, want want; event: %+v", got[0], got)
	}
	// The agent asks on a department's behalf, for any provider.
	any := e.request(e.agent, func(r *model.ConsentRequest) {
		r.Requester, r.Provider, r.DataTypes = "civil", model.ProviderAny, []string{"edu.degree", "hr.employment"}
	})
	if any.Provider != model.ProviderAny {
		t.Fatalf("any.Provider = %v, want model.ProviderAny; consent: %+v", any.Provider, any)
	}
	if len(any.DataTypes) != 2 {
		t.Fatalf("len(any.DataTypes) = %v, want 2; consent: %+v", len(any.DataTypes), any)
	}

	merged, into := e.newEID(7), e.newEID(8)
	e.ok(e.agent, model.FnMergeEID, merged, into, "dup")
	e.ok(e.admin, model.FnRegisterDataType, model.DataType{Code: "edu.old", Name: "旧", Schema: "{}", Owners: []string{"edu"}, Status: model.DataTypeRetired})
	base := model.ConsentRequest{EID: e.a, Requester: "hr", Provider: "edu", DataTypes: []string{"edu.degree"}, PurposeCode: "hiring.verify", ValidUntil: "2026-06-01T00:00:00Z"}
	with := func(f func(*model.ConsentRequest)) model.ConsentRequest { r := base; f(&r); return r }
	cases := []struct {
		name string
		who  *devcrypto.Identity
		req  model.ConsentRequest
		code model.Code
		want string
	}{
		{"other department", e.edu.User, base, model.CodeForbidden, "edu may not call RequestConsent for department hr"},
		{"admin", e.admin, base, model.CodeForbidden, "agent role"},
		{"provider not owner", e.hr.User, with(func(r *model.ConsentRequest) { r.DataTypes = []string{"hr.employment"} }), model.CodeInvalid, "department edu does not provide hr.employment"},
		{"unknown data type", e.hr.User, with(func(r *model.ConsentRequest) { r.DataTypes = []string{"edu.none"} }), model.CodeNotFound, "data_types[0]"},
		{"retired data type", e.hr.User, with(func(r *model.ConsentRequest) { r.DataTypes = []string{"edu.old"} }), model.CodeConflict, "edu.old is retired"},
		{"unknown provider", e.hr.User, with(func(r *model.ConsentRequest) { r.Provider = "tax" }), model.CodeNotFound, "tax is not registered"},
		{"past", e.hr.User, with(func(r *model.ConsentRequest) { r.ValidUntil = "2026-02-01T00:00:00Z" }), model.CodeInvalid, "valid_until must be in the future"},
		{"reversed window", e.hr.User, with(func(r *model.ConsentRequest) { r.ValidFrom = "2026-07-01T00:00:00Z" }), model.CodeInvalid, "after valid_from"},
		{"bad time", e.hr.User, with(func(r *model.ConsentRequest) { r.ValidUntil = "tomorrow" }), model.CodeInvalid, "valid_until must be an RFC 3339 time"},
		{"bad purpose", e.hr.User, with(func(r *model.ConsentRequest) { r.PurposeCode = "Hiring" }), model.CodeInvalid, "purpose_code"},
		{"no data types", e.hr.User, with(func(r *model.ConsentRequest) { r.DataTypes = nil }), model.CodeInvalid, "data_types"},
		{"merged eID", e.hr.User, with(func(r *model.ConsentRequest) { r.EID = merged }), model.CodeConflict, "merged into " + into},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(c.who, c.code, []string{c.want}, model.FnRequestConsent, c.req)
		})
	}
}

func TestConsentDecisions(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	cs := e.request(e.hr.User, nil)

	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnGrantConsent, cs.ID, "portal")
	e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnGrantConsent, cs.ID, "portal")
	e.fail(e.agent, model.CodeInvalid, []string{"method"}, model.FnGrantConsent, cs.ID, "Portal!")
	e.fail(e.agent, model.CodeInvalid, []string{"id is not a consent id"}, model.FnGrantConsent, "cs-1", "portal")
	e.fail(e.agent, model.CodeNotFound, []string{"does not exist"}, model.FnGrantConsent, model.DeriveConsentID("x"), "portal")
	e.fail(e.agent, model.CodeConflict, []string{"is requested, not active"}, model.FnRevokeConsent, cs.ID)

	r := e.ok(e.agent, model.FnGrantConsent, cs.ID, "portal")
	got := decode[model.Consent](t, r)
	if got.Status != model.ConsentActive {
		t.Fatalf("got.Status = %v, want model.ConsentActive; granted: %+v", got.Status, got)
	}
	if got.DecisionMethod != "portal" {
		t.Fatalf("got.DecisionMethod = %q, want \"portal\"; granted: %+v", got.DecisionMethod, got)
	}
	if got.DecidedBy != platformMSP+"/agent" {
		t.Fatalf("got.DecidedBy = %v, want platformMSP+\"/agent\"; granted: %+v", got.DecidedBy, got)
	}
	if got.DecidedAt == "" {
		t.Fatalf("got.DecidedAt == \"\", want it different; granted: %+v", got)
	}
	if ch := changes(t, r); len(ch) != 1 {
		t.Fatalf("len(ch) = %v, want 1; event: %+v", len(ch), ch)
	} else if ch[0] != (model.Change{Kind: model.KindConsent, Op: model.OpGranted, ID: cs.ID, EID: e.a, Requester: "hr", Provider: "edu", DataType: "edu.degree"}) {
		t.Fatalf("ch[0] = %v, want (model.Change{Kind: model.KindConsent, Op: model.OpGranted, ID: cs.ID, EID: e.a, Requester: \"hr\", Provider: \"edu\", DataType: \"edu.degree\"}); event: %+v", ch[0], ch)
	}
	if ok, why := got.Allows("hr", "edu", "edu.degree", "hiring.verify", e.l.Now()); !ok {
		t.Fatalf("granted consent refuses: %s", why)
	}
	e.fail(e.agent, model.CodeConflict, []string{"is active, not requested"}, model.FnGrantConsent, cs.ID, "portal")
	e.fail(e.agent, model.CodeConflict, []string{"is active, not requested"}, model.FnDenyConsent, cs.ID, "portal")

	r = e.ok(e.agent, model.FnRevokeConsent, cs.ID)
	got = decode[model.Consent](t, r)
	if got.Status != model.ConsentRevoked {
		t.Fatalf("got.Status = %v, want model.ConsentRevoked; revoked: %+v", got.Status, got)
	}
	if got.RevokedBy != platformMSP+"/agent" {
		t.Fatalf("got.RevokedBy = %v, want platformMSP+\"/agent\"; revoked: %+v", got.RevokedBy, got)
	}
	if got.RevokedAt == "" {
		t.Fatalf("got.RevokedAt == \"\", want it different; revoked: %+v", got)
	}
	if ok, _ := got.Allows("hr", "edu", "edu.degree", "hiring.verify", e.l.Now()); ok {
		t.Fatal("revoked consent allows")
	}
	e.fail(e.agent, model.CodeConflict, []string{"is revoked, not active"}, model.FnRevokeConsent, cs.ID)

	denied := e.request(e.agent, nil)
	got = decode[model.Consent](t, e.ok(e.agent, model.FnDenyConsent, denied.ID, "counter"))
	if got.Status != model.ConsentDenied {
		t.Fatalf("got.Status = %v, want model.ConsentDenied; denied: %+v", got.Status, got)
	}
	if got.DecisionMethod != "counter" {
		t.Fatalf("got.DecisionMethod = %q, want \"counter\"; denied: %+v", got.DecisionMethod, got)
	}
}

func TestConsentExpiry(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	short := e.request(e.hr.User, func(r *model.ConsentRequest) { r.ValidUntil = "2026-03-02T00:00:00Z" })
	active := e.request(e.hr.User, func(r *model.ConsentRequest) { r.ValidUntil = "2026-03-02T00:00:00Z" })
	e.ok(e.agent, model.FnGrantConsent, active.ID, "portal")
	long := e.request(e.hr.User, nil)
	e.ok(e.agent, model.FnGrantConsent, long.ID, "portal")
	denied := e.request(e.hr.User, func(r *model.ConsentRequest) { r.ValidUntil = "2026-03-02T00:00:00Z" })
	e.ok(e.agent, model.FnDenyConsent, denied.ID, "portal")

	// Not yet expired: nothing happens.
	r := e.ok(e.edu.User, model.FnExpireConsents, []string{short.ID, active.ID})
	if got := decode[[]string](t, r); len(got) != 0 || writes(r) != 0 {
		t.Fatalf("expired early: %v", got)
	}

	e.l.Advance(48 * time.Hour)
	e.fail(e.agent, model.CodeConflict, []string{"has expired"}, model.FnGrantConsent, short.ID, "portal")
	missing := model.DeriveConsentID("none")
	r = e.ok(e.nobody, model.FnExpireConsents, []string{short.ID, active.ID, long.ID, denied.ID, missing, short.ID})
	if got := decode[[]string](t, r); len(got) != 2 || got[0] != short.ID || got[1] != active.ID {
		t.Fatalf("expired: %v", got)
	}
	ch := changes(t, r)
	if len(ch) != 2 {
		t.Fatalf("len(ch) = %v, want 2; event: %+v", len(ch), ch)
	}
	if ch[0].Op != model.OpExpired {
		t.Fatalf("ch[0].Op = %v, want model.OpExpired; event: %+v", ch[0].Op, ch)
	}
	if ch[0].ID != short.ID {
		t.Fatalf("ch[0].ID = %v, want short.ID; event: %+v", ch[0].ID, ch)
	}
	if ch[1].ID != active.ID {
		t.Fatalf("ch[1].ID = %v, want active.ID; event: %+v", ch[1].ID, ch)
	}
	for id, want := range map[string]string{short.ID: model.ConsentExpired, active.ID: model.ConsentExpired, long.ID: model.ConsentActive, denied.ID: model.ConsentDenied} {
		if got := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, id)); got.Status != want {
			t.Errorf("%s: %s, want %s", id, got.Status, want)
		}
	}
	e.fail(e.agent, model.CodeInvalid, []string{"ids[0]"}, model.FnExpireConsents, []string{"x"})
	e.fail(e.agent, model.CodeInvalid, []string{"1 to 1000"}, model.FnExpireConsents, []string{})
}

func TestConsentReads(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	c1 := e.request(e.hr.User, nil)
	c2 := e.request(e.agent, func(r *model.ConsentRequest) { r.Requester, r.Provider = "civil", model.ProviderAny })
	c3 := e.request(e.hr.User, func(r *model.ConsentRequest) { r.EID = e.b })

	e.ok(e.hr.User, model.FnGetConsent, c1.ID)    // requester
	e.ok(e.edu.User, model.FnGetConsent, c1.ID)   // provider
	e.ok(e.admin, model.FnGetConsent, c1.ID)      // admin
	e.ok(e.civil.User, model.FnGetConsent, c2.ID) // requester of an any-provider consent
	e.fail(e.civil.User, model.CodeForbidden, []string{"neither requester nor provider"}, model.FnGetConsent, c1.ID)
	e.fail(e.edu.User, model.CodeForbidden, []string{"neither requester nor provider"}, model.FnGetConsent, c2.ID)
	e.fail(e.nobody, model.CodeForbidden, []string{model.AttrRole}, model.FnGetConsent, c1.ID)

	byEID := decode[[]model.Consent](t, e.ok(e.agent, model.FnListConsentsByEID, e.a))
	if len(byEID) != 2 {
		t.Fatalf("len(byEID) = %v, want 2; by eID: %+v", len(byEID), byEID)
	}
	if !(byEID[0].ID == c1.ID || byEID[1].ID == c1.ID) {
		t.Fatalf("(byEID[0].ID == c1.ID || byEID[1].ID == c1.ID) is false; by eID: %+v", byEID)
	}
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent or admin"}, model.FnListConsentsByEID, e.a)

	byReq := decode[[]model.Consent](t, e.ok(e.hr.User, model.FnListConsentsByRequester, "hr"))
	if len(byReq) != 2 {
		t.Fatalf("len(byReq) = %v, want 2; by requester: %+v", len(byReq), byReq)
	}
	if byReq[0].ID > byReq[1].ID {
		t.Fatalf("byReq[0].ID = %v, want <= byReq[1].ID; by requester: %+v", byReq[0].ID, byReq)
	}
	for _, c := range byReq {
		if c.ID != c1.ID && c.ID != c3.ID {
			t.Fatalf("by requester holds %s", c.ID)
		}
	}
	if got := decode[[]model.Consent](t, e.ok(e.admin, model.FnListConsentsByRequester, "edu")); len(got) != 0 {
		t.Fatalf("edu requested %+v", got)
	}
	e.fail(e.edu.User, model.CodeForbidden, []string{"edu may not call ListConsentsByRequester for department hr"}, model.FnListConsentsByRequester, "hr")
}
