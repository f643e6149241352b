package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// CheckpointStore persists listener positions. The store/ package implements
// it over the database so every replica resumes from its own saved position.
//
// Load returns (0, "", nil) for a name never saved. block is the block in
// which the next event is expected; txID, when set, is the last event already
// applied in that block.
type CheckpointStore interface {
	Load(ctx context.Context, name string) (block uint64, txID string, err error)
	Save(ctx context.Context, name string, block uint64, txID string) error
}

// Event is a chaincode event delivered to a Handler.
type Event struct {
	BlockNumber uint64
	TxID        string
	Name        string
	Payload     []byte
}

// Handler applies one event. An error stops delivery: the checkpoint is not
// advanced past it and the event is delivered again after the listener
// reconnects. A handler must be idempotent: the position is saved in
// batches, so after a crash the events since the last save (at most a few
// hundred) are delivered again.
type Handler func(ctx context.Context, ev Event) error

// ListenerStatus is the listener's position, for readiness checks.
type ListenerStatus struct {
	Connected   bool
	NextBlock   uint64    // block in which the next event is expected
	LastTxID    string    // last event applied in NextBlock, if any
	LastEventAt time.Time // when the last event was applied (zero if none)
	Reconnects  int
	LastError   string
}

// Listener streams the chaincode's events from a persisted checkpoint.
type Listener struct {
	network   *client.Network
	chaincode string
	name      string
	store     CheckpointStore
	handler   Handler

	minBackoff, maxBackoff time.Duration

	mu         sync.Mutex
	st         ListenerStatus
	positioned bool // Run has loaded the checkpoint into st

	// fresh is where a listener without a checkpoint starts (0: the
	// genesis block); see SkipHistoryBefore.
	fresh uint64

	// What EventLag learnt of the blocks past the position.
	lagMu   sync.Mutex
	scanned uint64         // blocks below this one have been read
	pending []pendingBlock // read blocks holding events not applied yet
}

// NewListener creates a listener named name (the checkpoint key, e.g.
// "cache-invalidation/<replica>") for the client's chaincode.
func NewListener(c *Client, name string, store CheckpointStore, h Handler) *Listener {
	return &Listener{
		network:    c.Network(),
		chaincode:  c.ChaincodeName(),
		name:       name,
		store:      store,
		handler:    h,
		minBackoff: 50 * time.Millisecond,
		maxBackoff: 5 * time.Second,
	}
}

// SetBackoff bounds the reconnect delay.
func (l *Listener) SetBackoff(minDelay, maxDelay time.Duration) {
	l.minBackoff, l.maxBackoff = minDelay, maxDelay
}

// Status returns the listener's current position.
func (l *Listener) Status() ListenerStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// SkipHistoryBefore makes a listener that has no checkpoint yet start at
// block next instead of the genesis block. It is for a handler whose state
// began empty when the chain was next blocks high (an in-process cache):
// the events before it concern nothing the handler holds, and replaying a
// long chain would delay the start and fill the process's memory with
// blocks. A listener with a checkpoint resumes from it as always.
func (l *Listener) SkipHistoryBefore(next uint64) { l.fresh = next }

