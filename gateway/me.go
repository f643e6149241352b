package gateway

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

type activateRequest struct {
	Document mapping.Input `json:"document"`
	Code     string        `json:"code"`
	Password string        `json:"password"`
}

type sessionResponse struct {
	Subject   string `json:"subject"`
	Role      string `json:"role,omitempty"`
	Lang      string `json:"lang,omitempty"`
	CSRFToken string `json:"csrf_token"`
	ExpiresAt string `json:"expires_at"`
}

// invalidCredentials is the one answer for every failed resident login or
// activation, so a caller cannot learn whether a document is known.
func invalidCredentials() error {
	return (&routing.Error{Kind: routing.KindUnauthenticated, Op: "gateway", Message: "the document, code or password is not correct"}).WithCode("invalid_credentials")
}

// activate turns the KYC counter's one-time code into a password and logs
// the resident in.
func (s *Server) activate(c *gin.Context) {
	var req activateRequest
	if !s.bind(c, &req) {
		return
	}
	token, sess, err := s.activateResident(ctx(c), req.Document, req.Code, req.Password)
	s.renderSession(c, token, sess, err)
}

// residentEID finds the eID of a resident's own document; an unknown or
// malformed document is the same answer as a wrong password.
func (s *Server) residentEID(ctx context.Context, doc mapping.Input) (string, error) {
	eid, err := s.deps.Identities.Find(ctx, doc)
	if err != nil {
		if routing.KindOf(err) == routing.KindNotFound || routing.KindOf(err) == routing.KindInvalid {
			return "", invalidCredentials()
		}
		return "", err
	}
	return eid, nil
}

// activateResident sets the resident's first password with the one-time
// code and opens a session (the API and the portal both use it).
func (s *Server) activateResident(ctx context.Context, doc mapping.Input, code, password string) (string, *accounts.Session, error) {
	eid, err := s.residentEID(ctx, doc)
	if err != nil {
		return "", nil, err
	}
	if err := s.deps.Residents.Activate(ctx, eid, code, password); err != nil {
		return "", nil, err
	}
	lang, _ := s.deps.Residents.ChosenLanguage(ctx, eid)
	return s.deps.Sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid, Lang: lang})
}

// signInResident checks a resident's document and password and opens a
// session in the resident's language.
func (s *Server) signInResident(ctx context.Context, doc mapping.Input, password string) (string, *accounts.Session, error) {
	eid, err := s.residentEID(ctx, doc)
	if err != nil {
		return "", nil, err
	}
	if _, err := s.deps.Residents.Login(ctx, eid, password); err != nil {
		return "", nil, err
	}
	lang, _ := s.deps.Residents.ChosenLanguage(ctx, eid)
	return s.deps.Sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid, Lang: lang})
}

type residentLoginRequest struct {
	Document mapping.Input `json:"document"`
	Password string        `json:"password"`
}

func (s *Server) residentLogin(c *gin.Context) {
	var req residentLoginRequest
	if !s.bind(c, &req) {
		return
	}
	token, sess, err := s.signInResident(ctx(c), req.Document, req.Password)
	s.renderSession(c, token, sess, err)
}

// renderSession sets the cookie of a session just opened and answers with
// its CSRF token.
func (s *Server) renderSession(c *gin.Context, token string, out *accounts.Session, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	s.setSessionCookie(c, token, out.ExpiresAt)
	c.JSON(http.StatusOK, sessionResponse{Subject: out.Subject, Role: out.Role, Lang: out.Lang, CSRFToken: out.CSRFToken, ExpiresAt: out.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")})
}

func (s *Server) logout(c *gin.Context) {
	if token, err := c.Cookie(SessionCookie); err == nil {
		_ = s.deps.Sessions.Revoke(ctx(c), token)
	}
	s.clearSessionCookie(c)
	c.JSON(http.StatusOK, gin.H{"logged_out": true})
}

type meResponse struct {
	EID       string                   `json:"eid"`
	Lang      string                   `json:"lang"`
	Documents []mapping.MaskedDocument `json:"documents"`
	Links     []model.AccountLink      `json:"links"`
	Status    string                   `json:"status"`
}

func (s *Server) me(c *gin.Context) {
	out, err := s.residentOverview(ctx(c), currentSession(c).Subject)
	s.answer(c, http.StatusOK, out, err)
}

// residentOverview is what a resident sees about their own identity.
func (s *Server) residentOverview(ctx context.Context, eid string) (*meResponse, error) {
	docs, err := s.deps.Identities.Documents(ctx, eid)
	if err != nil {
		return nil, err
	}
	links, err := s.deps.Agent.ListLinks(ctx, eid)
	if err != nil {
		return nil, err
	}
	id, err := s.deps.Agent.GetEID(ctx, eid)
	if err != nil {
		return nil, err
	}
	lang, _ := s.deps.Residents.Language(ctx, eid)
	return &meResponse{EID: eid, Lang: lang, Documents: nonNil(docs), Links: nonNil(links), Status: id.Status}, nil
}

type langRequest struct {
	Lang string `json:"lang"`
}

func (s *Server) setLang(c *gin.Context) {
	var req langRequest
	if !s.bind(c, &req) {
		return
	}
	if !web.ValidLang(req.Lang) {
		s.fail(c, routing.Invalid("gateway", "lang", `lang must be "zh-CN" or "en"`))
		return
	}
	err := s.deps.Residents.SetLanguage(ctx(c), currentSession(c).Subject, req.Lang)
	s.answer(c, http.StatusOK, gin.H{"lang": req.Lang}, err)
}

func (s *Server) myRoutes(c *gin.Context) {
	routes, err := s.deps.Agent.GetRoutes(ctx(c), currentSession(c).Subject, "")
	answerList(s, c, "routes", routes, err)
}

func (s *Server) myConsents(c *gin.Context) {
	out, err := s.deps.Consents.ListForResident(ctx(c), currentSession(c).Subject)
	answerList(s, c, "consents", out, err)
}

func (s *Server) denyConsent(c *gin.Context) {
	out, err := s.deps.Consents.Deny(ctx(c), currentSession(c).Subject, c.Param("id"), "portal")
	s.answer(c, http.StatusOK, out, err)
}

func (s *Server) myAccess(c *gin.Context) {
	s.listAccess(c, func(f *routing.AccessFilter) { f.EID = currentSession(c).Subject }, true)
}

type proofResponse struct {
	*routing.AccessProof
	// Record lists the audited fields exactly as the leaf encodes them, so
	// the browser recomputes the leaf hash before checking the path.
	Leaf []string `json:"leaf_fields"`
}

func (s *Server) myAccessProof(c *gin.Context) {
	rec, err := s.deps.Access.GetAccess(ctx(c), c.Param("id"))
	if err != nil || rec.EID != currentSession(c).Subject {
		if err == nil || routing.IsKind(err, routing.KindNotFound) {
			s.failWith(c, routing.KindNotFound, "not_found", "no such access record")
			return
		}
		s.fail(c, err)
		return
	}
	p, err := s.deps.Anchorer.Proof(ctx(c), rec)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, proofResponse{AccessProof: p, Leaf: rec.LeafFields()})
}
