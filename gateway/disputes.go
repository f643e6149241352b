package gateway

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/routing"
)

type disputeBody struct {
	AccessID string `json:"access_id"`
	Reason   string `json:"reason"`
	Text     string `json:"text,omitempty"`
}

// raiseDispute records the signed-in resident's dispute of one of their
// accesses.
func (a *api) raiseDispute(c *gin.Context) {
	var req disputeBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Disputes.Raise(ctx(c), currentSession(c).Subject, req.AccessID, req.Reason, req.Text)
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) myDisputes(c *gin.Context) {
	out, err := a.deps.Disputes.List(ctx(c), routing.DisputeFilter{EID: currentSession(c).Subject, Status: c.Query("status")})
	answerList(a.Server, c, "disputes", out, err)
}

func (a *api) myDispute(c *gin.Context) {
	out, err := a.deps.Disputes.ForResident(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

type answerBody struct {
	Answer string `json:"answer"`
}

// answerDispute records the calling department's explanation of a dispute
// about its access.
func (a *api) answerDispute(c *gin.Context) {
	var req answerBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Disputes.Answer(ctx(c), c.GetString(ctxDepartment), c.GetString(ctxOfficial), c.Param("id"), req.Answer)
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) departmentDisputes(c *gin.Context) {
	out, err := a.deps.Disputes.List(ctx(c), routing.DisputeFilter{Department: c.GetString(ctxDepartment), Status: c.Query("status")})
	answerList(a.Server, c, "disputes", out, err)
}

func (a *api) departmentDispute(c *gin.Context) {
	out, err := a.deps.Disputes.ForDepartment(ctx(c), c.GetString(ctxDepartment), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

// auditDisputes lists every dispute for auditors, by status and
// department.
func (a *api) auditDisputes(c *gin.Context) {
	limit, _ := strconv.Atoi(c.Query("limit"))
	out, err := a.deps.Disputes.List(ctx(c), routing.DisputeFilter{Department: c.Query("department"), Status: c.Query("status"), Limit: limit})
	answerList(a.Server, c, "disputes", out, err)
}

func (a *api) auditDispute(c *gin.Context) {
	out, err := a.deps.Disputes.Get(ctx(c), c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

type closeBody struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note"`
}

// closeDispute records the signed-in auditor's outcome of a dispute.
func (a *api) closeDispute(c *gin.Context) {
	var req closeBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Disputes.Close(ctx(c), c.Param("id"), req.Outcome, req.Note)
	a.answer(c, http.StatusOK, out, err)
}
