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
