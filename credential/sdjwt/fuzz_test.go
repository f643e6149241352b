package sdjwt_test

import (
	"strings"
	"testing"

	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// FuzzParse feeds arbitrary compact forms to the parser and the disclosure
// processor: they never panic, and every refusal carries a stable code.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rfc9901_simple_issuance.txt", "rfc9901_simple_presentation.txt", "sdjwtvc_presentation.txt"} {
		f.Add(read(f, name))
	}
	f.Add("a.b.c~")
	f.Add("~~~")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := sdjwt.Parse(s)
		if err != nil {
			if routing.KindOf(err) != routing.KindInvalid || routing.CodeOf(err) == string(routing.KindInvalid) {
				t.Fatalf("refusal without a code: %v", err)
			}
			return
		}
		if _, err := tok.Process(); err != nil && routing.CodeOf(err) == string(routing.KindInvalid) {
			t.Fatalf("refusal without a code: %v", err)
		}
		if !strings.HasPrefix(s, tok.JWS.Raw) && !strings.HasPrefix(strings.TrimSpace(s), tok.JWS.Raw) {
			t.Fatal("the parsed JWS is not the start of the input")
		}
	})
}

// FuzzDisclosure: arbitrary disclosure text never panics the decoder.
func FuzzDisclosure(f *testing.F) {
	f.Add("WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd")
	f.Add("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := sdjwt.ParseDisclosure(s)
		if err == nil && (d.Digest == "" || (!d.IsArray && d.Name == "_sd")) {
			t.Fatalf("accepted %+v", d)
		}
	})
}
