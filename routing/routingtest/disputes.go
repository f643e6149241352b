package routingtest

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// --- disputes ---

// RaiseDispute records a dispute of an access in an anchored batch; an
// access has at most one dispute that is not closed.
func (l *Ledger) RaiseDispute(_ context.Context, d model.DisputeDraft) (*model.Dispute, error) {
	return submit(l, model.FnRaiseDispute, func(t tx) (*model.Dispute, error) {
		if err := d.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		if _, ok := l.anchors[d.BatchID]; !ok {
			return nil, notFound(t.op, "anchor")
		}
		if l.disputes == nil {
			l.disputes = map[string]model.Dispute{}
		}
		for _, o := range l.disputes {
			if o.AccessID == d.AccessID && o.Status != model.DisputeClosed {
				return nil, conflict(t.op, "the access already has dispute %s", o.ID)
			}
		}
		dp := model.Dispute{ID: model.DeriveDisputeID(t.id), AccessID: d.AccessID, EID: d.EID, Department: d.Department,
			BatchID: d.BatchID, LeafHash: d.LeafHash, Reason: d.Reason, TextDigest: d.TextDigest, Status: model.DisputeOpen,
			RaisedAt: t.now, RaisedBy: "agent", UpdatedAt: t.now, TxID: t.id}
		l.disputes[dp.ID] = dp
		return &dp, nil
	})
}

// AnswerDispute records the answer of the dispute's department while it
// is open.
func (l *Ledger) AnswerDispute(_ context.Context, a model.DisputeAnswer) (*model.Dispute, error) {
	return l.changeDispute(model.FnAnswerDispute, a.ID, func(t tx, dp *model.Dispute) error {
		if dp.Department != a.Department {
			return routing.Errorf(routing.KindForbidden, t.op, "not the department of the access")
		}
		if dp.Status != model.DisputeOpen {
			return conflict(t.op, "the dispute is %s", dp.Status)
		}
		dp.Status, dp.AnswerDigest, dp.AnsweredAt, dp.AnswerOfficial = model.DisputeAnswered, a.AnswerDigest, t.now, a.Official
		return nil
	})
}

// CloseDispute records an outcome of a dispute that is not closed.
func (l *Ledger) CloseDispute(_ context.Context, c model.DisputeClosing) (*model.Dispute, error) {
	return l.changeDispute(model.FnCloseDispute, c.ID, func(t tx, dp *model.Dispute) error {
		if err := c.Validate(); err != nil {
			return fromChaincode(t.op, err)
		}
		if dp.Status == model.DisputeClosed {
			return conflict(t.op, "the dispute is closed")
		}
		dp.Status, dp.Outcome, dp.OutcomeDigest, dp.ClosedAt, dp.ClosedBy = model.DisputeClosed, c.Outcome, c.OutcomeDigest, t.now, c.Official
		return nil
	})
}

func (l *Ledger) changeDispute(fn, id string, change func(tx, *model.Dispute) error) (*model.Dispute, error) {
	return submit(l, fn, func(t tx) (*model.Dispute, error) {
		dp, ok := l.disputes[id]
		if !ok {
			return nil, notFound(t.op, "dispute")
		}
		if err := change(t, &dp); err != nil {
			return nil, err
		}
		dp.UpdatedAt, dp.TxID = t.now, t.id
		l.disputes[id] = dp
		return &dp, nil
	})
}

// GetDispute reads one dispute.
func (l *Ledger) GetDispute(_ context.Context, id string) (*model.Dispute, error) {
	l.read(model.FnGetDispute)
	defer l.mu.Unlock()
	dp, ok := l.disputes[id]
	if !ok {
		return nil, notFound("ledger."+model.FnGetDispute, "dispute")
	}
	return &dp, nil
}

// ListDisputesByEID returns the disputes an eID raised, in id order.
func (l *Ledger) ListDisputesByEID(_ context.Context, eid string) ([]model.Dispute, error) {
	return where(l, model.FnListDisputesByEID, l.disputes, func(d model.Dispute) bool { return d.EID == eid }), nil
}

// where reads, as an evaluation of fn, the values of m that keep accepts,
// in key order.
func where[V any](l *Ledger, fn string, m map[string]V, keep func(V) bool) []V {
	l.read(fn)
	defer l.mu.Unlock()
	out := []V{}
	for _, v := range sortedValues(m) {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
