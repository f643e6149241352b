package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eidgate/eidgate/internal/demo"
)

// TestDemoGatewayURL: verify checks the demo's records as the gateway
// demo.json names; no demo.json, or a broken one, names none.
func TestDemoGatewayURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if got := demoGatewayURL(dir); got != "" {
		t.Errorf("demoGatewayURL(no demo.json) = %q, want \"\"", got)
	}
	if err := demo.WriteJSON(filepath.Join(dir, demo.InfoFile), demo.Info{GatewayURL: "http://127.0.0.1:18443"}); err != nil {
		t.Fatal(err)
	}
	if got := demoGatewayURL(dir); got != "http://127.0.0.1:18443" {
		t.Errorf("demoGatewayURL = %q, want the gateway_url of demo.json", got)
	}
	if err := os.WriteFile(filepath.Join(dir, demo.InfoFile), []byte("[1,"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := demoGatewayURL(dir); got != "" {
		t.Errorf("demoGatewayURL(broken demo.json) = %q, want \"\"", got)
	}
}
