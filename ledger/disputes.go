package ledger

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RaiseDispute records a resident's dispute of an anchored access record.
func (c *Client) RaiseDispute(ctx context.Context, d model.DisputeDraft) (*model.Dispute, error) {
	v, _, err := invokeJSON[*model.Dispute](ctx, c, model.FnRaiseDispute, d)
	return v, err
}

// AnswerDispute records the explanation of the department of the access.
func (c *Client) AnswerDispute(ctx context.Context, a model.DisputeAnswer) (*model.Dispute, error) {
	v, _, err := invokeJSON[*model.Dispute](ctx, c, model.FnAnswerDispute, a)
	return v, err
}

// CloseDispute records an auditor's outcome of a dispute.
func (c *Client) CloseDispute(ctx context.Context, cl model.DisputeClosing) (*model.Dispute, error) {
	v, _, err := invokeJSON[*model.Dispute](ctx, c, model.FnCloseDispute, cl)
	return v, err
}

// GetDispute reads one dispute.
func (c *Client) GetDispute(ctx context.Context, id string) (*model.Dispute, error) {
	return query[*model.Dispute](ctx, c, model.FnGetDispute, id)
}

// ListDisputesByEID reads every dispute an eID raised.
func (c *Client) ListDisputesByEID(ctx context.Context, eid string) ([]model.Dispute, error) {
	return query[[]model.Dispute](ctx, c, model.FnListDisputesByEID, eid)
}

// ListDisputesByDepartment reads every dispute of a department's accesses.
func (c *Client) ListDisputesByDepartment(ctx context.Context, dept string) ([]model.Dispute, error) {
	return query[[]model.Dispute](ctx, c, model.FnListDisputesByDepartment, dept)
}
