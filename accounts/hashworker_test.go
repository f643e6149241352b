package accounts

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/time/rate"
)

// workerPIDs are the process ids of the pool's running workers.
func (p *hashPool) workerPIDs() []int {
	p.once.Do(p.init)
	var pids []int
	var held []*hashWorker
	for range p.size {
		w := <-p.idle
		held = append(held, w)
		if w != nil {
			pids = append(pids, w.cmd.Process.Pid)
		}
	}
	for _, w := range held {
		p.idle <- w
	}
	return pids
}

// A hash computed by a worker process is argon2id's, the worker runs at
// the lowest priority, and a worker that dies is replaced.
func TestHashesRunInLowPriorityWorkers(t *testing.T) {
	p := newTieredHashing(1).idle
	t.Cleanup(p.close)
	ctx := context.Background()
	req := hashRequest{secret: []byte("correct horse"), salt: []byte("0123456789abcdef"), p: TestParams()}
	want := argon2.IDKey(req.secret, req.salt, req.p.Time, req.p.MemoryKiB, req.p.Threads, req.p.KeyLen)

	got, err := p.run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("worker key %x, want %x", got, want)
	}
	if p.inProcessOnly() {
		t.Fatal("no worker started: the hash was computed in process")
	}
	pids := p.workerPIDs()
	if len(pids) != 1 {
		t.Fatalf("%d workers running, want 1", len(pids))
	}
	if runtime.GOOS == "linux" {
		nice, policy := processPriority(t, pids[0])
		if nice != 19 {
			t.Errorf("worker runs at nice %d, want 19", nice)
		}
		if policy != 5 { // SCHED_IDLE
			t.Errorf("worker runs in scheduling class %d, want SCHED_IDLE (5)", policy)
		}
	}

	// The worker dies: the next hash is still right, and a new worker
	// serves the one after.
	proc, _ := os.FindProcess(pids[0])
	_ = proc.Kill()
	for range 2 {
		if got, err := p.run(ctx, req); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after the worker died: %x, %v", got, err)
		}
	}
	if now := p.workerPIDs(); len(now) != 1 || now[0] == pids[0] {
		t.Fatalf("workers after the first died: %v (the first was %d)", now, pids[0])
	}
}

// processPriority reads a process's nice value and scheduling policy from
// /proc (the 19th and 41st fields of its stat line).
func processPriority(t *testing.T, pid int) (nice, policy int) {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count from its ')',
	// after which the state is field 3.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if nice, err = strconv.Atoi(fields[19-3]); err == nil {
		policy, err = strconv.Atoi(fields[41-3])
	}
	if err != nil {
		t.Fatal(err)
	}
	return nice, policy
}

// A worker answers well-formed requests, ends cleanly when its input
// ends, and refuses a request outside the bounds with an error status.
func TestServeHashes(t *testing.T) {
	req := hashRequest{secret: []byte("s3cret"), salt: []byte("saltsaltsalt"), p: TestParams()}
	var in bytes.Buffer
	for range 2 {
		if err := writeRequest(&in, req); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if status := serveHashes(&in, &out); status != 0 {
		t.Fatalf("status %d at the end of the input, want 0", status)
	}
	want := computeKey(req)
	if !bytes.Equal(out.Bytes(), append(bytes.Clone(want), want...)) {
		t.Fatalf("answers %x, want the key twice", out.Bytes())
	}
	for name, bad := range map[string]Argon2Params{
		"no passes":    {Time: 0, MemoryKiB: 64, Threads: 1, KeyLen: 32},
		"2 GiB":        {Time: 1, MemoryKiB: 2 << 20, Threads: 1, KeyLen: 32},
		"a short key":  {Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 4},
		"no lanes":     {Time: 1, MemoryKiB: 64, Threads: 0, KeyLen: 32},
		"memory < 8×p": {Time: 1, MemoryKiB: 16, Threads: 4, KeyLen: 32},
	} {
		var in, out bytes.Buffer
		_ = writeRequest(&in, hashRequest{secret: []byte("x"), salt: []byte("saltsaltsalt"), p: bad})
		if status := serveHashes(&in, &out); status != 2 || out.Len() != 0 {
			t.Errorf("%s: status %d, %d bytes out; want 2 and nothing", name, status, out.Len())
		}
	}
	var short bytes.Buffer
	_ = writeRequest(&short, hashRequest{secret: []byte("x"), salt: []byte("salt"), p: TestParams()})
	if status := serveHashes(&short, &bytes.Buffer{}); status != 2 {
		t.Errorf("a 4-byte salt: status %d, want 2", status)
	}
}

// Where no worker can start, hashes are computed in process, and the pool
// stops trying.
func TestHashesFallBackToTheProcessWhenNoWorkerStarts(t *testing.T) {
	starts := 0
	p := &hashPool{size: 1, start: func() (*hashWorker, error) {
		starts++
		return nil, errors.New("executable gone")
	}}
	req := hashRequest{secret: []byte("pw"), salt: []byte("0123456789abcdef"), p: TestParams()}
	for range 2 {
		got, err := p.run(context.Background(), req)
		if err != nil || !bytes.Equal(got, computeKey(req)) {
			t.Fatalf("in-process fallback: %x, %v", got, err)
		}
	}
	if !p.inProcessOnly() || starts != 1 {
		t.Errorf("in process only %v after %d start attempts; want true after 1", p.inProcessOnly(), starts)
	}
	// A caller that gives up while waiting for the pool gets its context's error.
	p.once.Do(p.init)
	held := <-p.idle
	defer func() { p.idle <- held }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.run(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("run with every worker busy and a cancelled context: %v", err)
	}
}

// stalledWorkers starts "workers" that read nothing and never answer, as
// an idle-class worker on saturated processors, and keeps them to check.
type stalledWorkers struct {
	mu    sync.Mutex
	procs []*exec.Cmd
}

func (s *stalledWorkers) start() (*hashWorker, error) {
	cmd := exec.Command("sleep", "600")
	w, err := startWorkerCommand(cmd)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.mu.Unlock()
	return w, nil
}

// allStopped says whether every stalled worker was stopped (and reaped).
func (s *stalledWorkers) allStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.procs {
		if c.ProcessState == nil {
			return false
		}
	}
	return len(s.procs) > 0
}

