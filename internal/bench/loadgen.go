package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Request is one request the load generator sends.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// LoadOptions describe a closed-loop run: Connections workers each send a
// request, wait for the whole answer and send the next, until Duration has
// passed or MaxRequests were sent, whichever comes first.
type LoadOptions struct {
	Connections int
	Duration    time.Duration
	MaxRequests int64
	// Requests are sent in turn (request i is Requests[i % len]).
	Requests []Request
	// Expect is the status that counts as success (default 200).
	Expect int
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
}

// LoadResult is what a run measured. Latency holds successful requests
// only; Errors counts the others by status code, or "transport" when no
// answer came.
type LoadResult struct {
	Requests int64
	OK       int64
	Errors   map[string]int64
	Elapsed  time.Duration
	Latency  *Histogram
}

// ErrorCount is the number of failed requests.
func (r *LoadResult) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// RPS is successful requests per second.
func (r *LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ErrNotLoopback refuses a target outside the loopback range.
var ErrNotLoopback = errors.New("bench: load is only sent to loopback addresses (127.0.0.0/8, ::1, localhost)")

// CheckLoopback refuses any URL whose host is not a loopback address.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bench: target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bench: target %q: want an http or https URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrNotLoopback, host)
}

// loopbackOnly refuses, at connect time, any address that is not loopback,
// so that a name resolving elsewhere cannot be reached either.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, host)
	}
	return nil
}

// NewClient is an HTTP/1.1 keep-alive client with at most conns
// connections, which dials loopback addresses only.
func NewClient(conns int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxConnsPerHost:     conns,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true) // HTTP/1.1 only: one request per connection at a time
	tr.Protocols = &protocols
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Run sends the load and returns what it measured. ctx cancels the run
// early (what was measured until then is returned with ctx's error).
func Run(ctx context.Context, opts LoadOptions) (*LoadResult, error) {
	switch {
	case opts.Connections <= 0:
		return nil, errors.New("bench: want at least one connection")
	case opts.Duration <= 0 || opts.MaxRequests <= 0:
		return nil, errors.New("bench: a run is bounded in time and in requests; set both")
	case len(opts.Requests) == 0:
		return nil, errors.New("bench: no request to send")
	}
	for _, r := range opts.Requests {
		if err := CheckLoopback(r.URL); err != nil {
			return nil, err
		}
	}
	if opts.Expect == 0 {
		opts.Expect = http.StatusOK
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	client := NewClient(opts.Connections, opts.Timeout)
	defer client.CloseIdleConnections()

	type worker struct {
		hist   *Histogram
		ok     int64
		errors map[string]int64
	}
	workers := make([]*worker, opts.Connections)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(opts.Duration)
	for w := range workers {
		wk := &worker{hist: NewHistogram(), errors: map[string]int64{}}
		workers[w] = wk
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= opts.MaxRequests {
					return
				}
				req := opts.Requests[i%int64(len(opts.Requests))]
				t0 := time.Now()
				status, err := send(ctx, client, req)
				d := time.Since(t0)
				switch {
				case err != nil && ctx.Err() != nil:
					return // cancelled: neither success nor failure
				case err != nil:
					wk.errors["transport"]++
				case status != opts.Expect:
					wk.errors[strconv.Itoa(status)]++
				default:
					wk.ok++
					wk.hist.Record(d)
				}
			}
		}()
	}
	wg.Wait()
	res := &LoadResult{Elapsed: time.Since(start), Errors: map[string]int64{}, Latency: NewHistogram()}
	for _, wk := range workers {
		res.OK += wk.ok
		res.Latency.Merge(wk.hist)
		for k, v := range wk.errors {
			res.Errors[k] += v
		}
	}
	res.Requests = res.OK + res.ErrorCount()
	return res, ctx.Err()
}

func send(ctx context.Context, c *http.Client, r Request) (int, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return 0, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	// Read the whole answer so that the connection is reused.
	_, err = io.Copy(io.Discard, resp.Body)
	cerr := resp.Body.Close()
	if err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}
