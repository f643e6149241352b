package demo

import (
	"strings"
	"testing"
)

func TestNewLoaderRefusesZeroConfig(t *testing.T) {
	t.Parallel()
	l, err := NewLoader(LoaderConfig{})
	if err == nil {
		t.Fatalf("NewLoader(LoaderConfig{}) = %v, want an error", l)
	}
	if !strings.Contains(err.Error(), "DataDir is required") {
		t.Errorf("error %q does not name the first missing field, DataDir", err)
	}
}

// TestInfoFileIsDocumented: the README, docs/operations.md and the
// command's banner send people to <data dir>/demo.json.
func TestInfoFileIsDocumented(t *testing.T) {
	t.Parallel()
	if InfoFile != "demo.json" {
		t.Errorf("InfoFile = %q, want the documented demo.json", InfoFile)
	}
}
