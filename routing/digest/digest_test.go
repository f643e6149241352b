package digest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/internal/domainerr"
)

type vector struct {
	Name      string `json:"name"`
	Record    string `json:"record"`
	Salt      string `json:"salt"`
	Canonical string `json:"canonical"`
	Digest    string `json:"digest"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return doc.Vectors
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			salt, err := DecodeSalt(v.Salt)
			if err != nil {
				t.Fatal(err)
			}
			canonical, err := Canonicalize([]byte(v.Record))
			if err != nil {
				t.Fatal(err)
			}
			if string(canonical) != v.Canonical {
				t.Errorf("canonical\n got %s\nwant %s", canonical, v.Canonical)
			}
			got, err := Compute([]byte(v.Record), salt)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Digest {
				t.Errorf("digest %s, want %s", got, v.Digest)
			}
			if err := Verify([]byte(v.Record), salt, v.Digest); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestDigestIgnoresFormattingButNotContent(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 16)
	base := `{"name":"Li Wei","year":2019,"tags":["a","b"]}`
	want, err := Compute([]byte(base), salt)
	if err != nil {
		t.Fatal(err)
	}
	same := []string{
		"{\n  \"year\": 2019,\n  \"tags\": [\"a\", \"b\"],\n  \"name\": \"Li Wei\"\n}\n",
		`{"tags":["a","b"],"name":"Li \u0057ei","year":2.019e3}`,
	}
	for _, rec := range same {
		if got, err := Compute([]byte(rec), salt); err != nil || got != want {
			t.Errorf("Compute(%s) = %s, %v; want %s", rec, got, err, want)
		}
	}
	different := []string{
		`{"name":"Li Wei","year":2020,"tags":["a","b"]}`,
		`{"name":"Li Wei","year":2019,"tags":["b","a"]}`,
		`{"name":"Li Wei","year":"2019","tags":["a","b"]}`,
		`{"name":"Li Wei ","year":2019,"tags":["a","b"]}`,
	}
	for _, rec := range different {
		if got, err := Compute([]byte(rec), salt); err != nil || got == want {
			t.Errorf("Compute(%s) = %s, %v; want a different digest", rec, got, err)
		}
	}
	other := bytes.Repeat([]byte{8}, 16)
	if got, _ := Compute([]byte(base), other); got == want {
		t.Error("another salt gave the same digest")
	}
}

func TestRefusedRecords(t *testing.T) {
	salt := bytes.Repeat([]byte{1}, 32)
	tests := []struct {
		name, record string
	}{
		{"empty", ``},
		{"not JSON", `{"a":}`},
		{"trailing garbage", `{"a":1} x`},
		{"two documents", `{} {}`},
		{"plus sign", `{"a":+1}`},
		{"leading dot", `[.5]`},
		{"hex number", `[0x10]`},
		{"NaN", `[NaN]`},
		{"invalid UTF-8", "{\"a\":\"\xff\"}"},
		{"lone high surrogate", `{"a":"\ud800"}`},
		{"lone high surrogate before text", `{"a":"\ud800x\udc00"}`},
		{"high surrogate with non-surrogate", `{"a":"\ud83d\u0041"}`},
		{"lone low surrogate", `{"a":"\udc00"}`},
		{"reversed pair", `{"a":"\ude00\ud83d"}`},
		{"surrogate in a key", `{"\ud800":1}`},
		{"duplicate key", `{"a":1,"a":1}`},
		{"duplicate key after escaping", `{"a":1,"\u0061":2}`},
		{"integer beyond 2^53", `{"account":9007199254740993}`},
		{"18-digit number", `[123456789012345678]`},
		{"over-precise decimal", `[0.30000000000000001]`},
		{"overflow", `[1e400]`},
		{"underflow", `[1e-400]`},
		{"huge exponent", `[1e99999999999999999999]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute([]byte(tc.record), salt)
			if codeOf(err) != CodeInvalidJSON {
				t.Fatalf("Compute = %q, %v; want %s", got, err, CodeInvalidJSON)
			}
			if err := Verify([]byte(tc.record), salt, Prefix+strings.Repeat("0", 64)); codeOf(err) != CodeInvalidJSON {
				t.Errorf("Verify = %v, want %s", err, CodeInvalidJSON)
			}
		})
	}
}

func TestMessagesDoNotQuoteRecords(t *testing.T) {
	salt := bytes.Repeat([]byte{1}, 32)
	for _, rec := range []string{
		`{"passport":110101199003077777}`,
		`{"passport":"E1234567","passport":"E1234567"}`,
		`{"E1234567":"\ud800"}`,
		`{"passport":"E1234567",}`,
	} {
		_, err := Compute([]byte(rec), salt)
		if err == nil {
			t.Fatalf("%s accepted", rec)
		}
		for _, secret := range []string{"110101199003077777", "1101011990", "E1234567", "passport"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the record", err)
			}
		}
	}
}

