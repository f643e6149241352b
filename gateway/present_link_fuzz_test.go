package gateway

import (
	"net/url"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

// FuzzPresentRequest: whatever a verifier's link carries, the portal
// reads either a department's DID as audience with a bounded nonce, or
// refuses it.
func FuzzPresentRequest(f *testing.F) {
	f.Add("nonce=n-1&aud=did%3Aeidgate%3Adept%3Ahrss&purpose=employment")
	f.Add("nonce=&aud=did:eidgate:0123456789abcdef0123456789abcdef")
	f.Add("aud=did:eidgate:dept:&nonce=x&purpose=Bad Purpose")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		r, err := readPresentRequest(q.Get)
		if err != nil {
			return
		}
		if model.IssuerDID(r.Verifier) != r.Audience {
			t.Fatalf("model.IssuerDID(r.Verifier) != r.Audience; accepted %+v from %q", r, query)
		}
		if r.Nonce == "" {
			t.Fatalf("r.Nonce == \"\", want it different; accepted %+v from %q", r, query)
		}
		if len(r.Nonce) > 128 {
			t.Fatalf("len(r.Nonce) = %v, want <= 128; accepted %+v from %q", len(r.Nonce), r, query)
		}
		if r.Purpose != "" && !model.ValidPurposeCode(r.Purpose) {
			t.Fatalf("r.Purpose != \"\" && !model.ValidPurposeCode(r.Purpose) holds; accepted %+v from %q", r, query)
		}
	})
}
