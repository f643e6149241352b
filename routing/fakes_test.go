package routing_test

import (
	"context"
	"sync"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Test doubles of the ports the routing core's tests steer directly. The
// clock, cache, store and ledger come from routingtest.

type fakePolicy struct {
	allow   map[string]bool // "dept|dt|purpose"
	version int64
	// breakGlass holds the break-glass grants, by "dept|dt|purpose"; the
	// policy names one only for a request it allows, as policies does.
	breakGlass map[string]routing.BreakGlassGrant
}

func (p *fakePolicy) Decide(_ context.Context, dept, dt, purpose string) (routing.Decision, error) {
	k := dept + "|" + dt + "|" + purpose
	if p.allow[k] {
		d := routing.Decision{Allowed: true, Rule: "p, " + dept + ", " + dt + ", " + purpose + ", allow", Version: p.version}
		if g, ok := p.breakGlass[k]; ok {
			d.BreakGlass = &g
		}
		return d, nil
	}
	return routing.Decision{Allowed: false, Version: p.version, Reason: "no rule allows it"}, nil
}

type fakeMapper struct{ docs map[string]string }

func (m *fakeMapper) LookupDocument(_ context.Context, docType, number, _ string) (string, error) {
	if eid, ok := m.docs[docType+":"+number]; ok {
		return eid, nil
	}
	return "", routing.Errorf(routing.KindNotFound, "fake", "no eID")
}

type fakeTickets struct {
	mu     sync.Mutex
	issued []routing.TicketRequest
}

func (t *fakeTickets) Issue(_ context.Context, req routing.TicketRequest) (routing.Ticket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.issued = append(t.issued, req)
	return routing.Ticket{Token: "token-" + req.ID, ID: req.ID, ExpiresAt: time.Now().Add(2 * time.Minute)}, nil
}

func (t *fakeTickets) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.issued)
}
