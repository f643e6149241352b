package credential

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// PredicatePath is where a provider answers yes/no questions, under its
// registered endpoint.
const PredicatePath = "v1/predicates"

// PredicateQuestion is the body of a question to a provider.
type PredicateQuestion struct {
	EID       string `json:"eid"`
	DataType  string `json:"data_type"`
	Predicate string `json:"predicate"`
	Requester string `json:"requester"`
	AccessID  string `json:"access_id"`
}

// PredicateAnswer is the provider's reply.
type PredicateAnswer struct {
	AnswerToken string `json:"answer_token"`
}

// HTTPAnswerer asks providers over HTTP: POST <endpoint>/v1/predicates with
// "Authorization: Bearer <ticket>" and a PredicateQuestion, answered with a
// PredicateAnswer. The ticket is the one the gateway issued for the
// question, so the provider checks it as it does for records.
type HTTPAnswerer struct {
	Departments interface {
		GetDepartment(ctx context.Context, id string) (*model.Department, error)
	}
	Client *http.Client // nil: a client with a 10 s timeout
}

var _ Answerer = (*HTTPAnswerer)(nil)

// maxAnswer bounds a provider's reply.
const maxAnswer = 64 << 10

// Answer implements Answerer.
func (a *HTTPAnswerer) Answer(ctx context.Context, q Question) (string, error) {
	const op = "credential.HTTPAnswerer"
	unavailable := func(msg string, err error) error {
		return (&routing.Error{Kind: routing.KindBadGateway, Op: op, Message: msg, Err: err}).WithCode("provider_unavailable")
	}
	d, err := a.Departments.GetDepartment(ctx, q.Provider)
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	if len(d.Endpoints) == 0 {
		return "", unavailable("the provider has no endpoint", nil)
	}
	u, err := url.Parse(d.Endpoints[0])
	if err != nil {
		return "", unavailable("the provider's endpoint is not a URL", err)
	}
	body, _ := json.Marshal(PredicateQuestion{EID: q.EID, DataType: q.DataType, Predicate: q.PredicateID, Requester: q.Requester, AccessID: q.AccessID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath(PredicatePath).String(), bytes.NewReader(body))
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+q.Ticket)
	client := a.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", unavailable("the provider did not answer", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	switch {
	case err != nil:
		return "", unavailable("the provider's answer was cut off", err)
	case resp.StatusCode != http.StatusOK:
		return "", (&routing.Error{Kind: routing.KindBadGateway, Op: op, Message: fmt.Sprintf("the provider answered %d", resp.StatusCode)}).WithCode("provider_error")
	case len(raw) > maxAnswer:
		return "", (&routing.Error{Kind: routing.KindBadGateway, Op: op, Message: "the provider's answer is too large"}).WithCode("provider_error")
	}
	var ans PredicateAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || ans.AnswerToken == "" {
		return "", (&routing.Error{Kind: routing.KindBadGateway, Op: op, Message: "the provider's reply is not an answer", Err: err}).WithCode("provider_error")
	}
	return ans.AnswerToken, nil
}
