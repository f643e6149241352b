package ledger

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
)

// --- issuer keys and status lists (credentials) ---

// RevokeSigningKey declares a department's signing key compromised (an
// admin, or the department itself).
func (c *Client) RevokeSigningKey(ctx context.Context, dept, kid, reason string) (*model.Department, error) {
	v, _, err := invoke[*model.Department](ctx, c, model.FnRevokeSigningKey, dept, kid, reason)
	return v, err
}

// AnchorStatusList records a new version of a status list credential by
// its digest.
func (c *Client) AnchorStatusList(ctx context.Context, a model.StatusListAnchor) (*model.StatusListAnchor, error) {
	v, _, err := invokeJSON[*model.StatusListAnchor](ctx, c, model.FnAnchorStatusList, a)
	return v, err
}

// GetStatusListAnchor reads the newest anchor of a status list.
func (c *Client) GetStatusListAnchor(ctx context.Context, issuer, listID string) (*model.StatusListAnchor, error) {
	return query[*model.StatusListAnchor](ctx, c, model.FnGetStatusListAnchor, issuer, listID)
}
