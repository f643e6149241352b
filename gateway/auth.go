package gateway

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

// SessionCookie is the name of a resident's browser session cookie (the
// portal); ConsoleSessionCookie is a staff member's (the console). They are
// apart so that one browser can be signed in to both: a resident signing
// in on the portal does not sign an administrator out of the console.
const (
	SessionCookie        = "eidgate_session"
	ConsoleSessionCookie = "eidgate_console"
)

// SessionCookieOf is the cookie a session of kind travels in.
func SessionCookieOf(kind string) string {
	if kind == accounts.SessionAdmin {
		return ConsoleSessionCookie
	}
	return SessionCookie
}

// attrOID is the Fabric CA attribute extension.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// officialPattern is what an acting official's identifier may look like
// (the department's own staff id or login).
var officialPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Auth methods recorded in the context.
const (
	authMTLS    = "mtls"
	authAPIKey  = "api_key"
	authSession = "session"
)

func certAttributes(cert *x509.Certificate) map[string]string {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(attrOID) {
			var v struct {
				Attrs map[string]string `json:"attrs"`
			}
			if json.Unmarshal(ext.Value, &v) == nil {
				return v.Attrs
			}
		}
	}
	return nil
}

// department authenticates a department system (mTLS client certificate
// or API key), requires the acting official, and applies the department's
// rate limit.
func (s *Server) department(c *gin.Context) {
	dept, method, err := s.authenticateDepartment(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	official := c.GetHeader("X-Eidgate-Official")
	if !officialPattern.MatchString(official) {
		s.fail(c, routing.Invalid("gateway", "X-Eidgate-Official", "name the acting official in the X-Eidgate-Official header (1–64 letters, digits, . _ @ -)"))
		return
	}
	c.Set(ctxDepartment, dept)
	c.Set(ctxOfficial, official)
	c.Set(ctxAuth, method)
	if s.deps.Limiter != nil {
		ok, retry, err := s.deps.Limiter.Allow(ctx(c), "dept:"+dept)
		if err == nil && !ok {
			secs := int(math.Ceil(retry.Seconds()))
			if secs < 1 {
				secs = 1
			}
			c.Header("Retry-After", itoa(secs))
			s.fail(c, rateLimited(secs))
			return
		}
		// A limiter that cannot answer (Redis down) does not stop service.
	}
	c.Next()
}

func (s *Server) authenticateDepartment(c *gin.Context) (string, string, error) {
	unauth := func(msg string) error {
		return (&routing.Error{Kind: routing.KindUnauthenticated, Op: "gateway", Message: msg}).WithCode("unauthenticated")
	}
	if tls := c.Request.TLS; tls != nil && len(tls.PeerCertificates) > 0 {
		cert := tls.PeerCertificates[0]
		msp := s.certMSP(cert, tls.PeerCertificates[1:])
		if msp == "" {
			return "", "", unauth("client certificate is not issued by a department organisation's CA")
		}
		attrs := certAttributes(cert)
		if attrs["eidgate.role"] != "department" || attrs["eidgate.dept"] == "" {
			return "", "", unauth("client certificate carries no department role (eidgate.role=department, eidgate.dept)")
		}
		d, err := s.deps.Registry.Department(ctx(c), attrs["eidgate.dept"])
		if err != nil {
			if routing.IsKind(err, routing.KindNotFound) {
				return "", "", unauth("client certificate names an unregistered department")
			}
			return "", "", err
		}
		if d.MSPID != msp {
			return "", "", unauth("client certificate is not from the department's organisation")
		}
		if !d.Active() {
			return "", "", (&routing.Error{Kind: routing.KindForbidden, Op: "gateway", Message: "the department is suspended"}).WithCode("department_suspended")
		}
		return d.ID, authMTLS, nil
	}
	token := ""
	if h := c.GetHeader("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	} else if h := c.GetHeader("X-Eidgate-Api-Key"); h != "" {
		token = strings.TrimSpace(h)
	}
	if token == "" {
		return "", "", unauth("authenticate with a department client certificate or an API key (Authorization: Bearer egk_…)")
	}
	dept, _, err := s.deps.APIKeys.Authenticate(ctx(c), token)
	if err != nil {
		// A revoked key is told so (its holder proved they hold it, so
		// this reveals nothing new); other failures stay one answer.
		if routing.KindOf(err) == routing.KindUnavailable || routing.CodeOf(err) == accounts.CodeAPIKeyRevoked {
			return "", "", err
		}
		return "", "", unauth("the API key is not valid")
	}
	d, err := s.deps.Registry.Department(ctx(c), dept)
	if err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			return "", "", unauth("the API key belongs to an unregistered department")
		}
		return "", "", err
	}
	if !d.Active() {
		return "", "", (&routing.Error{Kind: routing.KindForbidden, Op: "gateway", Message: "the department is suspended"}).WithCode("department_suspended")
	}
	return d.ID, authAPIKey, nil
}

