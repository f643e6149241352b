package ticket

import (
	"context"

	"github.com/eidgate/eidgate/routing"
)

// ForResolver adapts the issuer to routing.TicketIssuer, the interface the
// resolver issues tickets through.
func (i *Issuer) ForResolver() routing.TicketIssuer { return resolverIssuer{i} }

type resolverIssuer struct{ issuer *Issuer }

// Issue signs a ticket for the access the resolver has just recorded.
func (r resolverIssuer) Issue(ctx context.Context, req routing.TicketRequest) (routing.Ticket, error) {
	if err := ctx.Err(); err != nil {
		return routing.Ticket{}, err
	}
	t, err := r.issuer.IssueTicket(Claims{
		ID:        req.ID,
		Provider:  req.Provider,
		Subject:   req.EID,
		Requester: req.Requester,
		DataType:  req.DataType,
		ConsentID: req.ConsentID,
		AccessID:  req.AccessID,
		Purpose:   req.Purpose,
		Digest:    req.Digest,
		Predicate: req.Predicate,
	})
	if err != nil {
		return routing.Ticket{}, err
	}
	return routing.Ticket{Token: t.Token, ID: t.Claims.ID, ExpiresAt: t.Claims.Expiry}, nil
}
