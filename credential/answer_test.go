package credential_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// The provider answers a catalogued predicate from its record, after
// checking the record against the route digest; the answer verifies and
// holds no record content.
func TestAnswerPredicate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	salt := digest.NewSalt()
	d, err := digest.Compute([]byte(degreeRecord), salt)
	if err != nil {
		t.Fatal(err)
	}
	st := model.RouteStatement{EID: subject, DataType: "edu.degree", Provider: eduID, Version: 1, Digest: d, Schema: "edu.degree/1"}
	signed, err := credential.SignRoute(w.signer("k1"), st)
	if err != nil {
		t.Fatal(err)
	}
	route := model.RouteEntry{EID: subject, DataType: "edu.degree", Provider: eduID, Version: 1, Digest: d, Schema: st.Schema,
		KID: "k1", Signature: signed.Signature, Status: model.RouteValid, PublishedAt: model.FormatTime(w.now), TxID: "tx-1"}
	w.bundle.Anchors = []credential.AnchorProof{{Route: route}}
	tpl := credential.AnswerTemplate{Subject: subject, DataType: degreeType, PredicateID: "bachelor_or_higher", Route: route,
		Record: json.RawMessage(degreeRecord), Salt: digest.EncodeSalt(salt), Audience: "did:eidgate:dept:hrss", AccessID: "acc_0123", At: w.now}

	ans, err := credential.AnswerPredicate(w.signer("k1"), tpl)
	if err != nil {
		t.Fatalf("err = %v, want nil; answer %+v, %v", err, ans, err)
	}
	if !ans.Answer {
		t.Fatalf("ans.Answer is false; answer %+v, %v", ans, err)
	}
	r := verify(t, w, credential.Request{Token: ans.Token})
	if !r.Valid {
		t.Fatalf("r.Valid is false; verified answer: %+v %+v", r.Answer, r.Checks)
	}
	if r.Answer == nil {
		t.Fatalf("r.Answer is nil; verified answer: %+v %+v", r.Answer, r.Checks)
	}
	if !r.Answer.Answer {
		t.Fatalf("r.Answer.Answer is false; verified answer: %+v %+v", r.Answer, r.Checks)
	}
	if r.Answer.PredicateID != "bachelor_or_higher" {
		t.Fatalf("r.Answer.PredicateID = %q, want \"bachelor_or_higher\"; verified answer: %+v %+v", r.Answer.PredicateID, r.Answer, r.Checks)
	}
	if r.Answer.Digest != d {
		t.Fatalf("r.Answer.Digest = %v, want d; verified answer: %+v %+v", r.Answer.Digest, r.Answer, r.Checks)
	}
	if r.Answer.Audience != "did:eidgate:dept:hrss" {
		t.Fatalf("r.Answer.Audience = %q, want \"did:eidgate:dept:hrss\"; verified answer: %+v %+v", r.Answer.Audience, r.Answer, r.Checks)
	}
	if r.Answer.AccessID != "acc_0123" {
		t.Fatalf("r.Answer.AccessID = %q, want \"acc_0123\"; verified answer: %+v %+v", r.Answer.AccessID, r.Answer, r.Checks)
	}
	if r.Anchor == nil {
		t.Fatalf("r.Anchor is nil; verified answer: %+v %+v", r.Answer, r.Checks)
	}
	if containsAny(string(r.Claims), "王小明", "北京大学", "计算机") {
		t.Fatalf("the answer carries record content: %s", r.Claims)
	}

	no := tpl
	no.PredicateID = "graduated_before_2010"
	if a, err := credential.AnswerPredicate(w.signer("k1"), no); err != nil {
		t.Fatalf("err = %v, want nil; no: %+v %v", err, a, err)
	} else if a.Answer {
		t.Fatalf("a.Answer is true; no: %+v %v", a, err)
	}
	cases := map[string]struct {
		edit func(*credential.AnswerTemplate)
		code string
	}{
		"unknown predicate": {func(a *credential.AnswerTemplate) { a.PredicateID = "is_rich" }, credential.CodePredicateUnknown},
		"not applicable":    {func(a *credential.AnswerTemplate) { a.PredicateID = "has_gpa" }, credential.CodeNotApplicable},
		"wrong salt":        {func(a *credential.AnswerTemplate) { a.Salt = digest.EncodeSalt(digest.NewSalt()) }, credential.CodeSourceMismatch},
		"altered record": {func(a *credential.AnswerTemplate) {
			a.Record = json.RawMessage(`{"name":"王小明","degree":"doctor","major":"x","institution":"y","awarded":"2012-07-01"}`)
		}, credential.CodeSourceMismatch},
		"revoked route": {func(a *credential.AnswerTemplate) { a.Route.Status = model.RouteRevoked }, credential.CodeSourceMismatch},
		"another resident": {func(a *credential.AnswerTemplate) {
			a.Subject = "did:eidgate:ffffffffffffffffffffffffffffffff"
		}, credential.CodeSourceMismatch},
	}
	for name, c := range cases {
		bad := tpl
		c.edit(&bad)
		if _, err := credential.AnswerPredicate(w.signer("k1"), bad); routing.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}

	// An answer computed from a route entry that the ledger does not hold
	// (the record changed since) fails its anchor check.
	w.bundle.Anchors = nil
	if r := verify(t, w, credential.Request{Token: ans.Token}); r.Valid || r.Code != credential.CodeAnchorMissing {
		t.Fatalf("unanchored answer: %s", r.Code)
	}
}

// A credential route's record is the credential: the provider answers from
// it after checking its digest against the route.
func TestAnswerFromCredential(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issue("k1", nil)
	route := w.bundle.Anchors[0].Route
	a, err := credential.AnswerPredicate(w.signer("k1"), credential.AnswerTemplate{Subject: subject, DataType: degreeType,
		PredicateID: "bachelor_or_higher", Route: route, Credential: iss.Token, At: w.now})
	if err != nil {
		t.Fatalf("err = %v, want nil; %+v %v", err, a, err)
	}
	if !a.Answer {
		t.Fatalf("a.Answer is false; %+v %v", a, err)
	}
	other := w.issue("k1", nil)
	if _, err := credential.AnswerPredicate(w.signer("k1"), credential.AnswerTemplate{Subject: subject, DataType: degreeType,
		PredicateID: "bachelor_or_higher", Route: route, Credential: other.Token, At: w.now}); routing.CodeOf(err) != credential.CodeSourceMismatch {
		t.Fatalf("another credential: %v", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
