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

// Approvals obtains residents' signatures over consent terms and exports
// and checks consent proofs (*approval.Service).
type Approvals interface {
	BeginConsent(ctx context.Context, eid, id, action string) (*approval.Challenge, error)
	FinishConsent(ctx context.Context, eid, id, action string, body []byte) (*model.Consent, error)
	ProofForResident(ctx context.Context, eid, id string) (*approval.ConsentProof, error)
	ProofForDepartment(ctx context.Context, dept, id string) (*approval.ConsentProof, error)
	Proof(ctx context.Context, id string) (*approval.ConsentProof, error)
	VerifyProof(ctx context.Context, p *approval.ConsentProof) (*approval.Report, error)
}

// signOptions answers the statement a resident is about to sign for
// action (grant or revoke) and the WebAuthn options to sign it.
func (s *Server) signOptions(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := s.deps.Approvals.BeginConsent(ctx(c), currentSession(c).Subject, c.Param("id"), action)
		s.answer(c, http.StatusOK, out, err)
	}
}

// decideConsent grants or revokes: with a credential in the body, signed
// by the resident's passkey; without a body, recorded for the signed-in
// resident and marked password-only.
func (s *Server) decideConsent(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req credentialRequest
		present, ok := s.bindOptional(c, &req)
		if !ok {
			return
		}
		eid, id := currentSession(c).Subject, c.Param("id")
		var out *model.Consent
		var err error
		switch {
		case present:
			if err = req.check(); err == nil {
				out, err = s.deps.Approvals.FinishConsent(ctx(c), eid, id, action, req.Credential)
			}
		case action == "grant":
			out, err = s.deps.Consents.Grant(ctx(c), eid, id, "portal")
		default:
			out, err = s.deps.Consents.Revoke(ctx(c), eid, id)
		}
		if out != nil {
			assured := out.Assured()
			out = &assured
		}
		s.answer(c, http.StatusOK, out, err)
	}
}

// bindOptional binds a JSON body when there is one; present is false for
// an empty body.
func (s *Server) bindOptional(c *gin.Context, v any) (present, ok bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.BodyLimit))
	if err != nil {
		s.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Message: "request body larger than " + strconv.FormatInt(s.cfg.BodyLimit, 10) + " bytes"}).WithCode("body_too_large"))
		return false, false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return false, true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return true, s.bind(c, v)
}

func (s *Server) myConsentProof(c *gin.Context) {
	out, err := s.deps.Approvals.ProofForResident(ctx(c), currentSession(c).Subject, c.Param("id"))
	s.answerProof(c, out, err)
}

func (s *Server) departmentConsentProof(c *gin.Context) {
	out, err := s.deps.Approvals.ProofForDepartment(ctx(c), c.GetString(ctxDepartment), c.Param("id"))
	s.answerProof(c, out, err)
}

func (s *Server) auditConsentProof(c *gin.Context) {
	out, err := s.deps.Approvals.Proof(ctx(c), c.Param("id"))
	s.answerProof(c, out, err)
}

// answerProof serves a proof as a file to keep.
func (s *Server) answerProof(c *gin.Context, p *approval.ConsentProof, err error) {
	if err == nil {
		c.Header("Content-Disposition", `attachment; filename="consent-proof-`+p.Consent.ID+`.json"`)
	}
	s.answer(c, http.StatusOK, p, err)
}

// verifyConsentProof checks a proof anyone submits: offline from its own
// content, then against the ledger.
func (s *Server) verifyConsentProof(c *gin.Context) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, approval.MaxProofBytes))
	if err != nil {
		s.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Message: "a consent proof is at most " + strconv.Itoa(approval.MaxProofBytes) + " bytes"}).WithCode("body_too_large"))
		return
	}
	p, err := approval.ParseProof(raw)
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.deps.Approvals.VerifyProof(ctx(c), p)
	s.answer(c, http.StatusOK, out, err)
}
