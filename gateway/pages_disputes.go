package gateway

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// disputeFields maps the dispute service's fields to the form's.
var disputeFields = map[string]string{"reason": "reason", "text": "text", "answer": "answer", "outcome": "outcome", "note": "note"}

// portalDisputeForm asks the resident why they dispute one of their
// accesses.
func (p *pages) portalDisputeForm(c *gin.Context) {
	p.showDisputeForm(c, http.StatusOK, nil)
}

func (p *pages) showDisputeForm(c *gin.Context, status int, errs *web.Errors) {
	rec, err := p.myAccessRecord(c)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	form := map[string]string{"reason": c.PostForm("reason"), "text": c.PostForm("text")}
	p.render(c, status, "portal_dispute", &web.Page{Title: "title.portal.dispute", Nav: "access", Errors: errs, Form: form,
		Data: gin.H{"Access": accessRow(*rec, rec.OfficialRef), "Reasons": model.DisputeReasons}})
}

// myAccessRecord is the signed-in resident's access record named in the
// path; someone else's is not found.
func (p *pages) myAccessRecord(c *gin.Context) (*routing.AccessRecord, error) {
	return p.deps.Access.ResidentRecord(ctx(c), currentSession(c).Subject, c.Param("id"))
}

// portalRaiseDispute records the resident's dispute and shows it on the
// access log.
func (p *pages) portalRaiseDispute(c *gin.Context) {
	_, err := p.deps.Disputes.Raise(ctx(c), currentSession(c).Subject, c.Param("id"), c.PostForm("reason"), c.PostForm("text"))
	switch {
	case err == nil:
		seeOther(c, "/portal/access", "disputed")
	case routing.IsKind(err, routing.KindNotFound) || statusOf(routing.KindOf(err)) >= 500:
		p.pageFail(c, err)
	default:
		p.showDisputeForm(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, disputeFields))
	}
}

// adminDisputes lists disputes for auditors, by status and department.
func (p *pages) adminDisputes(c *gin.Context) {
	form := map[string]string{"status": strings.TrimSpace(c.Query("status")), "department": strings.TrimSpace(c.Query("department"))}
	list, err := p.deps.Disputes.List(ctx(c), routing.DisputeFilter{Status: form["status"], Department: form["department"], Limit: 200})
	status := http.StatusOK
	var errs *web.Errors
	if err != nil {
		status = statusOf(routing.KindOf(err))
		errs = p.formErrors(c, err, disputeFields)
	}
	p.render(c, status, "admin_disputes", &web.Page{Title: "title.admin.disputes", Nav: "disputes", Errors: errs, Form: form,
		Data: gin.H{"Disputes": list, "Statuses": []string{model.DisputeOpen, model.DisputeAnswered, model.DisputeClosed}}})
}

// adminDispute shows one dispute with its access and the outcome form.
func (p *pages) adminDispute(c *gin.Context) { p.showDispute(c, http.StatusOK, nil) }

func (p *pages) showDispute(c *gin.Context, status int, errs *web.Errors) {
	d, err := p.deps.Disputes.Get(ctx(c), c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	form := map[string]string{"outcome": c.PostForm("outcome"), "note": c.PostForm("note")}
	p.render(c, status, "admin_dispute", &web.Page{Title: "title.admin.dispute", Nav: "disputes", Errors: errs, Form: form,
		Data: gin.H{"Dispute": d, "Outcomes": []string{model.DisputeUpheld, model.DisputeDismissed}}})
}

// adminCloseDispute records the auditor's outcome.
func (p *pages) adminCloseDispute(c *gin.Context) {
	_, err := p.deps.Disputes.Close(ctx(c), c.Param("id"), c.PostForm("outcome"), c.PostForm("note"))
	switch {
	case err == nil:
		seeOther(c, "/admin/disputes/"+c.Param("id"), "dispute_closed")
	case routing.IsKind(err, routing.KindNotFound) || statusOf(routing.KindOf(err)) >= 500:
		p.pageFail(c, err)
	default:
		p.showDispute(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, disputeFields))
	}
}

// addDisputes puts the resident's disputes on the access log: the list
// with answers and outcomes, and which rows are disputed (by the newest
// dispute of each access).
func (p *pages) addDisputes(c *gin.Context, data gin.H) error {
	list, err := p.deps.Disputes.List(ctx(c), routing.DisputeFilter{EID: currentSession(c).Subject})
	if err != nil {
		return err
	}
	disputed := make(map[string]string, len(list))
	for _, d := range list {
		if _, seen := disputed[d.AccessID]; !seen {
			disputed[d.AccessID] = d.Status
		}
	}
	data["Disputes"], data["Disputed"] = list, disputed
	return nil
}
