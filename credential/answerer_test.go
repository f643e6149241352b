package credential_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
)

type depts map[string]model.Department

func (d depts) GetDepartment(_ context.Context, id string) (*model.Department, error) {
	dep, ok := d[id]
	if !ok {
		return nil, routing.Errorf(routing.KindNotFound, "test", "no department")
	}
	return &dep, nil
}

// The gateway asks a provider over HTTP with the ticket and reads its
// answer; a provider that fails or answers nonsense is a 502 with a code.
func TestHTTPAnswerer(t *testing.T) {
	t.Parallel()
	var got credential.PredicateQuestion
	var auth string
	mode := "ok"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/edu/v1/predicates" {
			http.NotFound(w, r)
			return
		}
		auth = r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&got)
		switch mode {
		case "ok":
			_ = json.NewEncoder(w).Encode(credential.PredicateAnswer{AnswerToken: "eyJ.answer.token~"})
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "junk":
			_, _ = w.Write([]byte("<html>"))
		case "huge":
			_, _ = w.Write([]byte(`{"answer_token":"` + strings.Repeat("a", 70000) + `"}`))
		}
	}))
	defer srv.Close()
	a := &credential.HTTPAnswerer{Departments: depts{"edu-bureau": {ID: "edu-bureau", Endpoints: []string{srv.URL + "/edu"}},
		"mute": {ID: "mute"}}, Client: srv.Client()}
	q := credential.Question{Provider: "edu-bureau", EID: subject, DataType: "edu.degree", PredicateID: "bachelor_or_higher",
		Requester: "hrss", AccessID: "acc_1", Ticket: "tkt"}
	tok, err := a.Answer(context.Background(), q)
	if err != nil {
		t.Fatalf("err = %v, want nil; answer %q %v; question %+v auth %q", err, tok, err, got, auth)
	}
	if tok != "eyJ.answer.token~" {
		t.Fatalf("tok = %q, want \"eyJ.answer.token~\"; answer %q %v; question %+v auth %q", tok, tok, err, got, auth)
	}
	if auth != "Bearer tkt" {
		t.Fatalf("auth = %q, want \"Bearer tkt\"; answer %q %v; question %+v auth %q", auth, tok, err, got, auth)
	}
	if got.Predicate != "bachelor_or_higher" {
		t.Fatalf("got.Predicate = %q, want \"bachelor_or_higher\"; answer %q %v; question %+v auth %q", got.Predicate, tok, err, got, auth)
	}
	if got.AccessID != "acc_1" {
		t.Fatalf("got.AccessID = %q, want \"acc_1\"; answer %q %v; question %+v auth %q", got.AccessID, tok, err, got, auth)
	}
	if got.EID != subject {
		t.Fatalf("got.EID = %v, want subject; answer %q %v; question %+v auth %q", got.EID, tok, err, got, auth)
	}
	for m, code := range map[string]string{"500": "provider_error", "junk": "provider_error", "huge": "provider_error"} {
		mode = m
		if _, err := a.Answer(context.Background(), q); routing.CodeOf(err) != code || routing.KindOf(err) != routing.KindBadGateway {
			t.Errorf("%s: %v", m, err)
		}
	}
	q.Provider = "mute"
	if _, err := a.Answer(context.Background(), q); routing.CodeOf(err) != "provider_unavailable" {
		t.Errorf("no endpoint: %v", err)
	}
	srv.Close()
	q.Provider = "edu-bureau"
	if _, err := a.Answer(context.Background(), q); routing.CodeOf(err) != "provider_unavailable" {
		t.Errorf("provider down: %v", err)
	}
}
