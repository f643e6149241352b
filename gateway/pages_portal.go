package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// Resident portal pages (/portal).

// docFields maps a service's field names to the document form's fields.
func docFields(prefix string) map[string]string {
	return map[string]string{
		"document": prefix + "number", "number": prefix + "number", "type": prefix + "type",
		"country": prefix + "country", "doc_type": prefix + "type",
	}
}

// withDocFields adds the document form's fields to a service-to-form field
// map, so a document the service rejects marks its field.
func withDocFields(m map[string]string) map[string]string {
	for k, v := range docFields("") {
		m[k] = v
	}
	return m
}

func (p *pages) signedInAs(c *gin.Context, kind string) bool {
	_, err := p.loadSession(c, kind)
	return err == nil
}

func (p *pages) portalLoginPage(c *gin.Context) {
	p.loginPage(c, accounts.SessionResident, "portal_login", "title.portal.login")
}

// residentDocument reads the document a resident typed on the sign-in and
// activation forms, with an error for a missing type or number.
func (p *pages) residentDocument(c *gin.Context) (mapping.Input, *web.Errors) {
	doc, ok := formDocument(c, "")
	var errs *web.Errors
	if doc.Type == "" {
		errs = p.fieldError(c, errs, "type", "err.doc_type_required")
	}
	if !ok {
		errs = p.fieldError(c, errs, "number", "err.doc_number_required")
	}
	if doc.Type == mapping.Passport && strings.TrimSpace(doc.Country) == "" && !strings.Contains(doc.Number, ":") {
		errs = p.fieldError(c, errs, "country", "err.country_required")
	}
	return doc, errs
}

func (p *pages) portalLogin(c *gin.Context) {
	if !p.acceptSignInForm(c) {
		return
	}
	show := func(status int, errs *web.Errors) {
		p.render(c, status, "portal_login", &web.Page{Title: "title.portal.login", Errors: errs, Form: ownDocRefill(c)})
	}
	doc, errs := p.residentDocument(c)
	if c.PostForm("password") == "" {
		errs = p.fieldError(c, errs, "password", "err.password_required")
	}
	if errs.Any() {
		show(http.StatusBadRequest, errs)
		return
	}
	token, sess, err := p.deps.SignIn.Resident(signInCtx(c), doc, c.PostForm("password"))
	if err != nil {
		setRetryAfter(c, err)
		show(statusOf(routing.KindOf(err)), p.formErrors(c, err, withDocFields(map[string]string{"password": "password"})))
		return
	}
	p.signedIn(c, token, sess, "/portal", "")
}

func (p *pages) portalActivatePage(c *gin.Context) {
	p.render(c, http.StatusOK, "portal_activate", &web.Page{Title: "title.portal.activate"})
}

func (p *pages) portalActivate(c *gin.Context) {
	if !p.acceptSignInForm(c) {
		return
	}
	show := func(status int, errs *web.Errors) {
		p.render(c, status, "portal_activate", &web.Page{Title: "title.portal.activate", Errors: errs, Form: ownDocRefill(c)})
	}
	doc, errs := p.residentDocument(c)
	if c.PostForm("code") == "" {
		errs = p.fieldError(c, errs, "code", "err.code_required")
	}
	if c.PostForm("password") == "" {
		errs = p.fieldError(c, errs, "password", "err.password_required")
	} else if c.PostForm("password") != c.PostForm("password2") {
		errs = p.fieldError(c, errs, "password2", "err.password_mismatch")
	}
	if errs.Any() {
		show(http.StatusBadRequest, errs)
		return
	}
	token, sess, err := p.deps.SignIn.Activate(signInCtx(c), doc, c.PostForm("code"), c.PostForm("password"))
	if err != nil {
		show(statusOf(routing.KindOf(err)), p.formErrors(c, err, withDocFields(map[string]string{"password": "password", "code": "code"})))
		return
	}
	// The language the activation page was read in is the resident's.
	p.signedIn(c, token, sess, "/portal?done=activated", p.pageLang(c))
}

type portalHomeData struct {
	*meResponse
	Pending int
}

