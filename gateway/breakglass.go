package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// grantBody is a break-glass grant as the admin API takes it; seal_days
// is required when setting one (0: shown to the resident at once).
type grantBody struct {
	Subject  string `json:"subject"`
	DataType string `json:"data_type"`
	Purpose  string `json:"purpose"`
	SealDays *int   `json:"seal_days,omitempty"`
}

func (b grantBody) grant() policies.Grant {
	g := policies.Grant{Subject: b.Subject, DataType: b.DataType, Purpose: b.Purpose}
	if b.SealDays != nil {
		g.SealDays = *b.SealDays
	}
	return g
}

func (a *api) listBreakGlassGrants(c *gin.Context) {
	out, err := a.deps.Policies.BreakGlassGrants(ctx(c))
	answerList(a.Server, c, "grants", out, err)
}

func (a *api) setBreakGlassGrant(c *gin.Context) {
	var b grantBody
	if !a.bind(c, &b) {
		return
	}
	if b.SealDays == nil {
		a.fail(c, routing.Invalid("gateway", "seal_days", "seal_days must say how many days each access stays sealed from the resident"))
		return
	}
	v, err := a.deps.Policies.SetBreakGlass(ctx(c), adminName(c), b.grant())
	a.answer(c, http.StatusCreated, gin.H{"policy_version": v}, err)
}

func (a *api) removeBreakGlassGrant(c *gin.Context) {
	var b grantBody
	if !a.bind(c, &b) {
		return
	}
	v, err := a.deps.Policies.RemoveBreakGlass(ctx(c), adminName(c), b.grant())
	a.answer(c, http.StatusOK, gin.H{"policy_version": v}, err)
}

// breakGlassFilter reads an auditor's break-glass filters: those of the
// access log, the requesting department and reviewed=true|false.
func breakGlassFilter(c *gin.Context) (routing.AccessFilter, error) {
	f, err := accessFilter(c)
	if err != nil {
		return f, err
	}
	f.BreakGlass, f.Requester = true, c.Query("requester")
	switch c.Query("reviewed") {
	case "":
	case "true":
		f.Reviewed = new(true)
	case "false":
		f.Reviewed = new(false)
	default:
		return f, routing.Invalid("gateway", "reviewed", `reviewed must be "true" or "false"`)
	}
	return f, nil
}

// listBreakGlass lists break-glass accesses for auditors, newest first.
func (a *api) listBreakGlass(c *gin.Context) {
	f, err := breakGlassFilter(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	recs, err := a.deps.Access.List(ctx(c), f)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := make([]accessView, len(recs))
	for i, r := range recs {
		out[i] = viewAccess(r, r.Official)
	}
	c.JSON(http.StatusOK, gin.H{"access": out})
}

type reviewBody struct {
	Note string `json:"note"`
}

// reviewBreakGlass records the auditor's review of one break-glass access.
func (a *api) reviewBreakGlass(c *gin.Context) {
	var b reviewBody
	if !a.bind(c, &b) {
		return
	}
	r, err := a.deps.Access.Review(ctx(c), c.Param("id"), b.Note)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewAccess(*r, r.Official))
}
