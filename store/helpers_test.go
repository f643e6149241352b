package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var _ routing.Clock = (*fakeClock)(nil)

// newRecord builds an access record the way routing.AccessLog does.
func newRecord(at time.Time, consentID string, maxUses uint64) *routing.AccessRecord {
	r := &routing.AccessRecord{
		ID: routing.NewAccessID(), CreatedAt: at, RequestID: "req-1", Requester: "edu-bureau",
		Official: "official-7", Provider: "civil-affairs", EID: "did:eidgate:abc", DataType: "edu.degree",
		Purpose: "admission", PolicyVersion: 3, Outcome: routing.OutcomeIssued, TicketID: "tkt-1",
		Digest: "sha256:00", RouteVersion: 2,
	}
	if consentID != "" {
		r.ConsentID, r.UseConsent, r.ConsentMaxUses = consentID, true, maxUses
	}
	r.ComputeLeafHash()
	return r
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
