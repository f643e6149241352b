package routing

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/eidgate/eidgate/chaincode/model"
)

// MaxRouteBatch bounds one publish call.
const MaxRouteBatch = 1000

// RoutesConfig is what a Routes service is built from.
type RoutesConfig struct {
	Ledger RouteLedger  // required
	Dir    *Directory   // required: the cache a change makes stale
	Logger *slog.Logger // default slog.Default()
}

// Routes publishes and revokes departments' route entries (the signed
// digests of the records they hold) and drops the cached routes of the
// eIDs concerned on this replica as soon as the change commits.
type Routes struct {
	ledger RouteLedger
	dir    *Directory
	log    *slog.Logger
}

// NewRoutes checks cfg and builds the service.
func NewRoutes(cfg RoutesConfig) (*Routes, error) {
	const op = "routing.NewRoutes"
	switch {
	case cfg.Ledger == nil:
		return nil, MissingDependency(op, "a route ledger")
	case cfg.Dir == nil:
		return nil, MissingDependency(op, "a directory")
	}
	s := &Routes{ledger: cfg.Ledger, dir: cfg.Dir, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

const opRoutes = "routing.Routes"

// Publish relays department's own signed digests to the ledger, which
// verifies each signature against the department's registered key. A
// department publishes only its own digests, 1 to MaxRouteBatch at a time.
func (s *Routes) Publish(ctx context.Context, department string, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	switch {
	case len(batch) == 0:
		return nil, Invalid(opRoutes, "routes", "routes must hold at least one signed route")
	case len(batch) > MaxRouteBatch:
		return nil, Invalid(opRoutes, "routes", "at most %d routes per call", MaxRouteBatch)
	}
	changes := make([]model.Change, len(batch))
	for i, r := range batch {
		if r.Statement.Provider != department {
			return nil, Invalid(opRoutes, "routes["+strconv.Itoa(i)+"].statement.provider", "a department publishes only its own digests")
		}
		changes[i] = model.Change{Kind: model.KindRoute, EID: r.Statement.EID}
	}
	out, err := s.ledger.PublishRoutes(ctx, batch)
	return changed(ctx, s.dir, s.log, out, err, changes...)
}

// Revoke revokes department's route entry for a resident's data type; a
// reason is required.
func (s *Routes) Revoke(ctx context.Context, department, eid, dataType, reason string) (*model.RouteEntry, error) {
	if reason == "" {
		return nil, Invalid(opRoutes, "reason", "give a reason for the revocation")
	}
	out, err := s.ledger.RevokeRoute(ctx, eid, dataType, department, reason)
	return changed(ctx, s.dir, s.log, out, err, model.Change{Kind: model.KindRoute, EID: eid})
}

// Of lists every route entry of an eID as the ledger holds it now.
func (s *Routes) Of(ctx context.Context, eid string) ([]model.RouteEntry, error) {
	return s.ledger.GetRoutes(ctx, eid, "")
}