// certMSP returns the MSP id of the department CA the certificate chains
// to, or "".
func (s *Server) certMSP(cert *x509.Certificate, intermediates []*x509.Certificate) string {
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	msps := make([]string, 0, len(s.cfg.DepartmentCAs))
	for msp := range s.cfg.DepartmentCAs {
		msps = append(msps, msp)
	}
	slices.Sort(msps)
	for _, msp := range msps {
		_, err := cert.Verify(x509.VerifyOptions{Roots: s.cfg.DepartmentCAs[msp], Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageAny}})
		if err == nil {
			return msp
		}
	}
	return ""
}

// session loads the browser session of the wanted kind and, for
// administrators, requires the role's permission (accounts.RoleCan);
// state-changing requests must echo its CSRF token in X-CSRF-Token.
func (s *Server) session(kind string, perm accounts.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		sess, err := s.loadSession(c, kind)
		if err != nil {
			s.failWith(c, routing.KindUnauthenticated, "unauthenticated", "log in first")
			return
		}
		if perm != "" && !accounts.RoleCan(sess.Role, perm) {
			s.failWith(c, routing.KindForbidden, "forbidden", "your role may not do this")
			return
		}
		if s.mustRegisterPasskey(sess) && !enrolmentPath(c.FullPath()) {
			s.fail(c, passkeyRequired())
			return
		}
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			got := c.GetHeader("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
				s.failWith(c, routing.KindForbidden, "csrf", "missing or wrong CSRF token")
				return
			}
		}
		c.Set(ctxSession, sess)
		c.Set(ctxAuth, authSession)
		withActor(c, sess)
		c.Next()
	}
}

// withActor names the signed-in administrator as the actor of the
// request's acts, for the audit trail.
func withActor(c *gin.Context, sess *accounts.Session) {
	if sess.Kind != accounts.SessionAdmin {
		return
	}
	c.Request = c.Request.WithContext(routing.WithActor(c.Request.Context(),
		routing.Actor{Official: "admin:" + sess.Subject, Role: sess.Role, RequestID: requestID(c)}))
}

// loadSession loads the session of kind from its cookie.
func (s *Server) loadSession(c *gin.Context, kind string) (*accounts.Session, error) {
	token, err := c.Cookie(SessionCookieOf(kind))
	if err != nil || token == "" {
		return nil, routing.Errorf(routing.KindUnauthenticated, "gateway", "no session")
	}
	sess, err := s.deps.Sessions.Lookup(ctx(c), token)
	if err == nil && sess.Kind != kind {
		return nil, routing.Errorf(routing.KindUnauthenticated, "gateway", "no session")
	}
	return sess, err
}

func currentSession(c *gin.Context) *accounts.Session {
	v, _ := c.Get(ctxSession)
	sess, _ := v.(*accounts.Session)
	return sess
}

// setSessionCookie writes the session cookie: HttpOnly, SameSite=Strict,
// Secure (unless configured off for plain-HTTP tests).
func (s *Server) setSessionCookie(c *gin.Context, kind, token string, expires time.Time) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookieOf(kind), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

// endSession revokes a session token the browser gives up. The browser
// forgets the cookie whatever happens; a token that could not be revoked
// (the database is down) lives until it expires, which the log records.
func (s *Server) endSession(c *gin.Context, token string) {
	if err := s.deps.Sessions.Revoke(ctx(c), token); err != nil {
		s.log.WarnContext(c.Request.Context(), "session not revoked; it ends when it expires", "request_id", requestID(c), "err", err)
	}
}

func (s *Server) clearSessionCookie(c *gin.Context, kind string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookieOf(kind), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode})
}
