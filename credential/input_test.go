package credential_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
)

func TestParseInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issue("k1", nil)
	p := w.present(iss.Token, "degree")
	vf, _ := json.Marshal(credential.VerificationFile{Presentation: p, Audience: "did:eidgate:dept:hrss", Nonce: "n-1", Bundle: &w.bundle})
	cases := []struct {
		name         string
		in           string
		ok           bool
		presentation bool
		code         string
	}{
		{"compact credential", iss.Token + "\n", true, false, ""},
		{"compact presentation", p, true, true, ""},
		{"verification file", string(vf), true, true, ""},
		{"record envelope", `{"eid":"did:eidgate:00","data_type":"edu.degree","provider":"edu","salt":"x","record":{}}`, false, false, ""},
		{"plain text", "hello", false, false, ""},
		{"both", `{"credential":"a~","presentation":"b~x"}`, false, false, "invalid"},
		{"presentation without nonce", `{"presentation":"b~x","audience":"a"}`, false, false, "invalid"},
		{"unknown member", `{"credential":"a~","extra":1}`, false, false, "invalid"},
		{"bad JSON", `{"credential":`, false, false, "invalid"},
		{"too large", strings.Repeat(" ", credential.MaxInputSize+1), false, false, "too_large"},
	}
	for _, c := range cases {
		in, ok, err := credential.ParseInput([]byte(c.in))
		if c.code != "" {
			if routing.CodeOf(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("err = %v, want nil; %s: %+v %v %v", err, c.name, in, ok, err)
		} else if ok != c.ok {
			t.Errorf("ok = %v, want c.ok; %s: %+v %v %v", ok, c.name, in, ok, err)
		} else if in.Presentation != c.presentation {
			t.Errorf("in.Presentation = %v, want c.presentation; %s: %+v %v %v", in.Presentation, c.name, in, ok, err)
		}
	}
	in, _, _ := credential.ParseInput(vf)
	if in.Bundle == nil {
		t.Fatalf("in.Bundle is nil; file: %+v", in)
	}
	if len(in.Bundle.StatusLists) != 2 {
		t.Fatalf("len(in.Bundle.StatusLists) = %v, want 2; file: %+v", len(in.Bundle.StatusLists), in)
	}
	if in.Nonce != "n-1" {
		t.Fatalf("in.Nonce = %q, want \"n-1\"; file: %+v", in.Nonce, in)
	}
}

// FuzzParseInput: any input is read or refused, never panics, and what it
// reads as a presentation carries a nonce when it came from a file.
func FuzzParseInput(f *testing.F) {
	f.Add([]byte(`{"presentation":"eyJ~x","audience":"a","nonce":"n","bundle":{"issuers":[]}}`))
	f.Add([]byte(`eyJhbGciOiJFUzI1NiJ9.e30.AA~`))
	f.Add([]byte(`{"eid":"x","record":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, ok, err := credential.ParseInput(raw)
		if err != nil && (ok || routing.KindOf(err) != routing.KindInvalid) {
			t.Fatalf("err %v with ok %v", err, ok)
		}
		if ok && in.Token == "" {
			t.Fatal("read an empty token")
		}
	})
}
