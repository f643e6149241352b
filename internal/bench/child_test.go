package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
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

func TestChildPeakRSSAndStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is read from /proc")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	c, err := StartChild(sleep, []string{"30"}, nil, filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	rss, err := c.PeakRSS()
	for i := 0; err == nil && rss == 0 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond) // until exec has replaced the image
		rss, err = c.PeakRSS()
	}
	if err != nil || rss == 0 {
		t.Fatalf("peak RSS %d, %v", rss, err)
	}
	// The dynamic loader may still be mapping pages: wait until the peak
	// stops moving, so that the reset below can only lower it.
	for stable := 0; stable < 3; {
		time.Sleep(20 * time.Millisecond)
		next, err := c.PeakRSS()
		if err != nil {
			t.Fatal(err)
		}
		if next == rss {
			stable++
		} else {
			rss, stable = next, 0
		}
	}
	if _, err := c.CPUTime(); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	if after, err := c.PeakRSS(); err != nil || after == 0 || after > rss {
		t.Fatalf("peak RSS after reset %d (%v), before %d", after, err, rss)
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