func (p *pages) portalHome(c *gin.Context) {
	eid := currentSession(c).Subject
	me, err := p.residentOverview(ctx(c), eid)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	pending := 0
	if cs, err := p.deps.Consents.ListForResident(ctx(c), eid); err == nil {
		pending = len(consentsWith(cs, model.ConsentRequested))
	}
	p.render(c, http.StatusOK, "portal_home", &web.Page{Title: "title.portal.home", Nav: "home", Data: portalHomeData{meResponse: me, Pending: pending}})
}

func (p *pages) portalData(c *gin.Context) {
	routes, err := p.deps.Routes.Of(ctx(c), currentSession(c).Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "portal_data", &web.Page{Title: "title.portal.data", Nav: "data", Data: gin.H{"Routes": routes}})
}

// consentView is a consent as the pages show it.
func consentView(c model.Consent, effective string) web.Consent {
	if effective == "" {
		effective = c.Status
	}
	return web.Consent{
		ID: c.ID, Requester: c.Requester, Provider: c.Provider, DataTypes: c.DataTypes,
		PurposeCode: c.PurposeCode, PurposeText: c.PurposeText, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil,
		RequestedAt: c.RequestedAt, DecidedAt: c.DecidedAt, RevokedAt: c.RevokedAt,
		MaxUses: c.MaxUses, Uses: c.Uses, Status: effective,
		GrantAssurance: c.GrantedWith(), RevokeAssurance: c.RevokedWith(),
	}
}

// consentsWith are the consents whose effective status is status.
func consentsWith(cs []routing.ConsentView, status string) []web.Consent {
	var out []web.Consent
	for _, c := range cs {
		if c.EffectiveStatus == status {
			out = append(out, consentView(c.Consent, c.EffectiveStatus))
		}
	}
	return out
}

func (p *pages) portalInbox(c *gin.Context) { p.showInbox(c, http.StatusOK, nil) }

func (p *pages) showInbox(c *gin.Context, status int, errs *web.Errors) {
	cs, err := p.deps.Consents.ListForResident(ctx(c), currentSession(c).Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, status, "portal_inbox", &web.Page{Title: "title.portal.inbox", Nav: "inbox", Errors: errs,
		Data: gin.H{"Pending": consentsWith(cs, model.ConsentRequested), "Sign": p.hasPasskey(c)}})
}

type consentGroup struct {
	Status string
	Items  []web.Consent
}

func (p *pages) portalConsents(c *gin.Context) { p.showConsents(c, http.StatusOK, nil) }

func (p *pages) showConsents(c *gin.Context, status int, errs *web.Errors) {
	cs, err := p.deps.Consents.ListForResident(ctx(c), currentSession(c).Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	var groups []consentGroup
	for _, st := range []string{model.ConsentActive, model.ConsentExpired, model.ConsentDenied, model.ConsentRevoked} {
		groups = append(groups, consentGroup{Status: st, Items: consentsWith(cs, st)})
	}
	p.render(c, status, "portal_consents", &web.Page{Title: "title.portal.consents", Nav: "consents", Errors: errs,
		Data: gin.H{"Groups": groups, "Pending": len(consentsWith(cs, model.ConsentRequested)), "Sign": p.hasPasskey(c)}})
}

type confirmData struct {
	Action  string // grant or revoke
	Consent web.Consent
	Back    string
}

// confirmConsent shows, without JavaScript, the same statement the dialog
// shows; the decision is taken only when the form comes back confirmed.
func (p *pages) confirmConsent(c *gin.Context, action, back string) bool {
	if c.PostForm("confirmed") == "yes" {
		return true
	}
	cn, err := p.deps.Consents.ForResident(ctx(c), currentSession(c).Subject, c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return false
	}
	nav := "inbox"
	if action == "revoke" {
		nav = "consents"
	}
	p.render(c, http.StatusOK, "portal_confirm", &web.Page{Title: "title.confirm." + action, Nav: nav,
		Data: confirmData{Action: action, Consent: consentView(*cn, ""), Back: back}})
	return false
}

func (p *pages) portalGrant(c *gin.Context) {
	if !p.confirmConsent(c, "grant", "/portal/inbox") {
		return
	}
	_, err := p.deps.Consents.Grant(ctx(c), currentSession(c).Subject, c.Param("id"), "portal")
	if err != nil {
		p.consentFailed(c, err, p.showInbox)
		return
	}
	seeOther(c, "/portal/inbox", "granted")
}

func (p *pages) portalDeny(c *gin.Context) {
	_, err := p.deps.Consents.Deny(ctx(c), currentSession(c).Subject, c.Param("id"), "portal")
	if err != nil {
		p.consentFailed(c, err, p.showInbox)
		return
	}
	seeOther(c, "/portal/inbox", "denied")
}

func (p *pages) portalRevoke(c *gin.Context) {
	if !p.confirmConsent(c, "revoke", "/portal/consents") {
		return
	}
	_, err := p.deps.Consents.Revoke(ctx(c), currentSession(c).Subject, c.Param("id"))
	if err != nil {
		p.consentFailed(c, err, p.showConsents)
		return
	}
	seeOther(c, "/portal/consents", "revoked")
}

// consentFailed shows the list again with the error (e.g. a request
// decided meanwhile in another tab); an unknown consent is a 404 page.
func (p *pages) consentFailed(c *gin.Context, err error, show func(*gin.Context, int, *web.Errors)) {
	switch routing.KindOf(err) {
	case routing.KindConflict, routing.KindInvalid:
		show(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil))
	default:
		p.pageFail(c, err)
	}
}

