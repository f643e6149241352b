package routing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// TestVerifierAnswers checks each answer of the offline verifier against a
// ledger holding one signed route entry.
func TestVerifierAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := model.MarshalPublicKey(&key.PublicKey)
	record := json.RawMessage(`{"degree":"bachelor","name":"A"}`)
	salt := digest.NewSalt()
	dg, err := digest.Compute(record, salt)
	if err != nil {
		t.Fatal(err)
	}
	setup := func(signer *ecdsa.PrivateKey, status string) *routingtest.Ledger {
		l := routingtest.NewLedger(routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
		l.PutDepartment(model.Department{ID: "edu-bureau", Status: model.DepartmentActive,
			SigningKeys: []model.SigningKey{{KID: "k1", PublicKeyPEM: pub, Status: model.KeyActive}}})
		stmt := model.RouteStatement{EID: eidAlice, DataType: "edu.degree", Provider: "edu-bureau", Version: 2, Digest: dg, Schema: "edu.degree/1"}
		signed, err := model.SignRoute(signer, "k1", stmt)
		if err != nil {
			t.Fatal(err)
		}
		l.PutRoute(model.RouteEntry{EID: stmt.EID, DataType: stmt.DataType, Provider: stmt.Provider, Version: stmt.Version,
			Digest: stmt.Digest, Schema: stmt.Schema, KID: signed.KID, Signature: signed.Signature, Status: status})
		return l
	}
	env := func() routing.RecordEnvelope {
		return routing.RecordEnvelope{EID: eidAlice, DataType: "edu.degree", Provider: "edu-bureau", Salt: digest.EncodeSalt(salt), Record: record}
	}
	for _, tc := range []struct {
		name   string
		ledger *routingtest.Ledger
		edit   func(*routing.RecordEnvelope)
		valid  bool
		reason string
	}{
		{"valid", setup(key, model.RouteValid), nil, true, ""},
		{"tampered record", setup(key, model.RouteValid), func(e *routing.RecordEnvelope) { e.Record = json.RawMessage(`{"degree":"doctor","name":"A"}`) }, false, "does not match the digest"},
		{"other salt", setup(key, model.RouteValid), func(e *routing.RecordEnvelope) { e.Salt = digest.EncodeSalt(digest.NewSalt()) }, false, "does not match the digest"},
		{"older version", setup(key, model.RouteValid), func(e *routing.RecordEnvelope) { e.Version = 1 }, false, "version 2"},
		{"signed with another key", setup(other, model.RouteValid), nil, false, "signature"},
		{"revoked", setup(key, model.RouteRevoked), nil, false, "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env()
			if tc.edit != nil {
				tc.edit(&e)
			}
			v := must[*routing.Verifier](t)(routing.NewVerifier(routing.VerifierConfig{Routes: tc.ledger, Registry: tc.ledger}))
			got, err := v.Verify(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if got.Valid != tc.valid {
				t.Fatalf("got.Valid = %v, want tc.valid; verification %+v, want valid=%v reason mentioning %q", got.Valid, got, tc.valid, tc.reason)
			}
			if tc.reason != "" && !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("tc.reason != \"\" && !strings.Contains(got.Reason, tc.reason) holds; verification %+v, want valid=%v reason mentioning %q", got, tc.valid, tc.reason)
			}
			if got.DigestMatches != (tc.name != "tampered record" && tc.name != "other salt") {
				t.Fatalf("digest_matches %v", got.DigestMatches)
			}
		})
	}
	// Refusals before any comparison.
	l := setup(key, model.RouteValid)
	v := must[*routing.Verifier](t)(routing.NewVerifier(routing.VerifierConfig{Routes: l, Registry: l}))
	for field, edit := range map[string]func(*routing.RecordEnvelope){
		"eid":      func(e *routing.RecordEnvelope) { e.EID = "alice" },
		"salt":     func(e *routing.RecordEnvelope) { e.Salt = "short" },
		"record":   func(e *routing.RecordEnvelope) { e.Record = json.RawMessage(`{"a":1,"a":2}`) },
		"provider": func(e *routing.RecordEnvelope) { e.Provider = "X" },
	} {
		e := env()
		edit(&e)
		if _, err := v.Verify(ctx, e); !routing.IsKind(err, routing.KindInvalid) {
			t.Errorf("%s: %v, want invalid", field, err)
		}
	}
	e := env()
	e.Provider = "hrss"
	if _, err := v.Verify(ctx, e); routing.CodeOf(err) != "no_route" {
		t.Errorf("no route entry from that provider: %v", err)
	}
}
