package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// The portal's credential pages: the wallet in plain words with
// downloads, presenting to a verifier (picked claims, bound to its nonce
// and audience, shown as a QR code and a link), and the public verifier.

// portalCredentials lists the resident's credentials as cards.
func (p *pages) portalCredentials(c *gin.Context) {
	list, err := p.deps.Credentials.Wallet(ctx(c), currentSession(c).Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "portal_credentials", &web.Page{Title: "title.portal.credentials", Nav: "credentials",
		Data: gin.H{"Credentials": walletViews(list)}})
}

func walletViews(list []credential.WalletEntry) []web.Credential {
	out := make([]web.Credential, len(list))
	for i, e := range list {
		out[i] = walletView(e)
	}
	return out
}

func walletView(e credential.WalletEntry) web.Credential {
	v := web.Credential{ID: e.ID, Issuer: e.Issuer, IssuerDID: e.IssuerDID, IssuerName: web.LocalName{ZH: e.IssuerName, EN: e.IssuerNameEN},
		TypeName: web.LocalName{ZH: e.TypeName, EN: e.TypeNameEN}, DataType: e.DataType, IssuedAt: e.IssuedAt, ValidUntil: e.ValidUntil,
		Status: e.Status, Version: e.Version, Digest: e.Digest}
	for _, cl := range e.Claims {
		v.Claims = append(v.Claims, web.Claim{Name: cl.Name, Label: web.LocalName{ZH: cl.Label, EN: cl.LabelEN}, Value: cl.Value})
	}
	return v
}

