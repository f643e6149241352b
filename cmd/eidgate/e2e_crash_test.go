package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/demo"
)

// serveChildEnv, when set to a data dir, turns the test binary into
// `eidgate serve --demo` on that dir: the crash test runs the gateway as a
// child process it can SIGKILL.
const serveChildEnv = "EIDGATE_E2E_SERVE_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveChildEnv); dir != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, []string{"serve", "--demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "warn"}, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	flag.Parse()
	// The end-to-end tests mostly wait — on block cuts, commit statuses,
	// child processes and browsers — so more of them run at once than
	// there are cores, unless -test.parallel says otherwise.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listeningLine = regexp.MustCompile(`listening on (http\S+)`)

// startServeChild runs `eidgate serve --demo` on dir in a child process
// and returns it with the URL it printed. The child is killed when the
// test ends, and by the kernel if the test process dies first.
func startServeChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveChildEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		// Wait only after stdout is drained (exec.Cmd's rule).
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-exited:
		t.Fatalf("the gateway child exited before listening:\n%s", stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("the gateway child did not start in 90 s:\n%s", stderr.String())
	}
	return nil, ""
}

// TestCrashMidLoadLosesNoRecordAndAnchorsEachOnce SIGKILLs a gateway
// (SQLite, embedded ledger) while departments resolve, then starts it again
// on the same data dir: every ticket a department received has its
// durable record, every record is in exactly one batch anchored on the
// ledger with the same Merkle root and count, and the ledger counted the
// consent's uses once per issued record.
func TestCrashMidLoadLosesNoRecordAndAnchorsEachOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child, url := startServeChild(t, dir)
	raw, err := os.ReadFile(filepath.Join(dir, demo.InfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info demo.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	s := newURLStack(t, url, &info, nil)
	consentID := grantDegree(t, s)
	req := resolveBody(info.Residents[0], "edu.degree", "employment")

	// Load: 4 workers for at most 3 s; the child dies once 40 tickets are
	// out (or after 2 s).
	var tickets atomic.Int64
	stop := make(chan struct{})
	hrss := s.dept("hrss")
	var (
		mu       sync.Mutex
		outcomes []resolveOutcome
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	loadEnds := time.Now().Add(3 * time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(loadEnds) {
				select {
				case <-stop:
					return
				default:
				}
				r, err := postJSON(client, url+"/v1/routes/resolve", hrss, req)
				o := resolveOutcome{status: r.status, code: r.errCode(), ticket: r.str("ticket"), ticketID: r.str("ticket_id"), accessID: r.str("access_id"), err: err}
				if o.status == http.StatusOK {
					tickets.Add(1)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if err != nil {
					return // the gateway is gone
				}
			}
		}()
	}
	killAt := time.Now().Add(2 * time.Second)
	for tickets.Load() < 40 && time.Now().Before(killAt) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	// Start again on the same data dir (the same Open as `serve`).
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", dir, true, "warn"
	m := newTestMain(t, cfg)
	waitAllAnchored(t, m.db, 60*time.Second)
	records := checkAnchoredExactlyOnce(t, m.db, m.agent)

	var issued, failed int
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			failed++ // the gateway died under this request
		case o.status == http.StatusOK:
			issued++
			var outcome, ticketID string
			row := m.db.Gorm().Raw(`SELECT outcome, ticket_id FROM access_records WHERE id = ?`, o.accessID).Row()
			if err := row.Scan(&outcome, &ticketID); err != nil {
				t.Errorf("ticket %s was returned but its record %s is gone after the crash: %v", o.ticketID, o.accessID, err)
			} else if outcome != "issued" || ticketID != o.ticketID {
				t.Errorf("record %s: outcome %s ticket %s; the answer had ticket %s", o.accessID, outcome, ticketID, o.ticketID)
			}
		default:
			t.Errorf("resolve under load answered %d %s", o.status, o.code)
		}
	}
	if issued == 0 {
		t.Fatal("no ticket was issued before the crash")
	}
	used := queryInt(t, m.db, `SELECT COUNT(*) FROM access_records WHERE used_consent AND consent_id = ?`, consentID)
	if used < int64(issued) {
		t.Errorf("%d records used the consent, %d tickets were returned", used, issued)
	}
	c, err := m.agent.GetConsent(context.Background(), consentID)
	if err != nil {
		t.Fatal(err)
	}
	if int64(c.Uses) != used {
		t.Errorf("the ledger counts %d uses of the consent, %d records used it", c.Uses, used)
	}
	t.Logf("before the kill: %d tickets, %d requests cut off; after restart: %d records, %d consent uses on the ledger", issued, failed, records, c.Uses)
}
