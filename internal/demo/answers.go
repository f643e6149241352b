package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
)

// AnswerLedger is what the sample provider reads to answer a question:
// the predicate catalogue and the route entry of its record.
type AnswerLedger interface {
	GetDataType(ctx context.Context, code string) (*model.DataType, error)
	GetRoutes(ctx context.Context, eid, dataType string) ([]model.RouteEntry, error)
}

// Answering is what the sample provider needs to answer yes/no questions:
// the ledger, its departments' signing keys and the time.
type Answering struct {
	Ledger AnswerLedger
	Keys   credential.IssuerKeys
	Clock  routing.Clock
}

// SetAnswering lets the provider answer POST {endpoint}/v1/predicates.
func (p *Provider) SetAnswering(a *Answering) {
	p.mu.Lock()
	p.answers = a
	p.mu.Unlock()
}

// servePredicate answers a yes/no question: the ticket must be one issued
// for exactly this question (resident, data type, predicate, requester,
// access record); the answer is computed from the record the route entry
// names and signed with the department's key. No record content leaves.
func (p *Provider) servePredicate(w http.ResponseWriter, r *http.Request, dept string, v *provider.Verifier) {
	if r.Method != http.MethodPost {
		writeProviderError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	p.mu.RLock()
	a := p.answers
	p.mu.RUnlock()
	if a == nil {
		writeProviderError(w, http.StatusNotFound, "not_found", "this provider answers no questions")
		return
	}
	claims, ok := verifyTicket(w, r, v)
	if !ok {
		return
	}
	var q credential.PredicateQuestion
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<10))
	if err != nil || json.Unmarshal(body, &q) != nil {
		writeProviderError(w, http.StatusBadRequest, "malformed", "the body is not a question")
		return
	}
	if claims.Predicate == "" || claims.Predicate != q.Predicate || claims.Subject != q.EID || claims.DataType != model.QuestionScope(q.DataType, q.Predicate) ||
		claims.Requester != q.Requester || claims.AccessID != q.AccessID {
		writeProviderError(w, http.StatusForbidden, "ticket_scope", "the ticket was issued for another question")
		return
	}
	rec, ok := p.record(dept, q.EID, q.DataType)
	if !ok {
		writeProviderError(w, http.StatusNotFound, "no_record", "no such record")
		return
	}
	ctx := r.Context()
	dt, err := a.Ledger.GetDataType(ctx, q.DataType)
	if err != nil {
		writeProviderError(w, http.StatusServiceUnavailable, "unavailable", "the data type could not be read")
		return
	}
	route, err := providerRoute(ctx, a.Ledger, dept, q.EID, q.DataType)
	if err != nil {
		writeProviderError(w, http.StatusConflict, "no_route", "no valid route entry of ours names this record")
		return
	}
	kid, key, err := a.Keys.IssuerKey(ctx, dept)
	if err != nil {
		writeProviderError(w, http.StatusServiceUnavailable, "key_unavailable", "the signing key could not be read")
		return
	}
	ans, err := credential.AnswerPredicate(credential.Signer{Department: dept, KID: kid, Key: key}, credential.AnswerTemplate{
		Subject: q.EID, DataType: *dt, PredicateID: q.Predicate, Route: *route,
		Record: rec.Record, Salt: rec.Salt, Credential: rec.Credential,
		Audience: model.IssuerDID(q.Requester), AccessID: q.AccessID, At: a.Clock.Now(),
	})
	if err != nil {
		status := http.StatusConflict
		if routing.IsKind(err, routing.KindNotFound) {
			status = http.StatusNotFound
		}
		writeProviderError(w, status, routing.CodeOf(err), routing.MessageOf(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(credential.PredicateAnswer{AnswerToken: ans.Token})
}

// providerRoute is the department's valid route entry for the record.
func providerRoute(ctx context.Context, l AnswerLedger, dept, eid, dataType string) (*model.RouteEntry, error) {
	entries, err := l.GetRoutes(ctx, eid, dataType)
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if entries[i].Provider == dept && entries[i].Status == model.RouteValid {
			return &entries[i], nil
		}
	}
	return nil, routing.Errorf(routing.KindNotFound, "demo.providerRoute", "no route entry")
}
