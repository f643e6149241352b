package gateway

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/routing"
)

type ruleBody struct {
	Departments []string  `json:"departments"`
	DataTypes   []string  `json:"data_types"`
	PurposeCode string    `json:"purpose_code"`
	Note        string    `json:"note,omitempty"`
	ValidUntil  time.Time `json:"valid_until"`
	MaxUses     uint64    `json:"max_uses,omitempty"`
}

// createRule records a standing rule of the signed-in resident.
func (a *api) createRule(c *gin.Context) {
	var req ruleBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Rules.Create(ctx(c), currentSession(c).Subject, routing.RuleDraft{
		Departments: req.Departments, DataTypes: req.DataTypes, PurposeCode: req.PurposeCode, Note: req.Note,
		ValidUntil: req.ValidUntil, MaxUses: req.MaxUses,
	})
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) myRules(c *gin.Context) {
	out, err := a.deps.Rules.ListForResident(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "rules", out, err)
}

func (a *api) revokeRule(c *gin.Context) {
	out, err := a.deps.Rules.Revoke(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}
