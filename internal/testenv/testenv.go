// Package testenv gives tests the real services they need (PostgreSQL,
// Redis, Chromium). Outside CI a test skips with a clear message when the
// service is absent; in CI (CI=true) a missing service fails the test.
package testenv

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI, where every service must exist.
func InCI() bool { return os.Getenv("CI") == "true" }

func missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required in CI but is not available", what)
	}
	t.Skipf("skipping: %s not available (set it up or run under CI=true to make this a failure)", what)
}

func reachable(rawURL, defPort string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defPort)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// Postgres returns the DSN in EIDGATE_TEST_POSTGRES after checking the
// server answers.
func Postgres(t testing.TB) string {
	t.Helper()
	return server(t, "PostgreSQL", "EIDGATE_TEST_POSTGRES", "5432")
}

// Redis returns the URL in EIDGATE_TEST_REDIS after checking the server
// answers.
func Redis(t testing.TB) string {
	t.Helper()
	return server(t, "Redis", "EIDGATE_TEST_REDIS", "6379")
}

// server returns the URL in the environment variable env after checking
// that the server answers there (on defPort when the URL names no port).
func server(t testing.TB, name, env, defPort string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		missing(t, name+" ("+env+")")
	}
	if !reachable(u, defPort) {
		missing(t, name+" at "+redact(u))
	}
	return u
}

// Chromium returns the path of the Chromium binary for browser tests
// (EIDGATE_TEST_CHROMIUM, else /usr/bin/chromium).
func Chromium(t testing.TB) string {
	t.Helper()
	p := os.Getenv("EIDGATE_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		missing(t, "Chromium ("+p+")")
	}
	return p
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
