package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

type docCase struct {
	Type       DocType `json:"type"`
	Number     string  `json:"number"`
	Country    string  `json:"country"`
	Normalized string  `json:"normalized"`
	Upgraded   bool    `json:"upgraded"`
	Reason     Reason  `json:"reason"`
	Note       string  `json:"note"`
}

// testNow is the reference date of testdata/documents.json.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func loadDocCases(t testing.TB) []docCase {
	t.Helper()
	data, err := os.ReadFile("testdata/documents.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Now   string    `json:"now"`
		Cases []docCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if file.Now != testNow.Format(time.DateOnly) {
		t.Fatalf("documents.json is written for %s, tests use %s", file.Now, testNow.Format(time.DateOnly))
	}
	return file.Cases
}

func TestParseVectors(t *testing.T) {
	cases := loadDocCases(t)
	validTypes, reasonsSeen := map[DocType]bool{}, map[DocType]map[Reason]bool{}
	for i, tc := range cases {
		name := fmt.Sprintf("%02d-%s-%s", i, tc.Type, tc.Reason)
		t.Run(name, func(t *testing.T) {
			doc, err := Parse(Input{Type: tc.Type, Number: tc.Number, Country: tc.Country}, testNow)
			if tc.Reason == "" {
				if err != nil {
					t.Fatalf("Parse(%q, %q) rejected: %v (%s)", tc.Number, tc.Country, err, tc.Note)
				}
				if got := doc.RevealNormalized(); got != tc.Normalized {
					t.Fatalf("normalised %q, want %q (%s)", got, tc.Normalized, tc.Note)
				}
				if doc.Type() != tc.Type || doc.Upgraded() != tc.Upgraded {
					t.Fatalf("type %q upgraded %v, want %q %v", doc.Type(), doc.Upgraded(), tc.Type, tc.Upgraded)
				}
				validTypes[tc.Type] = true
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q, %q) accepted as %s, want reason %s (%s)", tc.Number, tc.Country, doc.Mask(), tc.Reason, tc.Note)
			}
			var re *routing.Error
			if !errors.As(err, &re) || re.Kind != routing.KindInvalid || re.Code != CodeInvalidDocument {
				t.Fatalf("error %T %v is not an invalid_document *routing.Error", err, err)
			}
			wantType := tc.Type
			if !wantType.Known() {
				wantType = ""
			}
			if ReasonOf(err) != tc.Reason {
				t.Fatalf("reason %s (%s), want %s (%s)", ReasonOf(err), re.Message, tc.Reason, tc.Note)
			}
			if TypeOf(err) != wantType {
				t.Fatalf("type %q, want %q", TypeOf(err), wantType)
			}
			if re.Message == "" {
				t.Fatal("empty message")
			}
			if !doc.IsZero() {
				t.Fatal("rejected parse returned a document")
			}
			if reasonsSeen[tc.Type] == nil {
				reasonsSeen[tc.Type] = map[Reason]bool{}
			}
			reasonsSeen[tc.Type][ReasonOf(err)] = true
		})
	}
	// Every type has valid examples and every type is rejected for length,
	// characters and format (or a checksum) at least.
	for _, typ := range Types() {
		if !validTypes[typ] {
			t.Errorf("no valid example for %s", typ)
		}
		if !reasonsSeen[typ][ReasonLength] || !reasonsSeen[typ][ReasonCharacters] {
			t.Errorf("%s lacks length or characters rejections: %v", typ, reasonsSeen[typ])
		}
	}
	all := map[Reason]bool{}
	for _, rs := range reasonsSeen {
		for r := range rs {
			all[r] = true
		}
	}
	for _, r := range []Reason{ReasonLength, ReasonCharacters, ReasonFormat, ReasonChecksum, ReasonDate, ReasonRegion, ReasonCountry} {
		if !all[r] {
			t.Errorf("no test vector is rejected for %s", r)
		}
	}
}

