package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// Child is a process the bench starts and measures from outside: its
// start-up time to ready and its peak resident memory, untouched by the
// load generator running in the parent.
type Child struct {
	cmd     *exec.Cmd
	logPath string
	started time.Time
	exited  chan struct{}
	waitErr error
}

// StartChild runs exe with args; its output goes to logPath.
func StartChild(exe string, args []string, env []string, logPath string) (*Child, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childAttr()
	c := &Child{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		c.waitErr = cmd.Wait()
		logf.Close()
		close(c.exited)
	}()
	return c, nil
}

// PID is the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// WaitReady polls url until it answers 200 and returns the time from the
// child's start. It fails when the child exits or timeout passes.
func (c *Child) WaitReady(ctx context.Context, url string, timeout time.Duration) (time.Duration, error) {
	if err := CheckLoopback(url); err != nil {
		return 0, err
	}
	client := NewClient(1, time.Second)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(c.started), nil
			}
		}
		select {
		case <-c.exited:
			return 0, fmt.Errorf("bench: the child exited before it was ready (%v); its log:\n%s", c.waitErr, c.LogTail(20))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: %s not ready after %s; the child's log:\n%s", url, timeout, c.LogTail(20))
		}
	}
}

// PeakRSS is the child's peak resident set size in bytes (VmHWM), 0 where
// /proc is not available.
func (c *Child) PeakRSS() (uint64, error) {
	st, err := c.status()
	if st == nil {
		return 0, err
	}
	return st.VmHWM, nil
}

// AnonRSS is the child's anonymous resident memory now (RssAnon: its heap
// and stacks, not the pages of files it maps), 0 where /proc is not
// available.
func (c *Child) AnonRSS() (uint64, error) {
	st, err := c.status()
	if st == nil {
		return 0, err
	}
	return st.RssAnon, nil
}

// status is the child's /proc status, nil (and no error) where /proc is
// not available.
func (c *Child) status() (*procfs.ProcStatus, error) {
	p, err := procfs.NewProc(c.PID())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// ResetPeakRSS sets the child's peak resident set size back to its
// current size (Linux: "5" into /proc/PID/clear_refs), so that PeakRSS
// then reports the peak of what follows.
func (c *Child) ResetPeakRSS() error {
	return os.WriteFile("/proc/"+strconv.Itoa(c.PID())+"/clear_refs", []byte("5"), 0)
}

// CPUTime is the user plus system CPU time the child has used (0 where
// /proc is not available).
func (c *Child) CPUTime() (time.Duration, error) {
	p, err := procfs.NewProc(c.PID())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}

// Stop asks the child to stop (SIGTERM) and kills it after grace.
func (c *Child) Stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("bench: child %d did not stop within %s and was killed", c.PID(), grace)
	}
}

// LogTail is the last n lines of the child's output.
func (c *Child) LogTail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SelfCPUTime is the user plus system CPU time this process has used.
func SelfCPUTime() time.Duration {
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return time.Duration(st.CPUTime() * float64(time.Second))
}

// WrittenBytes is what this process has written so far (write system
// calls, whether or not they reached the disk yet); 0 without /proc.
func WrittenBytes() uint64 {
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	io, err := p.IO()
	if err != nil {
		return 0
	}
	return io.WChar
}

// FreeLoopbackAddr returns a loopback address with a port free right now,
// so that a child restarted on the same data dir keeps its address.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
