package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping/mappingtest"
	"github.com/eidgate/eidgate/web"
)

// pageCase is one page to check, with the browser that may see it.
type pageCase struct {
	name string
	who  string // "anon", "resident", or an administrator name
	path string
}

// allPages lists every page of the portal and console.
func allPages(e *pagesEnv) []pageCase {
	eid := e.w.residentEIDs[1]
	return []pageCase{
		{"portal login", "anon", "/portal/login"},
		{"portal activate", "anon", "/portal/activate"},
		{"admin login", "anon", "/admin/login"},
		{"not found", "anon", "/portal/nowhere"},
		{"portal home", "resident", "/portal"},
		{"portal data", "resident", "/portal/data"},
		{"portal inbox", "resident", "/portal/inbox"},
		{"portal consents", "resident", "/portal/consents"},
		{"portal access", "resident", "/portal/access"},
		{"portal security", "resident", "/portal/security"},
		{"portal wards", "resident", "/portal/wards"},
		{"portal ward", "resident", "/portal/wards/" + eid},
		{"admin home", "root", "/admin"},
		{"departments", "root", "/admin/departments"},
		{"department", "root", "/admin/departments/edu-bureau"},
		{"data types", "root", "/admin/datatypes"},
		{"data type", "root", "/admin/datatypes/edu.degree"},
		{"residents", "root", "/admin/residents"},
		{"resident", "root", "/admin/residents/" + eid},
		{"imports", "root", "/admin/imports"},
		{"policies", "root", "/admin/policies"},
		{"audit", "root", "/admin/audit"},
		{"break-glass", "root", "/admin/break-glass"},
		{"users", "root", "/admin/users"},
		{"admin security", "root", "/admin/security"},
	}
}

