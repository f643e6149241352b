package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// Acting for a ward (/portal/wards): the relations of the signed-in
// resident, and the pages of one ward — their open requests, consents and
// access log — where the guardian decides for them. Grants and
// revocations are signed with the guardian's passkey (passkeys.js, through
// /v1/me/wards/…); a denial is a form.

func (p *pages) portalWards(c *gin.Context) {
	eid := currentSession(c).Subject
	wards, err := p.deps.Guardianship.Wards(ctx(c), eid)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	guardians, err := p.deps.Guardianship.Guardians(ctx(c), eid)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "portal_wards", &web.Page{Title: "title.portal.wards", Nav: "wards",
		Data: gin.H{"Wards": wards, "Guardians": guardians}})
}

type wardData struct {
	Ward     string
	Relation *model.Representation
	Pending  []web.Consent
	Active   []web.Consent
	Decided  []web.Consent
	Records  []web.Access
	Sign     bool
}

func (p *pages) portalWard(c *gin.Context) { p.showWard(c, http.StatusOK, nil) }

func (p *pages) showWard(c *gin.Context, status int, errs *web.Errors) {
	guardian, ward := currentSession(c).Subject, c.Param("ward")
	rel, err := p.deps.Guardianship.ActingFor(ctx(c), guardian, ward)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	cs, err := p.deps.Guardianship.WardConsents(ctx(c), guardian, ward)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	recs, err := p.deps.Access.List(ctx(c), routing.AccessFilter{EID: ward, Desc: true, Limit: accessPageSize})
	if err != nil {
		p.pageFail(c, err)
		return
	}
	d := wardData{Ward: ward, Relation: rel, Sign: p.hasPasskey(c),
		Pending: asGuardian(consentsWith(cs, model.ConsentRequested), guardian),
		Active:  asGuardian(consentsWith(cs, model.ConsentActive), guardian)}
	for _, st := range []string{model.ConsentDenied, model.ConsentRevoked, model.ConsentExpired} {
		d.Decided = append(d.Decided, asGuardian(consentsWith(cs, st), guardian)...)
	}
	for _, r := range routing.FoldRefusals(recs) {
		row := accessRow(r.AccessRecord, r.OfficialRef)
		row.Count, row.FirstTime = r.Count, r.FirstTime
		d.Records = append(d.Records, row)
	}
	p.render(c, status, "portal_ward", &web.Page{Title: "title.portal.ward", Nav: "wards", Errors: errs, Data: d})
}

// asGuardian words the consents for the guardian reading them: what they
// decided themselves is "you, as guardian".
func asGuardian(cs []web.Consent, guardian string) []web.Consent {
	for i := range cs {
		if cs[i].GuardianDecided == guardian {
			cs[i].DecidedBy = "you_as_guardian"
		}
		if cs[i].GuardianRevoked == guardian {
			cs[i].RevokedBy = "you_as_guardian"
		}
	}
	return cs
}

func (p *pages) portalWardDeny(c *gin.Context) {
	ward := c.Param("ward")
	_, err := p.deps.Guardianship.Deny(ctx(c), currentSession(c).Subject, ward, c.Param("id"))
	if err != nil {
		p.consentFailed(c, err, p.showWard)
		return
	}
	seeOther(c, "/portal/wards/"+ward, "denied")
}
