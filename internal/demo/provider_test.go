package demo_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/ticket"
)

type noLedger struct{}

func (noLedger) GetDataType(context.Context, string) (*model.DataType, error) {
	return nil, routing.Errorf(routing.KindNotFound, "test", "none")
}
func (noLedger) GetRoutes(context.Context, string, string) ([]model.RouteEntry, error) {
	return nil, nil
}

type noKeys struct{}

func (noKeys) IssuerKey(context.Context, string) (string, crypto.Signer, error) {
	return "", nil, routing.Errorf(routing.KindNotFound, "test", "none")
}

// The sample provider keeps a question's ticket and a record's ticket
// apart: a ticket bound to a predicate never fetches the record, and a
// record's ticket (or another question's) gets no answer.
func TestProviderKeepsQuestionsAndRecordsApart(t *testing.T) {
	t.Parallel()
	kr, err := ticket.OpenKeyring(filepath.Join(t.TempDir(), ticket.KeyFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ticket.NewIssuer(ticket.IssuerConfig{Keys: kr, Issuer: "eidgate"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := demo.NewProvider(demo.ProviderConfig{Keys: kr, Issuer: "eidgate"})
	if err != nil {
		t.Fatal(err)
	}
	const eid = "did:eidgate:0123456789abcdef0123456789abcdef"
	p.SetRecords([]demo.StoredRecord{{EID: eid, DataType: "edu.degree", Provider: "edu-bureau", Version: 1, Salt: "AAAAAAAAAAAAAAAAAAAAAA", Record: json.RawMessage(`{"degree":"bachelor"}`)}})
	p.SetAnswering(&demo.Answering{Ledger: noLedger{}, Keys: noKeys{}, Clock: routing.SystemClock{}})
	issue := func(dataType, predicate, access string) string {
		t.Helper()
		tk, err := iss.IssueTicket(ticket.Claims{Provider: "edu-bureau", Subject: eid, Requester: "hrss", DataType: dataType,
			ConsentID: "cs-1", AccessID: access, Purpose: "employment", Predicate: predicate})
		if err != nil {
			t.Fatal(err)
		}
		return tk.Token
	}
	call := func(method, path, token string, body any) (int, string) {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req := httptest.NewRequest(method, demo.ProviderPath+"edu-bureau/"+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	question := credential.PredicateQuestion{EID: eid, DataType: "edu.degree", Predicate: "bachelor_or_higher", Requester: "hrss", AccessID: "acc-q"}
	scope := model.QuestionScope("edu.degree", "bachelor_or_higher")

	// A question's ticket at the records endpoint, as it is issued (dt is
	// the question scope) and as a provider ignoring dt would see it.
	for _, dt := range []string{scope, "edu.degree"} {
		if code, body := call(http.MethodGet, "v1/records?eid="+eid+"&data_type=edu.degree", issue(dt, "bachelor_or_higher", "acc-q"), nil); code != http.StatusForbidden || !strings.Contains(body, "ticket_scope") {
			t.Errorf("a question's ticket (dt %s) fetched the record: %d %s", dt, code, body)
		}
	}
	// A record's ticket, and another question's, get no answer.
	for name, tok := range map[string]string{
		"a record's ticket":       issue("edu.degree", "", "acc-q"),
		"another question's":      issue(model.QuestionScope("edu.degree", "adult"), "adult", "acc-q"),
		"another access record's": issue(scope, "bachelor_or_higher", "acc-other"),
	} {
		if code, body := call(http.MethodPost, credential.PredicatePath, tok, question); code != http.StatusForbidden || !strings.Contains(body, "ticket_scope") {
			t.Errorf("%s was answered: %d %s", name, code, body)
		}
	}
	// The question's own ticket passes the ticket checks (the answer then
	// needs the ledger, which this test leaves out).
	if code, body := call(http.MethodPost, credential.PredicatePath, issue(scope, "bachelor_or_higher", "acc-q"), question); code == http.StatusForbidden {
		t.Errorf("the question's own ticket was refused: %d %s", code, body)
	}
	// A record's ticket still fetches the record.
	if code, body := call(http.MethodGet, "v1/records?eid="+eid+"&data_type=edu.degree", issue("edu.degree", "", "acc-r"), nil); code != http.StatusOK {
		t.Errorf("a record's ticket: %d %s", code, body)
	}
}
