package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
)

// The portal (/portal) and console (/admin) are server-rendered pages over
// the same services as the JSON API. Forms post to page handlers, which
// redirect after success (Post/Redirect/Get) or render the form again with
// its errors. Every form carries a CSRF token: the session's, or before
// sign-in a signed double-submit token bound to the eidgate_form cookie.

// Cookies of the pages besides the session.
const (
	formCookie = "eidgate_form" // nonce of the signed double-submit token
	langCookie = "eidgate_lang" // language chosen before sign-in
)

// permissions are the permissions of an administrator role, for the
// pages to show only what the role may do.
func permissions(role string) map[string]bool {
	out := map[string]bool{}
	for _, p := range accounts.Permissions() {
		if accounts.RoleCan(role, p) {
			out[string(p)] = true
		}
	}
	return out
}

// pageKey returns the key of the signed form tokens.
func (s *Server) pageKey() []byte { return s.cfg.PageKey }

// pageHeaders are the headers of every page and static file: a strict
// CSP, no caching of pages (they hold personal data), HSTS over TLS.
func (p *pages) pageHeaders(c *gin.Context) {
	p.setPageHeaders(c)
	c.Next()
}

func (s *Server) setPageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", web.CSP)
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
}

// isPagePath reports whether a path belongs to the portal or console.
func isPagePath(p string) bool {
	for _, prefix := range []string{"/portal", "/admin"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// pageAuth is an option of pageSession.
type pageAuth struct {
	kind       string
	permission accounts.Permission // "" for residents
	// streamed: the handler checks the CSRF token itself while streaming
	// a multipart body (bulk import), so the body is not parsed here.
	streamed bool
}

// pageSession requires a session of a.kind (and its role's permission), and on
// POST the session's CSRF token in the form. Without a session the
// browser goes to the sign-in page.
func (p *pages) pageSession(a pageAuth) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, err := p.loadSession(c, a.kind)
		if err != nil {
			if err != nil && routing.KindOf(err) == routing.KindUnavailable {
				p.pageFail(c, err)
				return
			}
			c.Redirect(http.StatusSeeOther, "/"+areaOfKind(a.kind)+"/login")
			c.Abort()
			return
		}
		c.Set(ctxSession, sess)
		c.Set(ctxAuth, authSession)
		withActor(c, sess)
		if p.mustRegisterPasskey(sess) && !enrolmentPath(c.FullPath()) {
			seeOther(c, "/admin/security", "passkey_required")
			c.Abort()
			return
		}
		if a.permission != "" && !accounts.RoleCan(sess.Role, a.permission) {
			p.pageFail(c, &routing.Error{Kind: routing.KindForbidden, Code: "forbidden", Op: "gateway", Message: "your role may not do this"})
			return
		}
		if c.Request.Method == http.MethodPost && !a.streamed {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, p.cfg.BodyLimit)
			if !tokenEqual(c.PostForm("csrf"), sess.CSRFToken) {
				p.pageFail(c, csrfError())
				return
			}
		}
		c.Next()
	}
}

func areaOfKind(kind string) string {
	if kind == accounts.SessionAdmin {
		return "admin"
	}
	return "portal"
}

func csrfError() error {
	return &routing.Error{Kind: routing.KindForbidden, Code: "csrf", Op: "gateway", Message: "missing or wrong CSRF token"}
}

func tokenEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// formToken returns the signed double-submit token for forms shown before
// sign-in, setting the nonce cookie when the browser has none.
func (s *Server) formToken(c *gin.Context) string {
	nonce, err := c.Cookie(formCookie)
	if err != nil || !validNonce(nonce) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		nonce = hex.EncodeToString(b[:])
		http.SetCookie(c.Writer, &http.Cookie{Name: formCookie, Value: nonce, Path: "/", MaxAge: 12 * 3600,
			HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode})
	}
	return signNonce(s.pageKey(), nonce)
}

// loginPage shows an area's sign-in page, or sends a visitor who is
// signed in there home.
func (p *pages) loginPage(c *gin.Context, kind, name, title string) {
	if p.signedInAs(c, kind) {
		c.Redirect(http.StatusSeeOther, "/"+areaOfKind(kind))
		return
	}
	p.render(c, http.StatusOK, name, &web.Page{Title: title})
}

