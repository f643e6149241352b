// Package approval is how a person's own approval of an act is obtained,
// recorded and checked: the act's terms are written as a signed statement
// (chaincode/model, statement.go), the person signs the statement's digest
// with a passkey in a WebAuthn ceremony (accounts.Passkeys), and the
// assertion goes on the ledger with the act, where the chaincode checks it
// against the person's key in their DID document before anything changes.
//
// Consents are the first acts: a resident grants or revokes a consent by
// signing the consent.grant or consent.revoke statement of its terms. A
// consent granted without a signature (a password session, a counter) is
// marked password-only on the ledger and everywhere it is shown.
//
// Anyone can check a signed consent without trusting eidgate: a consent
// proof (ConsentProof) holds the consent and the signer's registered keys
// as the ledger has them; Verify rebuilds each statement from the consent's
// terms, recomputes its digest and checks the WebAuthn assertion with
// nothing but the proof; CompareWithLedger then checks that the proof says
// what the ledger says, read through the verifier's own peer.
//
// The same pieces serve later acts: a standing rule is a new statement
// type with its own terms; a guardian signing for a ward is a statement
// whose signer is not its subject, valid where the ledger records the
// guardian's right to act for the ward. The ceremony, the signature record
// (model.PasskeySignature), the chaincode's check (model.CheckApproval) and
// the proof's verification stay as they are.
package approval