// Run delivers events until ctx ends, reconnecting with backoff when the
// stream breaks or the handler fails. It returns ctx.Err(), or the error of
// the checkpoint store when the position cannot be loaded or saved.
func (l *Listener) Run(ctx context.Context) error {
	block, txID, err := l.start(ctx)
	if err != nil {
		return err
	}
	cp := &checkpoint{block: block, txID: txID}
	l.setPosition(cp, false)

	delay := l.minBackoff
	for {
		progressed, err := l.stream(ctx, cp)
		if ctx.Err() != nil {
			l.setConnected(false, "")
			return ctx.Err()
		}
		var se *storeError
		if errors.As(err, &se) {
			l.setConnected(false, err.Error())
			return err
		}
		msg := "event stream closed"
		if err != nil {
			msg = err.Error()
		}
		l.mu.Lock()
		l.st.Connected = false
		l.st.LastError = msg
		l.st.Reconnects++
		l.mu.Unlock()
		if progressed {
			delay = l.minBackoff
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(delay*2, l.maxBackoff)
	}
}

// start is where Run starts: the checkpoint, or without one the block
// SkipHistoryBefore named (the genesis block by default).
func (l *Listener) start(ctx context.Context) (uint64, string, error) {
	block, txID, err := l.store.Load(ctx, l.name)
	if err != nil {
		return 0, "", fmt.Errorf("ledger listener %s: load checkpoint: %w", l.name, err)
	}
	if block == 0 && txID == "" {
		block = l.fresh
	}
	return block, txID, nil
}

type storeError struct{ err error }

func (e *storeError) Error() string { return "save checkpoint: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// stream runs one event stream from the checkpoint; it reports whether any
// event was applied.
func (l *Listener) stream(ctx context.Context, cp *checkpoint) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opt := client.WithCheckpoint(cp)
	if cp.block == 0 && cp.txID == "" {
		// A zero checkpoint would start at the next commit and miss history.
		opt = client.WithStartBlock(0)
	}
	events, err := l.network.ChaincodeEvents(sctx, l.chaincode, opt)
	if err != nil {
		return false, classify("ledger.Listener", err)
	}
	// fabric-gateway's stream goroutine blocks on an unbuffered send with no
	// context; after an early return it must be drained so it can exit.
	defer func() {
		cancel()
		for range events {
		}
	}()
	l.setConnected(true, "")
	progressed := false
	// Positions are saved when the stream has nothing more ready, or every
	// maxUnsaved events, not after each one: a save is a durable database
	// commit, and under load events arrive faster than those. Handlers are
	// idempotent (see Handler), so a crash re-applies at most the events
	// after the last save.
	unsaved := 0
	save := func() error {
		if unsaved == 0 {
			return nil
		}
		// Applied events are saved even if ctx ends right now, or a
		// restart would apply them again.
		saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancelSave()
		if err := l.store.Save(saveCtx, l.name, cp.block, cp.txID); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &storeError{err}
		}
		unsaved = 0
		return nil
	}
	for {
		var (
			ev *client.ChaincodeEvent
			ok bool
		)
		select {
		case ev, ok = <-events:
		default:
			if err := save(); err != nil {
				return progressed, err
			}
			ev, ok = <-events
		}
		if !ok {
			return progressed, save()
		}
		e := Event{BlockNumber: ev.BlockNumber, TxID: ev.TransactionID, Name: ev.EventName, Payload: ev.Payload}
		if err := l.handler(ctx, e); err != nil {
			if serr := save(); serr != nil {
				return progressed, serr
			}
			return progressed, fmt.Errorf("handler for event %s in block %d: %w", e.Name, e.BlockNumber, err)
		}
		cp.block, cp.txID = ev.BlockNumber, ev.TransactionID
		progressed = true
		unsaved++
		l.mu.Lock()
		l.st.NextBlock, l.st.LastTxID, l.st.LastEventAt = cp.block, cp.txID, time.Now()
		l.mu.Unlock()
		if unsaved >= maxUnsaved {
			if err := save(); err != nil {
				return progressed, err
			}
		}
	}
}

// maxUnsaved bounds the events applied since the last saved position.
const maxUnsaved = 256

func (l *Listener) setPosition(cp *checkpoint, connected bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.NextBlock, l.st.LastTxID, l.st.Connected = cp.block, cp.txID, connected
	l.positioned = true
}

func (l *Listener) setConnected(v bool, lastErr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.Connected = v
	if lastErr != "" {
		l.st.LastError = lastErr
	}
}

// checkpoint implements client.Checkpoint over the position last saved.
type checkpoint struct {
	block uint64
	txID  string
}

func (c *checkpoint) BlockNumber() uint64   { return c.block }
func (c *checkpoint) TransactionID() string { return c.txID }

var _ client.Checkpoint = (*checkpoint)(nil)
