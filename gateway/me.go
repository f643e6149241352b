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

// activate turns the KYC counter's one-time code into a password and logs
// the resident in.
func (a *api) activate(c *gin.Context) {
	var req activateRequest
	if !a.bind(c, &req) {
		return
	}
	token, sess, err := a.deps.SignIn.Activate(signInCtx(c), req.Document, req.Code, req.Password)
	a.renderSession(c, token, sess, err)
}

type residentLoginRequest struct {
	Document mapping.Input `json:"document"`
	Password string        `json:"password"`
}

func (a *api) residentLogin(c *gin.Context) {
	var req residentLoginRequest
	if !a.bind(c, &req) {
		return
	}
	token, sess, err := a.deps.SignIn.Resident(signInCtx(c), req.Document, req.Password)
	a.renderSession(c, token, sess, err)
}

// renderSession sets the cookie of a session just opened and answers with
// its CSRF token.
func (a *api) renderSession(c *gin.Context, token string, out *accounts.Session, err error) {
	if err != nil {
		a.fail(c, err)
		return
	}
	a.setSessionCookie(c, out.Kind, token, out.ExpiresAt)
	a.adoptSignInLang(c, out, "")
	c.JSON(http.StatusOK, sessionResponse{Subject: out.Subject, Role: out.Role, Lang: out.Lang, CSRFToken: out.CSRFToken, ExpiresAt: out.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")})
}

func (a *api) logout(c *gin.Context) {
	kind := currentSession(c).Kind
	if token, err := c.Cookie(SessionCookieOf(kind)); err == nil {
		a.endSession(c, token)
	}
	a.clearSessionCookie(c, kind)
	c.JSON(http.StatusOK, gin.H{"logged_out": true})
}

type meResponse struct {
	EID       string                   `json:"eid"`
	Lang      string                   `json:"lang"`
	Documents []mapping.MaskedDocument `json:"documents"`
	Links     []model.AccountLink      `json:"links"`
	Status    string                   `json:"status"`
}

func (a *api) me(c *gin.Context) {
	out, err := a.residentOverview(ctx(c), currentSession(c).Subject)
	a.answer(c, http.StatusOK, out, err)
}

// residentOverview is what a resident sees about their own identity.
func (s *Server) residentOverview(ctx context.Context, eid string) (*meResponse, error) {
	d, err := s.deps.Identities.Identity(ctx, eid)
	if err != nil {
		return nil, err
	}
	lang, _ := s.deps.Residents.Language(ctx, eid)
	return &meResponse{EID: eid, Lang: lang, Documents: d.Documents, Links: d.Links, Status: d.Identity.Status}, nil
}

type langRequest struct {
	Lang string `json:"lang"`
}

func (a *api) setLang(c *gin.Context) {
	var req langRequest
	if !a.bind(c, &req) {
		return
	}
	if !web.ValidLang(req.Lang) {
		a.fail(c, routing.Invalid("gateway", "lang", `lang must be "zh-CN" or "en"`))
		return
	}
	err := a.deps.Residents.SetLanguage(ctx(c), currentSession(c).Subject, req.Lang)
	a.answer(c, http.StatusOK, gin.H{"lang": req.Lang}, err)
}

type timeZoneRequest struct {
	TimeZone string `json:"time_zone"`
}

// setTimeZone stores the zone the portal shows the resident's times in.
func (a *api) setTimeZone(c *gin.Context) {
	var req timeZoneRequest
	if !a.bind(c, &req) {
		return
	}
	err := a.deps.Residents.SetTimeZone(ctx(c), currentSession(c).Subject, req.TimeZone)
	a.answer(c, http.StatusOK, gin.H{"time_zone": req.TimeZone}, err)
}

func (a *api) myRoutes(c *gin.Context) {
	routes, err := a.deps.Routes.Of(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "routes", routes, err)
}

func (a *api) myConsents(c *gin.Context) {
	out, err := a.deps.Consents.ListForResident(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "consents", out, err)
}

func (a *api) denyConsent(c *gin.Context) {
	out, err := a.deps.Consents.Deny(ctx(c), currentSession(c).Subject, c.Param("id"), "portal")
	a.answer(c, http.StatusOK, out, err)
}

// myAccess is the resident's access log: officials only by their
// pseudonyms, repeated refusals of one kind folded into one row with a
// count.
func (a *api) myAccess(c *gin.Context) { a.accessLogOf(c, currentSession(c).Subject) }

// accessLogOf answers the access log of resident eid as they see it.
func (a *api) accessLogOf(c *gin.Context, eid string) {
	f, err := accessFilter(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	// A break-glass access is left out until its seal ends.
	recs, err := a.deps.Access.ForResident(ctx(c), eid, f)
	if err != nil {
		a.fail(c, err)
		return
	}
	rows := routing.FoldRefusals(recs)
	out := make([]accessView, len(rows))
	for i, r := range rows {
		out[i] = viewAccess(r.AccessRecord, r.OfficialRef)
		out[i].Count = r.Count
		if r.Count > 1 {
			first := r.FirstTime
			out[i].FirstTime = &first
		}
	}
	c.JSON(http.StatusOK, gin.H{"access": out})
}

func (a *api) myAccessProof(c *gin.Context) {
	out, err := a.deps.Access.Proof(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}
