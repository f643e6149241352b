package fabrictest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRelease(t *testing.T) {
	complete := func(t *testing.T) string {
		dir := t.TempDir()
		for _, b := range releaseBinaries {
			writeFile(t, filepath.Join(dir, "bin", b), 0o755)
		}
		writeFile(t, filepath.Join(dir, "config", "core.yaml"), 0o644)
		writeFile(t, filepath.Join(dir, "config", "orderer.yaml"), 0o644)
		writeFile(t, filepath.Join(dir, "builders", "ccaas", "bin", "detect"), 0o755)
		return dir
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"complete", func(*testing.T, string) {}, ""},
		{"no peer", func(t *testing.T, dir string) { remove(t, dir, "bin/peer") }, "missing bin/peer"},
		{"osnadmin not executable", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "bin", "osnadmin"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "missing bin/osnadmin"},
		{"no sample config", func(t *testing.T, dir string) { remove(t, dir, "config") }, "config/core.yaml, config/orderer.yaml"},
		{"no ccaas builder", func(t *testing.T, dir string) { remove(t, dir, "builders") }, "builders/ccaas/bin/detect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := complete(t)
			tc.spoil(t, dir)
			err := CheckRelease(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("complete release refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestOffsetLockIsExclusive(t *testing.T) {
	const off = 999_000 // never a real network's offset
	first, ok := lockOffset(off)
	if !ok {
		t.Skip("the offset lock is held by another process")
	}
	if second, ok := lockOffset(off); ok {
		second.Close()
		t.Fatal("a held offset was locked twice")
	}
	n := &Network{lock: first}
	n.unlock()
	again, ok := lockOffset(off)
	if !ok {
		t.Fatal("a released offset could not be locked again")
	}
	again.Close()
}

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, rel string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, rel)); err != nil {
		t.Fatal(err)
	}
}
