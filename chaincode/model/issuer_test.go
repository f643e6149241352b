package model_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

// DID syntax (DID Core §3.1): did:<method>:<method-specific-id>, and a DID
// URL with a fragment for verification methods.
var (
	didRe    = regexp.MustCompile(`^did:[a-z0-9]+:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2}|:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})$`)
	didURLRe = regexp.MustCompile(`^did:[a-z0-9]+:[A-Za-z0-9._:%-]+#[A-Za-z0-9._:~!$&'()*+,;=@/?-]+$`)
)

// An issuer's DID document uses DID Core's JSON representation: the DID
// Core example of a P-256 JsonWebKey verification method decodes into our
// types with no member left over, and our document re-encodes with the same
// members and valid DID syntax.
func TestIssuerDIDDocumentFollowsDIDCore(t *testing.T) {
	t.Parallel()
	ex, err := os.ReadFile("testdata/did_core_jwk_example.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context            string                     `json:"@context"`
		ID                 string                     `json:"id"`
		VerificationMethod []model.VerificationMethod `json:"verificationMethod"`
	}
	dec := json.NewDecoder(bytes.NewReader(ex))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the DID Core example does not fit our verification method: %v", err)
	}
	if doc.Context != model.IssuerDIDContext {
		t.Fatalf("doc.Context = %v, want model.IssuerDIDContext; example %+v", doc.Context, doc)
	}
	if doc.VerificationMethod[0].Type != model.VerificationMethodJWK {
		t.Fatalf("doc.VerificationMethod[0].Type = %v, want model.VerificationMethodJWK; example %+v", doc.VerificationMethod[0].Type, doc)
	}
	again, _ := json.Marshal(doc.VerificationMethod[0])
	var exVM, ourVM map[string]json.RawMessage
	_ = json.Unmarshal(again, &ourVM)
	var raw struct {
		VM []map[string]json.RawMessage `json:"verificationMethod"`
	}
	_ = json.Unmarshal(ex, &raw)
	exVM = raw.VM[0]
	for k := range exVM {
		if _, ok := ourVM[k]; !ok {
			t.Errorf("member %s lost", k)
		}
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	d := model.Department{ID: "edu-bureau", Name: "x", MSPID: "EduMSP", CreatedAt: "2026-03-01T09:00:00Z", UpdatedAt: "2026-03-01T09:00:00Z",
		SigningKeys: []model.SigningKey{{KID: "edu-k1", PublicKeyPEM: pemText, Status: model.KeyActive}}}
	res := d.IssuerResolution()
	out, _ := json.Marshal(res.DIDDocument)
	var ours map[string]json.RawMessage
	_ = json.Unmarshal(out, &ours)
	for _, k := range []string{"@context", "id", "controller", "verificationMethod", "assertionMethod"} {
		if _, ok := ours[k]; !ok {
			t.Errorf("our document lacks %s: %s", k, out)
		}
	}
	vm := res.DIDDocument.VerificationMethod[0]
	if !didRe.MatchString(res.DIDDocument.ID) || !didURLRe.MatchString(vm.ID) || !didRe.MatchString(vm.Controller) {
		t.Fatalf("DID syntax: %s %s %s", res.DIDDocument.ID, vm.ID, vm.Controller)
	}
	if res.DIDDocumentMetadata.KeyHistory[0].ValidFrom != d.CreatedAt {
		t.Fatalf("a key without valid_from counts from the department's creation: %+v", res.DIDDocumentMetadata.KeyHistory)
	}
	// The JWK is the key: its coordinates give back the public key.
	x, y := vm.PublicKeyJWK.X, vm.PublicKeyJWK.Y
	if len(x) != 43 {
		t.Fatalf("len(x) = %v, want 43; jwk %+v", len(x), vm.PublicKeyJWK)
	}
	if len(y) != 43 {
		t.Fatalf("len(y) = %v, want 43; jwk %+v", len(y), vm.PublicKeyJWK)
	}
	if vm.PublicKeyJWK.Kty != "EC" {
		t.Fatalf("vm.PublicKeyJWK.Kty = %q, want \"EC\"; jwk %+v", vm.PublicKeyJWK.Kty, vm.PublicKeyJWK)
	}
	if _, ok := model.ParseIssuerDID("did:eidgate:dept:EDU"); ok {
		t.Fatal("accepted an invalid department id")
	}
	if dept, ok := model.ParseIssuerDID(res.DIDDocument.ID); !ok || dept != "edu-bureau" {
		t.Fatal("did not parse our own issuer DID")
	}
}
