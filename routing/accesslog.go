package routing

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// DefaultGroupCommitMax bounds how many records one database transaction
// takes.
const DefaultGroupCommitMax = 256

// AccessLog appends access records durably with group commit: concurrent
// Append calls are gathered into one database transaction. A committer
// takes every request queued while the previous transactions were in
// flight, so batches grow with load and a lone request waits for no timer.
// Up to Committers transactions are in flight at once (one by default; a
// database that commits transactions side by side, as PostgreSQL does,
// overlaps their round trips and flushes). Append returns only when the record is durable (or failed), so a
// caller never issues a ticket for an unrecorded access.
type AccessLog struct {
	store      AccessStore
	clock      Clock
	max        int
	committers int

	reqs chan *appendReq
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	stats GroupCommitStats
}

// GroupCommitStats describes the batching so far.
type GroupCommitStats struct {
	Transactions uint64
	Records      uint64
	Failures     uint64
}

type appendReq struct {
	rec  *AccessRecord
	done chan error
}

// AccessLogConfig is what an AccessLog is built from.
type AccessLogConfig struct {
	Store    AccessStore // required
	Clock    Clock       // default the system clock
	MaxBatch int         // records per transaction, default DefaultGroupCommitMax
	// Committers is how many transactions may be in flight at once
	// (default 1).
	Committers int
}

// NewAccessLog checks cfg and starts the committer; Close stops it.
func NewAccessLog(cfg AccessLogConfig) (*AccessLog, error) {
	if cfg.Store == nil {
		return nil, MissingDependency("routing.NewAccessLog", "an access store")
	}
	maxBatch := cfg.MaxBatch
	if maxBatch <= 0 {
		maxBatch = DefaultGroupCommitMax
	}
	clock := cfg.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	l := &AccessLog{
		store:      cfg.Store,
		clock:      clock,
		max:        maxBatch,
		committers: max(cfg.Committers, 1),
		reqs:       make(chan *appendReq, 4*maxBatch),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// NewAccessID returns a fresh access record id, "acc_" and 32 hex digits
// in time order (see NewTimeOrderedID): a group commit then appends to the
// database's unique index on ids instead of touching one page per record.
func NewAccessID() string { return NewTimeOrderedID("acc_", time.Now()) }

// NewTimeOrderedID returns prefix and 32 hex digits: the first 16 are t in
// nanoseconds, the rest random. Ids made later sort later, so a table keyed
// by them grows at its end.
func NewTimeOrderedID(prefix string, t time.Time) string {
	return prefix + nanosHex(t) + hex.EncodeToString(randomBytes(8))
}

// nanosHex is t in nanoseconds as 16 hex digits, which sort as t does.
func nanosHex(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	return hex.EncodeToString(b[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails (see its documentation).
	_, _ = rand.Read(b)
	return b
}

// NewTicketID returns a fresh ticket id (jti): the time in nanoseconds as
// 16 hex digits, then 128 random bits in base64url (38 characters, all of
// the base64url alphabet). The resolver chooses it before the access record
// is written, so the record names the ticket it stands behind. Ids made
// later sort later, so the database's index of tickets grows at its end
// instead of taking a page of its own for every access record.
func NewTicketID() string {
	return nanosHex(time.Now()) + base64.RawURLEncoding.EncodeToString(randomBytes(16))
}

var errLogClosed = errors.New("access log closed")

// Append makes rec durable. It fills ID and CreatedAt when empty and the
// leaf hash, and returns a *Error: unavailable when the database cannot
// take it, conflict (consent_uses_exhausted) when its consent use was
// refused.
func (l *AccessLog) Append(ctx context.Context, rec *AccessRecord) error {
	const op = "routing.AccessLog.Append"
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = l.clock.Now().UTC()
	}
	if rec.ID == "" {
		rec.ID = NewTimeOrderedID("acc_", rec.CreatedAt)
	}
	rec.ComputeLeafHash()
	req := &appendReq{rec: rec, done: make(chan error, 1)}
	select {
	case l.reqs <- req:
	case <-l.stop:
		return Unavailable(op, "shutting_down", "the gateway is shutting down", errLogClosed)
	case <-ctx.Done():
		return Unavailable(op, "timeout", "the access record could not be queued in time", ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The record may still become durable; without it the caller
		// issues nothing, which keeps the rule "no ticket without record".
		return Unavailable(op, "timeout", "the access record was not confirmed in time", ctx.Err())
	}
}

// Stats returns the group-commit counters.
func (l *AccessLog) Stats() GroupCommitStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Close stops taking records, commits what is queued and waits.
func (l *AccessLog) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

func (l *AccessLog) run() {
	defer close(l.done)
	// slots holds a token per transaction in flight.
	slots := make(chan struct{}, l.committers)
	for {
		var first *appendReq
		select {
		case first = <-l.reqs:
		case <-l.stop:
			for range l.committers {
				slots <- struct{}{}
			}
			l.drain()
			return
		}
		// Wait for a committer before gathering, so the batch takes
		// everything that queued meanwhile.
		slots <- struct{}{}
		batch := l.gather(append(make([]*appendReq, 0, l.max), first))
		go func() {
			defer func() { <-slots }()
			l.commit(batch)
		}()
	}
}

// gather adds to batch what is queued, up to the batch size, without
// waiting.
func (l *AccessLog) gather(batch []*appendReq) []*appendReq {
	for len(batch) < l.max {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// drain commits whatever was queued before Close.
func (l *AccessLog) drain() {
	for {
		batch := l.gather(make([]*appendReq, 0, l.max))
		if len(batch) == 0 {
			return
		}
		l.commit(batch)
	}
}

func (l *AccessLog) commit(batch []*appendReq) {
	const op = "routing.AccessLog.Append"
	recs := make([]*AccessRecord, len(batch))
	for i, r := range batch {
		recs[i] = r.rec
	}
	// The transaction must finish even if one caller gave up, or the
	// others would be failed with it.
	per, err := l.store.AppendAccess(context.Background(), recs)
	l.mu.Lock()
	l.stats.Transactions++
	if err != nil {
		l.stats.Failures++
	} else {
		l.stats.Records += uint64(len(recs))
	}
	l.mu.Unlock()
	for i, r := range batch {
		switch {
		case err != nil:
			r.done <- Unavailable(op, "database_unavailable", "the access could not be recorded; no ticket was issued", err)
		case i < len(per) && per[i] != nil:
			r.done <- Wrap(op, per[i])
		default:
			r.done <- nil
		}
	}
}
