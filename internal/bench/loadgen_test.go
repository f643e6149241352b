package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/x", true},
		{"http://127.3.4.5/", true},
		{"http://localhost:9/", true},
		{"http://[::1]:80/", true},
		{"https://127.0.0.1/", true},
		{"http://10.0.0.1/", false},
		{"http://192.168.1.10:8080/", false},
		{"http://example.com/", false},
		{"http://0.0.0.0:8080/", false},
		{"ftp://127.0.0.1/", false},
		{"://bad", false},
	}
	for _, tc := range tests {
		err := CheckLoopback(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestRunRefusesNonLoopbackTargets(t *testing.T) {
	_, err := Run(context.Background(), LoadOptions{
		Connections: 1, Duration: time.Second, MaxRequests: 1,
		Requests: []Request{{Method: http.MethodGet, URL: "http://127.0.0.1:1/"}, {Method: http.MethodGet, URL: "http://198.51.100.7/"}},
	})
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("want ErrNotLoopback, got %v", err)
	}
}

func TestRunNeedsBothBounds(t *testing.T) {
	req := []Request{{Method: http.MethodGet, URL: "http://127.0.0.1:1/"}}
	for _, o := range []LoadOptions{
		{Connections: 1, Duration: time.Second, Requests: req},
		{Connections: 1, MaxRequests: 10, Requests: req},
		{Connections: 0, Duration: time.Second, MaxRequests: 10, Requests: req},
		{Connections: 1, Duration: time.Second, MaxRequests: 10},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) started", o)
		}
	}
}

// A run stops at MaxRequests, spreads the requests, counts non-200 answers
// by status and keeps connections alive.
func TestRunCountsByStatusAndStopsAtMaxRequests(t *testing.T) {
	var hits atomic.Int64
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	res, err := Run(context.Background(), LoadOptions{
		Connections: 4, Duration: time.Minute, MaxRequests: 400,
		Requests: []Request{
			{Method: http.MethodGet, URL: srv.URL + "/good"},
			{Method: http.MethodGet, URL: srv.URL + "/good"},
			{Method: http.MethodPost, URL: srv.URL + "/good", Body: []byte(`{}`)},
			{Method: http.MethodGet, URL: srv.URL + "/bad"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 400 || hits.Load() != 400 {
		t.Fatalf("sent %d (server saw %d), want exactly 400", res.Requests, hits.Load())
	}
	if res.OK != 300 || res.Errors["403"] != 100 || res.ErrorCount() != 100 {
		t.Fatalf("ok %d errors %v, want 300 ok and 100 × 403", res.OK, res.Errors)
	}
	if res.Latency.Count() != 300 || res.RPS() <= 0 {
		t.Fatalf("latency count %d rps %f", res.Latency.Count(), res.RPS())
	}
	if n := conns.Load(); n > 4 {
		t.Fatalf("opened %d connections for 4 workers: keep-alive is not working", n)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), LoadOptions{
		Connections: 2, Duration: 200 * time.Millisecond, MaxRequests: 1 << 40,
		Requests: []Request{{Method: http.MethodGet, URL: srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.OK >= 1<<40 {
		t.Fatalf("ok %d", res.OK)
	}
}

func TestRunCountsRefusedConnections(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	res, err := Run(context.Background(), LoadOptions{
		Connections: 1, Duration: time.Minute, MaxRequests: 3,
		Requests: []Request{{Method: http.MethodGet, URL: url}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["transport"] != 3 || res.OK != 0 {
		t.Fatalf("errors %v ok %d, want 3 transport errors", res.Errors, res.OK)
	}
}