const accessPageSize = 50

func (p *pages) portalAccess(c *gin.Context) {
	f := routing.AccessFilter{Desc: true, Limit: accessPageSize}
	before, err := pageBefore(c)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	f.BeforeSeq = before
	// A break-glass access is left out until its seal ends.
	recs, err := p.deps.Access.ForResident(ctx(c), currentSession(c).Subject, f)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	rows := routing.FoldRefusals(recs)
	rules, err := p.rulesOf(c, recs)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	out := make([]web.Access, len(rows))
	for i, r := range rows {
		// Residents see officials only as the pseudonym the leaf commits to.
		out[i] = accessRow(r.AccessRecord, r.OfficialRef)
		out[i].Count, out[i].FirstTime = r.Count, r.FirstTime
		if rule, ok := rules[r.ConsentID]; ok {
			out[i].Rule = &rule
		}
	}
	older := ""
	if len(recs) == accessPageSize {
		older = strconv.FormatUint(recs[len(recs)-1].Seq, 10)
	}
	data := gin.H{"Records": out, "Older": older}
	if before == 0 {
		// The first page also lists what officials did to the eID itself.
		acts, err := p.deps.Audit.ForResident(ctx(c), currentSession(c).Subject, 50)
		if err != nil {
			p.pageFail(c, err)
			return
		}
		data["Acts"], data["ShowActs"] = acts, true
	}
	if err := p.addDisputes(c, data); err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "portal_access", &web.Page{Title: "title.portal.access", Nav: "access", Data: data})
}

// rulesOf are the resident's standing rules the records were allowed by,
// by rule id (read only when a record names one).
func (p *pages) rulesOf(c *gin.Context, recs []routing.AccessRecord) (map[string]web.Rule, error) {
	if !slices.ContainsFunc(recs, func(r routing.AccessRecord) bool { return model.ValidRuleID(r.ConsentID) }) {
		return nil, nil
	}
	rules, err := p.deps.Rules.ListForResident(ctx(c), currentSession(c).Subject)
	if err != nil {
		return nil, err
	}
	out := make(map[string]web.Rule, len(rules))
	for _, r := range rules {
		out[r.ID] = ruleView(r)
	}
	return out, nil
}

// pageBefore reads ?before=, the sequence number a page of older access
// records continues below (0 when absent).
func pageBefore(c *gin.Context) (uint64, error) {
	v := c.Query("before")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, routing.Invalid("gateway", "before", "before must be a sequence number")
	}
	return n, nil
}

func accessRow(r routing.AccessRecord, official string) web.Access {
	return web.Access{
		ID: r.ID, Seq: r.Seq, Time: r.CreatedAt, Requester: r.Requester, Official: official, Provider: r.Provider,
		EID: r.EID, DataType: r.DataType, Purpose: r.Purpose, ConsentID: r.ConsentID, PolicyVersion: r.PolicyVersion,
		Outcome: r.Outcome, Reason: r.Reason, Anchored: r.AnchorTxID != "", Block: r.AnchorBlock, BatchID: r.BatchID,
		Flagged: r.Flagged, LegalBasis: r.LegalBasis, ReviewedAt: r.ReviewedAt, ReviewedBy: r.ReviewedBy,
		ReviewNote: r.ReviewNote,
	}
}
