package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/eidgate/eidgate/routing"
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// RecommendedParams are RFC 9106's second recommended option (section 4:
// t=3, 64 MiB, 128-bit salt, 256-bit tag) with one lane instead of four.
// The work and memory of a hash are the same (t passes over 64 MiB); one
// lane computes it on one processor, where four lanes run side by side on
// up to four, so a hash — and a flood of sign-ins, held to one hash per
// slot — can never take every processor from the department API. Hashes
// stored with four lanes still verify (a PHC string carries its
// parameters) and are replaced at the next successful sign-in.
func RecommendedParams() Argon2Params {
	return Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// TestParams are cheap parameters for tests only: they protect nothing.
func TestParams() Argon2Params {
	return Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters read back from the database, so a corrupted or
// hostile hash cannot make one verification take gigabytes or minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// Hasher hashes and verifies secrets with argon2id in the PHC string
// format ($argon2id$v=19$m=…,t=…,p=…$salt$hash). At most a fixed number of
// hashes run at once: each one holds MemoryKiB of memory, and 64 logins at
// 64 MiB each would otherwise ask for 4 GiB.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	// waiting counts the checks queued for a slot; past maxWaiting, or
	// after maxWait in the queue, a check is refused as busy instead of
	// piling up behind a flood.
	waiting    atomic.Int32
	maxWaiting int32
	maxWait    time.Duration
	// runs counts the argon2 computations done.
	runs atomic.Uint64

	// dummy is the stored-hash stand-in Burn verifies against, made on
	// first use under a hashing slot like any other hash.
	dummyMu sync.Mutex
	dummy   string
}

// NewHasher returns a hasher for p running at most maxConcurrent hashes at
// once (default: half the CPUs, at least 1, so that a sign-in flood leaves
// the rest of the gateway processors to run on). Up to four times as many
// wait for a slot, each at most MaxHashWait; beyond that a check fails at
// once with sign_in_busy (503).
func NewHasher(p Argon2Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = max(runtime.NumCPU()/2, 1)
	}
	return &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), maxWaiting: int32(4 * maxConcurrent), maxWait: MaxHashWait}
}

// MaxHashWait is how long a password check waits for a hashing slot.
const MaxHashWait = 2 * time.Second

// Runs is how many password hashes the hasher has computed.
func (h *Hasher) Runs() uint64 { return h.runs.Load() }

// Params are the parameters new hashes use.
func (h *Hasher) Params() Argon2Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return signInBusy("accounts.Hasher")
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return signInBusy("accounts.Hasher")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hashError is the error of a password check: busy as it is, anything
// else internal.
func hashError(op string, err error) error {
	if err == nil || routing.CodeOf(err) == CodeSignInBusy {
		return err
	}
	return routing.Wrap(op, err)
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of secret under fresh salt.
func (h *Hasher) Hash(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	// Only someone already authenticated (an official, a resident with
	// their password or activation code) gets a new hash made, so a flood
	// cannot ask for one: it is computed at normal priority at once.
	key, err := hashing.normal.run(ctx, hashRequest{secret: []byte(secret), salt: salt, p: p})
	if err != nil {
		return "", err
	}
	return encodePHC(p, salt, key), nil
}

// Verify reports whether secret matches encoded, comparing in constant
// time, and whether encoded uses other parameters than the hasher's (the
// caller should store a fresh hash).
func (h *Hasher) Verify(ctx context.Context, secret, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := ParsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	h.runs.Add(1)
	got, err := hashing.run(ctx, hashRequest{secret: []byte(secret), salt: salt, p: p})
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, p != h.params, nil
}

// Burn spends the time of one verification without a stored hash, so an
// unknown login name takes as long to refuse as a wrong password; it fails
// only when the hasher is busy, as Verify would.
func (h *Hasher) Burn(ctx context.Context, secret string) error {
	dummy, err := h.dummyHash(ctx)
	if err != nil {
		return err
	}
	_, _, err = h.Verify(ctx, secret, dummy)
	return err
}

// dummyHash makes the dummy once, holding a hashing slot, so even the
// first unknown name's refusal stays within the bound on concurrent
// hashing (a busy hasher answers busy and the next call tries again).
func (h *Hasher) dummyHash(ctx context.Context) (string, error) {
	h.dummyMu.Lock()
	defer h.dummyMu.Unlock()
	if h.dummy != "" {
		return h.dummy, nil
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := make([]byte, h.params.SaltLen)
	_, _ = rand.Read(salt)
	p := h.params
	key, err := hashing.run(ctx, hashRequest{secret: salt, salt: salt, p: p})
	if err != nil {
		return "", err
	}
	h.dummy = encodePHC(p, salt, key)
	return h.dummy, nil
}

var b64 = base64.RawStdEncoding

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("not an argon2id hash this build accepts")

// ParsePHC parses an argon2id PHC string, refusing other algorithms and
// versions and parameters outside sane bounds.
func ParsePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, errBadHash
	}
	var m, t, threads uint64
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(kv[i], "=")
		if !ok || k != name || v == "" || (len(v) > 1 && v[0] == '0') {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch name {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			threads = n
		}
	}
	if threads > 255 {
		return p, nil, nil, errBadHash
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, errBadHash
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, errBadHash
	}
	p = Argon2Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(threads), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if !p.computable(len(salt)) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// computable says whether p with a salt of saltLen bytes is within the
// bounds this build hashes with, so a corrupted or hostile parameter set
// cannot make one hash take gigabytes or minutes.
func (p Argon2Params) computable(saltLen int) bool {
	return p.Time >= 1 && p.Time <= maxTime && p.Threads >= 1 &&
		p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= maxMemoryKiB &&
		saltLen >= minSaltLen && saltLen <= maxSaltLen && p.KeyLen >= minKeyLen && p.KeyLen <= maxKeyLen
}
