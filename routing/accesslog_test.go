package routing

import (
	"context"
	"encoding/base64"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Access ids keep their documented form and come out in creation order, so
// the database appends them to its unique index.
func TestNewAccessIDFormAndOrder(t *testing.T) {
	t.Parallel()
	checkFormAndOrder(t, NewAccessID, regexp.MustCompile(`^acc_[0-9a-f]{32}$`), func(string) bool { return true })
}

// Ticket ids keep their documented form (16 hex digits of time, then 128
// random bits in base64url) and come out in creation order, so the
// database appends them to its index of tickets.
func TestNewTicketIDFormAndOrder(t *testing.T) {
	t.Parallel()
	randomParts := map[string]bool{}
	checkFormAndOrder(t, NewTicketID, regexp.MustCompile(`^[0-9a-f]{16}[A-Za-z0-9_-]{22}$`), func(id string) bool {
		raw, err := base64.RawURLEncoding.DecodeString(id[16:])
		fresh := !randomParts[id[16:]]
		randomParts[id[16:]] = true
		return err == nil && len(raw) == 16 && fresh
	})
}

// checkFormAndOrder makes a thousand ids with newID: each matches form and
// ok, none repeats, and one made a millisecond after another sorts after
// it.
func checkFormAndOrder(t *testing.T, newID func() string, form *regexp.Regexp, ok func(string) bool) {
	t.Helper()
	seen := map[string]bool{}
	prev := newID()
	for i := range 1000 {
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
		id := newID()
		if !form.MatchString(id) || !ok(id) {
			t.Fatalf("id %q does not have the form %s", id, form)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
		if i%100 == 0 && id <= prev {
			t.Fatalf("id %q made after %q sorts before it", id, prev)
		}
		prev = id
	}
}

// gatedStore holds every AppendAccess until released, counting how many
// are in flight at once.
type gatedStore struct {
	AccessStore
	release  chan struct{}
	inFlight atomic.Int32
	peak     atomic.Int32
	mu       sync.Mutex
	written  map[string]bool
}

func (s *gatedStore) AppendAccess(ctx context.Context, recs []*AccessRecord) ([]error, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.written[r.ID] = true
	}
	return make([]error, len(recs)), nil
}

// With several committers, transactions overlap, and each Append still
// returns only once its own record is written.
func TestAccessLogCommittersOverlapAndEachWaitsForItsRecord(t *testing.T) {
	st := &gatedStore{release: make(chan struct{}), written: map[string]bool{}}
	l, err := NewAccessLog(AccessLogConfig{Store: st, Committers: 3, MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	type result struct {
		id      string
		err     error
		written bool
	}
	results := make(chan result, n)
	for range n {
		go func() {
			rec := &AccessRecord{Requester: "hrss", Outcome: OutcomeIssued}
			err := l.Append(context.Background(), rec)
			st.mu.Lock()
			written := st.written[rec.ID]
			st.mu.Unlock()
			results <- result{rec.ID, err, written}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for st.inFlight.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions in flight, want 3", st.inFlight.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if len(results) != 0 {
		t.Fatal("an Append returned before its transaction finished")
	}
	close(st.release)
	for range n {
		r := <-results
		if r.err != nil || !r.written {
			t.Fatalf("append %s: err %v, written %v", r.id, r.err, r.written)
		}
	}
	l.Close()
	if p := st.peak.Load(); p > 3 {
		t.Errorf("%d transactions in flight at once, more than the 3 committers", p)
	}
	if s := l.Stats(); s.Records != n {
		t.Errorf("stats %+v, want %d records", s, n)
	}
}

// By default one transaction is in flight at a time: the next batch
// waits for it.
func TestAccessLogSingleCommitterByDefault(t *testing.T) {
	st := &gatedStore{release: make(chan struct{}), written: map[string]bool{}}
	l, err := NewAccessLog(AccessLogConfig{Store: st, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- l.Append(context.Background(), &AccessRecord{Requester: "hrss", Outcome: OutcomeIssued})
		}()
	}
	// One record in its transaction, one taken by the committer waiting for
	// it, one still queued.
	deadline := time.Now().Add(30 * time.Second)
	for st.inFlight.Load() != 1 || len(l.reqs) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions in flight and %d queued, want 1 and 1", st.inFlight.Load(), len(l.reqs))
		}
		time.Sleep(time.Millisecond)
	}
	close(st.release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if p := st.peak.Load(); p != 1 {
		t.Errorf("%d transactions in flight at once with one committer", p)
	}
	if s := l.Stats(); s.Records != n || s.Transactions != n {
		t.Errorf("stats %+v, want %d records in %d transactions", s, n, n)
	}
}