func TestParseUnknownType(t *testing.T) {
	_, err := Parse(Input{Type: "driving-licence", Number: "11010519491231002X"}, testNow)
	if ReasonOf(err) != ReasonType {
		t.Fatalf("err = %v, want reason type", err)
	}
	if strings.Contains(err.Error(), "11010519491231002X") {
		t.Fatalf("error leaks the number: %v", err)
	}
	// Swapped fields put the number in the type; it is not echoed either.
	_, err = Parse(Input{Type: "11010519491231002X", Number: "cn-resident"}, testNow)
	if ReasonOf(err) != ReasonType || strings.Contains(err.Error(), "11010519491231002X") {
		t.Fatalf("swapped fields: %v", err)
	}
}

// A rejection keeps its reason and masked input through wrapping, and its
// message shows neither the number nor its masked form.
func TestRejectionIsAnInvalidRoutingError(t *testing.T) {
	_, err := Parse(Input{Type: CNResident, Number: "110105194912310021"}, testNow)
	wrapped := fmt.Errorf("import row 7: %w", routing.Wrap("mapping.Import", err))
	if routing.KindOf(wrapped) != routing.KindInvalid || routing.CodeOf(wrapped) != CodeInvalidDocument {
		t.Fatalf("kind %s code %s, want invalid invalid_document", routing.KindOf(wrapped), routing.CodeOf(wrapped))
	}
	if ReasonOf(wrapped) != ReasonChecksum {
		t.Errorf("reason %q through wrapping, want checksum", ReasonOf(wrapped))
	}
	if got := MaskedOf(wrapped); got != "1101**********0021" {
		t.Errorf("masked input %q, want 1101**********0021", got)
	}
	if msg := routing.MessageOf(wrapped); strings.Contains(msg, "1101") || strings.Contains(msg, "0021") {
		t.Errorf("message %q shows the number", msg)
	}
	var re *routing.Error
	if errors.As(wrapped, &re) && re.Field != "number" {
		t.Errorf("field %q, want number", re.Field)
	}
}

func TestBirthDateTodayAndTomorrow(t *testing.T) {
	// Born on the reference day is fine, a day later is in the future; the
	// calendar date is taken in now's location.
	body := "11010520250601002"
	today := body + string(gb11643Check(body))
	body = "11010520250602002"
	tomorrow := body + string(gb11643Check(body))
	if _, err := Parse(Input{Type: CNResident, Number: today}, testNow); err != nil {
		t.Fatalf("born today: %v", err)
	}
	if _, err := Parse(Input{Type: CNResident, Number: tomorrow}, testNow); ReasonOf(err) != ReasonDate {
		t.Fatalf("born tomorrow: %v, want date", err)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	lateUTC := time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC) // already 2 June in Shanghai
	if _, err := Parse(Input{Type: CNResident, Number: tomorrow}, lateUTC.In(shanghai)); err != nil {
		t.Fatalf("born 2 June, now 2 June in Shanghai: %v", err)
	}
}