func TestSalt(t *testing.T) {
	a, b := NewSalt(), NewSalt()
	if len(a) != DefaultSaltSize || bytes.Equal(a, b) {
		t.Fatalf("NewSalt gave %x and %x", a, b)
	}
	back, err := DecodeSalt(EncodeSalt(a))
	if err != nil || !bytes.Equal(back, a) {
		t.Fatalf("salt round trip: %x, %v", back, err)
	}
	if strings.ContainsAny(EncodeSalt(a), "+/=") {
		t.Errorf("EncodeSalt %q is not base64url without padding", EncodeSalt(a))
	}
	record := []byte(`{}`)
	for _, n := range []int{0, 15, 65} {
		salt := make([]byte, n)
		if _, err := Compute(record, salt); codeOf(err) != CodeBadSalt {
			t.Errorf("%d-byte salt: %v, want %s", n, err, CodeBadSalt)
		}
		if _, err := DecodeSalt(EncodeSalt(salt)); codeOf(err) != CodeBadSalt {
			t.Errorf("decoding a %d-byte salt: %v, want %s", n, err, CodeBadSalt)
		}
	}
	for _, n := range []int{MinSaltSize, MaxSaltSize} {
		if _, err := Compute(record, make([]byte, n)); err != nil {
			t.Errorf("%d-byte salt refused: %v", n, err)
		}
	}
	for _, s := range []string{"AAECAwQFBgcICQoLDA0ODw==", "AAECAwQFBgcICQoLDA0OD+", "AAECAwQFBgcICQoLDA0OD/", "AAECAwQFBgcICQoLDA0OD x"} {
		if _, err := DecodeSalt(s); codeOf(err) != CodeBadSalt {
			t.Errorf("DecodeSalt(%q) = %v, want %s", s, err, CodeBadSalt)
		}
	}
}

func TestVerify(t *testing.T) {
	salt := bytes.Repeat([]byte{3}, 16)
	record := []byte(`{"degree":"BEng"}`)
	good, err := Compute(record, salt)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Compute([]byte(`{"degree":"MEng"}`), salt)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
		code string
	}{
		{"match", good, ""},
		{"other record's digest", other, CodeMismatch},
		{"upper-case hex", Prefix + strings.ToUpper(strings.TrimPrefix(good, Prefix)), CodeMalformed},
		{"no prefix", strings.TrimPrefix(good, Prefix), CodeMalformed},
		{"other algorithm", "sha512:" + strings.TrimPrefix(good, Prefix), CodeMalformed},
		{"short", good[:len(good)-1], CodeMalformed},
		{"long", good + "0", CodeMalformed},
		{"not hex", good[:len(good)-1] + "g", CodeMalformed},
		{"empty", "", CodeMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeOf(Verify(record, salt, tc.want)); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
	if got := codeOf(Verify(record, salt[:8], good)); got != CodeBadSalt {
		t.Errorf("short salt: code %q, want %q", got, CodeBadSalt)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add([]byte(v.Record))
	}
	for _, s := range []string{`{"a":"\ud800"}`, `[1e400]`, `{"a":1,"a":2}`, `[0.1,-0,1E-7]`, `"\u0000"`, `{"\u00e9":{"\u0065\u0301":[]}}`} {
		f.Add([]byte(s))
	}
	salt := bytes.Repeat([]byte{9}, 16)
	f.Fuzz(func(t *testing.T, record []byte) {
		canonical, err := Canonicalize(record)
		if err != nil {
			if codeOf(err) != CodeInvalidJSON {
				t.Fatalf("error without the invalid-JSON code: %v", err)
			}
			return
		}
		if !json.Valid(canonical) {
			t.Fatalf("canonical form is not JSON: %q", canonical)
		}
		again, err := Canonicalize(canonical)
		if err != nil || !bytes.Equal(again, canonical) {
			t.Fatalf("canonicalisation is not idempotent: %q -> %q (%v)", canonical, again, err)
		}
		// Re-encoding the same value with other whitespace, key order and
		// escapes keeps the digest.
		want, err := Compute(record, salt)
		if err != nil {
			t.Fatal(err)
		}
		var value any
		if err := json.Unmarshal(record, &value); err != nil {
			t.Fatalf("accepted record does not decode: %v", err)
		}
		for _, indent := range []string{"", "\t"} {
			reencoded, err := json.MarshalIndent(value, "", indent)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Compute(reencoded, salt); err != nil || got != want {
				t.Fatalf("re-encoded record %q: digest %s, %v; want %s", reencoded, got, err, want)
			}
		}
	})
}

func BenchmarkCompute(b *testing.B) {
	record := []byte(`{"eid":"did:eidgate:7Q2mXz","type":"edu.degree","degree":"Bachelor of Engineering","institution":"Example University","year":2019,"honours":false,"gpa":3.75,"courses":["Mathematics","Physics","Computer Science"]}`)
	salt := NewSalt()
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(record, salt); err != nil {
			b.Fatal(err)
		}
	}
}

// codeOf is the code of a digest error (routing.CodeOf, which this package's
// own tests cannot import).
func codeOf(err error) string {
	var e *domainerr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
