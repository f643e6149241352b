package accounts

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/time/rate"
)

// Password hashes run in worker processes, not in the gateway's own.
//
// An argon2id hash is a quarter of a second of one processor and 64 MiB
// of memory. Computed in the gateway's process, every hash of a sign-in
// flood started a garbage collection, whose stop-the-world phases and
// marking slowed every other request, and the hashing goroutine competed
// with the department API for the runtime's processors. A worker is the
// gateway's own executable started again with EnvHashWorker set: it hashes
// what it reads from its standard input, so the hashes' memory is not in
// the gateway's heap and the gateway waits for one on a pipe without
// holding a processor. The hasher's bound on concurrent hashes bounds the
// workers' work; each pool has as many workers as that default bound.
//
// A hash is first given to a worker in the idle scheduling class, which
// runs only on CPU the gateway leaves over, so a sign-in flood does not
// slow the department API. While the processors are saturated, though, an
// idle-class hash may not run for minutes: one that has not finished
// after promoteAfter is stopped and computed again by a worker at normal
// priority, as long as the promotion budget (on average one hash a second
// per hashing slot) allows. A sign-in on a busy machine is thus slower by
// promoteAfter, never stalled, and a flood can take from the API no more
// than that budget's hashes. Making a new hash (Hasher.Hash) needs an
// authenticated caller, so it goes to a normal-priority worker at once.
//
// Where no worker can be started (the executable is gone after an upgrade,
// say), hashes are computed in process, as they were before, and a
// warning says so once.

// EnvHashWorker, set in a process's environment to a worker class ("idle"
// or "normal"), makes any program that links this package a hashing
// worker of that class: it serves hashes on its standard input and output
// and exits when its input ends.
const EnvHashWorker = "EIDGATE_HASH_WORKER"

// Worker classes.
const (
	classIdle   = "idle"   // the idle scheduling class and nice 19
	classNormal = "normal" // the gateway's own priority
)

func init() {
	switch os.Getenv(EnvHashWorker) {
	case classIdle:
		lowerProcessPriority()
		os.Exit(serveHashes(os.Stdin, os.Stdout))
	case classNormal:
		os.Exit(serveHashes(os.Stdin, os.Stdout))
	}
}

// hashRequest is one argon2id computation.
type hashRequest struct {
	secret, salt []byte
	p            Argon2Params
}

// A worker checks requests against the hasher's bounds (computable) and
// these.
const (
	maxSecretLen = 1 << 16
	frameHeader  = 4 + 4 + 1 + 4 + 4 + 4 // time, memory, threads, key length, salt length, secret length
)

func writeRequest(w io.Writer, r hashRequest) error {
	buf := make([]byte, frameHeader, frameHeader+len(r.salt)+len(r.secret))
	binary.BigEndian.PutUint32(buf[0:], r.p.Time)
	binary.BigEndian.PutUint32(buf[4:], r.p.MemoryKiB)
	buf[8] = r.p.Threads
	binary.BigEndian.PutUint32(buf[9:], r.p.KeyLen)
	binary.BigEndian.PutUint32(buf[13:], uint32(len(r.salt)))
	binary.BigEndian.PutUint32(buf[17:], uint32(len(r.secret)))
	buf = append(append(buf, r.salt...), r.secret...)
	_, err := w.Write(buf)
	return err
}

func readRequest(r io.Reader) (hashRequest, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return hashRequest{}, err
	}
	req := hashRequest{p: Argon2Params{
		Time:      binary.BigEndian.Uint32(hdr[0:]),
		MemoryKiB: binary.BigEndian.Uint32(hdr[4:]),
		Threads:   hdr[8],
		KeyLen:    binary.BigEndian.Uint32(hdr[9:]),
	}}
	saltLen, secretLen := binary.BigEndian.Uint32(hdr[13:]), binary.BigEndian.Uint32(hdr[17:])
	if !req.p.computable(int(saltLen)) || secretLen > maxSecretLen {
		return hashRequest{}, fmt.Errorf("hash worker: request out of bounds")
	}
	body := make([]byte, saltLen+secretLen)
	if _, err := io.ReadFull(r, body); err != nil {
		return hashRequest{}, err
	}
	req.salt, req.secret = body[:saltLen], body[saltLen:]
	return req, nil
}

// serveHashes is a worker's life: it answers each request with its key
// until the input ends, and returns the exit status.
func serveHashes(in io.Reader, out io.Writer) int {
	r, w := bufio.NewReader(in), bufio.NewWriter(out)
	for {
		req, err := readRequest(r)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		key := argon2.IDKey(req.secret, req.salt, req.p.Time, req.p.MemoryKiB, req.p.Threads, req.p.KeyLen)
		clear(req.secret)
		if _, err := w.Write(key); err != nil {
			return 2
		}
		if err := w.Flush(); err != nil {
			return 2
		}
	}
}

// hashWorker is one running worker process.
type hashWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startHashWorker(class string) (*hashWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	// Only what the worker needs: none of the gateway's settings or
	// secrets. One processor is all a one-lane hash uses.
	cmd.Env = []string{EnvHashWorker + "=" + class, "GOMAXPROCS=1"}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = workerAttr()
	return startWorkerCommand(cmd)
}

