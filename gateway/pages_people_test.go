package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// The portal speaks to people: purposes and outcomes in words, codes only
// behind a "details" disclosure, times in the resident's zone, counts
// with the right plural, and an access whose record did not match its
// digest shown as flagged.
func TestPortalSpeaksPlainly(t *testing.T) {
	// No --time-zone: a resident reading Chinese sees Beijing time.
	e := newPagesEnvWith(t, func(c *gateway.Config) { c.TimeZone = nil })
	id := e.requestConsent(0, 3)
	b := e.residentSignIn(0)
	b.submit("/portal/inbox", "/portal/consents/"+id+"/grant", url.Values{"confirmed": {"yes"}})
	if st, out := e.resolve(0); st != http.StatusOK {
		t.Fatalf("resolve: %d %v", st, out)
	}
	e.w.anchor()

	b.lang = "en"
	b.submit("/portal", "/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal"}})
	consents := b.get("/portal/consents").body
	mustContain(t, consents, "Codes for checking", "at most 3 times")

	access := b.get("/portal/access").body
	mustContain(t, access, "hiring", `<details class="codes">`, "Granted")
	// Codes are only inside the disclosure (and in the attributes the
	// verifier script reads).
	visible := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(strings.Split(access, `<details class="codes">`)[0], "")
	mustNotContain(t, visible, id, "Merkle", "block ", "official-")

	b.submit("/portal", "/portal/lang", url.Values{"lang": {"zh-CN"}, "next": {"/portal"}})
	home := b.get("/portal/consents").body
	// The grant happened at 09:00 UTC: 17:00 in Beijing.
	mustContain(t, home, "2026年3月1日 17:00:00 CST")
}

func TestPortalShowsFlaggedAccess(t *testing.T) {
	e := newPagesEnv(t)
	ctx := context.Background()
	rec := &routing.AccessRecord{RequestID: "r1", Requester: "hrss", Official: "hr.clerk.17", Provider: "edu-bureau",
		EID: e.w.residentEIDs[0], DataType: "edu.degree", Purpose: "hiring", Outcome: routing.OutcomeIssued, CreatedAt: e.w.clock.Now()}
	rec.ID = routing.NewAccessID()
	rec.ComputeLeafHash()
	if _, err := e.w.access.AppendAccess(ctx, []*routing.AccessRecord{rec}); err != nil {
		t.Fatal(err)
	}
	if err := e.w.access.FlagAccess(ctx, rec.ID, "digest mismatch", "sha256:"+strings.Repeat("0", 64)); err != nil {
		t.Fatal(err)
	}
	b := e.residentSignIn(0)
	b.submit("/portal", "/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal"}})
	page := b.get("/portal/access").body
	mustContain(t, page, `class="flagged"`, "Flagged: the data the provider sent did not match what it registered")
	row := page[strings.Index(page, `id="a-`+rec.ID+`"`):]
	row = row[:strings.Index(row, "</tr>")]
	mustNotContain(t, row, ">Granted<")
}

func TestResidentFormsHelpCorrect(t *testing.T) {
	e := newPagesEnv(t)
	b := e.browser()
	b.lang = "en"
	// A passport without its issuing country: the error says the country
	// is required and sits on that field; the number stays.
	passport := mapping.Input{Type: "passport", Number: "L898902C3"}
	r := b.submit("/portal/login", "/portal/login", docForm("", passport, url.Values{"password": {"x"}}))
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, "A passport needs its issuing country", `id="e-country"`, `value="L898902C3"`)
	mustNotContain(t, r.body, `Issuing country <span class="optional">`)

	// Locked out: the page says how long to wait.
	doc := e.w.residentDocs[0]
	var last pageResp
	for range 12 {
		last = b.submit("/portal/login", "/portal/login", docForm("", doc, url.Values{"password": {"not the password"}}))
	}
	mustContain(t, last.body, "Too many failed sign-ins. Try again in ")
}
