package model_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

type routeVector struct {
	Canonical    string            `json:"canonical"`
	PublicKeyPEM string            `json:"public_key_pem"`
	Signed       model.SignedRoute `json:"signed"`
}

func loadVector(t *testing.T) routeVector {
	t.Helper()
	b, err := os.ReadFile("testdata/route_vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v routeVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The fixed vector pins the canonical text and signature format: any other
// implementation (the demo provider, a department's signer) must agree.
func TestRouteVector(t *testing.T) {
	v := loadVector(t)
	if got := string(v.Signed.Statement.Canonical()); got != v.Canonical {
		t.Fatalf("canonical\n got %q\nwant %q", got, v.Canonical)
	}
	if err := model.VerifyRoute(v.PublicKeyPEM, v.Signed); err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	tamper := []func(*model.SignedRoute){
		func(s *model.SignedRoute) { s.Statement.Version++ },
		func(s *model.SignedRoute) { s.Statement.Digest = strings.Replace(s.Statement.Digest, "9f", "8f", 1) },
		func(s *model.SignedRoute) { s.Statement.Provider = "hr" },
		func(s *model.SignedRoute) { s.Statement.DataType = "edu.diploma" },
		func(s *model.SignedRoute) { s.Statement.EID = model.DeriveEID("x", 0) },
		func(s *model.SignedRoute) { s.Statement.Schema = "edu.degree/2" },
	}
	for i, f := range tamper {
		s := v.Signed
		f(&s)
		if err := model.VerifyRoute(v.PublicKeyPEM, s); model.CodeOf(err) != model.CodeForbidden {
			t.Errorf("tamper %d: %v, want FORBIDDEN", i, err)
		}
	}
}

func TestSignAndVerifyRoute(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	st := loadVector(t).Signed.Statement

	s, err := model.SignRoute(key, "k1", st)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.VerifyRoute(pemText, s); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	foreign, _ := model.SignRoute(other, "k1", st)
	if err := model.VerifyRoute(pemText, foreign); model.CodeOf(err) != model.CodeForbidden {
		t.Fatalf("foreign signature: %v", err)
	}
	for name, sig := range map[string]string{
		"empty":      "",
		"not base64": "!!!",
		"url base64": urlOnlySignature(t, key, st),
		"too long":   strings.Repeat("A", 200),
	} {
		bad := s
		bad.Signature = sig
		if err := model.VerifyRoute(pemText, bad); model.CodeOf(err) != model.CodeInvalid {
			t.Errorf("%s: %v, want INVALID", name, err)
		} else if sig != "" && len(sig) > 8 && strings.Contains(err.Error(), sig) {
			t.Errorf("%s: error echoes the signature", name)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := model.SignRoute(p384, "k1", st); err == nil {
		t.Fatal("signed with a P-384 key")
	}
	if err := model.VerifyRoute("garbage", s); model.CodeOf(err) != model.CodeInvalid {
		t.Fatalf("bad public key: %v", err)
	}
}

func TestRouteStatementValidate(t *testing.T) {
	good := loadVector(t).Signed.Statement
	cases := []struct {
		name  string
		f     func(*model.RouteStatement)
		field string
	}{
		{"eid", func(s *model.RouteStatement) { s.EID = "did:eidgate:ABC" }, "statement.eid"},
		{"newline in eid", func(s *model.RouteStatement) { s.EID += "\n" }, "statement.eid"},
		{"data type", func(s *model.RouteStatement) { s.DataType = "edu" }, "statement.data_type"},
		{"provider", func(s *model.RouteStatement) { s.Provider = "Edu\nx" }, "statement.provider"},
		{"version", func(s *model.RouteStatement) { s.Version = 0 }, "statement.version"},
		{"digest prefix", func(s *model.RouteStatement) { s.Digest = "sha512:" + s.Digest[7:] }, "statement.digest"},
		{"digest case", func(s *model.RouteStatement) { s.Digest = strings.ToUpper(s.Digest) }, "statement.digest"},
		{"newline in schema", func(s *model.RouteStatement) { s.Schema = "a\nb" }, "statement.schema"},
		{"long schema", func(s *model.RouteStatement) { s.Schema = strings.Repeat("a", 257) }, "statement.schema"},
	}
	for _, c := range cases {
		s := good
		c.f(&s)
		err := s.Validate()
		if model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want INVALID naming %s", c.name, err, c.field)
		}
	}
	empty := good
	empty.Schema = ""
	if err := empty.Validate(); err != nil {
		t.Fatalf("empty schema: %v", err)
	}
	if !strings.HasSuffix(string(empty.Canonical()), "\n") || strings.Count(string(empty.Canonical()), "\n") != 6 {
		t.Fatalf("canonical with empty schema: %q", empty.Canonical())
	}
}

func TestRouteEntryRoundTrip(t *testing.T) {
	v := loadVector(t)
	s := v.Signed.Statement
	e := model.RouteEntry{EID: s.EID, DataType: s.DataType, Provider: s.Provider, Version: s.Version, Digest: s.Digest,
		Schema: s.Schema, KID: v.Signed.KID, Signature: v.Signed.Signature}
	if e.Signed() != v.Signed {
		t.Fatalf("Signed() = %+v", e.Signed())
	}
	if err := model.VerifyRoute(v.PublicKeyPEM, e.Signed()); err != nil {
		t.Fatal(err)
	}
}

// urlOnlySignature signs st until the raw URL-safe base64 form of the
// signature is not also valid standard base64 (a DER signature of 72 bytes
// without '+' or '/' in its encoding reads the same in both alphabets), so
// the case tests the alphabet and never passes by chance.
func urlOnlySignature(t *testing.T, key *ecdsa.PrivateKey, st model.RouteStatement) string {
	t.Helper()
	for range 100 {
		s, err := model.SignRoute(key, "k1", st)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(s.Signature)
		enc := base64.RawURLEncoding.EncodeToString(raw)
		if _, err := base64.StdEncoding.DecodeString(enc); err != nil {
			return enc
		}
	}
	t.Fatal("no signature in 100 whose URL-safe form differs from standard base64")
	return ""
}
