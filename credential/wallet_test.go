package credential_test

import (
	"encoding/json"
	"testing"

	"github.com/eidgate/eidgate/credential"
)

// The wallet shows a credential in plain words: the issuer's and data
// type's names, each claim labelled from the schema, and the status the
// issuer set.
func TestServiceWalletInPlainWords(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	list, err := w.svc.Wallet(w.ctx, w.eid)
	if err != nil {
		t.Fatalf("err = %v, want nil; wallet %+v %v", err, list, err)
	}
	if len(list) != 1 {
		t.Fatalf("len(list) = %v, want 1; wallet %+v %v", len(list), list, err)
	}
	e := list[0]
	if e.ID != c.ID {
		t.Fatalf("e.ID = %v, want c.ID; entry %+v", e.ID, e)
	}
	if e.Status != credential.WalletValid {
		t.Fatalf("e.Status = %v, want credential.WalletValid; entry %+v", e.Status, e)
	}
	if e.TypeName != "学位证书" {
		t.Fatalf("e.TypeName = %q, want \"学位证书\"; entry %+v", e.TypeName, e)
	}
	if e.IssuerDID != "did:eidgate:dept:"+eduID {
		t.Fatalf("e.IssuerDID = %v, want \"did:eidgate:dept:\"+eduID; entry %+v", e.IssuerDID, e)
	}
	if e.ValidUntil.IsZero() {
		t.Fatalf("e.ValidUntil.IsZero() is true; entry %+v", e)
	}
	got := map[string]string{}
	for _, cl := range e.Claims {
		got[cl.Name] = cl.Value
	}
	if got["degree"] != "bachelor" {
		t.Fatalf("got[\"degree\"] = %q, want \"bachelor\"; claims %+v", got["degree"], e.Claims)
	}
	if got["institution"] != "北京大学" {
		t.Fatalf("got[\"institution\"] = %q, want \"北京大学\"; claims %+v", got["institution"], e.Claims)
	}
	if len(got) != 5 {
		t.Fatalf("len(got) = %v, want 5; claims %+v", len(got), e.Claims)
	}
	if _, err := w.svc.SetStatus(w.ctx, eduID, c.ID, credential.ActionSuspend); err != nil {
		t.Fatal(err)
	}
	one, err := w.svc.WalletCredential(w.ctx, w.eid, c.ID)
	if err != nil {
		t.Fatalf("err = %v, want nil; wallet credential %+v %v", err, one, err)
	}
	if one.Status != credential.WalletSuspended {
		t.Fatalf("one.Status = %v, want credential.WalletSuspended; wallet credential %+v %v", one.Status, one, err)
	}
	if one.Token != c.Token {
		t.Fatalf("one.Token = %v, want c.Token; wallet credential %+v %v", one.Token, one, err)
	}
	if one.Bundle == nil {
		t.Fatalf("one.Bundle is nil; wallet credential %+v %v", one, err)
	}
	if len(one.Bundle.StatusLists) != 2 {
		t.Fatalf("len(one.Bundle.StatusLists) = %v, want 2; wallet credential %+v %v", len(one.Bundle.StatusLists), one, err)
	}
	if _, err := w.svc.WalletCredential(w.ctx, "did:eidgate:ffffffffffffffffffffffffffffffff", c.ID); err == nil {
		t.Fatal("another resident read the credential")
	}
}

func TestClaimLabelsAndText(t *testing.T) {
	t.Parallel()
	labels := credential.ClaimLabels(`{"properties":{"degree":{"title":"学位","x-title-en":"Degree"},"gpa":{"type":"number"},"city":{"title":"城市"}}}`)
	if labels["degree"] != [2]string{"学位", "Degree"} || labels["gpa"] != [2]string{"gpa", "gpa"} || labels["city"] != [2]string{"城市", "city"} {
		t.Fatalf("labels %v", labels)
	}
	if len(credential.ClaimLabels("not json")) != 0 {
		t.Fatal("labels from a broken schema")
	}
	claims := map[string]json.RawMessage{"degree": json.RawMessage(`"bachelor"`), "gpa": json.RawMessage(`3.60`),
		"tags": json.RawMessage(`["a",1,true]`), "x": json.RawMessage(`{"k":1}`), "none": json.RawMessage(`null`)}
	out := credential.LabelClaims(claims, labels)
	want := []credential.WalletClaim{
		{Name: "degree", Label: "学位", LabelEN: "Degree", Value: "bachelor"},
		{Name: "gpa", Label: "gpa", LabelEN: "gpa", Value: "3.6"},
		{Name: "none", Label: "none", LabelEN: "none", Value: ""},
		{Name: "tags", Label: "tags", LabelEN: "tags", Value: "a, 1, true"},
		{Name: "x", Label: "x", LabelEN: "x", Value: `{"k":1}`},
	}
	if len(out) != len(want) {
		t.Fatalf("claims %+v", out)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("claim %d = %+v, want %+v", i, out[i], want[i])
		}
	}
}

// VerifyToken (the public verifier) checks a presentation's binding
// against the audience and nonce it carries when none are given, and
// against the given ones otherwise.
func TestServiceVerifyTokenForAnyone(t *testing.T) {
	t.Parallel()
	w := newSvcWorld(t)
	c := w.issue()
	ch, err := w.svc.NewChallenge(w.ctx, "hrss", "employment")
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.svc.Present(w.ctx, credential.PresentRequest{EID: w.eid, CredentialID: c.ID, Disclose: []string{"degree"}, Audience: ch.Audience, Nonce: ch.Nonce})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, aud, nonce, code string
	}{
		{"its own binding", "", "", "verified"},
		{"the right challenge", ch.Audience, ch.Nonce, "verified"},
		{"another nonce", ch.Audience, "n-other", "kb_nonce_mismatch"},
		{"another verifier", "did:eidgate:dept:civil-affairs", ch.Nonce, "kb_audience_mismatch"},
	} {
		r, err := w.svc.VerifyToken(w.ctx, p, tc.aud, tc.nonce)
		if err != nil {
			t.Errorf("err = %v, want nil; %s: %+v %v", err, tc.name, r, err)
		} else if r.Code != tc.code {
			t.Errorf("r.Code = %v, want tc.code; %s: %+v %v", r.Code, tc.name, r, err)
		} else if r.Kind != "presentation" {
			t.Errorf("r.Kind = %q, want \"presentation\"; %s: %+v %v", r.Kind, tc.name, r, err)
		}
	}
	if r, err := w.svc.VerifyToken(w.ctx, c.Token, "", ""); err != nil {
		t.Errorf("err = %v, want nil; credential: %+v %v", err, r, err)
	} else if !r.Valid {
		t.Errorf("r.Valid is false; credential: %+v %v", r, err)
	} else if r.Kind != "credential" {
		t.Errorf("r.Kind = %q, want \"credential\"; credential: %+v %v", r.Kind, r, err)
	}
	if w.access.Len() != 0 {
		t.Fatal("the public verifier recorded something")
	}
}
