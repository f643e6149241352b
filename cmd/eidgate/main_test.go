package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "eidgate ") || !strings.Contains(out.String(), "\ncommit  ") || !strings.Contains(out.String(), "\ngo      go1.") {
		t.Fatalf("version output %q", out.String())
	}
}

func TestUnknownCommandFails(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"no-such-command"}, &out, &errb); code == 0 {
		t.Fatal("unknown command exited 0")
	}
}

// newTestMain starts a Main on a random port and a temp dir, as the
// end-to-end tests do.
func newTestMain(t *testing.T, cfg Config) *Main {
	t.Helper()
	def := DefaultConfig()
	def.Listen = "127.0.0.1:0"
	def.DataDir = t.TempDir()
	if cfg.Listen == "" {
		cfg.Listen = def.Listen
	}
	if cfg.DataDir == "" {
		cfg.DataDir = def.DataDir
	}
	if cfg.Ledger == "" {
		cfg.Ledger, cfg.DevnetListen = def.Ledger, def.DevnetListen
	}
	if cfg.AnchorLagBound == 0 {
		cfg.AnchorLagBound = def.AnchorLagBound
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	m := NewMain(cfg)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

func TestMainServesHealth(t *testing.T) {
	t.Parallel()
	m := newTestMain(t, Config{})
	resp, err := http.Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ok") {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
}
