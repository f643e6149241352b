package credential_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
)

// The VC-JOSE-COSE example of a VC secured with SD-JWT: its disclosures
// process back into exactly the unsecured credential the specification
// shows (even the id and type inside credentialSubject and
// credentialSchema were made disclosable there).
func TestVCJOSECOSEExample4(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/vc_jose_cose_example4.txt")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sdjwt.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tok.Process()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],` +
		`"credentialSchema":[{"id":"https://example.org/examples/degree.json","type":"JsonSchema"},{"id":"https://example.org/examples/alumni.json","type":"JsonSchema"}],` +
		`"credentialSubject":{"alumniOf":{"name":"Example University"},"degree":{"name":"Bachelor of Science and Arts","type":"ExampleBachelorDegree"},"id":"did:example:ebfeb1f712ebc6f1c276e12ec21"},` +
		`"exp":1742024643,"iat":1740815043,"id":"http://university.example/credentials/3732",` +
		`"issuer":"https://university.example/issuers/14",` +
		`"type":["VerifiableCredential","ExampleDegreeCredential","ExamplePersonCredential"],"validFrom":"2010-01-01T19:23:24Z"}`
	got, _ := json.Marshal(p.Claims)
	if string(got) != want {
		t.Fatalf("processed example\n got %s\nwant %s", got, want)
	}
	// eidgate's verifier reads it as a credential of another ecosystem and
	// says so with a code: no typ vc+sd-jwt, an issuer that is no eidgate
	// department.
	w := newWorld(t)
	r := verify(t, w, credential.Request{Token: strings.TrimSpace(string(b))})
	if r.Valid || r.Code != credential.CodeUnsupportedType {
		t.Fatalf("example verified as %s", r.Code)
	}
}
