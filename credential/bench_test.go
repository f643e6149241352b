package credential_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/statuslist"
)

// BenchmarkIssue: schema validation, five disclosures, the ES256 credential
// signature and the route statement signature.
func BenchmarkIssue(b *testing.B) {
	w := newWorld(b)
	tpl := credential.Template{Subject: subject, DataType: degreeType, SchemaURL: base + "/v1/datatypes/edu.degree/schema",
		Claims: json.RawMessage(degreeRecord), Holder: w.holderJWK(), IssuedAt: w.now, ValidFrom: w.now, Version: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := credential.Issue(w.signer("k1"), tpl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPresentation: every check of a presentation against a
// proof bundle (issuer, key binding, two status lists, anchor).
func BenchmarkVerifyPresentation(b *testing.B) {
	w := newWorld(b)
	p := w.present(w.issue("k1", nil).Token, "degree", "institution")
	v := w.verifier()
	req := presentation(p)
	b.ReportAllocs()
	for b.Loop() {
		r, err := v.Verify(context.Background(), &w.bundle, req)
		if err != nil || !r.Valid {
			b.Fatalf("%v %v", r.Code, err)
		}
	}
}

// BenchmarkStatusListEncode: GZIP and multibase of a 131,072-entry list
// with 1,000 entries set (what signing a new version costs besides ES256).
func BenchmarkStatusListEncode(b *testing.B) {
	l, _ := statuslist.New(statuslist.MinSize)
	for i := 0; i < 1000; i++ {
		_ = l.Set(i*131, true)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Encode()
	}
}