// startWorkerCommand starts cmd with pipes to its standard input and
// output, over which it answers hash requests.
func startWorkerCommand(cmd *exec.Cmd) (*hashWorker, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &hashWorker{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

func (w *hashWorker) hash(r hashRequest) ([]byte, error) {
	if err := writeRequest(w.in, r); err != nil {
		return nil, err
	}
	key := make([]byte, r.p.KeyLen)
	if _, err := io.ReadFull(w.out, key); err != nil {
		return nil, err
	}
	return key, nil
}

func (w *hashWorker) stop() {
	_ = w.in.Close()
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
}

// hashPool hands requests to free workers of one class, starting them as
// needed, up to its size.
type hashPool struct {
	size  int
	start func() (*hashWorker, error) // startHashWorker
	once  sync.Once
	idle  chan *hashWorker // free workers, and nil tokens for ones not started
	// inProcess is set once a worker could not be started: hashes are then
	// computed in the calling process.
	mu        sync.Mutex
	inProcess bool
	warned    bool
}

// hashing is the process's hashing.
var hashing = newTieredHashing(max(runtime.NumCPU()/2, 1))

func (p *hashPool) init() {
	p.idle = make(chan *hashWorker, p.size)
	for range p.size {
		p.idle <- nil
	}
}

// run computes a key in a worker. It waits for a worker and its answer
// only as long as ctx allows (a worker whose answer is given up is
// stopped); a worker that fails is replaced, and the request computed in
// process.
func (p *hashPool) run(ctx context.Context, r hashRequest) ([]byte, error) {
	p.once.Do(p.init)
	var w *hashWorker
	select {
	case w = <-p.idle:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if w == nil && !p.inProcessOnly() {
		var err error
		if w, err = p.start(); err != nil {
			p.giveUpWorkers(err)
		}
	}
	if w == nil {
		defer func() { p.idle <- nil }()
		return computeKey(r), nil
	}
	answer := inBackground(func() ([]byte, error) { return w.hash(r) })
	var res hashResult
	select {
	case res = <-answer:
	case <-ctx.Done():
		w.stop() // its answer can only be read to the end or not at all
		<-answer
		p.idle <- nil
		return nil, ctx.Err()
	}
	if res.err != nil {
		w.stop()
		p.idle <- nil // the next request starts a new worker
		slog.Warn("password hashing worker failed; started again for the next hash", "err", res.err)
		return computeKey(r), nil
	}
	p.idle <- w
	return res.key, nil
}

func (p *hashPool) inProcessOnly() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inProcess
}

func (p *hashPool) giveUpWorkers(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inProcess = true
	if !p.warned {
		p.warned = true
		slog.Warn("password hashing workers cannot start; hashing in the gateway's process, where a sign-in flood slows other requests", "err", err)
	}
}

// close stops the pool's idle workers (tests).
func (p *hashPool) close() {
	p.once.Do(p.init)
	for range p.size {
		if w := <-p.idle; w != nil {
			w.stop()
		}
	}
	for range p.size {
		p.idle <- nil
	}
}

func computeKey(r hashRequest) []byte {
	return argon2.IDKey(r.secret, r.salt, r.p.Time, r.p.MemoryKiB, r.p.Threads, r.p.KeyLen)
}

type hashResult struct {
	key []byte
	err error
}

// inBackground runs f on its own goroutine; its result arrives on the
// channel, which has room for it whether or not anyone still waits.
func inBackground(f func() ([]byte, error)) <-chan hashResult {
	answer := make(chan hashResult, 1)
	go func() {
		key, err := f()
		answer <- hashResult{key, err}
	}()
	return answer
}

// promoteAfter is how long an idle-class hash may take before it is
// computed again at normal priority: four times a hash with the
// recommended parameters on a free processor.
const promoteAfter = time.Second

// tieredHashing runs each hash in an idle-class worker and, where that is
// starved, in a normal-priority one within a budget.
type tieredHashing struct {
	idle, normal *hashPool
	promoteAfter time.Duration
	budget       *rate.Limiter // normal-priority hashes
	promoted     atomic.Uint64
}

// newTieredHashing returns hashing for size concurrent hashes: size
// workers of each class, and a budget of size normal-priority hashes a
// second, 4×size at once.
func newTieredHashing(size int) *tieredHashing {
	return &tieredHashing{
		idle:         &hashPool{size: size, start: func() (*hashWorker, error) { return startHashWorker(classIdle) }},
		normal:       &hashPool{size: size, start: func() (*hashWorker, error) { return startHashWorker(classNormal) }},
		promoteAfter: promoteAfter,
		budget:       rate.NewLimiter(rate.Limit(size), 4*size),
	}
}

func (t *tieredHashing) run(ctx context.Context, r hashRequest) ([]byte, error) {
	idleCtx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	answer := inBackground(func() ([]byte, error) { return t.idle.run(idleCtx, r) })
	grace := time.NewTimer(t.promoteAfter)
	defer grace.Stop()
	select {
	case res := <-answer:
		return res.key, res.err
	case <-grace.C:
	}
	// Starved: wait for the budget to allow a normal-priority hash, unless
	// the idle one finishes first (or ctx ends, which ends it too).
	turn := t.budget.Reserve()
	wait := time.NewTimer(turn.Delay())
	defer wait.Stop()
	select {
	case res := <-answer:
		turn.Cancel()
		return res.key, res.err
	case <-wait.C:
	}
	stopIdle()
	if res := <-answer; res.err == nil {
		return res.key, nil // it finished as it was stopped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.promoted.Add(1)
	return t.normal.run(ctx, r)
}

// HashesPromoted is how many password checks this process computed at
// normal priority because the idle class did not get to them in time.
func HashesPromoted() uint64 { return hashing.promoted.Load() }

// close stops the workers (tests).
func (t *tieredHashing) close() {
	t.idle.close()
	t.normal.close()
}
