package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Consents signed by the resident, and consent proofs anyone can check.

// Approvals obtains residents' signatures over consent and standing rule
// terms and exports and checks their proofs (*approval.Service).
type Approvals interface {
	BeginConsent(ctx context.Context, eid, id, action string) (*approval.Challenge, error)
	FinishConsent(ctx context.Context, eid, id, action string, body []byte) (*model.Consent, error)
	BeginConsentForWard(ctx context.Context, guardian, ward, id, action string) (*approval.Challenge, error)
	FinishConsentForWard(ctx context.Context, guardian, ward, id, action string, body []byte) (*model.Consent, error)
	ProofForResident(ctx context.Context, eid, id string) (*approval.ConsentProof, error)
	ProofForDepartment(ctx context.Context, dept, id string) (*approval.ConsentProof, error)
	Proof(ctx context.Context, id string) (*approval.ConsentProof, error)
	VerifyProof(ctx context.Context, p *approval.ConsentProof) (*approval.Report, error)

	BeginRuleCreate(ctx context.Context, eid string, d routing.RuleDraft) (*approval.Challenge, error)
	FinishRuleCreate(ctx context.Context, eid string, body []byte) (*model.StandingRule, error)
	BeginRuleRevoke(ctx context.Context, eid, id string) (*approval.Challenge, error)
	FinishRuleRevoke(ctx context.Context, eid, id string, body []byte) (*model.StandingRule, error)
	RuleProofForResident(ctx context.Context, eid, id string) (*approval.RuleProof, error)
	RuleProof(ctx context.Context, id string) (*approval.RuleProof, error)
	VerifyRuleProof(ctx context.Context, p *approval.RuleProof) (*approval.RuleReport, error)
}

// signOptions answers the statement a resident is about to sign for
// action (grant or revoke) and the WebAuthn options to sign it.
func (a *api) signOptions(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := a.deps.Approvals.BeginConsent(ctx(c), currentSession(c).Subject, c.Param("id"), action)
		a.answer(c, http.StatusOK, out, err)
	}
}

// decideConsent grants or revokes: with a credential in the body, signed
// by the resident's passkey; without a body, recorded for the signed-in
// resident and marked password-only.
func (a *api) decideConsent(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req credentialRequest
		present, ok := a.bindOptional(c, &req)
		if !ok {
			return
		}
		eid, id := currentSession(c).Subject, c.Param("id")
		var out *model.Consent
		var err error
		switch {
		case present:
			if err = req.check(); err == nil {
				out, err = a.deps.Approvals.FinishConsent(ctx(c), eid, id, action, req.Credential)
			}
		case action == "grant":
			out, err = a.deps.Consents.Grant(ctx(c), eid, id, "portal")
		default:
			out, err = a.deps.Consents.Revoke(ctx(c), eid, id)
		}
		if out != nil {
			assured := out.Assured()
			out = &assured
		}
		a.answer(c, http.StatusOK, out, err)
	}
}

// bindOptional binds a JSON body when there is one; present is false for
// an empty body.
func (a *api) bindOptional(c *gin.Context, v any) (present, ok bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.BodyLimit))
	if err != nil {
		a.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Field: "body", Message: "request body larger than " + strconv.FormatInt(a.cfg.BodyLimit, 10) + " bytes"}).WithCode("body_too_large"))
		return false, false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return false, true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return true, a.bind(c, v)
}

func (a *api) myConsentProof(c *gin.Context) {
	out, err := a.deps.Approvals.ProofForResident(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answerProof(c, out, err)
}

func (a *api) departmentConsentProof(c *gin.Context) {
	out, err := a.deps.Approvals.ProofForDepartment(ctx(c), c.GetString(ctxDepartment), c.Param("id"))
	a.answerProof(c, out, err)
}

func (a *api) auditConsentProof(c *gin.Context) {
	out, err := a.deps.Approvals.Proof(ctx(c), c.Param("id"))
	a.answerProof(c, out, err)
}

// answerProof serves a proof as a file to keep.
func (a *api) answerProof(c *gin.Context, p *approval.ConsentProof, err error) {
	if err == nil {
		c.Header("Content-Disposition", `attachment; filename="consent-proof-`+p.Consent.ID+`.json"`)
	}
	a.answer(c, http.StatusOK, p, err)
}

// verifyConsentProof checks a proof anyone submits: offline from its own
// content, then against the ledger.
func (a *api) verifyConsentProof(c *gin.Context) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, approval.MaxProofBytes))
	if err != nil {
		a.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Field: "body", Message: "a consent proof is at most " + strconv.Itoa(approval.MaxProofBytes) + " bytes"}).WithCode("body_too_large"))
		return
	}
	p, err := approval.ParseProof(raw)
	if err != nil {
		a.fail(c, err)
		return
	}
	out, err := a.deps.Approvals.VerifyProof(ctx(c), p)
	a.answer(c, http.StatusOK, out, err)
}
