package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/web"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is what the gateway is built from: the services behind it and
// its HTTP settings.
type Config struct {
	// Deps are the services behind the API and the pages (required, but
	// for the optional ones Deps names).
	Deps Deps

	Logger *slog.Logger
	// BodyLimit bounds request bodies (default 1 MiB); bulk import uploads
	// have their own bound (ImportLimit, default 256 MiB).
	BodyLimit   int64
	ImportLimit int64
	// DepartmentCAs are the CAs of the department organisations by MSP id;
	// a client certificate chaining to one authenticates the department
	// named by its eidgate.dept attribute.
	DepartmentCAs map[string]*x509.CertPool
	// InsecureCookies drops the Secure flag (plain-HTTP tests only).
	InsecureCookies bool
	// TrustedProxies are the addresses or CIDR ranges of the reverse
	// proxies in front of the gateway: only from them are
	// X-Forwarded-For (the client's address, for per-client limits) and
	// X-Forwarded-Proto (whether the browser used HTTPS) believed.
	TrustedProxies []string
	// BodyTimeout bounds the time a request takes to send its body
	// (default DefaultBodyTimeout), UploadTimeout that of bulk import
	// uploads (default DefaultUploadTimeout); InFlightPerClient bounds one
	// client's requests in progress (default DefaultInFlightPerClient).
	BodyTimeout       time.Duration
	UploadTimeout     time.Duration
	InFlightPerClient int
	// Registry receives the gateway's metrics (nil: a private one).
	Registry *prometheus.Registry
	// Web is the portal and console (templates, catalogues, assets); nil
	// uses the embedded site.
	Web *web.Site
	// PageKey signs the CSRF tokens of the sign-in forms (double-submit
	// cookie). Replicas behind one address need the same key; nil draws a
	// random key at start, which suits a single process.
	PageKey []byte
	// TimeZone is the zone dates are shown in on pages. Nil: the portal
	// shows them in Asia/Shanghai to a resident reading Chinese (see
	// web.LangZone), and everywhere else in the process's local zone.
	TimeZone *time.Location
	// OpenAPI is the API description served at /openapi.yaml.
	OpenAPI []byte
	// RequireStaffPasskeys limits an administrator's session opened with a
	// password to registering a passkey.
	RequireStaffPasskeys bool
}

// Server is the gateway's HTTP side: the JSON API (handlers on api) and
// the portal and console (handlers on pages) over the same services, with
// the authentication, error rendering and request logging they share.
type Server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	engine   *gin.Engine
	metrics  *metrics
	site     *web.Site
	proxies  []netip.Prefix
	inFlight *inFlight
}

// api are the handlers of the JSON API; pages are those of the portal and
// console. Both parse the request, call one service and render.
type (
	api   struct{ *Server }
	pages struct{ *Server }
)

