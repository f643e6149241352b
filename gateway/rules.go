package gateway

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

type ruleBody struct {
	Departments []string  `json:"departments"`
	Roles       []string  `json:"roles"`
	DataTypes   []string  `json:"data_types"`
	PurposeCode string    `json:"purpose_code"`
	Note        string    `json:"note,omitempty"`
	ValidUntil  time.Time `json:"valid_until"`
	MaxUses     uint64    `json:"max_uses,omitempty"`
}

func (b ruleBody) draft() routing.RuleDraft {
	return routing.RuleDraft{Departments: b.Departments, Roles: b.Roles, DataTypes: b.DataTypes, PurposeCode: b.PurposeCode,
		Note: b.Note, ValidUntil: b.ValidUntil, MaxUses: b.MaxUses}
}

// createRule records a standing rule of the signed-in resident, marked
// password-only.
func (a *api) createRule(c *gin.Context) {
	var req ruleBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Rules.Create(ctx(c), currentSession(c).Subject, req.draft())
	a.answer(c, http.StatusCreated, out, err)
}

// ruleOptions answers the rule.create statement of the resident's draft
// and the WebAuthn options to sign it.
func (a *api) ruleOptions(c *gin.Context) {
	var req ruleBody
	if !a.bind(c, &req) {
		return
	}
	out, err := a.deps.Approvals.BeginRuleCreate(ctx(c), currentSession(c).Subject, req.draft())
	a.answer(c, http.StatusOK, out, err)
}

// createSignedRule records the rule whose terms the resident signed.
func (a *api) createSignedRule(c *gin.Context) {
	req, ok := a.bindCredential(c)
	if !ok {
		return
	}
	out, err := a.deps.Approvals.FinishRuleCreate(ctx(c), currentSession(c).Subject, req.Credential)
	a.answer(c, http.StatusCreated, out, err)
}

func (a *api) myRules(c *gin.Context) {
	out, err := a.deps.Rules.ListForResident(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "rules", out, err)
}

func (a *api) revokeRuleOptions(c *gin.Context) {
	out, err := a.deps.Approvals.BeginRuleRevoke(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

// revokeRule revokes: with a credential in the body, signed by the
// resident's passkey; without a body, marked password-only.
func (a *api) revokeRule(c *gin.Context) {
	var req credentialRequest
	present, ok := a.bindOptional(c, &req)
	if !ok {
		return
	}
	eid, id := currentSession(c).Subject, c.Param("id")
	var out *model.StandingRule
	var err error
	if present {
		if err = req.check(); err == nil {
			out, err = a.deps.Approvals.FinishRuleRevoke(ctx(c), eid, id, req.Credential)
		}
	} else {
		out, err = a.deps.Rules.Revoke(ctx(c), eid, id)
	}
	a.answer(c, http.StatusOK, out, err)
}

func (a *api) myRuleProof(c *gin.Context) {
	out, err := a.deps.Approvals.RuleProofForResident(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answerRuleProof(c, out, err)
}

func (a *api) auditRuleProof(c *gin.Context) {
	out, err := a.deps.Approvals.RuleProof(ctx(c), c.Param("id"))
	a.answerRuleProof(c, out, err)
}

func (a *api) answerRuleProof(c *gin.Context, p *approval.RuleProof, err error) {
	if err == nil {
		c.Header("Content-Disposition", `attachment; filename="rule-proof-`+p.Rule.ID+`.json"`)
	}
	a.answer(c, http.StatusOK, p, err)
}

// verifyRuleProof checks a rule proof anyone submits: offline from its own
// content, then against the ledger.
func (a *api) verifyRuleProof(c *gin.Context) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, approval.MaxProofBytes))
	if err != nil {
		a.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Field: "body", Message: "a rule proof is at most " + strconv.Itoa(approval.MaxProofBytes) + " bytes"}).WithCode("body_too_large"))
		return
	}
	p, err := approval.ParseRuleProof(raw)
	if err != nil {
		a.fail(c, err)
		return
	}
	out, err := a.deps.Approvals.VerifyRuleProof(ctx(c), p)
	a.answer(c, http.StatusOK, out, err)
}
