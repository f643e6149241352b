package demo

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// TestReadInfo: the one reader of demo.json gives what was written, the
// file system's error when there is none (so that callers can tell a
// fresh data dir) and an error naming the file when it is not JSON.
func TestReadInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := ReadInfo(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadInfo(empty dir) error = %v, want fs.ErrNotExist", err)
	}
	want := Info{GatewayURL: "http://127.0.0.1:8443", Database: "SQLite in the data dir", Ledger: "devnet",
		Admin: StaffLogin{Username: "admin", Password: "pw", Role: "admin"}}
	if err := WriteJSON(filepath.Join(dir, InfoFile), &want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadInfo(dir)
	if err != nil {
		t.Fatalf("ReadInfo: %v", err)
	}
	if got.GatewayURL != want.GatewayURL || got.Database != want.Database || got.Ledger != want.Ledger || got.Admin != want.Admin {
		t.Errorf("ReadInfo = %+v, want %+v", got, want)
	}
	if err := os.WriteFile(filepath.Join(dir, InfoFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInfo(dir); err == nil || !strings.HasPrefix(err.Error(), InfoFile+": ") {
		t.Errorf("ReadInfo(broken file) error = %v, want one naming %s", err, InfoFile)
	}
}
