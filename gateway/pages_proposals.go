package gateway

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// proposed sends the official to the proposals page when four eyes turned
// their act into a proposal; false for any other error.
func (p *pages) proposed(c *gin.Context, err error) bool {
	var held *audit.Pending
	if !errors.As(err, &held) {
		return false
	}
	seeOther(c, "/admin/proposals", "proposed")
	return true
}

// adminProposals lists the proposals waiting for a second official, with
// approve and reject buttons (not on one's own), and the decided ones.
func (p *pages) adminProposals(c *gin.Context) {
	p.showProposals(c, http.StatusOK, nil)
}

func (p *pages) showProposals(c *gin.Context, status int, errs *web.Errors) {
	all, err := p.deps.Audit.Proposals(ctx(c), "")
	if err != nil {
		p.pageFail(c, err)
		return
	}
	var pending, decided []audit.Proposal
	for _, pr := range all {
		if pr.Status == audit.ProposalPending {
			pending = append(pending, pr)
		} else {
			decided = append(decided, pr)
		}
	}
	p.render(c, status, "admin_proposals", &web.Page{Title: "title.admin.proposals", Nav: "proposals", Errors: errs,
		Data: gin.H{"Pending": pending, "Decided": decided, "Me": adminName(c)}})
}

// adminDecide approves or rejects a proposal.
func (p *pages) adminDecide(c *gin.Context) {
	decide, notice := p.deps.Audit.Reject, "proposal_rejected"
	if c.PostForm("decision") == "approve" {
		decide, notice = p.deps.Audit.Approve, "proposal_approved"
	}
	out, err := decide(ctx(c), c.Param("id"), c.PostForm("note"))
	if err != nil {
		p.showProposals(c, statusOf(routing.KindOf(err)), p.formErrors(c, err, nil))
		return
	}
	if out.Status == audit.ProposalFailed {
		notice = "proposal_failed"
	}
	seeOther(c, "/admin/proposals", notice)
}
