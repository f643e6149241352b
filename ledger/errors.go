package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eidgate/eidgate/routing"
)

// CodeUnavailable is the stable code of every failure that leaves a ledger
// call unanswered through no fault of the caller: no peer, no set of live
// endorsers satisfying the endorsement policy, no orderer, a commit status
// that never came, the network refusing the gateway's own identity. The
// gateway answers it with 503 and Retry-After.
const CodeUnavailable = "ledger_unavailable"

// Detail keys of a ledger_unavailable error: the Fabric status behind it
// (gRPC code, message and each node's ErrorDetail), the phase of the call
// and, once known, the transaction id.
const (
	DetailReason = "reason"
	DetailPhase  = "phase"
	DetailTxID   = "tx_id"
)

// Phases of a ledger call, as named in errors.
const (
	phaseDial         = "dial"
	phaseEvaluate     = "evaluate"
	phaseEndorse      = "endorse"
	phaseSubmit       = "submit"
	phaseCommitStatus = "commit status"
	phaseCommit       = "commit"
	phaseEvents       = "events"
)

// fabricError is the cause kept in a classified error: Fabric's own answer
// (gRPC code, message and the per-node details the message refers to), so
// the gateway's log shows why the ledger refused. It unwraps to the
// fabric-gateway error.
type fabricError struct {
	reason string
	err    error
}

func (e *fabricError) Error() string { return e.reason }
func (e *fabricError) Unwrap() error { return e.err }

// unavailable builds the ledger_unavailable error of a phase.
func unavailable(op, phase, message, reason, txID string, cause error) *routing.Error {
	d := map[string]string{DetailPhase: phase}
	if reason != "" {
		d[DetailReason] = reason
	}
	if txID != "" {
		d[DetailTxID] = txID
	}
	if cause != nil && reason != "" {
		cause = &fabricError{reason: reason, err: cause}
	}
	return &routing.Error{Kind: routing.KindUnavailable, Code: CodeUnavailable, Op: op, Message: message, Err: cause, Details: d}
}

// unavailableMessage is the caller's sentence for an unanswered phase.
func unavailableMessage(phase string) string {
	switch phase {
	case phaseEvaluate, phaseEvents:
		return "the ledger cannot answer now; retry later"
	case phaseEndorse:
		return "the ledger cannot endorse the transaction now (not enough endorsing peers); retry later"
	case phaseSubmit:
		return "the ledger cannot order the transaction now; retry later"
	case phaseCommit:
		return "the ledger did not accept the transaction's endorsements; retry later"
	}
	return "the ledger is unavailable; retry later"
}

// chaincodePrefixes are the stable code prefixes of chaincode/ error
// messages: the chaincode's wire format for the kind of a refusal.
var chaincodePrefixes = []struct {
	prefix string
	kind   routing.Kind
}{
	{"INVALID:", routing.KindInvalid},
	{"NOT_FOUND:", routing.KindNotFound},
	{"FORBIDDEN:", routing.KindForbidden},
	{"CONFLICT:", routing.KindConflict},
}

// classify maps an error from any phase of the fabric-gateway flow to a
// *routing.Error. op names the typed method. A refusal the chaincode made
// keeps the chaincode's kind and text; anything that leaves the call
// unanswered is ledger_unavailable with Fabric's reason in the details;
// the rest is internal with Fabric's reason in the cause (for the log).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *routing.Error
	if errors.As(err, &re) {
		return err
	}

	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return commitFailure(op, commitErr)
	}

	phase, txID := phaseOf(err)
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return unavailable(op, phase, fmt.Sprintf("the ledger %s timed out or was cancelled", phase), err.Error(), txID, err)
		}
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: fmt.Sprintf("ledger %s failed", phase), Err: err}
	}

	msgs := []string{st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			msgs = append(msgs, ed.GetMessage())
		}
	}
	for _, m := range msgs {
		if kind, text, ok := chaincodeMessage(m); ok {
			return &routing.Error{Kind: kind, Op: op, Message: text, Err: err}
		}
	}
	reason := statusReason(st)
	lower := strings.ToLower(strings.Join(msgs, "\n"))
	if strings.Contains(lower, "duplicate transaction") {
		return &routing.Error{Kind: routing.KindConflict, Op: op, Message: fmt.Sprintf("ledger %s: duplicate transaction", phase), Err: &fabricError{reason: reason, err: err}}
	}
	if isUnavailable(st.Code(), phase, lower) {
		return unavailable(op, phase, unavailableMessage(phase), reason, txID, err)
	}
	return &routing.Error{Kind: routing.KindInternal, Op: op, Message: fmt.Sprintf("ledger %s failed", phase), Err: &fabricError{reason: reason, err: err}}
}

// phaseOf names the phase a fabric-gateway error came from and its
// transaction id.
func phaseOf(err error) (string, string) {
	var endorseErr *client.EndorseError
	var submitErr *client.SubmitError
	var statusErr *client.CommitStatusError
	switch {
	case errors.As(err, &endorseErr):
		return phaseEndorse, endorseErr.TransactionID
	case errors.As(err, &submitErr):
		return phaseSubmit, submitErr.TransactionID
	case errors.As(err, &statusErr):
		return phaseCommitStatus, statusErr.TransactionID
	}
	return phaseEvaluate, ""
}

