// Package ledger is the typed client of the eidgate chaincode over the official
// Hyperledger Fabric Gateway client (fabric-gateway v1.10.0).
//
// The same code talks to the embedded devnet and to a real Fabric 2.5 peer:
// a connection profile (see [LoadProfile]) names the peer endpoint, TLS CA,
// MSP identity, channel, chaincode and per-phase timeouts; [Dial] connects.
//
// Submissions use the proposal → endorse → submit → commit-status flow by hand
// so that a commit-status timeout is polled again for the same transaction id
// (never resubmitted) and an MVCC or phantom read conflict is retried with a
// fresh proposal a bounded number of times. Errors from every phase are
// unwrapped with errors.As and returned as the domain's one error type,
// *routing.Error: the chaincode's stable message prefixes (INVALID:,
// NOT_FOUND:, FORBIDDEN:, CONFLICT:) choose the kind of a refusal; a call
// the network leaves unanswered (no live endorsement plan, no orderer, no
// peer, no commit status) is ledger_unavailable ([CodeUnavailable]), with
// Fabric's own answer in the details and in the error text for the log;
// transaction arguments never appear in a caller's message.
// docs/fabric-protocol.md lists the Fabric answers behind each case.
//
// [Listener] streams chaincode events from a checkpoint kept in a
// [CheckpointStore], saving the position only after the handler succeeded, so
// a restarted gateway resumes exactly where it stopped.
package ledger
