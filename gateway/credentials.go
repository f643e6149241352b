package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
	"github.com/gin-gonic/gin"
)

// The credential operations (docs/credentials.md, section 10): issuing and
// status changes by the issuing department, challenges, verification and
// yes/no questions by verifiers, status lists, schemas and issuer DIDs for
// anyone, the resident's wallet, and the public verifier. Each handler
// parses, calls one method of credential.Service (or Questions) and
// renders.

type issueCredentialRequest struct {
	Subject    subjectBody     `json:"subject"`
	DataType   string          `json:"data_type"`
	Claims     json.RawMessage `json:"claims"`
	HolderJWK  *sdjwt.JWK      `json:"holder_jwk,omitempty"`
	ValidUntil time.Time       `json:"valid_until,omitzero"`
}

type statusRefView struct {
	Purpose string `json:"purpose"`
	List    string `json:"list"`
	Index   int    `json:"index"`
}

type issuedCredentialView struct {
	ID        string          `json:"id"`
	Token     string          `json:"token"`
	Digest    string          `json:"digest"`
	Version   uint64          `json:"version"`
	Status    []statusRefView `json:"status"`
	MediaType string          `json:"media_type"`
}

// issueCredential: the calling department issues a credential about a
// resident for a data type it owns.
func (a *api) issueCredential(c *gin.Context) {
	var req issueCredentialRequest
	if !a.bind(c, &req) {
		return
	}
	if req.Subject.Document != nil {
		a.fail(c, routing.Invalid("gateway", "subject.document", "a credential names its subject by eid; find the eID of a document with POST /v1/accounts/lookup"))
		return
	}
	out, err := a.deps.Credentials.Issue(ctx(c), credential.IssueRequest{
		Issuer: c.GetString(ctxDepartment), Subject: req.Subject.EID, DataType: req.DataType,
		Claims: req.Claims, Holder: req.HolderJWK, ValidUntil: req.ValidUntil,
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	v := issuedCredentialView{ID: out.ID, Token: out.Token, Digest: out.Digest, Version: out.Version, MediaType: credential.MediaType, Status: []statusRefView{}}
	for _, r := range out.Status {
		v.Status = append(v.Status, statusRefView{Purpose: r.Purpose, List: r.ListID, Index: r.Index})
	}
	c.JSON(http.StatusCreated, v)
}

type credentialStatusRequest struct {
	Reason string `json:"reason"`
}

type credentialStatusView struct {
	ID        string `json:"id"`
	Revoked   bool   `json:"revoked"`
	Suspended bool   `json:"suspended"`
}

// credentialStatus revokes, suspends or reinstates one of the calling
// department's credentials.
func (a *api) credentialStatus(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req credentialStatusRequest
		if !a.bind(c, &req) {
			return
		}
		if req.Reason == "" {
			a.fail(c, routing.Invalid("gateway", "reason", "give a reason for the change"))
			return
		}
		out, err := a.deps.Credentials.SetStatus(ctx(c), c.GetString(ctxDepartment), c.Param("id"), action)
		if err != nil {
			a.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, credentialStatusView{ID: out.ID, Revoked: out.Revoked, Suspended: out.Suspended})
	}
}

// statusList serves a status list credential (public; short cache so a
// change reaches verifiers within a second).
func (a *api) statusList(c *gin.Context) {
	token, err := a.deps.Credentials.StatusListCredential(ctx(c), c.Param("issuer"), c.Param("list"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "max-age=1")
	c.Data(http.StatusOK, credential.MediaType, []byte(token))
}

// dataTypeSchema serves a data type's JSON Schema (credentialSchema).
func (a *api) dataTypeSchema(c *gin.Context) {
	schema, err := a.deps.Credentials.Schema(ctx(c), c.Param("code"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=60")
	c.Data(http.StatusOK, "application/schema+json", schema)
}

type challengeRequest struct {
	Purpose string `json:"purpose"`
}

type challengeView struct {
	Nonce      string    `json:"nonce"`
	Audience   string    `json:"audience"`
	Purpose    string    `json:"purpose"`
	ExpiresAt  time.Time `json:"expires_at"`
	RequestURI string    `json:"request_uri"`
}

// presentRequestURI is the portal link (and QR payload) a resident opens
// to present a credential for a challenge.
func presentRequestURI(base string, ch *credential.Challenge) string {
	q := url.Values{"nonce": {ch.Nonce}, "aud": {ch.Audience}, "purpose": {ch.Purpose}}
	return base + "/portal/present?" + q.Encode()
}

// newChallenge gives the calling department a nonce for one presentation.
func (a *api) newChallenge(c *gin.Context) {
	var req challengeRequest
	if !a.bind(c, &req) {
		return
	}
	ch, err := a.deps.Credentials.NewChallenge(ctx(c), c.GetString(ctxDepartment), req.Purpose)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, challengeView{Nonce: ch.Nonce, Audience: ch.Audience, Purpose: ch.Purpose, ExpiresAt: ch.ExpiresAt,
		RequestURI: presentRequestURI(a.deps.Credentials.BaseURL(), ch)})
}

type verifyCredentialRequest struct {
	Presentation string `json:"presentation,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	Credential   string `json:"credential,omitempty"`
}

// verifyCredential: a department checks a presentation made for its
// challenge (a valid one is recorded as the resident's authorisation) or a
// credential (nothing recorded). An invalid token is still 200, valid
// false, with the failed check's code.
func (a *api) verifyCredential(c *gin.Context) {
	var req verifyCredentialRequest
	if !a.bind(c, &req) {
		return
	}
	var res *credential.Result
	var err error
	switch {
	case (req.Presentation == "") == (req.Credential == ""):
		err = routing.Invalid("gateway", "presentation", "send exactly one of presentation (with its nonce) or credential")
	case req.Presentation != "" && req.Nonce == "":
		err = routing.Invalid("gateway", "nonce", "a presentation is checked against the nonce of your challenge")
	case req.Presentation != "":
		res, err = a.deps.Credentials.VerifyPresentation(ctx(c), credential.PresentationRequest{
			Verifier: c.GetString(ctxDepartment), Official: c.GetString(ctxOfficial), RequestID: requestID(c),
			Nonce: req.Nonce, Token: req.Presentation,
		})
	case req.Nonce != "":
		err = routing.Invalid("gateway", "nonce", "a credential has no nonce; send a presentation to check a key binding")
	default:
		res, err = a.deps.Credentials.Verify(ctx(c), req.Credential, false, "", "")
	}
	a.answer(c, http.StatusOK, res, err)
}

type askRequest struct {
	Subject     subjectBody `json:"subject"`
	DataType    string      `json:"data_type"`
	Predicate   string      `json:"predicate"`
	Purpose     string      `json:"purpose"`
	PurposeText string      `json:"purpose_text,omitempty"`
	ConsentID   string      `json:"consent_id,omitempty"`
}

// ask: a department's yes/no question about a resident, authorised and
// recorded like a resolve; the answer is the provider's signed attestation.
func (a *api) ask(c *gin.Context) {
	var req askRequest
	if !a.bind(c, &req) {
		return
	}
	in := credential.Inquiry{
		Requester: c.GetString(ctxDepartment), Official: c.GetString(ctxOfficial), RequestID: requestID(c),
		EID: req.Subject.EID, DataType: req.DataType, PredicateID: req.Predicate, Purpose: req.Purpose,
		PurposeText: req.PurposeText, ConsentID: req.ConsentID,
	}
	if d := req.Subject.Document; d != nil {
		in.Document = &routing.DocumentSubject{Type: string(d.Type), Number: d.Number, Country: d.Country}
	}
	out, err := a.deps.Questions.Ask(ctx(c), in)
	a.answer(c, http.StatusOK, out, err)
}

// myCredentials lists the resident's credentials in plain words.
func (a *api) myCredentials(c *gin.Context) {
	out, err := a.deps.Credentials.Wallet(ctx(c), currentSession(c).Subject)
	answerList(a.Server, c, "credentials", out, err)
}

// myCredential returns one credential with its token and proof bundle.
func (a *api) myCredential(c *gin.Context) {
	out, err := a.deps.Credentials.WalletCredential(ctx(c), currentSession(c).Subject, c.Param("id"))
	a.answer(c, http.StatusOK, out, err)
}

type presentBody struct {
	Disclose []string `json:"disclose"`
	Nonce    string   `json:"nonce"`
	Audience string   `json:"audience"`
}

type presentationView struct {
	Presentation string `json:"presentation"`
	VerifyURL    string `json:"verify_url"`
}

// presentMine builds a presentation of one of the resident's credentials
// with the claims they picked, for a verifier's nonce and audience.
func (a *api) presentMine(c *gin.Context) {
	var req presentBody
	if !a.bind(c, &req) {
		return
	}
	if req.Nonce == "" || req.Audience == "" {
		a.fail(c, routing.Invalid("gateway", "nonce", "give the verifier's nonce and audience"))
		return
	}
	p, err := a.deps.Credentials.Present(ctx(c), credential.PresentRequest{EID: currentSession(c).Subject, CredentialID: c.Param("id"),
		Disclose: req.Disclose, Audience: req.Audience, Nonce: req.Nonce})
	a.answer(c, http.StatusOK, presentationView{Presentation: p, VerifyURL: publicVerifyURL(a.deps.Credentials.BaseURL(), p)}, err)
}

// publicVerifyURL opens the public verifier page on a presentation; the
// token travels in the fragment, which browsers never send to a server.
func publicVerifyURL(base, token string) string {
	return base + "/portal/verify#t=" + token
}

type publicVerifyRequest struct {
	Presentation string `json:"presentation,omitempty"`
	Credential   string `json:"credential,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	Audience     string `json:"audience,omitempty"`
}

// publicVerify checks a credential or presentation for anyone; nothing is
// recorded. Rate-limited per client address.
func (a *api) publicVerify(c *gin.Context) {
	if !a.allowPublic(c) {
		return
	}
	var req publicVerifyRequest
	if !a.bind(c, &req) {
		return
	}
	token := req.Presentation
	if token == "" {
		token = req.Credential
	}
	if (req.Presentation == "") == (req.Credential == "") {
		a.fail(c, routing.Invalid("gateway", "presentation", "send exactly one of presentation or credential"))
		return
	}
	res, err := a.deps.Credentials.VerifyToken(ctx(c), token, req.Audience, req.Nonce)
	a.answer(c, http.StatusOK, res, err)
}

// allowPublic applies the rate limit of unauthenticated verification, per
// client address.
func (a *api) allowPublic(c *gin.Context) bool {
	if a.deps.Limiter == nil {
		return true
	}
	ok, retry, err := a.deps.Limiter.Allow(ctx(c), "public-verify:"+c.ClientIP())
	if err != nil {
		a.fail(c, err)
		return false
	}
	if !ok {
		secs := int(retry.Seconds()) + 1
		c.Header("Retry-After", itoa(secs))
		a.fail(c, rateLimited(secs))
		return false
	}
	return true
}