// New checks cfg, builds the server and registers every route.
func New(cfg Config) (*Server, error) {
	if err := cfg.Deps.check(); err != nil {
		return nil, err
	}
	deps := cfg.Deps
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.ImportLimit <= 0 {
		cfg.ImportLimit = 256 << 20
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.InFlightPerClient <= 0 {
		cfg.InFlightPerClient = DefaultInFlightPerClient
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	gin.SetMode(gin.ReleaseMode)
	if cfg.Web == nil {
		cfg.Web = web.MustNew()
	}
	if len(cfg.PageKey) == 0 {
		cfg.PageKey = make([]byte, 32)
		_, _ = rand.Read(cfg.PageKey)
	}
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger, engine: gin.New(), metrics: newMetrics(cfg.Registry), site: cfg.Web,
		inFlight: &inFlight{max: cfg.InFlightPerClient, n: map[string]int{}}}
	// Without this gin believes X-Forwarded-For from anyone, and a client
	// could pick the address its limits are counted under.
	if err := s.engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, routing.Invalid("gateway.New", "trusted_proxies", "trusted proxies: %v", err)
	}
	for _, p := range cfg.TrustedProxies {
		s.proxies = append(s.proxies, proxyPrefix(p))
	}
	s.engine.ContextWithFallback = true
	s.engine.HandleMethodNotAllowed = true
	s.engine.Use(s.bodyDeadline, s.requestContext, s.recover, s.limitInFlight, s.securityHeaders)
	s.engine.NoRoute(func(c *gin.Context) {
		if isPagePath(c.Request.URL.Path) {
			s.setPageHeaders(c)
			s.pageFail(c, &routing.Error{Kind: routing.KindNotFound, Code: "page_not_found", Op: "gateway", Message: "no such page"})
			return
		}
		s.failWith(c, routing.KindNotFound, "not_found", "no such endpoint")
	})
	s.engine.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{Code: "method_not_allowed", Message: "method not allowed", RequestID: requestID(c)}})
	})
	s.routes()
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Context keys.
const (
	ctxRequestID  = "eidgate.request_id"
	ctxDepartment = "eidgate.department"
	ctxOfficial   = "eidgate.official"
	ctxAuth       = "eidgate.auth"
	ctxSession    = "eidgate.session"
	ctxErrorCode  = "eidgate.error_code"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,64}$`)

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// requestContext assigns the request id, measures and logs the request.
// Only the route pattern is logged, never the raw path or query.
func (s *Server) requestContext(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		id = newRequestID()
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.observe(c.Request.Method, route, status, elapsed)
	attrs := []any{"request_id", id, "method", c.Request.Method, "route", route, "status", status, "ms", float64(elapsed.Microseconds()) / 1000}
	if d := c.GetString(ctxDepartment); d != "" {
		attrs = append(attrs, "department", d)
	}
	if code := c.GetString(ctxErrorCode); code != "" {
		attrs = append(attrs, "code", code)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(c.Request.Context(), level, "http request", attrs...)
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic in handler", "request_id", requestID(c), "panic", fmt.Sprint(r))
			s.failWith(c, routing.KindInternal, "internal", "internal error")
		}
	}()
	c.Next()
}

func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// bind decodes a JSON body strictly: bounded size, one value, no unknown
// fields; the error names the field.
func (s *Server) bind(c *gin.Context, v any) bool {
	ct := c.GetHeader("Content-Type")
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		s.fail(c, routing.Invalid("gateway", "body", "send the body as application/json"))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(c, (&routing.Error{Kind: routing.KindInvalid, Op: "gateway", Field: "body", Message: "request body larger than " + strconv.FormatInt(s.cfg.BodyLimit, 10) + " bytes"}).WithCode("body_too_large"))
			return false
		}
		s.fail(c, routing.Invalid("gateway", "body", "request body could not be read"))
		return false
	}
	if err := decodeStrict(body, v); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// fieldAtFault finds the body field whose value made decoding fail in a
// way the decoder does not attribute (a time or other value with its own
// parser): it decodes each field of the object on its own, descending
// into nested objects, and returns the dotted path of the first that
// fails, or "".
func fieldAtFault(raw []byte, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ft, ok := fields[k]
		if !ok {
			continue
		}
		if json.Unmarshal(obj[k], reflect.New(ft).Interface()) == nil {
			continue
		}
		if sub := fieldAtFault(obj[k], ft); sub != "" {
			return k + "." + sub
		}
		return k
	}
	return ""
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &syntaxErr) && !errors.As(err, &typeErr) && !strings.HasPrefix(err.Error(), "json: unknown field ") && !errors.Is(err, io.EOF) {
			if f := fieldAtFault(body, reflect.TypeOf(v)); f != "" {
				msg := "field " + f + " has a value that cannot be read"
				var te *time.ParseError
				if errors.As(err, &te) {
					msg = "field " + f + " must be an RFC 3339 time such as 2026-03-02T09:00:00Z"
				}
				return routing.Invalid("gateway", f, "%s", msg)
			}
		}
		return jsonError(err)
	}
	if dec.More() {
		return routing.Invalid("gateway", "body", "the body must hold exactly one JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return routing.Invalid("gateway", "body", "the body must hold exactly one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return routing.Invalid("gateway", typeErr.Field, "field %s must be a %s", typeErr.Field, typeErr.Type.String())
	case errors.As(err, &syntaxErr):
		return routing.Invalid("gateway", "body", "malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return routing.Invalid("gateway", f, "unknown field %s", f)
	case errors.Is(err, io.EOF):
		return routing.Invalid("gateway", "body", "a JSON body is required")
	}
	return routing.Invalid("gateway", "body", "malformed JSON")
}

// ctx returns the request context.
func ctx(c *gin.Context) context.Context { return c.Request.Context() }

// proxyPrefix reads a trusted proxy, an address or a CIDR range that
// SetTrustedProxies accepted.
func proxyPrefix(p string) netip.Prefix {
	if pre, err := netip.ParsePrefix(p); err == nil {
		return pre.Masked()
	}
	a, _ := netip.ParseAddr(p)
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
}

// remoteAddr is the address of the peer of the connection (the proxy's,
// behind one).
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// viaTrustedProxy holds when the request came through one of the
// configured proxies.
func (s *Server) viaTrustedProxy(r *http.Request) bool {
	a := remoteAddr(r)
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// browserUsedHTTPS holds when the browser reached the gateway over HTTPS:
// directly with TLS, or through a trusted proxy that says so.
func (s *Server) browserUsedHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.viaTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// secureCookiesLost holds when the browser drops the gateway's cookies:
// they carry the Secure flag, and the page was opened over plain HTTP by a
// name other than localhost (browsers keep Secure cookies over HTTP on
// localhost alone).
func (s *Server) secureCookiesLost(r *http.Request) bool {
	if s.cfg.InsecureCookies || s.browserUsedHTTPS(r) {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(strings.ToLower(host), "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.IsLoopback()
}