// acceptSignInForm bounds the body of a form posted before sign-in and
// checks its token; a forged form gets the refusal page and false.
func (p *pages) acceptSignInForm(c *gin.Context) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, p.cfg.BodyLimit)
	if !p.checkFormToken(c) {
		p.pageFail(c, p.formRefusal(c))
		return false
	}
	return true
}

// formRefusal is why a form posted before sign-in was refused: a browser
// that sent no form cookie at all, on a page opened over plain HTTP by a
// name other than localhost, dropped the Secure cookie, and the operator
// needs to know how to fix that, not the visitor to retry.
func (p *pages) formRefusal(c *gin.Context) error {
	if _, err := c.Cookie(formCookie); err != nil && p.secureCookiesLost(c.Request) {
		return &routing.Error{Kind: routing.KindForbidden, Code: "https_required", Op: "gateway",
			Message: "the browser dropped the sign-in cookie because this site was opened over plain HTTP by a name other than localhost; " +
				"serve it over TLS (--tls-cert, --tls-key) or behind a TLS proxy named in --trusted-proxies, or, on a test network only, start the gateway with --insecure-cookies"}
	}
	return csrfError()
}

// checkFormToken verifies the signed double-submit token of a form posted
// before sign-in: the form's token must be the signature of the nonce in
// the browser's own cookie, which another site can neither read nor set.
func (p *pages) checkFormToken(c *gin.Context) bool {
	nonce, err := c.Cookie(formCookie)
	if err != nil || !validNonce(nonce) {
		return false
	}
	return tokenEqual(c.PostForm("csrf"), signNonce(p.pageKey(), nonce))
}

func validNonce(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func signNonce(key []byte, nonce string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("eidgate-form\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// pageLang is the language of a page: the resident's stored choice, else
// the language cookie, else Accept-Language.
func (s *Server) pageLang(c *gin.Context) string {
	if v, ok := c.Get(ctxLang); ok {
		return v.(string)
	}
	lang := ""
	if sess := currentSession(c); sess != nil && sess.Kind == accounts.SessionResident {
		if l, err := s.deps.Residents.ChosenLanguage(ctx(c), sess.Subject); err == nil && web.ValidLang(l) {
			lang = l
		}
	}
	if lang == "" {
		if v, err := c.Cookie(langCookie); err == nil && web.ValidLang(v) {
			lang = v
		}
	}
	if lang == "" {
		lang = web.NegotiateLang(c.GetHeader("Accept-Language"))
	}
	c.Set(ctxLang, lang)
	return lang
}

const ctxLang = "eidgate.lang"

// setLangCookie remembers the language for pages shown before sign-in.
func (s *Server) setLangCookie(c *gin.Context, lang string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode})
}

// switchLang is the language switch of every page. A signed-in resident's
// choice is stored with their account; the cookie covers the pages before
// sign-in.
func (p *pages) switchLang(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, p.cfg.BodyLimit)
	lang := c.PostForm("lang")
	next := localPath(c.PostForm("next"))
	kind := accounts.SessionResident
	if strings.HasPrefix(c.Request.URL.Path, "/admin/") {
		kind = accounts.SessionAdmin
	}
	sess, err := p.loadSession(c, kind)
	if err != nil {
		sess = nil
	}
	if sess != nil && tokenEqual(c.PostForm("csrf"), sess.CSRFToken) {
		c.Set(ctxSession, sess)
	} else if !p.checkFormToken(c) {
		p.pageFail(c, p.formRefusal(c))
		return
	}
	if !web.ValidLang(lang) {
		p.pageFail(c, routing.Invalid("gateway", "lang", `lang must be "zh-CN" or "en"`))
		return
	}
	if sess != nil && sess.Kind == accounts.SessionResident {
		if err := p.deps.Residents.SetLanguage(ctx(c), sess.Subject, lang); err != nil {
			p.pageFail(c, err)
			return
		}
	}
	p.setLangCookie(c, lang)
	c.Redirect(http.StatusSeeOther, next)
}

// localPath accepts only a path of the portal or console as a redirect
// target, so the switch cannot send anyone elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
		return "/portal"
	}
	if u.Path != "/portal" && u.Path != "/admin" && !strings.HasPrefix(u.Path, "/portal/") && !strings.HasPrefix(u.Path, "/admin/") {
		return "/portal"
	}
	if !cleanPath(u.Path) || !cleanPath(u.EscapedPath()) {
		return "/portal"
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		q := u.Query()
		q.Del("done")
		if enc := q.Encode(); enc != "" {
			out += "?" + enc
		}
	}
	return out
}

