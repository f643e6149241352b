package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/credentialtest"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// worldAnswers is edu-bureau answering yes/no questions from the
// credential it issued, as a provider department does.
type worldAnswers struct {
	w      *world
	mu     sync.Mutex
	tokens map[string]string // eid → credential
}

func (a *worldAnswers) hold(eid, token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[eid] = token
}

func (a *worldAnswers) Answer(ctx context.Context, q credential.Question) (string, error) {
	a.mu.Lock()
	token := a.tokens[q.EID]
	a.mu.Unlock()
	if q.Provider != eduBureau || token == "" || q.Ticket == "" {
		return "", routing.Errorf(routing.KindBadGateway, "provider", "no record").WithCode("provider_error")
	}
	dt, err := a.w.ledger.GetDataType(ctx, q.DataType)
	if err != nil {
		return "", err
	}
	routes, err := a.w.ledger.GetRoutes(ctx, q.EID, q.DataType)
	if err != nil || len(routes) == 0 {
		return "", routing.Errorf(routing.KindBadGateway, "provider", "no route").WithCode("provider_error")
	}
	ans, err := credential.AnswerPredicate(credential.Signer{Department: eduBureau, KID: "edu-2026", Key: a.w.eduKey}, credential.AnswerTemplate{
		Subject: q.EID, DataType: *dt, PredicateID: q.PredicateID, Route: routes[0], Credential: token,
		Audience: model.IssuerDID(q.Requester), AccessID: q.AccessID, At: a.w.clock.Now(),
	})
	if err != nil {
		return "", err
	}
	return ans.Token, nil
}

// withCredentials adds the credential services over the world's ledger,
// with edu-bureau's signing key entrusted to the gateway.
func (w *world) withCredentials(deps *gateway.Deps, base string) {
	w.t.Helper()
	keys := credentialtest.NewKeys()
	keys.Put(eduBureau, "edu-2026", w.eduKey)
	w.answers = &worldAnswers{w: w, tokens: map[string]string{}}
	holders, err := credential.NewSealedHolders(w.db, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		w.t.Fatal(err)
	}
	// The same holder sealing key as the stack's: one wallet per resident.
	svc, err := credential.NewService(credential.Config{Ledger: w.ledger, Store: w.db, Access: w.access,
		Keys: keys, Holders: holders, Answers: w.answers, Cache: routingtest.NewCache(), Clock: w.clock, BaseURL: base})
	if err != nil {
		w.t.Fatal(err)
	}
	q, err := credential.NewQuestions(credential.QuestionsConfig{Authorizer: deps.Resolver, Credentials: svc})
	if err != nil {
		w.t.Fatal(err)
	}
	deps.Credentials, deps.Questions = svc, q
}

