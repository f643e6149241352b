package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// Pages of passkeys and signed consents. The ceremonies themselves run in
// the browser (static/passkeys.js) against the JSON operations; these
// pages list, explain and remove.

// securityData is what the sign-in pages of both areas show.
type securityData struct {
	Passkeys     []accounts.PasskeyInfo
	API          string // where the script registers a passkey
	Done         string // where it goes when it has
	MustRegister bool
	// TimeZone is the zone the resident chose ("" for the default) and
	// TimeZones the zones the portal offers.
	TimeZone  string
	TimeZones []string
}

// portalTimeZones are the zones the portal offers; the API takes any IANA
// name.
var portalTimeZones = []string{"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "Asia/Tokyo", "Asia/Seoul",
	"Asia/Singapore", "Asia/Kolkata", "Asia/Dubai", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney", "Pacific/Auckland", "UTC"}

// portalTimeZone stores the zone the resident chose for the portal's times.
func (p *pages) portalTimeZone(c *gin.Context) {
	err := p.deps.Residents.SetTimeZone(ctx(c), currentSession(c).Subject, c.PostForm("time_zone"))
	if routing.IsKind(err, routing.KindInvalid) {
		p.showSecurity(c, http.StatusBadRequest, p.formErrors(c, err, nil))
		return
	}
	if err != nil {
		p.pageFail(c, err)
		return
	}
	seeOther(c, "/portal/security", "time_zone")
}

func (p *pages) portalSecurity(c *gin.Context) { p.showSecurity(c, http.StatusOK, nil) }
func (p *pages) adminSecurity(c *gin.Context)  { p.showSecurity(c, http.StatusOK, nil) }

func (p *pages) showSecurity(c *gin.Context, status int, errs *web.Errors) {
	sess := currentSession(c)
	keys, err := p.deps.Passkeys.List(ctx(c), accountKind(sess.Kind), sess.Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	d := securityData{Passkeys: keys, API: "/v1/me", Done: "/portal/security?done=passkey_added", TimeZones: portalTimeZones}
	if sess.Kind == accounts.SessionResident {
		if z, err := p.deps.Residents.TimeZone(ctx(c), sess.Subject); err == nil && z != nil {
			d.TimeZone = z.String()
		}
	}
	name, title := "portal_security", "title.portal.security"
	if sess.Kind == accounts.SessionAdmin {
		d.API, d.Done, d.MustRegister = "/v1/admin", "/admin?done=staff_passkey_added", p.mustRegisterPasskey(sess)
		name, title = "admin_security", "title.admin.security"
	}
	p.render(c, status, name, &web.Page{Title: title, Nav: "security", Errors: errs, Data: d})
}

// removePasskey removes one of the signed-in account's passkeys.
func (p *pages) removePasskey(c *gin.Context) {
	sess := currentSession(c)
	if err := p.deps.Passkeys.Remove(ctx(c), accountKind(sess.Kind), sess.Subject, c.PostForm("id")); err != nil {
		switch routing.KindOf(err) {
		case routing.KindConflict, routing.KindNotFound, routing.KindInvalid:
			p.showSecurity(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil))
		default:
			p.pageFail(c, err)
		}
		return
	}
	seeOther(c, "/"+areaOfKind(sess.Kind)+"/security", "passkey_removed")
}

// hasPasskey reports whether the signed-in resident can sign with a
// passkey (then the consent forms sign, where the browser can).
func (p *pages) hasPasskey(c *gin.Context) bool {
	sess := currentSession(c)
	keys, err := p.deps.Passkeys.List(ctx(c), accountKind(sess.Kind), sess.Subject)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			return true
		}
	}
	return false
}

// consentCheck is one decision of a consent as the console shows it.
type consentCheck struct {
	Name, Label string
	Check       *approval.SignatureCheck
}

// adminConsent shows a consent to auditors with how each decision was
// made and whether the resident's signature verifies (checked from the
// proof read from the ledger, as anyone would check it).
func (p *pages) adminConsent(c *gin.Context) {
	proof, err := p.deps.Approvals.Proof(ctx(c), c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	r, err := p.deps.Approvals.VerifyProof(ctx(c), proof)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	var checks []consentCheck
	if r.Grant != nil {
		checks = append(checks, consentCheck{Name: "grant", Label: "consent.assurance", Check: r.Grant})
	}
	if r.Revoke != nil {
		checks = append(checks, consentCheck{Name: "revoke", Label: "consent.revoke_assurance_label", Check: r.Revoke})
	}
	p.render(c, http.StatusOK, "admin_consent", &web.Page{Title: "title.admin.consent", Nav: "audit",
		Data: gin.H{"Consent": consentView(proof.Consent, ""), "Report": r, "Checks": checks}})
}

// residentPage is the console's page of a resident: the identity and its
// passkeys (which a new activation code revokes).
type residentPage struct {
	*mapping.IdentityDetail
	Passkeys []accounts.PasskeyInfo
	// MergeInto is the eID a checked merge form names, shown for
	// confirmation before anything changes.
	MergeInto *mapping.IdentityDetail
	// Guardians are the relations under which others may act for the
	// resident; Wards those under which the resident acts for others.
	Guardians, Wards []routing.RelationView
}

func (p *pages) residentWithPasskeys(c *gin.Context, d *mapping.IdentityDetail) residentPage {
	keys, _ := p.deps.Passkeys.List(ctx(c), accounts.KindResident, d.Identity.ID)
	guardians, _ := p.deps.Guardianship.Guardians(ctx(c), d.Identity.ID)
	wards, _ := p.deps.Guardianship.Wards(ctx(c), d.Identity.ID)
	return residentPage{IdentityDetail: d, Passkeys: keys, Guardians: guardians, Wards: wards}
}
