package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

func newFakeClock() *routingtest.Clock {
	return routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC))
}

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
