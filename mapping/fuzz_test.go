package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/routing"
)

// fuzzParse checks, for one document type, that any input gives a document
// or an invalid_document rejection without panicking; that a document's
// normalised form parses back to the same document and index; and that no
// output shows the number.
func fuzzParse(f *testing.F, typ DocType) {
	for _, tc := range loadDocCases(f) {
		if tc.Type == typ {
			f.Add(tc.Number, tc.Country)
		}
	}
	f.Add("", "")
	f.Add("\xff\xfe", "\x00")
	f.Add(strings.Repeat("9", 300), "USA")
	k := testKeyring(f)
	f.Fuzz(func(t *testing.T, number, country string) {
		doc, err := Parse(Input{Type: typ, Number: number, Country: country}, testNow)
		if err != nil {
			re, ok := err.(*routing.Error)
			if !ok || re.Kind != routing.KindInvalid || re.Code != CodeInvalidDocument || TypeOf(err) != typ || re.Message == "" || !doc.IsZero() {
				t.Fatalf("rejection %#v (%T), doc %v", err, err, doc)
			}
			switch ReasonOf(err) {
			case ReasonLength, ReasonCharacters, ReasonFormat, ReasonChecksum, ReasonDate, ReasonRegion, ReasonCountry:
			default:
				t.Fatalf("unknown reason %q", ReasonOf(err))
			}
			folded := fold(number)
			if len(folded) >= 8 && onlyBytes(folded, true, "") && strings.Contains(err.Error(), folded) {
				t.Fatalf("error shows the input: %v", err)
			}
			return
		}
		if doc.Type() != typ {
			t.Fatalf("parsed as %s", doc.Type())
		}
		again, err := Parse(Input{Type: typ, Number: doc.RevealNormalized()}, testNow)
		if err != nil || !again.Equal(doc) {
			t.Fatalf("normalised form of %q does not parse to itself: %v", number, err)
		}
		if doc.Country() != "" {
			split, err := Parse(Input{Type: typ, Number: doc.d.number, Country: doc.Country()}, testNow)
			if err != nil || !split.Equal(doc) {
				t.Fatalf("number and country given apart do not parse alike: %v", err)
			}
		}
		a, _ := k.Blind(doc)
		b, _ := k.Blind(again)
		if a != b || !hex64.MatchString(a.Value) {
			t.Fatalf("index %v / %v", a, b)
		}
		secret := doc.d.number
		if len(secret) < 6 {
			return // too short to tell a leak from a coincidence with the type or state
		}
		j, _ := json.Marshal(doc)
		for _, out := range []string{doc.Mask(), doc.String(), string(j), fmt.Sprintf("%v %+v %#v %s %q %x", doc, doc, doc, doc, doc, doc)} {
			if strings.Contains(out, secret) {
				t.Fatalf("output shows the number: %s", out)
			}
		}
	})
}

func FuzzParseCNResident(f *testing.F)       { fuzzParse(f, CNResident) }
func FuzzParseCNPassport(f *testing.F)       { fuzzParse(f, CNPassport) }
func FuzzParsePassport(f *testing.F)         { fuzzParse(f, Passport) }
func FuzzParseHKMOPermit(f *testing.F)       { fuzzParse(f, HKMOPermit) }
func FuzzParseTWPermit(f *testing.F)         { fuzzParse(f, TWPermit) }
func FuzzParseCNHKMOPass(f *testing.F)       { fuzzParse(f, CNHKMOPass) }
func FuzzParseHKMOTWResidence(f *testing.F)  { fuzzParse(f, HKMOTWResidence) }
func FuzzParseForeignPermanent(f *testing.F) { fuzzParse(f, ForeignPermanent) }

// checkFuzzedKeyring checks a keyring parsed from fuzzed input: the current
// version is one of its versions, and writing it as a key file and reading
// that back gives the same keys.
func checkFuzzedKeyring(t *testing.T, k *Keyring) {
	vs := k.Versions()
	found := false
	for _, v := range vs {
		found = found || v == k.Current()
	}
	if len(vs) == 0 || !found {
		t.Fatalf("keyring %v", k)
	}
	back, err := ParseKeyFile(k.keyFileBytes())
	if err != nil {
		t.Fatalf("written key file does not parse: %v", err)
	}
	doc := newDocument(TWPermit, "12345678", "")
	x, _ := k.BlindAll(doc)
	y, _ := back.BlindAll(doc)
	if fmt.Sprint(x) != fmt.Sprint(y) || back.Current() != k.Current() {
		t.Fatalf("round trip changed the keys")
	}
}

func FuzzParseKeyFile(f *testing.F) {
	key := b64(make32(1))
	f.Add([]byte(`{"format":"eidgate-blinding-keys/v1","current":"v1","keys":[{"version":"v1","key":"` + key + `"}]}`))
	f.Add([]byte(`{"format":"eidgate-blinding-keys/v1","current":"v2","keys":[{"version":"v1","key":"` + key + `"},{"version":"v2","key":"` + b64(make32(2)) + `"}]}`))
	f.Add([]byte(`{"format":"eidgate-blinding-keys/v1","current":"v1","keys":null}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyFile(data)
		if err != nil {
			if k != nil {
				t.Fatal("keyring and error")
			}
			return
		}
		checkFuzzedKeyring(t, k)
	})
}

func FuzzParseKeysEnv(f *testing.F) {
	f.Add("v1:" + b64(make32(1)))
	f.Add("v2:" + b64(make32(2)) + ",v1:" + b64(make32(1)))
	f.Add("v1:" + b64(make32(1)) + ",")
	f.Add(":,:")
	f.Fuzz(func(t *testing.T, value string) {
		k, err := ParseKeysEnv(value)
		if err != nil {
			for _, part := range strings.Split(value, ",") {
				_, key, ok := strings.Cut(part, ":")
				key = strings.TrimSpace(key)
				if ok && len(key) >= 16 && isBase64Text(key) && !strings.Contains(EnvBlindingKeys, key) && strings.Contains(err.Error(), key) {
					t.Fatalf("error shows key material: %v", err)
				}
			}
			return
		}
		checkFuzzedKeyring(t, k)
	})
}

func make32(seed byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func isBase64Text(s string) bool {
	return onlyBytes(s, true, "+/=-_abcdefghijklmnopqrstuvwxyz")
}
