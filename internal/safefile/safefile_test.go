package safefile

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWriteReplacesWithModeAndLeavesNoTemporaryFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "profile.json")
	if err := Write(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new" {
		t.Errorf("content %q, want %q", got, "new")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want 0640", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file: %v", len(entries), entries)
	}
}

func TestWriteSecretIsOwnerOnlyWhateverTheUmask(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	if err := WriteSecret(path, []byte("k")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
}

func TestCreateSecretOnceKeepsTheFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "pseudonym.key")
	if err := CreateSecret(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	err := CreateSecret(path, []byte("second"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	got, err := ReadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first" {
		t.Errorf("content %q after a second create, want the first", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key: %v", len(entries), entries)
	}
}

// fakeInfo is a file's info as the platform would give it.
type fakeInfo struct {
	mode fs.FileMode
	uid  int
}

func (f fakeInfo) Name() string       { return "secret" }
func (f fakeInfo) Size() int64        { return 32 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return &syscall.Stat_t{Uid: uint32(f.uid)} }

func TestCheckSecretRule(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no file modes on Windows")
	}
	self, other := os.Geteuid(), os.Geteuid()+1
	cases := []struct {
		name string
		info fakeInfo
		ok   bool
	}{
		{"written by eidgate (0600)", fakeInfo{0o600, self}, true},
		{"owner read only (0400)", fakeInfo{0o400, self}, true},
		{"Kubernetes secret volume with fsGroup (root-owned 0440)", fakeInfo{0o440, other}, true},
		{"another user's file, owner only (0400)", fakeInfo{0o400, other}, true},
		{"own file readable by the group (0640)", fakeInfo{0o640, self}, false},
		{"own file readable by the group (0440)", fakeInfo{0o440, self}, false},
		{"group-writable mount (0460)", fakeInfo{0o460, other}, false},
		{"world-readable (0644)", fakeInfo{0o644, self}, false},
		{"world-readable mount (0444)", fakeInfo{0o444, other}, false},
		{"others may write (0602)", fakeInfo{0o602, self}, false},
		{"a directory", fakeInfo{fs.ModeDir | 0o700, self}, false},
		{"a device", fakeInfo{fs.ModeDevice | 0o600, self}, false},
	}
	for _, c := range cases {
		err := CheckSecret("/keys/secret", c.info)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckSecret = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v does not match ErrInsecure", c.name, err)
		}
	}
}

func TestReadSecretRefusesAGroupReadableFileAndFollowsALink(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no file modes on Windows")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := WriteSecret(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	// A Kubernetes secret volume shows each key as a link into ..data.
	link := filepath.Join(dir, "mounted")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSecret(link); err != nil || string(got) != "secret" {
		t.Fatalf("ReadSecret through a link = %q, %v", got, err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(path); !errors.Is(err, ErrInsecure) {
		t.Fatalf("ReadSecret of an own 0640 file = %v, want ErrInsecure", err)
	}
}

// The crash tests run a child (this test binary) that writes the file in a
// loop and kill it at a random moment: the file must then hold one whole
// version, never part of one.

const (
	childEnv  = "SAFEFILE_CRASH_CHILD"
	childSize = 4 << 20
	// childChunk makes the child write a version in 64 pieces, so a kill
	// lands between two of them.
	childChunk = 64 << 10
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		crashChild(spec)
		return
	}
	os.Exit(m.Run())
}

// crashChild runs "write:PATH" (replace PATH again and again with
// alternating versions) or "create:PATH" (create PATH once), until killed.
func crashChild(spec string) {
	mode, path, _ := strings.Cut(spec, ":")
	versions := [][]byte{bytes.Repeat([]byte("A"), childSize), bytes.Repeat([]byte("B"), childSize)}
	if mode == "create" {
		if err := create(path, versions[1], childChunk); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	for i := 0; ; i++ {
		if err := replace(path, versions[i%2], 0o600, childChunk); err != nil {
			os.Exit(2)
		}
	}
}

func runAndKill(t *testing.T, spec string, after time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		// Only a creator may finish before the kill.
		if err != nil || !strings.HasPrefix(spec, "create:") {
			t.Fatalf("child %s stopped by itself: %v", spec, err)
		}
	case <-time.After(after):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// wholeVersion reports whether b is one whole version: childSize bytes,
// all the same.
func wholeVersion(b []byte) bool {
	return len(b) == childSize && bytes.Count(b, b[:1]) == childSize
}

func TestWriteKilledMidWayLeavesTheOldOrTheNewFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("needs kill -9 semantics")
	}
	path := filepath.Join(t.TempDir(), "demo.json")
	if err := Write(path, bytes.Repeat([]byte("A"), childSize), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		runAndKill(t, "write:"+path, time.Duration(20+rand.IntN(200))*time.Millisecond)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if !wholeVersion(b) {
			t.Fatalf("kill %d left %d bytes that are not one whole version", i, len(b))
		}
	}
}

func TestCreateSecretKilledMidWayLeavesNoFileOrTheWholeFile(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("needs kill -9 semantics")
	}
	dir := t.TempDir()
	created := 0
	for i := range 12 {
		path := filepath.Join(dir, "key-"+strconv.Itoa(i))
		runAndKill(t, "create:"+path, time.Duration(rand.IntN(60))*time.Millisecond)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if !wholeVersion(b) {
			t.Fatalf("kill %d left a key of %d bytes that is not the whole key", i, len(b))
		}
		created++
	}
	t.Logf("%d of 12 children created the key before they were killed", created)
}