// portalCredentialDownload sends the compact credential (.sd-jwt) or its
// verification file with the proof bundle (verification.json).
func (p *pages) portalCredentialDownload(c *gin.Context) {
	wc, err := p.deps.Credentials.WalletCredential(ctx(c), currentSession(c).Subject, c.Param("id"))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	name := strings.ReplaceAll(wc.DataType, ".", "-")
	if c.Query("format") == "verification" {
		b, err := json.MarshalIndent(credential.VerificationFile{Credential: wc.Token, Bundle: wc.Bundle}, "", "  ")
		if err != nil {
			p.pageFail(c, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="`+name+`-verification.json"`)
		c.Data(http.StatusOK, "application/json", b)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`.sd-jwt"`)
	c.Data(http.StatusOK, credential.MediaType, []byte(wc.Token))
}

// presentRequest is a verifier's request as the portal link carries it.
type presentRequest struct {
	Nonce    string
	Audience string
	Verifier string // department id
	Purpose  string
}

// readPresentRequest reads nonce, aud and purpose from the query or form;
// the audience must be a department's DID.
func readPresentRequest(get func(string) string) (presentRequest, error) {
	r := presentRequest{Nonce: get("nonce"), Audience: get("aud"), Purpose: get("purpose")}
	dept, ok := model.ParseIssuerDID(r.Audience)
	switch {
	case r.Nonce == "" || len(r.Nonce) > 128:
		return r, routing.Invalid("gateway", "nonce", "the link carries no verifier nonce").WithCode("present_link_invalid")
	case !ok:
		return r, routing.Invalid("gateway", "aud", "the link names no department as verifier").WithCode("present_link_invalid")
	case r.Purpose != "" && !model.ValidPurposeCode(r.Purpose):
		return r, routing.Invalid("gateway", "purpose", "the link's purpose is not a purpose code").WithCode("present_link_invalid")
	}
	r.Verifier = dept
	return r, nil
}

// portalPresentPage is where a verifier's link (or QR) lands: the
// resident picks a credential and the claims to show.
func (p *pages) portalPresentPage(c *gin.Context) {
	req, err := readPresentRequest(c.Query)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	list, err := p.deps.Credentials.Wallet(ctx(c), currentSession(c).Subject)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	var usable []web.Credential
	for _, e := range list {
		if e.Status == credential.WalletValid {
			usable = append(usable, walletView(e))
		}
	}
	p.render(c, http.StatusOK, "portal_present", &web.Page{Title: "title.portal.present", Nav: "credentials",
		Data: gin.H{"Request": req, "Credentials": usable}})
}

// portalPresent builds the presentation and shows it as a QR code and a
// link for the verifier.
func (p *pages) portalPresent(c *gin.Context) {
	req, err := readPresentRequest(c.PostForm)
	if err != nil {
		p.pageFail(c, err)
		return
	}
	pres, err := p.deps.Credentials.Present(ctx(c), credential.PresentRequest{EID: currentSession(c).Subject, CredentialID: c.PostForm("credential"),
		Disclose: c.PostFormArray("disclose"), Audience: req.Audience, Nonce: req.Nonce})
	if err != nil {
		p.pageFail(c, err)
		return
	}
	link := publicVerifyURL(p.deps.Credentials.BaseURL(), pres)
	qr, qrErr := web.QRDataURL(link)
	p.render(c, http.StatusOK, "portal_presented", &web.Page{Title: "title.portal.presented", Nav: "credentials",
		Data: gin.H{"Request": req, "Presentation": pres, "Link": link, "QR": qr, "QRTooLarge": qrErr != nil,
			"Disclosed": c.PostFormArray("disclose")}})
}

// portalVerifyPage is the public verifier: paste a presentation or
// credential (or open a presentation's link); nothing is recorded.
func (p *pages) portalVerifyPage(c *gin.Context) {
	p.render(c, http.StatusOK, "portal_verify", &web.Page{Title: "title.portal.verify"})
}

// portalVerify checks what was pasted and shows the result in plain words.
func (p *pages) portalVerify(c *gin.Context) {
	if !p.acceptPublicForm(c) {
		return
	}
	if p.deps.Limiter != nil {
		ok, retry, err := p.deps.Limiter.Allow(ctx(c), "public-verify:"+c.ClientIP())
		if err != nil {
			p.pageFail(c, err)
			return
		}
		if !ok {
			c.Header("Retry-After", itoa(int(retry.Seconds())+1))
			p.pageFail(c, rateLimited(int(retry.Seconds())+1))
			return
		}
	}
	token := strings.TrimSpace(c.PostForm("token"))
	form := map[string]string{"token": token, "nonce": c.PostForm("nonce"), "audience": c.PostForm("audience")}
	if token == "" {
		errs := p.fieldError(c, nil, "token", "err.token_required")
		p.render(c, http.StatusBadRequest, "portal_verify", &web.Page{Title: "title.portal.verify", Errors: errs, Form: form})
		return
	}
	res, err := p.deps.Credentials.VerifyToken(ctx(c), token, strings.TrimSpace(c.PostForm("audience")), strings.TrimSpace(c.PostForm("nonce")))
	if err != nil {
		p.pageFail(c, err)
		return
	}
	p.render(c, http.StatusOK, "portal_verify", &web.Page{Title: "title.portal.verify", Form: form, Data: gin.H{"Result": verificationView(res)}})
}

// acceptPublicForm checks the CSRF token of a form anyone may post: the
// session's token when a resident is signed in, the signed double-submit
// token otherwise.
func (p *pages) acceptPublicForm(c *gin.Context) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, p.cfg.BodyLimit)
	if sess, err := p.loadSession(c, accounts.SessionResident); err == nil {
		c.Set(ctxSession, sess)
		if tokenEqual(c.PostForm("csrf"), sess.CSRFToken) {
			return true
		}
	} else if p.checkFormToken(c) {
		return true
	}
	p.pageFail(c, csrfError())
	return false
}

// verificationView is a verification result in the shape the page shows.
func verificationView(r *credential.Result) web.Verification {
	v := web.Verification{Valid: r.Valid, Code: r.Code, Kind: r.Kind, Issuer: r.Department, IssuerDID: r.Issuer, KeyID: r.KeyID,
		Subject: r.Subject, DataType: r.DataType, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, IssuedAt: r.IssuedAt,
		Audience: r.Audience, Nonce: r.Nonce, Digest: r.Digest}
	var claims map[string]json.RawMessage
	_ = json.Unmarshal(r.Claims, &claims)
	for _, cl := range credential.LabelClaims(claims, nil) {
		// Labelled on the page from the data type's schema.
		v.Claims = append(v.Claims, web.Claim{Name: cl.Name, Value: cl.Value})
	}
	for _, st := range r.Status {
		v.Status = append(v.Status, web.StatusView{Purpose: st.Purpose, Set: st.Set})
	}
	if a := r.Anchor; a != nil {
		v.Anchor = &web.AnchorView{Provider: a.Provider, Version: a.Version, Status: a.Status, PublishedAt: a.PublishedAt, TxID: a.TxID, Superseded: a.Superseded}
	}
	if a := r.Answer; a != nil {
		v.Answer = &web.AnswerView{Name: web.LocalName{ZH: a.Name, EN: a.NameEN}, Answer: a.Answer}
	}
	for _, ch := range r.Checks {
		v.Checks = append(v.Checks, web.CheckView{Name: ch.Name, Passed: ch.Passed, Code: ch.Code, Message: ch.Message})
	}
	return v
}
