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
)

// Kind classifies a ledger failure. The values are the error kinds of the
// routing domain so the gateway maps them to HTTP statuses in one place.
type Kind string

// Error kinds.
const (
	KindInvalid         Kind = "invalid"
	KindUnauthenticated Kind = "unauthenticated"
	KindForbidden       Kind = "forbidden"
	KindNotFound        Kind = "not_found"
	KindConflict        Kind = "conflict"
	KindUnavailable     Kind = "unavailable"
	KindInternal        Kind = "internal"
)

// Error is a classified ledger failure. Message is safe to show to a caller:
// it is either the chaincode's own message (after its code prefix) or a fixed
// text; it never holds transaction arguments. Err keeps the underlying error
// for logs (fabric-gateway errors carry peer addresses and gRPC statuses, not
// arguments).
type Error struct {
	Kind    Kind
	Op      string // the typed method, e.g. "ledger.GrantConsent"
	Message string
	TxID    string // empty for evaluations
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(string(e.Kind))
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.TxID != "" {
		b.WriteString(" (tx ")
		b.WriteString(e.TxID)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorKind and PublicMessage let the routing domain classify ledger
// errors without importing this package.
func (e *Error) ErrorKind() string { return string(e.Kind) }

// PublicMessage is the caller-safe message.
func (e *Error) PublicMessage() string { return e.Message }

// KindOf returns the kind of a ledger error, KindInternal for foreign errors
// and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var le *Error
	if errors.As(err, &le) {
		return le.Kind
	}
	return KindInternal
}

// chaincodePrefixes are the stable code prefixes of chaincode/ error messages.
var chaincodePrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"INVALID:", KindInvalid},
	{"NOT_FOUND:", KindNotFound},
	{"FORBIDDEN:", KindForbidden},
	{"CONFLICT:", KindConflict},
}

// classify maps an error from any phase of the fabric-gateway flow to an
// *Error. op names the typed method.
func classify(op string, err error) *Error {
	if err == nil {
		return nil
	}
	var le *Error
	if errors.As(err, &le) {
		return le
	}
	e := &Error{Op: op, Err: err}

	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		e.TxID = commitErr.TransactionID
		e.Kind, e.Message = commitCodeKind(commitErr.Code)
		return e
	}

	phase := "evaluate"
	var endorseErr *client.EndorseError
	var submitErr *client.SubmitError
	var statusErr *client.CommitStatusError
	switch {
	case errors.As(err, &endorseErr):
		phase, e.TxID = "endorse", endorseErr.TransactionID
	case errors.As(err, &submitErr):
		phase, e.TxID = "submit", submitErr.TransactionID
	case errors.As(err, &statusErr):
		phase, e.TxID = "commit status", statusErr.TransactionID
	}

	st, ok := status.FromError(err)
	if !ok {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			e.Kind, e.Message = KindUnavailable, fmt.Sprintf("ledger %s timed out or was cancelled", phase)
		default:
			e.Kind, e.Message = KindInternal, fmt.Sprintf("ledger %s failed", phase)
		}
		return e
	}

	msgs := []string{st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			msgs = append(msgs, ed.GetMessage())
		}
	}
	for _, m := range msgs {
		if kind, text, ok := chaincodeMessage(m); ok {
			e.Kind, e.Message = kind, text
			return e
		}
	}

	e.Kind, e.Message = grpcKind(phase, st.Code(), strings.ToLower(strings.Join(msgs, "\n")))
	return e
}

// chaincodeMessage finds a chaincode code prefix in a peer message such as
// "chaincode response 500, NOT_FOUND: consent c-1 does not exist" and returns
// the kind and the chaincode's text.
func chaincodeMessage(m string) (Kind, string, bool) {
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

func grpcKind(phase string, code codes.Code, lower string) (Kind, string) {
	switch {
	case code == codes.Unauthenticated,
		strings.Contains(lower, "signature"),
		strings.Contains(lower, "creator"),
		strings.Contains(lower, "certificate"),
		strings.Contains(lower, "unknown authority"):
		// The peer refused the gateway's own identity: a deployment fault the
		// caller cannot fix, so it is reported as the ledger being
		// unavailable, not as bad caller credentials.
		return KindUnavailable, fmt.Sprintf("ledger %s refused our identity", phase)
	case code == codes.PermissionDenied, strings.Contains(lower, "access denied"):
		return KindForbidden, fmt.Sprintf("ledger %s: access denied", phase)
	case code == codes.NotFound,
		strings.Contains(lower, "channel") && strings.Contains(lower, "not found"),
		// A Fabric 2.5 peer answers an unknown channel with Unavailable
		// "failed to get config for channel [x]".
		strings.Contains(lower, "failed to get config for channel"),
		strings.Contains(lower, "no peers available"):
		return KindNotFound, fmt.Sprintf("ledger %s: channel or chaincode not found", phase)
	case strings.Contains(lower, "duplicate transaction"):
		return KindConflict, fmt.Sprintf("ledger %s: duplicate transaction", phase)
	case code == codes.Unavailable, code == codes.DeadlineExceeded,
		code == codes.Canceled, code == codes.ResourceExhausted:
		return KindUnavailable, fmt.Sprintf("ledger %s unavailable", phase)
	}
	return KindInternal, fmt.Sprintf("ledger %s failed", phase)
}

func commitCodeKind(code peer.TxValidationCode) (Kind, string) {
	name := code.String()
	switch code {
	case peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT:
		return KindConflict, "concurrent update on the ledger, retry later (" + name + ")"
	case peer.TxValidationCode_DUPLICATE_TXID:
		return KindConflict, "duplicate transaction (" + name + ")"
	case peer.TxValidationCode_BAD_CREATOR_SIGNATURE, peer.TxValidationCode_BAD_PROPOSAL_TXID:
		return KindInternal, "transaction signature refused (" + name + ")"
	case peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE:
		return KindForbidden, "endorsement policy not satisfied (" + name + ")"
	}
	return KindInternal, "transaction failed to commit (" + name + ")"
}

// retryableConflict reports whether a commit failed on a read conflict that a
// fresh proposal (a new simulation) may pass.
func retryableConflict(err error) bool {
	var ce *client.CommitError
	return errors.As(err, &ce) &&
		(ce.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || ce.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT)
}
