package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

// A key's lifecycle times come from the transactions that changed it; what a
// caller sends is ignored. Retired keys stay assertion methods of the
// issuer DID, revoked ones are flagged and leave them.
func TestSigningKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.newDept("edu")
	rec := edu.record()
	rec.SigningKeys[0].ValidFrom = "2001-01-01T00:00:00Z" // ignored
	rec.SigningKeys[0].RevokedAt = "2001-01-01T00:00:00Z" // ignored
	got := decode[model.Department](t, e.ok(e.admin, model.FnRegisterDepartment, rec))
	if k := got.SigningKeys[0]; k.ValidFrom != "2026-03-01T09:00:00Z" {
		t.Fatalf("k.ValidFrom = %q, want \"2026-03-01T09:00:00Z\"; registered key: %+v", k.ValidFrom, k)
	} else if k.RevokedAt != "" {
		t.Fatalf("k.RevokedAt = %q, want \"\"; registered key: %+v", k.RevokedAt, k)
	} else if k.Status != model.KeyActive {
		t.Fatalf("k.Status = %v, want model.KeyActive; registered key: %+v", k.Status, k)
	}

	e.l.Advance(24 * time.Hour)
	k2 := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	rotated := got
	rotated.SigningKeys[0].Status = model.KeyRetired
	rotated.SigningKeys[0].ValidFrom = "" // ignored: the stored time is kept
	rotated.SigningKeys = append(rotated.SigningKeys, model.SigningKey{KID: "edu-k2", PublicKeyPEM: must(model.MarshalPublicKey(&k2.PublicKey))})
	got = decode[model.Department](t, e.ok(e.admin, model.FnUpdateDepartment, rotated))
	if k := got.SigningKeys[0]; k.Status != model.KeyRetired {
		t.Fatalf("k.Status = %v, want model.KeyRetired; retired key: %+v", k.Status, k)
	} else if k.ValidFrom != "2026-03-01T09:00:00Z" {
		t.Fatalf("k.ValidFrom = %q, want \"2026-03-01T09:00:00Z\"; retired key: %+v", k.ValidFrom, k)
	} else if k.RetiredAt != "2026-03-02T09:00:00Z" {
		t.Fatalf("k.RetiredAt = %q, want \"2026-03-02T09:00:00Z\"; retired key: %+v", k.RetiredAt, k)
	}
	if k := got.SigningKeys[1]; k.ValidFrom != "2026-03-02T09:00:00Z" {
		t.Fatalf("k.ValidFrom = %q, want \"2026-03-02T09:00:00Z\"; new key: %+v", k.ValidFrom, k)
	} else if k.Status != model.KeyActive {
		t.Fatalf("k.Status = %v, want model.KeyActive; new key: %+v", k.Status, k)
	}

	// Revocation needs its own function, which records a reason.
	viaUpdate := got
	viaUpdate.SigningKeys = append([]model.SigningKey(nil), got.SigningKeys...)
	viaUpdate.SigningKeys[1].Status = model.KeyRevoked
	e.fail(e.admin, model.CodeInvalid, []string{model.FnRevokeSigningKey}, model.FnUpdateDepartment, viaUpdate)
	hr := e.addDept("hr")
	e.fail(hr.User, model.CodeForbidden, []string{"department hr may not call"}, model.FnRevokeSigningKey, "edu", "edu-k1", "leaked")
	e.fail(edu.User, model.CodeInvalid, []string{"reason is required"}, model.FnRevokeSigningKey, "edu", "edu-k1", "")
	e.fail(edu.User, model.CodeNotFound, []string{"edu-k9"}, model.FnRevokeSigningKey, "edu", "edu-k9", "leaked")

	e.l.Advance(time.Hour)
	r := e.ok(edu.User, model.FnRevokeSigningKey, "edu", "edu-k1", "key file leaked")
	got = decode[model.Department](t, r)
	if k := got.SigningKeys[0]; k.Status != model.KeyRevoked {
		t.Fatalf("k.Status = %v, want model.KeyRevoked; revoked key: %+v", k.Status, k)
	} else if k.RevokedAt != "2026-03-02T10:00:00Z" {
		t.Fatalf("k.RevokedAt = %q, want \"2026-03-02T10:00:00Z\"; revoked key: %+v", k.RevokedAt, k)
	} else if k.RevokedReason != "key file leaked" {
		t.Fatalf("k.RevokedReason = %q, want \"key file leaked\"; revoked key: %+v", k.RevokedReason, k)
	} else if k.RetiredAt == "" {
		t.Fatalf("k.RetiredAt == \"\", want it different; revoked key: %+v", k)
	}
	want := model.Change{Kind: model.KindDepartment, Op: model.OpKeyRevoked, ID: "edu", Department: "edu", Value: "edu-k1"}
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != want {
		t.Fatalf("cs[0] = %v, want want; event: %+v", cs[0], cs)
	}
	if r := e.ok(e.admin, model.FnRevokeSigningKey, "edu", "edu-k1", "again"); len(changes(t, r)) != 0 || writes(r) != 0 {
		t.Fatal("revoking a revoked key wrote something")
	}
	back := got
	back.SigningKeys = append([]model.SigningKey(nil), got.SigningKeys...)
	back.SigningKeys[0].Status = model.KeyActive
	e.fail(e.admin, model.CodeConflict, []string{"stays revoked"}, model.FnUpdateDepartment, back)
	// The console re-sends the stored department: a revoked key stays as it is.
	e.ok(e.admin, model.FnUpdateDepartment, got)

	// A revoked key signs no route.
	eid := e.newEID(1)
	e.addDataType("edu.degree", "edu")
	s := e.sign(edu, stmt(eid, "edu.degree", "edu", 1, "x"))
	e.fail(edu.User, model.CodeForbidden, []string{"no active signing key"}, model.FnPublishRoute, s)

	res := decode[model.DIDResolution](t, e.ok(e.nobody, model.FnResolveDID, model.IssuerDID("edu")))
	doc := res.DIDDocument
	if doc.ID != "did:eidgate:dept:edu" {
		t.Fatalf("doc.ID = %q, want \"did:eidgate:dept:edu\"; issuer DID document: %+v", doc.ID, doc)
	}
	if doc.Context[0] != model.IssuerDIDContext {
		t.Fatalf("doc.Context[0] = %v, want model.IssuerDIDContext; issuer DID document: %+v", doc.Context[0], doc)
	}
	if len(doc.VerificationMethod) != 2 {
		t.Fatalf("len(doc.VerificationMethod) = %v, want 2; issuer DID document: %+v", len(doc.VerificationMethod), doc)
	}
	if vm := doc.VerificationMethod[0]; vm.ID != "did:eidgate:dept:edu#edu-k1" {
		t.Fatalf("vm.ID = %q, want \"did:eidgate:dept:edu#edu-k1\"; revoked verification method: %+v", vm.ID, vm)
	} else if vm.Type != "JsonWebKey" {
		t.Fatalf("vm.Type = %q, want \"JsonWebKey\"; revoked verification method: %+v", vm.Type, vm)
	} else if vm.Revoked != "2026-03-02T10:00:00Z" {
		t.Fatalf("vm.Revoked = %q, want \"2026-03-02T10:00:00Z\"; revoked verification method: %+v", vm.Revoked, vm)
	} else if vm.PublicKeyJWK.Crv != "P-256" {
		t.Fatalf("vm.PublicKeyJWK.Crv = %q, want \"P-256\"; revoked verification method: %+v", vm.PublicKeyJWK.Crv, vm)
	} else if vm.PublicKeyJWK.Alg != "ES256" {
		t.Fatalf("vm.PublicKeyJWK.Alg = %q, want \"ES256\"; revoked verification method: %+v", vm.PublicKeyJWK.Alg, vm)
	}
	if len(doc.AssertionMethod) != 1 || doc.AssertionMethod[0] != "did:eidgate:dept:edu#edu-k2" {
		t.Fatalf("assertion methods: %v", doc.AssertionMethod)
	}
	if h := res.DIDDocumentMetadata.KeyHistory; len(h) != 2 {
		t.Fatalf("len(h) = %v, want 2; key history: %+v", len(h), h)
	} else if h[0].RetiredAt != "2026-03-02T09:00:00Z" {
		t.Fatalf("h[0].RetiredAt = %q, want \"2026-03-02T09:00:00Z\"; key history: %+v", h[0].RetiredAt, h)
	} else if h[0].RevokedAt == "" {
		t.Fatalf("h[0].RevokedAt == \"\", want it different; key history: %+v", h)
	} else if h[1].ValidFrom != "2026-03-02T09:00:00Z" {
		t.Fatalf("h[1].ValidFrom = %q, want \"2026-03-02T09:00:00Z\"; key history: %+v", h[1].ValidFrom, h)
	}
	e.fail(e.nobody, model.CodeNotFound, []string{"nope"}, model.FnResolveDID, model.IssuerDID("nope"))
	e.fail(e.nobody, model.CodeInvalid, []string{"did"}, model.FnResolveDID, "did:eidgate:dept:NOPE")
}

