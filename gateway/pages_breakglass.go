package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// grantFromForm reads a break-glass grant from the console's form; a
// seal that is not a whole number of days is reported on its field.
func grantFromForm(c *gin.Context) (policies.Grant, error) {
	g := policies.Grant{Subject: strings.TrimSpace(c.PostForm("grant_subject")), DataType: strings.TrimSpace(c.PostForm("grant_data_type")),
		Purpose: strings.TrimSpace(c.PostForm("grant_purpose"))}
	n, err := strconv.Atoi(strings.TrimSpace(c.PostForm("seal_days")))
	if err != nil {
		return g, routing.Invalid("gateway", "seal_days", "seal_days must be a whole number of days")
	}
	g.SealDays = n
	return g, nil
}

// grantFields maps the grant's error fields to the form's fields.
var grantFields = map[string]string{"subject": "grant_subject", "data_type": "grant_data_type", "purpose": "grant_purpose", "seal_days": "seal_days"}

func (p *pages) adminSetGrant(c *gin.Context) {
	form := refill(c, "grant_subject", "grant_data_type", "grant_purpose", "seal_days")
	g, err := grantFromForm(c)
	if err == nil {
		_, err = p.deps.Policies.SetBreakGlass(ctx(c), adminName(c), g)
	}
	if err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showPolicies(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, grantFields), form, nil)
		return
	}
	seeOther(c, "/admin/policies", "grant_set")
}

func (p *pages) adminRemoveGrant(c *gin.Context) {
	g := policies.Grant{Subject: c.PostForm("subject"), DataType: c.PostForm("data_type"), Purpose: c.PostForm("purpose")}
	if !p.confirmed(c, destructiveAct{key: "grant_delete", args: []any{g.Subject, g.DataType, g.Purpose}, back: "/admin/policies"}) {
		return
	}
	if _, err := p.deps.Policies.RemoveBreakGlass(ctx(c), adminName(c), g); err != nil {
		if p.proposed(c, err) {
			return
		}
		p.showPolicies(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil), nil, nil)
		return
	}
	seeOther(c, "/admin/policies", "grant_removed")
}

// adminBreakGlass lists break-glass accesses for auditors with the
// filters of the form (department, data type, purpose, reviewed, dates),
// each with its legal basis and review.
func (p *pages) adminBreakGlass(c *gin.Context) { p.showBreakGlass(c, http.StatusOK, nil) }

func (p *pages) showBreakGlass(c *gin.Context, status int, errs *web.Errors) {
	form := map[string]string{}
	for _, k := range []string{"requester", "data_type", "purpose", "reviewed", "from", "to"} {
		form[k] = strings.TrimSpace(c.Query(k))
	}
	f := routing.AccessFilter{Requester: form["requester"], DataType: form["data_type"], Purpose: form["purpose"],
		BreakGlass: true, Desc: true, Limit: auditPageSize}
	switch form["reviewed"] {
	case "yes":
		f.Reviewed = new(true)
	case "no":
		f.Reviewed = new(false)
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
		add  time.Duration
	}{{"from", &f.From, 0}, {"to", &f.To, 24 * time.Hour}} {
		if v := form[d.name]; v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, p.cfg.TimeZone)
			if err != nil {
				errs = p.fieldError(c, errs, d.name, "err.date_invalid")
			}
			*d.dst = t.Add(d.add)
		}
	}
	before, err := pageBefore(c)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	f.BeforeSeq = before
	var recs []routing.AccessRecord
	if errs.Any() {
		status = max(status, http.StatusBadRequest)
	} else if recs, err = p.deps.Access.List(ctx(c), f); err != nil {
		status = statusOf(routing.KindOf(err))
		errs = p.formErrors(c, err, map[string]string{"data_type": "data_type", "purpose": "purpose"})
	}
	rows := make([]web.Access, len(recs))
	for i, r := range recs {
		rows[i] = accessRow(r, r.Official)
		rows[i].VisibleAfter = r.VisibleAfter
	}
	older := olderPage("/admin/break-glass", form, recs)
	lang := p.pageLang(c)
	depts, types := p.registryOptions(c, "audit.any")
	reviewed := []web.Option{{Value: "", Label: p.site.Message(lang, "audit.any")},
		{Value: "no", Label: p.site.Message(lang, "breakglass.unreviewed")}, {Value: "yes", Label: p.site.Message(lang, "breakglass.reviewed")}}
	p.render(c, status, "admin_break_glass", &web.Page{Title: "title.admin.break_glass", Nav: "break_glass", Errors: errs, Form: form,
		Data: gin.H{"Records": rows, "Older": older, "DepartmentOptions": depts, "DataTypeOptions": types, "ReviewedOptions": reviewed}})
}

// adminReviewBreakGlass records the auditor's review of one break-glass
// access (an audit record) and lists the accesses again.
func (p *pages) adminReviewBreakGlass(c *gin.Context) {
	if _, err := p.deps.Access.Review(ctx(c), c.Param("id"), strings.TrimSpace(c.PostForm("note"))); err != nil {
		switch routing.KindOf(err) {
		case routing.KindInvalid, routing.KindConflict, routing.KindNotFound:
			p.showBreakGlass(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, map[string]string{"note": "note"}))
		default:
			p.pageFail(c, err)
		}
		return
	}
	seeOther(c, "/admin/break-glass", "break_glass_reviewed")
}
