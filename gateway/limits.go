package gateway

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/routing"
)

// Defaults of the per-client limits.
const (
	// DefaultBodyTimeout is how long a request may take to send its body,
	// on every route but uploads: enough for a megabyte on a slow line,
	// far too little to hold a connection idle.
	DefaultBodyTimeout = 15 * time.Second
	// DefaultUploadTimeout is the same for bulk import uploads.
	DefaultUploadTimeout = 5 * time.Minute
	// DefaultConnsPerClient bounds one address's open connections.
	DefaultConnsPerClient = 64
	// DefaultInFlightPerClient bounds one client's requests in progress.
	DefaultInFlightPerClient = 32
)

// bodyDeadline gives a request with a body its time to send it: a short
// one, so a client sending slowly without authenticating cannot hold a
// connection for long. Upload routes extend it (uploadDeadline). The
// deadline is lifted once the body is read: the server then reads the
// connection in the background to notice a client going away, and a
// deadline passing there would cancel a request still being served. A
// request without a body has nothing to read and gets no deadline.
func (s *Server) bodyDeadline(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	c.Request.Body = &deadlineBody{ReadCloser: c.Request.Body, rc: rc}
	c.Next()
}

// uploadDeadline gives an upload route the long deadline bulk files need.
func (s *Server) uploadDeadline(c *gin.Context) {
	if _, ok := c.Request.Body.(*deadlineBody); ok {
		_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(s.cfg.UploadTimeout))
	}
	c.Next()
}

// deadlineBody lifts the read deadline when the body has been read.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// inFlight bounds each client's requests in progress: a client past the
// bound is answered 429 at once instead of taking more of the gateway.
type inFlight struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func (f *inFlight) enter(client string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[client] >= f.max {
		return false
	}
	f.n[client]++
	return true
}

func (f *inFlight) leave(client string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[client]--; f.n[client] <= 0 {
		delete(f.n, client)
	}
}

func (s *Server) limitInFlight(c *gin.Context) {
	client := c.ClientIP()
	if !s.inFlight.enter(client) {
		c.Header("Retry-After", "1")
		s.fail(c, &routing.Error{Kind: routing.KindRateLimited, Code: "rate_limited", Op: "gateway",
			Message: "too many requests in progress from this client; wait for some to finish"})
		return
	}
	defer s.inFlight.leave(client)
	c.Next()
}

// LimitListener bounds the connections open at once from one remote
// address: a connection past the bound is closed as soon as it is
// accepted. Addresses in exempt (reverse proxies, which carry many
// clients' connections) are not bounded.
func LimitListener(l net.Listener, perClient int, exempt []string) net.Listener {
	ll := &limitListener{Listener: l, max: perClient, open: map[netip.Addr]int{}}
	for _, p := range exempt {
		ll.exempt = append(ll.exempt, proxyPrefix(p))
	}
	return ll
}

type limitListener struct {
	net.Listener
	max    int
	exempt []netip.Prefix
	mu     sync.Mutex
	open   map[netip.Addr]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := connAddr(c)
		if l.isExempt(addr) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[addr] >= l.max {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.open[addr]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: func() { l.release(addr) }}, nil
	}
}

func (l *limitListener) isExempt(a netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *limitListener) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
}

func connAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