// cleanPath holds for a path a browser will not rewrite on the way: no
// empty, "." or ".." segment (which browsers resolve, so /portal/../evil
// reaches /evil), no backslash (which browsers read as a slash) and no
// control character.
func cleanPath(p string) bool {
	if strings.ContainsAny(p, "\\") || strings.ContainsFunc(p, unicode.IsControl) {
		return false
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return false
		}
	}
	return true
}

// render fills in what every page needs and writes it.
func (s *Server) render(c *gin.Context, status int, page string, p *web.Page) {
	p.Lang = s.pageLang(c)
	p.Area = "portal"
	if strings.HasPrefix(c.Request.URL.Path, "/admin") {
		p.Area = "admin"
	}
	if sess := currentSession(c); sess != nil && areaOfKind(sess.Kind) == p.Area {
		p.User, p.CSRF = sess.Subject, sess.CSRFToken
		if sess.Kind == accounts.SessionAdmin {
			p.Role, p.Can = sess.Role, permissions(sess.Role)
		} else {
			p.Inbox = s.deps.Consents.Waiting(ctx(c), sess.Subject)
		}
	} else {
		// Sign-in pages (and a session of the other area): the signed
		// double-submit token.
		p.CSRF = s.formToken(c)
	}
	p.Path = c.Request.URL.Path
	if c.Request.Method == http.MethodGet && c.Request.URL.RawQuery != "" {
		p.Path = localPath(c.Request.URL.RequestURI())
	}
	if p.Notice == "" {
		if done := c.Query("done"); done != "" && s.site.HasMessage("done."+done) {
			p.Notice = "done." + done
		}
	}
	p.Loc = s.pageZone(c, p)
	p.DocTypes = documentTypes()
	p.Names = s.names(ctx(c))
	var buf bytes.Buffer
	if err := s.site.Render(&buf, page, p); err != nil {
		s.log.Error("page render failed", "request_id", requestID(c), "page", page, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error; request "+requestID(c)))
		c.Abort()
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// pageZone is the zone a page shows times in: on the portal the zone the
// signed-in resident chose; else the operator's --time-zone when set; else
// on the portal the zone of the page's language (web.LangZone); else the
// process's local zone.
func (s *Server) pageZone(c *gin.Context, p *web.Page) *time.Location {
	if p.Area == "portal" && p.User != "" && p.Role == "" {
		if z, err := s.deps.Residents.TimeZone(ctx(c), p.User); err == nil && z != nil {
			return z
		}
	}
	if s.cfg.TimeZone != nil {
		return s.cfg.TimeZone
	}
	if p.Area == "portal" {
		if z := web.LangZone(p.Lang); z != nil {
			return z
		}
	}
	return time.Local
}

// documentTypes are the identity document types the forms offer, in the
// order of mapping.Types.
func documentTypes() []string {
	var out []string
	for _, t := range mapping.Types() {
		out = append(out, string(t))
	}
	return out
}

// names are the registry's names for display; without them pages show ids.
func (s *Server) names(ctx context.Context) web.Names {
	n := web.Names{Departments: map[string]web.LocalName{}, DataTypes: map[string]web.LocalName{},
		Predicates: map[string]web.LocalName{}, Claims: map[string]web.LocalName{}}
	if ds, err := s.deps.Registry.Departments(ctx); err == nil {
		for _, d := range ds {
			n.Departments[d.ID] = web.LocalName{ZH: d.Name, EN: d.NameEN}
		}
	}
	if ts, err := s.deps.Registry.DataTypes(ctx); err == nil {
		for _, t := range ts {
			n.DataTypes[t.Code] = web.LocalName{ZH: t.Name, EN: t.NameEN}
			for _, q := range t.Predicates {
				n.Predicates[t.Code+"#"+q.ID] = web.LocalName{ZH: q.Name, EN: q.NameEN}
			}
			for claim, l := range credential.ClaimLabels(t.Schema) {
				n.Claims[t.Code+"/"+claim] = web.LocalName{ZH: l[0], EN: l[1]}
			}
		}
	}
	return n
}

// errorText is an error in the page's language: a translation of its
// stable code when the catalogue has one, else of its kind followed by the
// service's own message (which is safe to show) for the kinds where the
// detail helps.
func (s *Server) errorText(c *gin.Context, err error) string {
	lang := s.pageLang(c)
	code := routing.CodeOf(err)
	// A code with wait messages (err.<code>_wait, _wait_seconds) says the
	// wait the error names: in minutes, rounded up, from 45 s on, else as
	// a few seconds.
	if sec := retrySeconds(err); sec > 0 && s.site.HasMessage("err."+code+"_wait") {
		if sec >= 45 {
			return s.site.Message(lang, "err."+code+"_wait", (sec+59)/60)
		}
		return s.site.Message(lang, "err."+code+"_wait_seconds")
	}
	if s.site.HasMessage("err." + code) {
		return s.site.Message(lang, "err."+code)
	}
	kind := routing.KindOf(err)
	key := "err.kind." + string(kind)
	if !s.site.HasMessage(key) {
		key = "err.kind.internal"
	}
	msg := s.site.Message(lang, key)
	switch kind {
	case routing.KindInvalid, routing.KindConflict, routing.KindNotFound, routing.KindForbidden:
		if detail := routing.MessageOf(err); detail != "" {
			msg += " (" + detail + ")"
		}
	}
	return msg
}

// retrySeconds is an error's details.retry_after, 0 when it has none.
func retrySeconds(err error) int {
	var re *routing.Error
	if !errors.As(err, &re) {
		return 0
	}
	sec, perr := strconv.Atoi(re.Details["retry_after"])
	if perr != nil || sec < 0 {
		return 0
	}
	return sec
}

// formErrors turns a service error into form errors: the service's field
// names the form field through fields (service field → form field); an
// error on no known field goes to the summary only.
func (p *pages) formErrors(c *gin.Context, err error, fields map[string]string) *web.Errors {
	e := &web.Errors{}
	field := ""
	var re *routing.Error
	if errors.As(err, &re) && re.Field != "" {
		field = fields[re.Field]
		if field == "" {
			field = fields[strings.SplitN(re.Field, ".", 2)[0]]
		}
	}
	if f, ok := fields["*"]; ok && field == "" && routing.KindOf(err) == routing.KindInvalid {
		field = f
	}
	e.Add(field, p.errorText(c, err))
	if status := statusOf(routing.KindOf(err)); status >= 500 {
		p.log.ErrorContext(c.Request.Context(), "page action failed", "request_id", requestID(c), "code", routing.CodeOf(err), "err", err)
	}
	return e
}

// fieldError is a problem the page itself finds in a form.
func (p *pages) fieldError(c *gin.Context, errs *web.Errors, field, key string) *web.Errors {
	if errs == nil {
		errs = &web.Errors{}
	}
	errs.Add(field, p.site.Message(p.pageLang(c), key))
	return errs
}

type errorPage struct {
	Message   string
	RequestID string
	Home      string
}

// pageFail renders an error page with the status of err's kind and stops.
func (s *Server) pageFail(c *gin.Context, err error) {
	status := statusOf(routing.KindOf(err))
	if status >= 500 {
		s.log.ErrorContext(c.Request.Context(), "page failed", "request_id", requestID(c), "code", routing.CodeOf(err), "err", err)
	}
	c.Set(ctxErrorCode, routing.CodeOf(err))
	home := "/portal"
	if strings.HasPrefix(c.Request.URL.Path, "/admin") {
		home = "/admin"
	}
	title := "title.error"
	if k := "title.error." + string(routing.KindOf(err)); s.site.HasMessage(k) {
		title = k
	}
	setRetryAfter(c, err)
	s.render(c, status, "error", &web.Page{Title: title, Data: errorPage{Message: s.errorText(c, err), RequestID: requestID(c), Home: home}})
	c.Abort()
}

// seeOther redirects after a successful form with a notice key (done.*).
func seeOther(c *gin.Context, path, notice string) {
	if notice != "" {
		path += "?done=" + url.QueryEscape(notice)
	}
	c.Redirect(http.StatusSeeOther, path)
}

// formDocument reads an identity document from form fields with prefix;
// ok is false when the form left it empty.
func formDocument(c *gin.Context, prefix string) (mapping.Input, bool) {
	d := mapping.Input{
		Type:    mapping.DocType(strings.TrimSpace(c.PostForm(prefix + "type"))),
		Number:  strings.TrimSpace(c.PostForm(prefix + "number")),
		Country: strings.TrimSpace(c.PostForm(prefix + "country")),
	}
	return d, d.Number != ""
}

// refill keeps the named form fields for showing the form again; callers
// never name document numbers, passwords or codes.
func refill(c *gin.Context, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = c.PostForm(n)
	}
	return out
}

// docRefill keeps a document's type and country (never its number: the
// console's forms are about other people's documents).
func docRefill(c *gin.Context, form map[string]string, prefixes ...string) map[string]string {
	if form == nil {
		form = map[string]string{}
	}
	for _, p := range prefixes {
		form[p+"type"] = c.PostForm(p + "type")
		form[p+"country"] = c.PostForm(p + "country")
	}
	return form
}

// ownDocRefill keeps the document a resident typed on their own sign-in
// or activation form, number included, so an error costs a correction,
// not a retyping.
func ownDocRefill(c *gin.Context) map[string]string {
	form := docRefill(c, nil, "")
	form["number"] = c.PostForm("number")
	return form
}

// splitLines reads a textarea of one value per line.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// anchoringSnapshot is the anchorer's state as the console shows it.
type anchoringSnapshot struct {
	OK             bool
	Lag            string
	Oldest         time.Time
	LastBatch      string
	LastBlock      uint64
	LastAnchoredAt time.Time
	Batches        uint64
	Records        uint64
	Leader         bool
	LastError      string
}

func (s *Server) anchoring(ctx context.Context) *anchoringSnapshot {
	st := s.deps.Anchoring.Status()
	return &anchoringSnapshot{
		OK: s.deps.Anchoring.Check(ctx) == nil, Lag: st.Lag.Round(time.Millisecond).String(), Oldest: st.Oldest,
		LastBatch: st.LastBatch, LastBlock: st.LastBlock, LastAnchoredAt: st.LastAnchoredAt,
		Batches: st.Batches, Records: st.Records, Leader: st.Leader, LastError: st.LastError,
	}
}

// signedIn opens a browser session after a sign-in or activation form and
// goes to next; pageLang, when set, is the language the form's page was
// shown in (see adoptSignInLang).
func (p *pages) signedIn(c *gin.Context, token string, sess *accounts.Session, next, pageLang string) {
	if old, err := c.Cookie(SessionCookieOf(sess.Kind)); err == nil && old != "" && old != token {
		p.endSession(c, old)
	}
	p.setSessionCookie(c, sess.Kind, token, sess.ExpiresAt)
	p.adoptSignInLang(c, sess, pageLang)
	c.Redirect(http.StatusSeeOther, next)
}

// adoptSignInLang keeps the language of the page a resident signed in on:
// one picked there with the switch (the language cookie), or, when fallback
// is set (activation), the language the page was shown in, becomes the
// resident's stored choice; otherwise their stored choice, if any, becomes
// the cookie's.
func (s *Server) adoptSignInLang(c *gin.Context, sess *accounts.Session, fallback string) {
	if sess.Kind != accounts.SessionResident {
		return
	}
	lang := fallback
	if v, err := c.Cookie(langCookie); err == nil && web.ValidLang(v) {
		lang = v
	}
	if lang == "" {
		if web.ValidLang(sess.Lang) {
			s.setLangCookie(c, sess.Lang)
		}
		return
	}
	if lang != sess.Lang {
		if err := s.deps.Residents.SetLanguage(ctx(c), sess.Subject, lang); err != nil {
			s.log.Warn("storing the sign-in page's language failed", "request_id", requestID(c), "err", err)
			return
		}
		sess.Lang = lang
	}
	s.setLangCookie(c, lang)
}

// pageLogout ends the session of either area.
func (p *pages) pageLogout(c *gin.Context) {
	kind := currentSession(c).Kind
	if token, err := c.Cookie(SessionCookieOf(kind)); err == nil {
		p.endSession(c, token)
	}
	p.clearSessionCookie(c, kind)
	seeOther(c, "/"+areaOfKind(kind)+"/login", "logged_out")
}

// rootRedirect sends "/" to the portal.
func rootRedirect(c *gin.Context) { c.Redirect(http.StatusFound, "/portal") }
