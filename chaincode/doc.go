// Package chaincode is the eidgate Hyperledger Fabric contract: the
// department and data type registry, resident eIDs with their blinded
// document indexes, account links, signed data routes, consents and access
// anchors.
//
// The contract runs on fabric-contract-api-go as the default contract, so
// clients call functions by their bare names ("GrantConsent"). Every write
// sets exactly one chaincode event named after the function, carrying a
// model.ChangeSet. Refusals are errors whose message starts with a stable
// code (INVALID:, NOT_FOUND:, FORBIDDEN:, CONFLICT:).
//
// The code is deterministic: time comes from the transaction timestamp, new
// ids from the transaction id, outputs are built from slices in a fixed
// order, and every query is a single key or a partial composite key range.
// It uses only the stub calls a Fabric 2.5 peer supports (no
// GetMultipleStates, no write batches). A transaction does not read its own
// writes, so the per-call state overlay in txn remembers what the call has
// written.
package chaincode
