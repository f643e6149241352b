// Package audit is the officials' audit trail: every administrative act
// (eID lifecycle, documents, departments, data types, API keys, the
// policy, staff accounts, key rotations, imports) is a Record of who did
// what, to what, why, and the state before and after.
//
// Invariants:
//   - No intent, no act: an act's record is written (pending) before the
//     act runs, and completed with its outcome after; a record left
//     pending by a crash is settled by Recover from the act's effect.
//   - Every completed record has a Merkle leaf hash and is anchored on the
//     ledger in batches by the audit stream of routing.Anchorer, exactly
//     like access records; Proof proves one against the ledger's anchor.
//   - An act is attributed to the routing.Actor of its context; an act
//     without one is refused.
//   - No document number is ever in a record: documents appear masked.
//
// The audited services (Identities, Registry, APIKeys, Admins, Policies,
// Importer) wrap the domain services with the same methods, so the
// gateway and the command line use them in their place. Four-eyes acts
// become Proposals that a second official decides (proposals.go).
package audit
