package model_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// FuzzVerifyRoute feeds arbitrary signed routes (as the JSON a caller
// sends) to the verifier: it must never panic, and a statement that
// verifies must split back into exactly its fields.
func FuzzVerifyRoute(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	st := model.RouteStatement{EID: model.DeriveEID("f", 0), DataType: "edu.degree", Provider: "edu", Version: 1,
		Digest: "sha256:" + strings.Repeat("0", 64), Schema: "s"}
	good, _ := model.SignRoute(key, "k1", st)
	b, _ := json.Marshal(good)
	f.Add(b)
	f.Add([]byte(`{"statement":{"eid":"did:eidgate:00","version":1},"kid":"k","signature":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s model.SignedRoute
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		err := model.VerifyRoute(pemText, s)
		if code := model.CodeOf(err); err != nil && code != model.CodeInvalid && code != model.CodeForbidden {
			t.Fatalf("error without a code: %v", err)
		}
		if err != nil && len(s.Signature) > 8 && strings.Contains(err.Error(), s.Signature) {
			t.Fatalf("error echoes the signature")
		}
		if err == nil {
			parts := strings.Split(string(s.Statement.Canonical()), "\n")
			if len(parts) != 7 || parts[1] != s.Statement.EID || parts[6] != s.Statement.Schema {
				t.Fatalf("verified statement is ambiguous: %q", parts)
			}
		}
	})
}

// FuzzParsePublicKey: arbitrary PEM text must parse to a P-256 key or fail.
func FuzzParsePublicKey(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	f.Add(pemText)
	f.Add("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := model.ParsePublicKey(s)
		if err == nil && pub.Curve != elliptic.P256() {
			t.Fatal("accepted a key on another curve")
		}
	})
}

// FuzzConsentRequest: arbitrary request JSON must validate or fail with
// INVALID, and a valid one must have a readable window.
func FuzzConsentRequest(f *testing.F) {
	f.Add([]byte(`{"eid":"did:eidgate:0123456789abcdef0123456789abcdef","requester":"hr","provider":"*","data_types":["edu.degree"],"purpose_code":"hiring","valid_until":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"valid_from":"2026-01-01T00:00:00Z","valid_until":"2025-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r model.ConsentRequest
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		err := r.Validate()
		if err != nil {
			if model.CodeOf(err) != model.CodeInvalid {
				t.Fatalf("error without INVALID: %v", err)
			}
			return
		}
		until, err := model.ParseTime(r.ValidUntil)
		if err != nil {
			t.Fatalf("valid request with unreadable valid_until %q", r.ValidUntil)
		}
		c := model.Consent{Status: model.ConsentActive, Requester: r.Requester, Provider: r.Provider, DataTypes: r.DataTypes,
			PurposeCode: r.PurposeCode, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil}
		if c.ValidFrom == "" {
			c.ValidFrom = model.FormatTime(until.Add(-time.Hour))
		}
		if ok, why := c.Allows(r.Requester, "edu", r.DataTypes[0], r.PurposeCode, until); !ok && why != model.DenyWrongProvider {
			t.Fatalf("consent refuses at valid_until: %s", why)
		}
	})
}

// FuzzAccessAnchor: arbitrary anchors validate or fail with INVALID.
func FuzzAccessAnchor(f *testing.F) {
	f.Add([]byte(`{"batch_id":"b","merkle_root":"` + strings.Repeat("a", 64) + `","count":1,"first_seq":1,"last_seq":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var a model.AccessAnchor
		if json.Unmarshal(raw, &a) != nil {
			return
		}
		if err := a.Validate(); err != nil && model.CodeOf(err) != model.CodeInvalid {
			t.Fatalf("error without INVALID: %v", err)
		}
	})
}