// statusReason is a Fabric status in one line: code, message and each
// node's detail ("<code>: <message> [<address> <msp>: <message>] …").
func statusReason(st *status.Status) string {
	var b strings.Builder
	b.WriteString(st.Code().String())
	b.WriteString(": ")
	b.WriteString(st.Message())
	for _, d := range st.Details() {
		ed, ok := d.(*gateway.ErrorDetail)
		if !ok {
			continue
		}
		b.WriteString(" [")
		if ed.GetAddress() != "" {
			b.WriteString(ed.GetAddress())
			b.WriteString(" ")
		}
		if ed.GetMspId() != "" {
			b.WriteString(ed.GetMspId())
		}
		b.WriteString(": ")
		b.WriteString(ed.GetMessage())
		b.WriteString("]")
	}
	return b.String()
}

// isUnavailable reports whether a Fabric status (whose messages carry no
// chaincode code prefix) leaves the call unanswered for reasons the caller
// cannot fix. The messages are those of Fabric 2.5's gateway
// (internal/pkg/gateway/endorse.go, submit.go, evaluate.go, registry.go)
// and endorser (core/endorser/msgvalidation.go); docs/fabric-protocol.md
// lists them.
func isUnavailable(code codes.Code, phase, lower string) bool {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted,
		// The peer refused the gateway's own identity (a deployment fault,
		// not bad caller credentials), or the Readers ACL of commit status
		// and events did.
		codes.Unauthenticated, codes.PermissionDenied:
		return true
	case codes.FailedPrecondition:
		// No combination of live endorsers satisfies the endorsement policy
		// (or the chaincode is not defined); no peer can evaluate; the
		// channel is unknown; or the endorser refused our identity.
		return true
	case codes.NotFound:
		// The channel is unknown to the peer (chaincode events).
		return true
	case codes.Aborted:
		switch phase {
		case phaseEndorse, phaseEvaluate:
			// Endorsement could not be collected: a peer failed (its
			// chaincode crashed, was not reachable, answered differently).
			// A chaincode refusal has been recognised by its prefix.
			return !strings.Contains(lower, "chaincode response")
		case phaseSubmit:
			// The orderer answered 4xx: FORBIDDEN refuses our identity;
			// BAD_REQUEST is a malformed transaction (internal).
			return !strings.Contains(lower, "status=bad_request")
		}
		return true
	}
	return false
}

// chaincodeMessage finds a chaincode code prefix in a peer message such as
// "chaincode response 500, NOT_FOUND: consent c-1 does not exist" and returns
// the kind and the chaincode's text.
func chaincodeMessage(m string) (routing.Kind, string, bool) {
	best, bestAt := -1, len(m)
	for i, p := range chaincodePrefixes {
		at := strings.Index(m, p.prefix)
		if at < 0 || at > bestAt {
			continue
		}
		// A prefix counts only at the start or after a separator, so that a
		// word like "REINVALID:" is not taken for a code.
		if at > 0 && !strings.ContainsRune(" ,:;\n\t", rune(m[at-1])) {
			continue
		}
		best, bestAt = i, at
	}
	if best < 0 {
		return "", "", false
	}
	text := strings.TrimSpace(m[bestAt+len(chaincodePrefixes[best].prefix):])
	if text == "" {
		text = strings.ToLower(strings.TrimSuffix(chaincodePrefixes[best].prefix, ":"))
	}
	return chaincodePrefixes[best].kind, text, true
}

// commitFailure classifies a transaction the committer marked invalid.
func commitFailure(op string, ce *client.CommitError) error {
	code := ce.Code
	name := code.String()
	reason := fmt.Sprintf("transaction %s failed to commit with status code %d (%s)", ce.TransactionID, int32(code), name)
	cause := &fabricError{reason: reason, err: ce}
	switch code {
	case peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT:
		return &routing.Error{Kind: routing.KindConflict, Op: op, Message: "concurrent update on the ledger, retry later (" + name + ")", Err: cause}
	case peer.TxValidationCode_DUPLICATE_TXID:
		return &routing.Error{Kind: routing.KindConflict, Op: op, Message: "duplicate transaction (" + name + ")", Err: cause}
	case peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE:
		// The endorsements collected did not satisfy the policy in force at
		// commit (peers left, or the definition changed meanwhile).
		return unavailable(op, phaseCommit, unavailableMessage(phaseCommit), reason, ce.TransactionID, ce)
	case peer.TxValidationCode_BAD_CREATOR_SIGNATURE, peer.TxValidationCode_BAD_PROPOSAL_TXID:
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "transaction signature refused (" + name + ")", Err: cause}
	}
	return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "transaction failed to commit (" + name + ")", Err: cause}
}

// retryableConflict reports whether a commit failed on a read conflict that a
// fresh proposal (a new simulation) may pass.
func retryableConflict(err error) bool {
	var ce *client.CommitError
	return errors.As(err, &ce) &&
		(ce.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || ce.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT)
}
