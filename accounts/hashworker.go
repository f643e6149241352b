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

	"golang.org/x/crypto/argon2"
)

// Password hashes run in worker processes, not in the gateway's own.
//
// An argon2id hash is a quarter of a second of one processor and 64 MiB
// of memory. Computed in the gateway's process, every hash of a sign-in
// flood started a garbage collection, whose stop-the-world phases and
// marking slowed every other request, and the hashing goroutine competed
// with the department API for the runtime's processors. A worker is the
// gateway's own executable started again with EnvHashWorker set: it hashes
// what it reads from its standard input in the idle scheduling class,
// so hashes run on the CPU the gateway leaves over, their memory is not in
// the gateway's heap, and the gateway waits for one on a pipe without
// holding a processor. The hasher's bound on concurrent hashes bounds the
// workers' work; the pool has as many workers as that default bound.
//
// Where no worker can be started (the executable is gone after an upgrade,
// say), hashes are computed in process, as they were before, and a
// warning says so once.

// EnvHashWorker, set to "1" in a process's environment, makes any program
// that links this package a hashing worker: it serves hashes on its
// standard input and output and exits when its input ends.
const EnvHashWorker = "EIDGATE_HASH_WORKER"

func init() {
	if os.Getenv(EnvHashWorker) == "1" {
		lowerProcessPriority()
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

func startHashWorker() (*hashWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	// Only what the worker needs: none of the gateway's settings or
	// secrets. One processor is all a one-lane hash uses.
	cmd.Env = []string{EnvHashWorker + "=1", "GOMAXPROCS=1"}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = workerAttr()
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

// hashPool hands requests to idle workers, starting them as needed, up
// to its size.
type hashPool struct {
	size  int
	start func() (*hashWorker, error) // startHashWorker
	once  sync.Once
	idle  chan *hashWorker // idle workers, and nil tokens for ones not started
	// inProcess is set once a worker could not be started: hashes are then
	// computed in the calling process.
	mu        sync.Mutex
	inProcess bool
	warned    bool
}

// hashing is the process's pool.
var hashing = &hashPool{size: max(runtime.NumCPU()/2, 1), start: startHashWorker}

func (p *hashPool) init() {
	p.idle = make(chan *hashWorker, p.size)
	for range p.size {
		p.idle <- nil
	}
}

// run computes a key in a worker. It waits for a worker only as long as
// ctx allows; a worker that fails is replaced, and the request computed in
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
	key, err := w.hash(r)
	if err != nil {
		w.stop()
		p.idle <- nil // the next request starts a new worker
		slog.Warn("password hashing worker failed; started again for the next hash", "err", err)
		return computeKey(r), nil
	}
	p.idle <- w
	return key, nil
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