// stalledTiers is hashing whose idle class never answers.
func stalledTiers(t *testing.T, budget *rate.Limiter) (*tieredHashing, *stalledWorkers) {
	t.Helper()
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep program to stand for a stalled worker")
	}
	stalled := &stalledWorkers{}
	h := newTieredHashing(1)
	h.idle.start = stalled.start
	h.promoteAfter = 20 * time.Millisecond
	h.budget = budget
	t.Cleanup(h.close)
	return h, stalled
}

// A hash the idle class does not compute in time is stopped there and
// computed at normal priority; the answer is argon2id's.
func TestStarvedHashIsPromotedToNormalPriority(t *testing.T) {
	h, stalled := stalledTiers(t, rate.NewLimiter(rate.Inf, 1))
	req := hashRequest{secret: []byte("pw"), salt: []byte("0123456789abcdef"), p: TestParams()}
	for i := range 2 {
		got, err := h.run(context.Background(), req)
		if err != nil || !bytes.Equal(got, computeKey(req)) {
			t.Fatalf("hash %d: %x, %v", i, got, err)
		}
	}
	if n := h.promoted.Load(); n != 2 {
		t.Errorf("%d hashes promoted, want 2", n)
	}
	if !stalled.allStopped() {
		t.Error("a stalled idle-class worker was left running")
	}
	if pids := h.normal.workerPIDs(); len(pids) != 1 {
		t.Fatalf("%d normal-priority workers, want 1", len(pids))
	} else if runtime.GOOS == "linux" {
		if nice, policy := processPriority(t, pids[0]); policy != 0 || nice != processNice(t) {
			t.Errorf("promoted hash ran at nice %d in class %d, want the gateway's nice %d in SCHED_OTHER (0)", nice, policy, processNice(t))
		}
	}
}

// Promotions are budgeted: once the budget is spent, a starved hash waits
// for the idle class until its caller gives up, and takes no normal
// priority — so a flood on saturated processors takes no more from the
// department API than the budget.
func TestPromotionsStayWithinTheBudget(t *testing.T) {
	h, stalled := stalledTiers(t, rate.NewLimiter(rate.Every(time.Hour), 1))
	req := hashRequest{secret: []byte("pw"), salt: []byte("0123456789abcdef"), p: TestParams()}
	if _, err := h.run(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if key, err := h.run(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a starved hash beyond the budget: %x, %v; want the caller's deadline", key, err)
	}
	if n := h.promoted.Load(); n != 1 {
		t.Errorf("%d hashes promoted, want 1 (the budget)", n)
	}
	if !stalled.allStopped() {
		t.Error("the idle-class worker of the abandoned hash was left running")
	}
}

// On processors saturated by work at normal priority, a password hash
// still completes: the idle class gets no CPU, the promoted hash does.
func TestHashCompletesOnSaturatedProcessors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the idle scheduling class is Linux's")
	}
	h := newTieredHashing(1)
	t.Cleanup(h.close)
	req := hashRequest{secret: []byte("pw"), salt: []byte("0123456789abcdef"), p: RecommendedParams()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spin, stopSpin := context.WithCancel(ctx)
	var spinners sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		spinners.Go(func() {
			for spin.Err() == nil {
			}
		})
	}
	got, err := h.run(ctx, req)
	stopSpin()
	spinners.Wait()
	if err != nil || !bytes.Equal(got, computeKey(req)) {
		t.Fatalf("hash on saturated processors: %x, %v", got, err)
	}
	t.Logf("promoted to normal priority: %d", h.promoted.Load())
}

// processNice is this process's nice value.
func processNice(t *testing.T) int {
	nice, _ := processPriority(t, os.Getpid())
	return nice
}