func TestAnchorStatusList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	hr := e.addDept("hr")
	anchor := model.StatusListAnchor{Issuer: "edu", ListID: "r1", Purpose: model.StatusRevocation, Version: 1,
		Digest: digest("list v1"), Size: model.MinStatusListSize}

	r := e.ok(e.agent, model.FnAnchorStatusList, anchor)
	got := decode[model.StatusListAnchor](t, r)
	if got.AnchoredAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("got.AnchoredAt = %q, want \"2026-03-01T09:00:00Z\"; anchor: %+v", got.AnchoredAt, got)
	}
	if got.TxID != r.TxID {
		t.Fatalf("got.TxID = %v, want r.TxID; anchor: %+v", got.TxID, got)
	}
	if got.Submitter != "PlatformMSP/agent" {
		t.Fatalf("got.Submitter = %q, want \"PlatformMSP/agent\"; anchor: %+v", got.Submitter, got)
	}
	want := model.Change{Kind: model.KindStatusList, Op: model.OpAnchored, ID: "r1", Department: "edu", Value: anchor.Digest}
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != want {
		t.Fatalf("cs[0] = %v, want want; event: %+v", cs[0], cs)
	}
	if r := e.ok(e.agent, model.FnAnchorStatusList, anchor); writes(r) != 0 || len(changes(t, r)) != 0 {
		t.Fatal("re-anchoring the same version wrote something")
	}
	v2 := anchor
	v2.Version, v2.Digest = 2, digest("list v2")
	e.ok(edu.User, model.FnAnchorStatusList, v2)
	if a := decode[model.StatusListAnchor](t, e.ok(e.nobody, model.FnGetStatusListAnchor, "edu", "r1")); a.Version != 2 {
		t.Fatalf("a.Version = %v, want 2; read back: %+v", a.Version, a)
	} else if a.Digest != v2.Digest {
		t.Fatalf("a.Digest = %v, want v2.Digest; read back: %+v", a.Digest, a)
	}

	stale := anchor
	stale.Digest = digest("other v1")
	other := v2
	other.Version = 3
	cases := []struct {
		name string
		who  *devcrypto.Identity
		in   model.StatusListAnchor
		code model.Code
		want string
	}{
		{"older version", e.agent, stale, model.CodeConflict, "at version 2"},
		{"same version, other digest", e.agent, func() model.StatusListAnchor { a := v2; a.Digest = digest("x"); return a }(), model.CodeConflict, "at version 2"},
		{"purpose changes", e.agent, func() model.StatusListAnchor { a := other; a.Purpose = model.StatusSuspension; return a }(), model.CodeConflict, "keeps its purpose"},
		{"size changes", e.agent, func() model.StatusListAnchor { a := other; a.Size *= 2; return a }(), model.CodeConflict, "keeps its purpose"},
		{"another department", hr.User, other, model.CodeForbidden, "department hr may not call"},
		{"admin", e.admin, other, model.CodeForbidden, "agent role"},
		{"too small", e.agent, func() model.StatusListAnchor { a := other; a.Size = 1024; return a }(), model.CodeInvalid, "size"},
		{"bad purpose", e.agent, func() model.StatusListAnchor { a := other; a.Purpose = "refresh"; return a }(), model.CodeInvalid, "purpose"},
		{"bad digest", e.agent, func() model.StatusListAnchor { a := other; a.Digest = "md5:00"; return a }(), model.CodeInvalid, "digest"},
		{"unknown issuer", e.agent, func() model.StatusListAnchor { a := other; a.Issuer = "nope"; return a }(), model.CodeNotFound, "nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(c.who, c.code, []string{c.want}, model.FnAnchorStatusList, c.in)
		})
	}
	e.t = t
	e.fail(e.nobody, model.CodeNotFound, []string{"r9"}, model.FnGetStatusListAnchor, "edu", "r9")
}

func TestDataTypePredicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDept("edu")
	dt := model.DataType{Code: "edu.degree", Name: "学历", Schema: `{"type":"object"}`, Owners: []string{"edu"},
		Predicates: []model.Predicate{{ID: "bachelor_or_higher", Name: "本科及以上", NameEN: "Bachelor's degree or higher",
			Expression: `{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}`}}}
	got := decode[model.DataType](t, e.ok(e.admin, model.FnRegisterDataType, dt))
	if p, ok := got.Predicate("bachelor_or_higher"); !ok {
		t.Fatalf("ok is false; stored predicates: %+v", got.Predicates)
	} else if p.NameEN != "Bachelor's degree or higher" {
		t.Fatalf("p.NameEN = %q, want \"Bachelor's degree or higher\"; stored predicates: %+v", p.NameEN, got.Predicates)
	}
	bad := dt
	bad.Code = "edu.other"
	bad.Predicates = []model.Predicate{{ID: "x1", Name: "x", Expression: `{"claim":"degree","op":"matches","value":"b.*"}`}}
	e.fail(e.admin, model.CodeInvalid, []string{"predicates[0].expression", "matches"}, model.FnRegisterDataType, bad)
	bad.Predicates = []model.Predicate{dt.Predicates[0], dt.Predicates[0]}
	e.fail(e.admin, model.CodeInvalid, []string{"listed twice"}, model.FnRegisterDataType, bad)
}