func TestUpgradedNumberBlindsLikeEighteen(t *testing.T) {
	old, err := Parse(Input{Type: CNResident, Number: "110105491231002"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := Parse(Input{Type: CNResident, Number: "11010519491231002X"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !old.Equal(cur) {
		t.Fatalf("%v and %v differ", old, cur)
	}
	k := testKeyring(t)
	a, _ := k.Blind(old)
	b, _ := k.Blind(cur)
	if a != b {
		t.Fatalf("15-digit and 18-digit spellings blind differently: %v %v", a, b)
	}
}

func TestIssueCountNotPartOfIdentity(t *testing.T) {
	k := testKeyring(t)
	for _, tc := range []struct {
		typ  DocType
		nums []string
	}{
		{HKMOPermit, []string{"H12345678", "H1234567800", "H12345678(01)", "h12345678 (02)"}},
		{TWPermit, []string{"12345678", "1234567800", "12345678(07)"}},
	} {
		var first Index
		for i, n := range tc.nums {
			doc, err := Parse(Input{Type: tc.typ, Number: n}, testNow)
			if err != nil {
				t.Fatalf("%s %q: %v", tc.typ, n, err)
			}
			idx, _ := k.Blind(doc)
			if i == 0 {
				first = idx
			} else if idx != first {
				t.Fatalf("%s: %q blinds differently from %q", tc.typ, n, tc.nums[0])
			}
		}
	}
}

func TestTypesAreStableAndKnown(t *testing.T) {
	want := []DocType{"cn-resident", "cn-passport", "passport", "hkmo-permit", "tw-permit", "cn-hkmo-pass", "hkmotw-residence", "foreign-permanent"}
	got := Types()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Types()[0] != CNResident {
		t.Fatal("Types() shares its slice with callers")
	}
	for _, typ := range want {
		if !typ.Known() {
			t.Errorf("%s not Known", typ)
		}
	}
	if DocType("cn-Resident").Known() {
		t.Error("type codes are case-sensitive")
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "ABC"},
		{"ＡＢＣ　１２３", "ABC123"},
		{"a-b—c‐d", "ABCD"}, // ASCII hyphen, em dash, Unicode hyphen
		{"\t1 2\n3\r", "123"},
		{"（０１）", "(01)"},
		{"x<<", "X<<"},
		{"é", "é"}, // non-ASCII letters are left for the parser to reject
		{"ALREADY123", "ALREADY123"},
	} {
		if got := fold(tc.in); got != tc.want {
			t.Errorf("fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"11010519491231002X", "1101**********002X"},
		{"KAZ110090123105", "KAZ1*******3105"},
		{"E12345678", "E1*****78"},
		{"AB1234", "A****4"},
		{"12345678", "1******8"},
		{"ABCDE", "*****"},
		{"", ""},
		{"中文号码测试一二三", "中文*****二三"},
	} {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every way a Document or a rejection can end up in an error, a log line, a
// metric label or an API body shows the masked form only.
func TestNoOutputLeaksTheNumber(t *testing.T) {
	cases := loadDocCases(t)
	for _, tc := range cases {
		if tc.Type == "no-such-type" {
			continue
		}
		doc, err := Parse(Input{Type: tc.Type, Number: tc.Number, Country: tc.Country}, testNow)
		var secrets []string
		if err == nil {
			secrets = append(secrets, strings.SplitN(doc.RevealNormalized(), ":", 2)[len(strings.SplitN(doc.RevealNormalized(), ":", 2))-1])
		}
		if f := fold(tc.Number); len(f) >= 6 {
			if i := strings.IndexByte(f, ':'); i >= 0 {
				f = f[i+1:]
			}
			secrets = append(secrets, f)
		}
		var outputs []string
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		} else {
			j, jerr := json.Marshal(doc)
			if jerr != nil {
				t.Fatal(jerr)
			}
			wrapped, _ := json.Marshal(struct{ Doc Document }{doc})
			var logBuf bytes.Buffer
			slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("resolved", "doc", doc)
			var textBuf bytes.Buffer
			slog.New(slog.NewTextHandler(&textBuf, nil)).Info("resolved", "doc", doc, "ptr", &doc)
			outputs = append(outputs,
				doc.String(), doc.Mask(), doc.GoString(), string(j), string(wrapped), logBuf.String(), textBuf.String(),
				fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%10.3v", doc, doc, doc, doc, doc, doc, doc, doc, doc),
				fmt.Sprintf("%v|%+v|%#v", &doc, &doc, &doc),
				fmt.Sprintf("%+v", struct{ d Document }{doc}), // unexported field: fmt cannot call methods
				fmt.Sprintf("%+v", []Document{doc}),
				fmt.Sprintf("%v", map[string]Document{"k": doc}),
				fmt.Errorf("resolve %v: %w", doc, errors.New("x")).Error(),
			)
		}
		for _, secret := range secrets {
			for _, out := range outputs {
				if strings.Contains(out, secret) {
					t.Errorf("%s %q: output leaks the number: %s", tc.Type, tc.Number, out)
				}
			}
		}
	}
}

func TestDocumentJSONShape(t *testing.T) {
	doc, err := Parse(Input{Type: Passport, Number: "L898902C3", Country: "USA"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(doc)
	if string(j) != `{"type":"passport","country":"USA","masked":"L8*****C3"}` {
		t.Fatalf("json %s", j)
	}
	j, _ = json.Marshal(Document{})
	if string(j) != "null" {
		t.Fatalf("zero document json %s", j)
	}
	if got := doc.String(); got != "passport:USA:L8*****C3" {
		t.Fatalf("String() = %q", got)
	}
}

func TestReparseNormalizedForm(t *testing.T) {
	for _, tc := range loadDocCases(t) {
		if tc.Reason != "" {
			continue
		}
		doc, err := Parse(Input{Type: tc.Type, Number: tc.Number, Country: tc.Country}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(Input{Type: tc.Type, Number: doc.RevealNormalized()}, testNow)
		if err != nil || !again.Equal(doc) {
			t.Fatalf("%s %q: normalised form %s does not parse to itself: %v", tc.Type, tc.Number, doc, err)
		}
	}
}

func TestCountryTableMatchesTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/iso3166-1.tsv")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		rows++
		if n, ok := iso3166Numeric(cols[0]); !ok || n != cols[1] {
			t.Errorf("%s: numeric %q %v, want %s", cols[0], n, ok, cols[1])
		}
		if a, ok := iso3166Alpha3(cols[1]); !ok || a != cols[0] {
			t.Errorf("%s: alpha-3 %q %v, want %s", cols[1], a, ok, cols[0])
		}
	}
	if rows != 249 || len(iso3166ByAlpha3) != rows*6 {
		t.Fatalf("%d rows, tables %d/%d bytes: regenerate with go generate", rows, len(iso3166ByAlpha3), len(iso3166ByNumeric))
	}
	for _, code := range []string{"ZZZ", "UTO", "AB", "", "USAA", "usa"} {
		if _, ok := iso3166Numeric(code); ok {
			t.Errorf("%q accepted as a country", code)
		}
	}
}

func TestIssuingStates(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"USA", "USA", true}, {"usa", "USA", true}, {"DEU", "D", true}, {"D<<", "D", true}, {"D", "D", true},
		{"GBD", "GBD", true}, {"GBN", "GBN", true}, {"GBO", "GBO", true}, {"GBP", "GBP", true}, {"GBS", "GBS", true},
		{"UNO", "UNO", true}, {"UNA", "UNA", true}, {"UNK", "UNK", true},
		{"XXA", "XXA", true}, {"XXB", "XXB", true}, {"XXC", "XXC", true}, {"XXX", "XXX", true}, {"EUE", "EUE", true},
		{"RKS", "RKS", true}, {"TWN", "TWN", true}, {"HKG", "HKG", true},
		{"UTO", "UTO", false}, {"", "", false}, {"GB", "GB", false}, {"D E", "DE", false}, {"XXA XXB", "XXAXXB", false},
	} {
		got, ok := issuingState(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("issuingState(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestChecksumAlgorithms(t *testing.T) {
	// GB 11643-1999 samples and the ICAO 9303 specimen passport.
	for body, want := range map[string]byte{"11010519491231002": 'X', "44052418800101001": '4', "93268219850101001": '7'} {
		if got := gb11643Check(body); got != want {
			t.Errorf("gb11643Check(%s) = %c, want %c", body, got, want)
		}
	}
	for s, want := range map[string]byte{"L898902C3": '6', "740812": '2', "120415": '9', "KAZ11009012310": '5', "AB1234<<<": '1'} {
		if got := icaoCheckDigit(s); got != want {
			t.Errorf("icaoCheckDigit(%s) = %c, want %c", s, got, want)
		}
	}
}