// credentialFlow drives every credential operation along the graduate's
// background check: edu-bureau issues alice's degree credential, hr-bureau
// challenges, alice presents from her wallet, hr-bureau verifies (recorded),
// anyone checks it on the public verifier, hr-bureau asks a yes/no
// question under a consent to that question only, and edu-bureau suspends,
// reinstates and revokes the credential.
func credentialFlow(t *testing.T, w *world, hr, edu, anon *caller) {
	t.Helper()
	var issued struct {
		ID     string `json:"id"`
		Token  string `json:"token"`
		Status []struct {
			Purpose string `json:"purpose"`
			List    string `json:"list"`
		} `json:"status"`
	}
	edu.call(post, "/v1/credentials", map[string]any{"subject": map[string]string{"eid": w.alice}, "data_type": "edu.degree",
		"claims": w.aliceRecord}, http.StatusCreated).decode(&issued)
	if !strings.HasPrefix(issued.ID, "urn:uuid:") {
		t.Fatalf("strings.HasPrefix(issued.ID, \"urn:uuid:\") is false; issued = %+v", issued)
	}
	if len(issued.Status) != 2 {
		t.Fatalf("len(issued.Status) = %v, want 2; issued = %+v", len(issued.Status), issued)
	}
	if strings.Count(issued.Token, "~") != 4 {
		t.Fatalf("strings.Count(issued.Token, \"~\") != 4; issued = %+v", issued)
	}
	w.answers.hold(w.alice, issued.Token)
	anon.call(get, "/v1/datatypes/edu.degree/schema", nil, http.StatusOK)
	list := anon.call(get, "/v1/credentials/status/"+eduBureau+"/"+issued.Status[0].List, nil, http.StatusOK)
	if ct := list.resp.Header.Get("Content-Type"); ct != credential.MediaType {
		t.Errorf("status list content type %q", ct)
	}
	var did struct {
		Doc struct {
			ID     string   `json:"id"`
			Assert []string `json:"assertionMethod"`
		} `json:"didDocument"`
	}
	anon.call(get, "/1.0/identifiers/did:eidgate:dept:"+eduBureau, nil, http.StatusOK).decode(&did)
	if did.Doc.ID != "did:eidgate:dept:"+eduBureau {
		t.Errorf("did.Doc.ID = %v, want \"did:eidgate:dept:\"+eduBureau; issuer DID document = %+v", did.Doc.ID, did.Doc)
	} else if len(did.Doc.Assert) != 1 {
		t.Errorf("len(did.Doc.Assert) = %v, want 1; issuer DID document = %+v", len(did.Doc.Assert), did.Doc)
	}

	// hr-bureau challenges; alice presents the degree only.
	var ch struct {
		Nonce, Audience, RequestURI string
	}
	r := hr.call(post, "/v1/credentials/challenges", map[string]string{"purpose": purpose}, http.StatusCreated)
	ch.Nonce, ch.Audience, ch.RequestURI = r.field("nonce"), r.field("audience"), r.field("request_uri")
	if ch.Audience != "did:eidgate:dept:"+hrBureau {
		t.Errorf("ch.Audience = %v, want \"did:eidgate:dept:\"+hrBureau; challenge = %+v", ch.Audience, ch)
	} else if !strings.Contains(ch.RequestURI, "/portal/present?") {
		t.Errorf("strings.Contains(ch.RequestURI, \"/portal/present?\") is false; challenge = %+v", ch)
	}
	alice := w.signIn("/v1/me/login", map[string]any{"document": w.aliceDoc, "password": "a long passphrase"})
	var wallet struct {
		Credentials []credential.WalletEntry `json:"credentials"`
	}
	alice.call(get, "/v1/me/credentials", nil, http.StatusOK).decode(&wallet)
	if len(wallet.Credentials) != 1 {
		t.Fatalf("len(wallet.Credentials) = %v, want 1; wallet = %+v", len(wallet.Credentials), wallet.Credentials)
	}
	if wallet.Credentials[0].Status != credential.WalletValid {
		t.Fatalf("wallet.Credentials[0].Status = %v, want credential.WalletValid; wallet = %+v", wallet.Credentials[0].Status, wallet.Credentials)
	}
	if wallet.Credentials[0].IssuerNameEN != "Education Bureau" {
		t.Fatalf("wallet.Credentials[0].IssuerNameEN = %q, want \"Education Bureau\"; wallet = %+v", wallet.Credentials[0].IssuerNameEN, wallet.Credentials)
	}
	one := alice.call(get, "/v1/me/credentials/"+issued.ID, nil, http.StatusOK)
	if one.field("token") != issued.Token {
		t.Error("the wallet's token is not the issued credential")
	}
	pres := alice.call(post, "/v1/me/credentials/"+issued.ID+"/present", map[string]any{"disclose": []string{"degree"},
		"nonce": ch.Nonce, "audience": ch.Audience}, http.StatusOK).field("presentation")

	var res credential.Result
	hr.call(post, "/v1/credentials/verify", map[string]string{"presentation": pres, "nonce": ch.Nonce}, http.StatusOK).decode(&res)
	if !res.Valid {
		t.Errorf("res.Valid is false; presentation result = %+v", res)
	} else if len(res.Disclosed) != 1 {
		t.Errorf("len(res.Disclosed) = %v, want 1; presentation result = %+v", len(res.Disclosed), res)
	} else if res.Disclosed[0] != "degree" {
		t.Errorf("res.Disclosed[0] = %q, want \"degree\"; presentation result = %+v", res.Disclosed[0], res)
	} else if res.Subject != w.alice {
		t.Errorf("res.Subject = %v, want w.alice; presentation result = %+v", res.Subject, res)
	}
	anon.call(post, "/v1/verify/public", map[string]string{"presentation": pres}, http.StatusOK).decode(&res)
	if !res.Valid {
		t.Errorf("res.Valid is false; public result = %+v", res)
	} else if res.Audience != ch.Audience {
		t.Errorf("res.Audience = %v, want ch.Audience; public result = %+v", res.Audience, res)
	}
	hr.call(post, "/v1/credentials/verify", map[string]string{"credential": issued.Token}, http.StatusOK).decode(&res)
	if !res.Valid {
		t.Errorf("res.Valid is false; credential result = %+v", res)
	} else if res.Kind != "credential" {
		t.Errorf("res.Kind = %q, want \"credential\"; credential result = %+v", res.Kind, res)
	}

	// A yes/no question under a consent to that question only.
	grant(w, w.alice, model.QuestionScope("edu.degree", "graduated_by_2020"))
	var ans credential.Answered
	hr.call(post, "/v1/credentials/ask", map[string]any{"subject": map[string]string{"eid": w.alice}, "data_type": "edu.degree",
		"predicate": "graduated_by_2020", "purpose": purpose}, http.StatusOK).decode(&ans)
	if !ans.Answer {
		t.Errorf("ans.Answer is false; answer = %+v", ans)
	} else if ans.Result == nil {
		t.Errorf("ans.Result is nil; answer = %+v", ans)
	} else if !ans.Result.Valid {
		t.Errorf("ans.Result.Valid is false; answer = %+v", ans)
	} else if strings.Contains(ans.Token, "Peking") {
		t.Errorf("strings.Contains(ans.Token, \"Peking\") is true; answer = %+v", ans)
	}

	for _, step := range []struct{ action, field string }{{"suspend", "suspended"}, {"reinstate", "suspended"}, {"revoke", "revoked"}} {
		var st map[string]any
		edu.call(post, "/v1/credentials/"+issued.ID+"/"+step.action, map[string]string{"reason": "registry correction"}, http.StatusOK).decode(&st)
		if want := step.action != "reinstate"; st[step.field] != want {
			t.Errorf("%s: %s = %v", step.action, step.field, st[step.field])
		}
	}
}
