package credentialtest

import (
	"context"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
)

// Provider answers yes/no questions the way a provider department does:
// from the credential it issued for the route, signed with its own key.
type Provider struct {
	Ledger *Ledger
	Keys   *Keys
	Clock  routing.Clock

	mu      sync.Mutex
	records map[string]string // provider|eid|data type → credential token
	// Asked counts the questions it answered.
	Asked int
}

// Hold records the credential the provider issued for a route.
func (p *Provider) Hold(provider, eid, dataType, token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.records == nil {
		p.records = map[string]string{}
	}
	p.records[provider+"|"+eid+"|"+dataType] = token
}

// Answer implements credential.Answerer.
func (p *Provider) Answer(ctx context.Context, q credential.Question) (string, error) {
	p.mu.Lock()
	token, ok := p.records[q.Provider+"|"+q.EID+"|"+q.DataType]
	p.Asked++
	p.mu.Unlock()
	if !ok {
		return "", routing.Errorf(routing.KindNotFound, "provider.Answer", "no record")
	}
	dt, err := p.Ledger.GetDataType(ctx, q.DataType)
	if err != nil {
		return "", err
	}
	routes, err := p.Ledger.GetRoutes(ctx, q.EID, q.DataType)
	if err != nil {
		return "", err
	}
	var route model.RouteEntry
	for _, r := range routes {
		if r.Provider == q.Provider {
			route = r
		}
	}
	kid, key, err := p.Keys.IssuerKey(ctx, q.Provider)
	if err != nil {
		return "", err
	}
	a, err := credential.AnswerPredicate(credential.Signer{Department: q.Provider, KID: kid, Key: key}, credential.AnswerTemplate{
		Subject: q.EID, DataType: *dt, PredicateID: q.PredicateID, Route: route, Credential: token,
		Audience: model.IssuerDID(q.Requester), AccessID: q.AccessID, At: p.Clock.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return "", err
	}
	return a.Token, nil
}
