package model_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

func TestConsentAllows(t *testing.T) {
	base := model.Consent{
		ID: model.DeriveConsentID("tx"), EID: model.DeriveEID("tx", 0), Requester: "hr", Provider: "edu",
		DataTypes: []string{"edu.degree", "edu.transcript"}, PurposeCode: "hiring.verify",
		ValidFrom: "2026-03-01T00:00:00Z", ValidUntil: "2026-04-01T00:00:00Z", MaxUses: 3, Uses: 2, Status: model.ConsentActive,
	}
	at := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	with := func(f func(*model.Consent)) model.Consent { c := base; f(&c); return c }
	cases := []struct {
		name      string
		c         model.Consent
		requester string
		provider  string
		dataType  string
		purpose   string
		at        time.Time
		reason    string
	}{
		{"allowed", base, "hr", "edu", "edu.transcript", "hiring.verify", at, ""},
		{"any provider", with(func(c *model.Consent) { c.Provider = model.ProviderAny }), "hr", "civil", "edu.degree", "hiring.verify", at, ""},
		{"unlimited", with(func(c *model.Consent) { c.MaxUses, c.Uses = 0, 1000 }), "hr", "edu", "edu.degree", "hiring.verify", at, ""},
		{"first second", base, "hr", "edu", "edu.degree", "hiring.verify", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"last second", base, "hr", "edu", "edu.degree", "hiring.verify", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), ""},
		{"requested", with(func(c *model.Consent) { c.Status = model.ConsentRequested }), "hr", "edu", "edu.degree", "hiring.verify", at, model.DenyNotActive},
		{"revoked", with(func(c *model.Consent) { c.Status = model.ConsentRevoked }), "hr", "edu", "edu.degree", "hiring.verify", at, model.DenyNotActive},
		{"expired status", with(func(c *model.Consent) { c.Status = model.ConsentExpired }), "hr", "edu", "edu.degree", "hiring.verify", at, model.DenyNotActive},
		{"other requester", base, "tax", "edu", "edu.degree", "hiring.verify", at, model.DenyWrongRequester},
		{"other provider", base, "hr", "civil", "edu.degree", "hiring.verify", at, model.DenyWrongProvider},
		{"other data type", base, "hr", "edu", "hr.salary", "hiring.verify", at, model.DenyDataType},
		{"other purpose", base, "hr", "edu", "edu.degree", "marketing", at, model.DenyPurpose},
		{"too early", base, "hr", "edu", "edu.degree", "hiring.verify", time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), model.DenyNotYetValid},
		{"too late", base, "hr", "edu", "edu.degree", "hiring.verify", time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC), model.DenyExpired},
		{"used up", with(func(c *model.Consent) { c.Uses = 3 }), "hr", "edu", "edu.degree", "hiring.verify", at, model.DenyUsesExhausted},
		{"unreadable window", with(func(c *model.Consent) { c.ValidUntil = "soon" }), "hr", "edu", "edu.degree", "hiring.verify", at, model.DenyBadWindow},
	}
	for _, c := range cases {
		ok, reason := c.c.Allows(c.requester, c.provider, c.dataType, c.purpose, c.at)
		if ok != (c.reason == "") || reason != c.reason {
			t.Errorf("%s: Allows = %v %q, want reason %q", c.name, ok, reason, c.reason)
		}
	}
}

func TestConsentRequestValidate(t *testing.T) {
	good := model.ConsentRequest{EID: model.DeriveEID("tx", 1), Requester: "hr", Provider: "*", DataTypes: []string{"edu.degree"},
		PurposeCode: "hiring.verify", PurposeText: "核验学历", ValidUntil: "2026-04-01T00:00:00+08:00"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good request: %v", err)
	}
	cases := []struct {
		f     func(*model.ConsentRequest)
		field string
	}{
		{func(r *model.ConsentRequest) { r.EID = "did:web:x" }, "eid"},
		{func(r *model.ConsentRequest) { r.Requester = "*" }, "requester"},
		{func(r *model.ConsentRequest) { r.Provider = "" }, "provider"},
		{func(r *model.ConsentRequest) { r.DataTypes = nil }, "data_types"},
		{func(r *model.ConsentRequest) { r.DataTypes = []string{"edu.degree", "edu.degree"} }, "data_types[1]"},
		{func(r *model.ConsentRequest) { r.DataTypes = []string{"EDU"} }, "data_types[0]"},
		{func(r *model.ConsentRequest) { r.PurposeCode = "x" }, "purpose_code"},
		{func(r *model.ConsentRequest) { r.PurposeText = "line\nbreak" }, "purpose_text"},
		{func(r *model.ConsentRequest) { r.PurposeText = strings.Repeat("字", model.MaxPurposeRunes+1) }, "purpose_text"},
		{func(r *model.ConsentRequest) { r.ValidFrom = "2026-13-01T00:00:00Z" }, "valid_from"},
		{func(r *model.ConsentRequest) { r.ValidUntil = "" }, "valid_until"},
		{func(r *model.ConsentRequest) { r.ValidFrom = "2026-04-01T00:00:00+08:00" }, "after valid_from"},
	}
	for i, c := range cases {
		r := good
		c.f(&r)
		err := r.Validate()
		if model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("case %d: %v, want INVALID naming %s", i, err, c.field)
		}
	}
}

func TestDerivedIDs(t *testing.T) {
	a, b := model.DeriveEID("tx1", 0), model.DeriveEID("tx1", 1)
	if a == b || a != model.DeriveEID("tx1", 0) || !model.ValidDID(a) || len(a) != len(model.DIDPrefix)+32 {
		t.Fatalf("eIDs %s %s", a, b)
	}
	// The item index cannot be confused with the transaction id.
	if model.DeriveEID("tx1", 11) == model.DeriveEID("tx11", 1) {
		t.Fatal("ambiguous derivation")
	}
	c := model.DeriveConsentID("tx1")
	if !model.ValidConsentID(c) || c == model.DeriveConsentID("tx2") || !strings.HasPrefix(c, "cs-") || len(c) != 27 {
		t.Fatalf("consent id %s", c)
	}
	for _, bad := range []string{"", "did:eidgate:", "did:eidgate:0123456789abcdef0123456789ABCDEF", "did:eidgate:0123456789abcdef0123456789abcde", "did:other:0123456789abcdef0123456789abcdef"} {
		if model.ValidDID(bad) {
			t.Errorf("ValidDID(%q)", bad)
		}
	}
	for _, bad := range []string{"cs-", "cs-0123456789abcdef0123456g", "xx-0123456789abcdef01234567", "cs-0123456789ABCDEF01234567"} {
		if model.ValidConsentID(bad) {
			t.Errorf("ValidConsentID(%q)", bad)
		}
	}
}
