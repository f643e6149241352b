package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func site(t *testing.T) *Site {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewParsesEveryPage(t *testing.T) {
	s := site(t)
	want := []string{"admin_activate", "admin_acts", "admin_audit", "admin_break_glass", "admin_confirm", "admin_consent", "admin_datatype", "admin_datatypes", "admin_department", "admin_departments", "admin_dispute", "admin_disputes", "admin_home",
		"admin_import", "admin_imports", "admin_login", "admin_policies", "admin_proposals", "admin_resident", "admin_residents", "admin_secret",
		"admin_security", "admin_users", "error", "portal_access", "portal_activate", "portal_confirm", "portal_consents", "portal_credentials", "portal_data",
		"portal_dispute", "portal_home", "portal_inbox", "portal_login", "portal_present", "portal_presented", "portal_rule_confirm", "portal_rule_revoke", "portal_rules",
		"portal_security", "portal_verify", "portal_ward", "portal_wards"}
	if got := strings.Join(s.Pages(), " "); got != strings.Join(want, " ") {
		t.Errorf("pages:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
	if err := s.Render(&bytes.Buffer{}, "no_such_page", &Page{}); err == nil {
		t.Error("rendering an unknown page succeeded")
	}
}

// A page is parsed when it is first rendered and kept from then on; the
// others hold nothing. Renders racing on a page's first use share one parse
// (go test -race).
func TestPagesAreParsedOnFirstRender(t *testing.T) {
	s := site(t)
	for name, lp := range s.pages {
		if lp.t != nil {
			t.Fatalf("page %s is held before any render", name)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			p := &Page{Lang: "en", Title: "title.error", Area: "portal", Data: map[string]string{"Message": "m", "Home": "/portal"}}
			errs <- s.Render(&bytes.Buffer{}, "error", p)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, lp := range s.pages {
		if held := lp.t != nil; held != (name == "error") {
			t.Errorf("page %s held = %v after rendering only the error page", name, held)
		}
	}
}

// keyPatterns find the message keys the templates name literally.
var keyPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\.T "([a-z0-9_.\-]+)"`),
	regexp.MustCompile(`\.(?:Input|Select) "[^"]+" "([a-z0-9_.\-]+)"`),
	regexp.MustCompile(`"hint=([a-z0-9_.\-]+)"`),
	regexp.MustCompile(`\.Doc "[^"]*" "([a-z0-9_.\-]+)"`),
}

func TestTemplatesNameOnlyKnownMessages(t *testing.T) {
	s := site(t)
	err := fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		for _, re := range keyPatterns {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if !s.HasMessage(m[1]) {
					t.Errorf("%s names unknown message %q", p, m[1])
				}
			}
		}
		for _, m := range regexp.MustCompile(`\.Opt((?: "[^"]+")+)`).FindAllStringSubmatch(string(b), -1) {
			vals := regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[1], -1)
			for i := 1; i < len(vals); i += 2 {
				if !s.HasMessage(vals[i][1]) {
					t.Errorf("%s names unknown option message %q", p, vals[i][1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCataloguesAgreeAndFormat(t *testing.T) {
	s := site(t)
	verbs := regexp.MustCompile(`%(\[\d\])?[a-z]`)
	for key, zh := range s.cat[LangZH] {
		en := s.cat[LangEN][key]
		if zh == "" || en == "" {
			t.Errorf("%s is empty in a language", key)
		}
		// Both languages take the same arguments.
		if a, b := len(verbs.FindAllString(zh, -1)), len(verbs.FindAllString(en, -1)); a != b {
			t.Errorf("%s: zh-CN has %d arguments, en %d", key, a, b)
		}
	}
	p := &Page{Lang: LangEN, site: s}
	if got := p.T("home.pending", 3); got != "You have 3 consent requests waiting" {
		t.Errorf("formatted message: %q", got)
	}
	if got := p.T("no.such.key"); got != MissingMark+"no.such.key⟧" {
		t.Errorf("missing key renders as %q", got)
	}
	if got := p.Enum("import.status", "paused"); got != "paused" {
		t.Errorf("unknown enum value renders as %q", got)
	}
	if got := p.Enum("import.status", "done"); got != "Finished" {
		t.Errorf("known enum value renders as %q", got)
	}
}

func TestNegotiateLang(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", LangZH},
		{"en-US,en;q=0.9", LangEN},
		{"zh-CN,zh;q=0.9,en;q=0.8", LangZH},
		{"fr-FR, en;q=0.5", LangEN},
		{"en;q=0.4, zh-TW;q=0.8", LangZH},
		{"en;q=0", LangZH},
		{"de, fr", LangZH},
		{"en;q=abc, zh;q=0.1", LangZH},
		{"EN-gb", LangEN},
	} {
		if got := NegotiateLang(tc.header); got != tc.want {
			t.Errorf("NegotiateLang(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func FuzzNegotiateLang(f *testing.F) {
	for _, s := range []string{"", "en", "zh-CN,zh;q=0.9", "en;q=0.5,,;q=", strings.Repeat("en,", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if got := NegotiateLang(header); !ValidLang(got) {
			t.Fatalf("NegotiateLang(%q) = %q", header, got)
		}
	})
}

func TestDatesFollowTheLanguage(t *testing.T) {
	s := site(t)
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 3, 1, 23, 30, 5, 0, time.UTC)
	for _, tc := range []struct {
		lang, date, dateTime string
	}{
		{LangZH, "2026年3月2日", "2026年3月2日 07:30:05 CST"},
		{LangEN, "2 Mar 2026", "2 Mar 2026 07:30:05 CST"},
	} {
		p := &Page{Lang: tc.lang, Loc: shanghai, site: s}
		if got := p.Date(at); got != tc.date {
			t.Errorf("%s Date = %q, want %q", tc.lang, got, tc.date)
		}
		if got := p.DateTime(at.Format(time.RFC3339)); got != tc.dateTime {
			t.Errorf("%s DateTime(RFC 3339 string) = %q, want %q", tc.lang, got, tc.dateTime)
		}
		if got := p.DateTime(time.Time{}); got != "—" {
			t.Errorf("zero time renders as %q", got)
		}
	}
	p := &Page{Lang: LangEN, site: s}
	if got := p.Days("2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z"); got != 30 {
		t.Errorf("Days = %d", got)
	}
}

func TestCountsTakeTheirPlural(t *testing.T) {
	s := site(t)
	for _, tc := range []struct {
		n    any
		want string
	}{{uint64(1), "used 1 time"}, {uint64(2), "used 2 times"}, {1, "used 1 time"}, {int64(0), "used 0 times"}} {
		if got := s.Message(LangEN, "consent.used", tc.n); got != tc.want {
			t.Errorf("consent.used %v = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := s.Message(LangEN, "consent.uses_max", uint64(1)); got != "at most 1 time" {
		t.Errorf("uses_max 1 = %q", got)
	}
}

// Without an operator's zone, a page in Chinese shows Beijing time.
func TestChineseDefaultsToBeijingTime(t *testing.T) {
	s := site(t)
	p := &Page{Lang: LangZH, Loc: LangZone(LangZH), site: s}
	if got := p.DateTime("2026-03-01T09:00:00Z"); got != "2026年3月1日 17:00:00 CST" {
		t.Errorf("DateTime = %q", got)
	}
	if LangZone(LangEN) != nil {
		t.Error("English has no zone of its own")
	}
}

func TestConsentStatementsSayWhatIsAllowed(t *testing.T) {
	s := site(t)
	names := Names{
		Departments: map[string]LocalName{"hrss": {ZH: "市人社局", EN: "HR Bureau"}, "edu-bureau": {ZH: "市教育局", EN: "Education Bureau"}},
		DataTypes:   map[string]LocalName{"edu.degree": {ZH: "学位证书", EN: "Degree certificate"}, "edu.transcript": {ZH: "成绩单", EN: "Transcript"}},
	}
	c := Consent{Requester: "hrss", Provider: "edu-bureau", DataTypes: []string{"edu.degree", "edu.transcript"},
		PurposeCode: "hiring", PurposeText: "Check a degree", ValidFrom: "2026-03-01T00:00:00Z", ValidUntil: "2026-03-31T00:00:00Z", MaxUses: 2}
	en := &Page{Lang: LangEN, Names: names, site: s}
	want := "You allow HR Bureau to obtain your Degree certificate, Transcript from Education Bureau for the purpose " +
		"“Check a degree”, from 1 Mar 2026 00:00:00 UTC until 31 Mar 2026 00:00:00 UTC, at most 2 times."
	if got := en.Grants(c); got != want {
		t.Errorf("en grant statement:\n got %s\nwant %s", got, want)
	}
	zh := &Page{Lang: LangZH, Names: names, site: s}
	got := zh.Grants(c)
	for _, part := range []string{"市人社局", "学位证书、成绩单", "市教育局", "“Check a degree”", "2026年3月1日", "2026年3月31日", "最多 2 次"} {
		if !strings.Contains(got, part) {
			t.Errorf("zh-CN grant statement %q lacks %q", got, part)
		}
	}
	c.Provider, c.MaxUses = "*", 0
	if got := en.Grants(c); !strings.Contains(got, "from any department that holds it") || !strings.Contains(got, "as often as needed") {
		t.Errorf("open grant statement: %s", got)
	}
	// Without the department's text, the purpose in plain words.
	c.PurposeText, c.PurposeCode = "", "employment"
	if got := en.Grants(c); !strings.Contains(got, "for the purpose employment (checking a job applicant)") {
		t.Errorf("grant statement without a purpose text: %s", got)
	}
	// A purpose the catalogues do not know is shown as its code.
	if c.PurposeCode = "tax.audit-2026"; en.Purpose(c) != "tax.audit-2026" || zh.PurposeName("employment") == "employment" {
		t.Errorf("purpose names: %q, %q", en.Purpose(c), zh.PurposeName("employment"))
	}
	c.PurposeCode = "employment"
	if got := en.Revokes(c); !strings.Contains(got, "HR Bureau will no longer be able to obtain your Degree certificate, Transcript") {
		t.Errorf("revoke statement: %s", got)
	}
}

func TestRenderEscapesAndSetsLanguage(t *testing.T) {
	s := site(t)
	var buf bytes.Buffer
	p := &Page{Lang: "fr", Title: "title.error", Area: "portal", Data: map[string]string{"Message": `<script>alert(1)</script>`, "Home": "/portal"}}
	if err := s.Render(&buf, "error", p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "<script>alert") {
		t.Error("data was not escaped")
	}
	if !strings.Contains(out, `<html lang="zh-CN">`) {
		t.Error("an unknown language did not fall back to zh-CN")
	}
}

func TestFieldsTieErrorsToControls(t *testing.T) {
	s := site(t)
	p := &Page{Lang: LangEN, site: s, Form: map[string]string{"number": "110105194912310021", "name": "x"}}
	p.Errors = &Errors{}
	p.Errors.Add("number", "wrong")
	f := p.Doc("", "doc.legend", true).Number()
	// The number comes back to the field it was typed in, so the person
	// corrects it rather than typing it again.
	if f.Value != "110105194912310021" || !f.Secret {
		t.Errorf("document number field %+v", f)
	}
	if f.Describe() != "h-number e-number" || f.Error != "wrong" {
		t.Errorf("describedby %q, error %q", f.Describe(), f.Error)
	}
	if got := p.Input("name", "dept.name", "text").Value; got != "x" {
		t.Errorf("refill = %q", got)
	}
	if got := p.Input("password", "login.password", "password").Value; got != "" {
		t.Errorf("a password was refilled: %q", got)
	}
}

func TestStaticAssets(t *testing.T) {
	s := site(t)
	h := http.StripPrefix("/static", s.Static())
	for _, tc := range []struct {
		path, ctype, cache string
		status             int
	}{
		{"/static/app.css?v=" + s.Version(), "text/css", "immutable", 200},
		{"/static/app.js?v=" + s.Version(), "javascript", "immutable", 200},
		{"/static/merkle.js", "javascript", "no-cache", 200},
		{"/static/", "", "", 404},
		{"/static/nope.js", "", "", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if !strings.Contains(rec.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(rec.Header().Get("Cache-Control"), tc.cache) {
			t.Errorf("%s: Content-Type %q, Cache-Control %q", tc.path, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
		}
	}
}

// The portal's verifier must be the reference verifier, unchanged.
func TestMerkleVerifierIsTheReference(t *testing.T) {
	ours, err := fs.ReadFile(files, "static/merkle.js")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("../routing/merkle/testdata/verify.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, ref) {
		t.Fatal("web/static/merkle.js differs from routing/merkle/testdata/verify.js; copy it again")
	}
}

// goLeafHash is the leaf encoding of routing.AccessRecord, written out
// from its documentation: SHA-256(0x00 ‖ for each field: u32be len ‖ bytes).
func goLeafHash(fields []string) string {
	h := sha256.New()
	h.Write([]byte{0})
	var n [4]byte
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestLeafEncodingInJavaScriptMatchesGo(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the browser tests cover leaf.js too")
	}
	cases := [][]string{
		{"eidgate-access-v1", "acc_1", "2026-03-01T09:00:00.123456789Z", "hrss", "official-0123456789abcdef", "edu-bureau",
			"did:eidgate:00000000000000000000000000000000", "edu.degree", "hiring", "cs-000000000000000000000001", "7", "issued", "jti", "sha256:00"},
		{"", "", "中文字段", "emoji 🙂", strings.Repeat("x", 300)},
		{},
	}
	in, _ := json.Marshal(cases)
	script := `import { leafHashOfFields } from "./static/leaf.js";
const cases = JSON.parse(process.argv[1]);
const out = [];
for (const c of cases) out.push(await leafHashOfFields(c));
console.log(JSON.stringify(out));`
	cmd := exec.Command(node, "--input-type=module", "-e", script, string(in))
	cmd.Dir = "."
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, got)
	}
	var hashes []string
	if err := json.Unmarshal(got, &hashes); err != nil {
		t.Fatalf("node output %q: %v", got, err)
	}
	for i, c := range cases {
		if hashes[i] != goLeafHash(c) {
			t.Errorf("case %d: leaf.js %s, Go %s", i, hashes[i], goLeafHash(c))
		}
	}
}

// --- contrast (WCAG 2.1: 4.5:1 for text, 3:1 for focus indicators) ---

func cssColors(t *testing.T) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(files, "static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6});`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func luminance(hexColor string) float64 {
	var rgb [3]float64
	for i := range 3 {
		v, _ := strconv.ParseUint(hexColor[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			rgb[i] = c / 12.92
		} else {
			rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestColoursMeetContrast(t *testing.T) {
	c := cssColors(t)
	for _, tc := range []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"fg", "surface", 4.5}, {"muted", "bg", 4.5}, {"muted", "surface", 4.5},
		{"link", "bg", 4.5}, {"link", "surface", 4.5}, {"primary-fg", "primary", 4.5}, {"danger-fg", "danger", 4.5},
		{"secondary-fg", "secondary-bg", 4.5}, {"header-fg", "header-bg", 4.5}, {"notice-fg", "notice-bg", 4.5},
		{"error-fg", "error-bg", 4.5}, {"error-fg", "bg", 4.5}, {"code-fg", "code-bg", 4.5},
		{"focus", "bg", 3}, {"focus", "surface", 3}, {"focus-on-dark", "header-bg", 3}, {"border", "bg", 3},
	} {
		a, b := c[tc.fg], c[tc.bg]
		if a == "" || b == "" {
			t.Errorf("colour --%s or --%s is not defined", tc.fg, tc.bg)
			continue
		}
		if r := contrast(a, b); r < tc.min {
			t.Errorf("--%s on --%s: contrast %.2f:1, need %.1f:1", tc.fg, tc.bg, r, tc.min)
		}
	}
}

// BenchmarkRenderInbox renders a consent inbox of 20 requests, the
// portal's busiest template.
func BenchmarkRenderInbox(b *testing.B) {
	s, err := New()
	if err != nil {
		b.Fatal(err)
	}
	var pending []Consent
	for i := range 20 {
		pending = append(pending, Consent{ID: "cs-" + strconv.Itoa(i), Requester: "hrss", Provider: "*", DataTypes: []string{"edu.degree", "edu.transcript"},
			PurposeCode: "employment", PurposeText: "核实应聘者学历", ValidFrom: "2026-03-01T00:00:00Z", ValidUntil: "2026-03-31T00:00:00Z", RequestedAt: "2026-03-01T00:00:00Z"})
	}
	names := Names{Departments: map[string]LocalName{"hrss": {ZH: "市人社局", EN: "HR Bureau"}},
		DataTypes: map[string]LocalName{"edu.degree": {ZH: "学位证书", EN: "Degree"}}}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		p := &Page{Lang: LangZH, Title: "title.portal.inbox", Area: "portal", User: "did:eidgate:0", CSRF: "t", Names: names,
			Data: map[string]any{"Pending": pending}}
		if err := s.Render(&buf, "portal_inbox", p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// The portal's proof check accepts a break-glass leaf (16 fields, format
// eidgate-access-bg-v1) only for a row showing its legal basis, and an
// ordinary leaf only for a row without one.
func TestLeafFormatsInJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	plain := []string{"eidgate-access-v1", "acc_1", "t", "hrss", "official-x", "edu-bureau", "did:eidgate:0", "edu.degree",
		"hiring", "cs-1", "7", "issued", "jti", "sha256:00"}
	bg := append(append([]string{"eidgate-access-bg-v1"}, plain[1:]...), "Law art. 12", "2026-04-01T09:00:00Z")
	in, _ := json.Marshal([]any{[]any{plain, ""}, []any{plain, "Law art. 12"}, []any{bg, "Law art. 12"}, []any{bg, ""}, []any{bg, "other"}})
	script := `import { sameFormat } from "./static/leaf.js";
console.log(JSON.stringify(JSON.parse(process.argv[1]).map(([f, basis]) => sameFormat(f, basis))));`
	got, err := exec.Command(node, "--input-type=module", "-e", script, string(in)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, got)
	}
	if want := "[true,false,true,false,false]"; strings.TrimSpace(string(got)) != want {
		t.Fatalf("sameFormat = %s, want %s", got, want)
	}
}