// seedActivity gives the pages something to show: a pending request, an
// active consent that was used, an anchored access and an import.
func seedActivity(t *testing.T, e *pagesEnv) {
	t.Helper()
	e.requestConsent(0, 0)
	id := e.requestConsent(0, 3)
	// Resident 0 acts for resident 1, who has a request waiting.
	if _, err := e.w.ledger.RegisterRepresentation(t.Context(), model.RepresentationDraft{Ward: e.w.residentEIDs[1], Guardian: e.w.residentEIDs[0],
		Kind: model.RepresentationAgent, Evidence: model.RepresentationEvidence{Kind: "notarised_authorisation", HashedRef: "v1:" + strings.Repeat("b", 64), MaskedRef: "GZ******42"},
		ValidUntil: e.w.clock.Now().AddDate(1, 0, 0).Format("2006-01-02T15:04:05Z07:00"), Officer: "officer"}); err != nil {
		t.Fatal(err)
	}
	e.requestConsent(1, 0)
	b := e.residentSignIn(0)
	if r := b.submit("/portal/inbox", "/portal/consents/"+id+"/grant", url.Values{"confirmed": {"yes"}}); r.status != http.StatusSeeOther {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	if st, out := e.resolve(0); st != http.StatusOK {
		t.Fatalf("resolve: %d %v", st, out)
	}
	seedBreakGlass(t, e, 0)
	e.w.anchor()
	adm := e.adminSignIn("root")
	token := adm.csrf("/admin/imports")
	r := adm.postMultipart("/admin/imports", [][2]string{{"csrf", token}}, "people.csv", importCSV)
	if r.status != http.StatusSeeOther {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	e.w.waitImport(t, strings.TrimPrefix(r.location(), "/admin/imports/"))
}

// importCSV has three good rows and two bad ones: a wrong check character
// (line 3, badNumber) and an unknown document type (line 6).
var importCSV = "type,number,country\n" +
	"cn-resident," + mappingtest.ResidentNumber(700) + ",\n" +
	"cn-resident," + badNumber + ",\n" +
	"cn-passport,EA1234567,\n" +
	"cn-resident," + mappingtest.ResidentNumber(702) + ",\n" +
	"driving-licence,123456789012,\n"

// badNumber is a cn-resident number whose check character is wrong.
var badNumber = func() string {
	n := mappingtest.ResidentNumber(701)
	wrong := byte('0')
	if n[17] == '0' {
		wrong = '1'
	}
	return n[:17] + string(wrong)
}()

func TestEveryPageRendersInBothLanguages(t *testing.T) {
	e := newPagesEnv(t)
	seedActivity(t, e)
	browsers := map[string]*browser{"anon": e.browser(), "resident": e.residentSignIn(0), "root": e.adminSignIn("root")}
	for _, lang := range web.Langs() {
		for _, p := range allPages(e) {
			t.Run(lang+"/"+p.name, func(t *testing.T) {
				b := browsers[p.who]
				b.lang = lang
				if p.who == "resident" {
					if err := e.w.residents.SetLanguage(t.Context(), e.w.residentEIDs[0], lang); err != nil {
						t.Fatal(err)
					}
				}
				r := b.get(p.path)
				want := http.StatusOK
				if p.name == "not found" {
					want = http.StatusNotFound
				}
				if r.status != want {
					t.Fatalf("GET %s: status %d, want %d\n%s", p.path, r.status, want, r.body)
				}
				checkPageHTML(t, r.body, lang)
				for _, d := range e.w.residentDocs {
					if strings.Contains(r.body, d.Number) {
						t.Errorf("the page shows the document number of a resident")
					}
				}
			})
		}
	}
}

// checkPageHTML checks what every page must hold: the language, no
// untranslated key, nothing inline that the CSP would block, a label for
// every control, unique ids, and aria references that point somewhere.
func checkPageHTML(t *testing.T, body, lang string) {
	t.Helper()
	if strings.Contains(body, web.MissingMark) {
		i := strings.Index(body, web.MissingMark)
		t.Errorf("untranslated key near %q", body[i:min(len(body), i+60)])
	}
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	labelFor := map[string]bool{}
	type control struct{ id, tag, typ string }
	var controls []control
	var refs []string
	var htmlLang string
	var walk func(n *html.Node, inLabel bool)
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if strings.HasPrefix(at.Key, "on") {
					t.Errorf("<%s> has an inline event handler %s", n.Data, at.Key)
				}
				if at.Key == "style" {
					t.Errorf("<%s> has an inline style", n.Data)
				}
				if strings.Contains(strings.ToLower(at.Val), "javascript:") {
					t.Errorf("<%s %s> holds a javascript: URL", n.Data, at.Key)
				}
			}
			if id, ok := a["id"]; ok {
				ids[id]++
			}
			switch n.Data {
			case "html":
				htmlLang = a["lang"]
			case "script":
				if a["src"] == "" || n.FirstChild != nil {
					t.Errorf("inline script")
				}
			case "style":
				t.Errorf("inline <style>")
			case "label":
				if f := a["for"]; f != "" {
					labelFor[f] = true
				}
				inLabel = true
			case "input", "select", "textarea":
				if a["type"] != "hidden" && a["type"] != "submit" && a["aria-label"] == "" && !inLabel {
					controls = append(controls, control{a["id"], n.Data, a["type"]})
				}
			case "form":
				if strings.EqualFold(a["method"], "post") && !strings.Contains(renderNode(n), `name="csrf"`) {
					t.Errorf("a POST form to %s has no CSRF token", a["action"])
				}
				if act := a["action"]; act != "" && !strings.HasPrefix(act, "/") {
					t.Errorf("a form posts off-site: %s", act)
				}
			}
			for _, k := range []string{"aria-describedby", "aria-labelledby"} {
				if v := a[k]; v != "" {
					refs = append(refs, strings.Fields(v)...)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)
	if htmlLang != lang {
		t.Errorf("<html lang=%q>, want %q", htmlLang, lang)
	}
	for _, c := range controls {
		if c.id == "" || !labelFor[c.id] {
			t.Errorf("<%s type=%q id=%q> has no label", c.tag, c.typ, c.id)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q is used %d times", id, n)
		}
	}
	for _, r := range refs {
		if ids[r] == 0 {
			t.Errorf("aria reference to missing id %q", r)
		}
	}
}

func renderNode(n *html.Node) string {
	var sb strings.Builder
	_ = html.Render(&sb, n)
	return sb.String()
}
