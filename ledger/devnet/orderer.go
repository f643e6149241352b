package devnet

import (
	"context"
	"sync"
	"time"
)

// pendingTx is a transaction the ordering service accepted.
type pendingTx struct {
	check   *txCheck
	arrived time.Time
}

// orderer is a single ordering node: it queues accepted transactions and
// cuts them into blocks of at most max transactions, a block being cut at
// the latest timeout after its first transaction arrived. Cut blocks are
// committed synchronously, so transactions arriving during a commit form
// the next block (group commit).
type orderer struct {
	in      chan *pendingTx
	timeout time.Duration
	max     int
	commit  func([]*txCheck)

	mu     sync.RWMutex // held for reading while enqueueing
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

func newOrderer(timeout time.Duration, max int, commit func([]*txCheck)) *orderer {
	return &orderer{
		in:      make(chan *pendingTx, 4*max),
		timeout: timeout,
		max:     max,
		commit:  commit,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// enqueue hands a transaction to the ordering service; false when the
// service is shutting down or ctx ended first.
func (o *orderer) enqueue(ctx context.Context, c *txCheck) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return false
	}
	select {
	case o.in <- &pendingTx{check: c, arrived: time.Now()}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *orderer) run() {
	defer close(o.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *pendingTx
		select {
		case first = <-o.in:
		case <-o.stop:
			o.drain()
			return
		}
		batch := []*txCheck{first.check}
		deadline := first.arrived.Add(o.timeout)
		stopping := false
	fill:
		for len(batch) < o.max {
			select {
			case p := <-o.in:
				batch = append(batch, p.check)
				continue
			default:
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case p := <-o.in:
				batch = append(batch, p.check)
			case <-timer.C:
				break fill
			case <-o.stop:
				stopping = true
				break fill
			}
			timer.Stop()
		}
		o.commit(batch)
		if stopping {
			o.drain()
			return
		}
	}
}

// drain commits what is still queued; nothing is enqueued any more.
func (o *orderer) drain() {
	for {
		var batch []*txCheck
	take:
		for len(batch) < o.max {
			select {
			case p := <-o.in:
				batch = append(batch, p.check)
			default:
				break take
			}
		}
		if len(batch) == 0 {
			return
		}
		o.commit(batch)
	}
}

// close stops accepting transactions, commits the queued ones and waits
// for the last commit.
func (o *orderer) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		<-o.done
		return
	}
	o.closed = true
	o.mu.Unlock()
	close(o.stop)
	<-o.done
}
