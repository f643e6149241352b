package credential

import (
	"context"
	"errors"

	"github.com/eidgate/eidgate/routing"
)

// Authorizer runs the resolve flow (mapping, policy, consent, route, a
// durable access record, a ticket) for a yes/no question; routing's
// Resolver is one.
type Authorizer interface {
	Resolve(ctx context.Context, req routing.ResolveRequest) (*routing.ResolveResult, error)
}

// QuestionsConfig wires Questions.
type QuestionsConfig struct {
	Authorizer  Authorizer
	Credentials *Service
}

// Questions answers a department's yes/no question about a resident: the
// question is authorised and recorded like a resolve (policy, the
// resident's consent to the record or to this question only, an access
// record of outcome question_issued, a ticket bound to the predicate),
// then the provider's signed answer is fetched and verified.
type Questions struct {
	cfg QuestionsConfig
}

// NewQuestions builds the service; it refuses missing dependencies.
func NewQuestions(cfg QuestionsConfig) (*Questions, error) {
	if cfg.Authorizer == nil || cfg.Credentials == nil {
		return nil, errors.New("credential.NewQuestions: Authorizer and Credentials are required")
	}
	return &Questions{cfg: cfg}, nil
}

// Inquiry is a department's yes/no question.
type Inquiry struct {
	Requester   string
	Official    string
	RequestID   string
	EID         string
	Document    *routing.DocumentSubject
	DataType    string
	PredicateID string
	Purpose     string
	PurposeText string
	ConsentID   string
}

// Answered is a verified answer.
type Answered struct {
	Answer   bool    `json:"answer"`
	Token    string  `json:"token"` // the provider's PredicateAnswerCredential
	AccessID string  `json:"access_id"`
	Result   *Result `json:"result"`
}

// Ask checks that the data type catalogues the predicate (before anything
// is recorded), authorises and records the question, and returns the
// provider's verified answer.
func (q *Questions) Ask(ctx context.Context, in Inquiry) (*Answered, error) {
	const op = "credential.Questions.Ask"
	if in.DataType == "" || in.PredicateID == "" {
		return nil, routing.Invalid(op, "predicate", "name the data_type and the predicate to ask")
	}
	dt, err := q.cfg.Credentials.cfg.Ledger.GetDataType(ctx, in.DataType)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if _, ok := dt.Predicate(in.PredicateID); !ok {
		return nil, routing.Errorf(routing.KindNotFound, op, "data type %s catalogues no predicate %q", dt.Code, in.PredicateID).WithCode(CodePredicateUnknown)
	}
	res, err := q.cfg.Authorizer.Resolve(ctx, routing.ResolveRequest{
		Requester: in.Requester, Official: in.Official, RequestID: in.RequestID, EID: in.EID, Document: in.Document,
		DataType: in.DataType, Purpose: in.Purpose, PurposeText: in.PurposeText, ConsentID: in.ConsentID, Predicate: in.PredicateID,
	})
	if err != nil {
		return nil, err
	}
	r, token, err := q.cfg.Credentials.Ask(ctx, AskRequest{Requester: in.Requester, EID: res.EID, DataType: in.DataType,
		PredicateID: in.PredicateID, AccessID: res.AccessID, Ticket: res.Ticket})
	if err != nil {
		return nil, err
	}
	return &Answered{Answer: r.Answer.Answer, Token: token, AccessID: res.AccessID, Result: r}, nil
}
