package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// A child that exits before it is ready is reported with its log.
func TestChildExitingBeforeReady(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	addr, err := FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartChild(sh, []string{"-c", "echo cannot open the data dir; exit 3"}, nil, filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitReady(context.Background(), "http://"+addr+"/readyz", 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot open the data dir") {
		t.Fatalf("want the child's log in the error, got %v", err)
	}
	if err := c.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
}

// childEnv makes the test binary a child that holds 64 MiB, gives it back
// and waits.
const childEnv = "EIDGATE_BENCH_TEST_CHILD"

func init() {
	if os.Getenv(childEnv) != "alloc" {
		return
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Println("freed")
	time.Sleep(30 * time.Second)
	os.Exit(0)
}

// The peak RSS of a child that held 64 MiB and gave it back shows the
// 64 MiB until it is reset, and not after.
func TestChildPeakRSSResetAndStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is read from /proc")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "child.log")
	c, err := StartChild(exe, []string{"-test.run=^$"}, []string{childEnv + "=alloc"}, logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop(time.Second) }()
	for i := 0; ; i++ {
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "freed") {
			break
		}
		if i == 1000 {
			t.Fatal("the child did not allocate and free its memory")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before, err := c.PeakRSS()
	if err != nil || before < 64<<20 {
		t.Fatalf("peak RSS %d (%v), want at least 64 MiB", before, err)
	}
	if cpu, err := c.CPUTime(); err != nil || cpu <= 0 {
		t.Fatalf("CPU time %s (%v)", cpu, err)
	}
	if err := c.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	after, err := c.PeakRSS()
	if err != nil || after == 0 || after > before/2 {
		t.Fatalf("peak RSS after reset %d (%v), before %d", after, err, before)
	}
	// The freed 64 MiB are not anonymous memory any more either, and the
	// anonymous part is within the resident set.
	if anon, err := c.AnonRSS(); err != nil || anon == 0 || anon > after {
		t.Fatalf("anonymous RSS %d (%v) with the peak reset to %d", anon, err, after)
	}
	if err := c.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.exited:
	default:
		t.Fatal("Stop returned before the child exited")
	}
}
