package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/credentialtest"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/mapping/mappingtest"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/routing/ticket"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// stack is the services behind the gateway in its tests: the real routing
// services (directory, consent service, resolver, access log, anchorer),
// mapping service and importer, account services, policy engine and
// ticket keys, over an in-memory ledger and access log (routingtest) and a
// SQLite store, on one test clock (sessions on the wall clock). The handlers are tested against the
// services' own rules, so a change of those rules shows here.
type stack struct {
	clock     *routingtest.Clock
	ledger    *routingtest.Ledger
	access    *routingtest.Store
	db        *store.DB
	mapping   *mapping.Service
	importer  *mapping.Importer
	residents *accounts.Residents
	admins    *accounts.Admins
	apiKeys   *accounts.APIKeys
	sessions  *accounts.Sessions
	passkeys  *accounts.Passkeys
	registry  *routing.Registry
	policy    *policies.Engine
	tickets   *ticket.Keyring
	anchorer  *routing.Anchorer
	trail     *audit.Trail
	auditAnc  *routing.Anchorer
	codes     *codeBook
	deps      gateway.Deps
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// importBatch is the importer's batch size in these tests, so that a
// small file takes several ledger transactions.
const importBatch = 2

func newStack(t testing.TB, clock *routingtest.Clock) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{clock: clock, ledger: routingtest.NewLedger(clock), access: routingtest.NewStore()}
	s.db = storetest.SQLite(t).OpenWith(t, store.Config{Clock: clock})
	cache := routingtest.NewCache()
	dir := built[*routing.Directory](t)(routing.NewDirectory(routing.DirectoryConfig{Registry: s.ledger, EIDs: s.ledger,
		Routes: s.ledger, Consents: s.ledger, Passkeys: s.ledger, Cache: cache, Clock: clock, Logger: quiet}))
	s.registry = built[*routing.Registry](t)(routing.NewRegistry(routing.RegistryConfig{Ledger: s.ledger, Dir: dir, Logger: quiet}))
	acfg := accounts.Config{Store: s.db, Departments: s.registry, Clock: clock, Hasher: accounts.NewHasher(accounts.TestParams(), 4), Logger: quiet}
	// Sessions live on the wall clock, as the browser's cookie jar does.
	wall := acfg
	wall.Clock = routing.SystemClock{}
	s.sessions = built[*accounts.Sessions](t)(accounts.NewSessions(wall))
	acfg.Sessions = s.sessions
	s.passkeys = built[*accounts.Passkeys](t)(accounts.NewPasskeys(accounts.PasskeysConfig{Store: s.db, Ledger: s.ledger,
		Sessions: s.sessions, Clock: clock, Logger: quiet, RPID: passkeyRPID, Origins: []string{passkeyOrigin}}))
	acfg.Passkeys = s.passkeys
	s.residents = built[*accounts.Residents](t)(accounts.NewResidents(acfg))
	s.admins = built[*accounts.Admins](t)(accounts.NewAdmins(acfg))
	s.apiKeys = built[*accounts.APIKeys](t)(accounts.NewAPIKeys(acfg))
	s.codes = &codeBook{issuer: s.residents, codes: map[string]string{}}

	s.mapping = mappingtest.NewService(t, mapping.Config{Ledger: s.ledger, Documents: s.db, Activations: s.codes,
		Cache: cache, Clock: clock, Logger: quiet})
	s.importer = built[*mapping.Importer](t)(mapping.NewImporter(mapping.ImporterConfig{Service: s.mapping, Jobs: s.db,
		SpoolDir: t.TempDir(), BatchSize: importBatch, Parallel: 1}))
	t.Cleanup(func() { _ = s.importer.Close() })
	s.policy = built[*policies.Engine](t)(policies.New(ctx, policies.Config{DB: s.db.Gorm(), PollInterval: -1, Clock: clock, Logger: quiet}))
	t.Cleanup(func() { _ = s.policy.Close() })
	s.tickets = built[*ticket.Keyring](t)(ticket.OpenKeyring(filepath.Join(t.TempDir(), ticket.KeyFileName), clock))
	issuer := built[*ticket.Issuer](t)(ticket.NewIssuer(ticket.IssuerConfig{Keys: s.tickets, Issuer: gatewayIssuer, Clock: clock}))
	introspector := built[*ticket.Introspector](t)(ticket.NewIntrospector(ticket.IntrospectorConfig{Keys: s.tickets,
		Issuer: gatewayIssuer, Replay: provider.NewMemoryReplayCache(1000, clock.Now), Clock: clock}))

	accessLog := built[*routing.AccessLog](t)(routing.NewAccessLog(routing.AccessLogConfig{Store: s.access, Clock: clock}))
	t.Cleanup(accessLog.Close)
	s.anchorer = built[*routing.Anchorer](t)(routing.NewAnchorer(routing.AnchorerConfig{Store: s.access, Ledger: s.ledger,
		Clock: clock, Holder: "test", Logger: quiet}))
	s.anchorer.Step(ctx)
	consents := built[*routing.ConsentService](t)(routing.NewConsentService(routing.ConsentConfig{Ledger: s.ledger,
		Dir: dir, Policy: s.policy, Clock: clock, Logger: quiet}))
	s.auditAnc = built[*routing.Anchorer](t)(routing.NewAnchorer(routing.AnchorerConfig{Store: s.db.AuditAnchors(),
		Ledger: s.ledger, Clock: clock, Holder: "test", Stream: routing.StreamAudit, Logger: quiet}))
	s.trail = built[*audit.Trail](t)(audit.New(audit.Config{Store: s.db, Prover: s.auditAnc,
		PseudonymKey: []byte("pseudonym key for tests"), Clock: clock, Logger: quiet}))
	auditedIDs, auditedRegistry := audit.NewIdentities(s.mapping, s.trail), audit.NewRegistry(s.registry, s.trail)
	auditedKeys, auditedPolicies := audit.NewAPIKeys(s.apiKeys, s.trail), audit.NewPolicies(s.policy, s.trail)
	audit.RegisterCheckers(s.trail, auditedIDs, auditedRegistry, auditedKeys, auditedPolicies)
	rules := built[*routing.RuleService](t)(routing.NewRuleService(routing.RuleConfig{Ledger: s.ledger, Dir: dir,
		Policy: s.policy, Clock: clock, Logger: quiet}))
	s.deps = gateway.Deps{
		Resolver: built[*routing.Resolver](t)(routing.NewResolver(routing.ResolverConfig{Dir: dir, Mapper: s.mapping,
			Policy: s.policy, Consents: s.ledger, Rules: s.ledger, AccessLog: accessLog, Gate: s.anchorer, Tickets: issuer.ForResolver(),
			Clock: clock, PseudonymKey: []byte("pseudonym key for tests")})),
		Proxy:    built[*routing.Proxy](t)(routing.NewProxy(routing.ProxyConfig{Store: s.access})),
		Consents: consents,
		Rules:    rules,
		Disputes: audit.NewDisputes(built[*routing.DisputeService](t)(routing.NewDisputeService(routing.DisputeConfig{Ledger: s.ledger,
			Store: s.db, Access: s.access, PseudonymKey: []byte("pseudonym key for tests"), Clock: clock})), s.trail),
		Verifier: built[*routing.Verifier](t)(routing.NewVerifier(routing.VerifierConfig{Routes: s.ledger, Registry: s.ledger})),
		Routes:   built[*routing.Routes](t)(routing.NewRoutes(routing.RoutesConfig{Ledger: s.ledger, Dir: dir, Logger: quiet})),
		Registry: auditedRegistry,
		DIDs:     dir,
		Access: audit.NewAccess(built[*routing.AccessRecords](t)(routing.NewAccessRecords(routing.AccessRecordsConfig{Store: s.access,
			Anchorer: s.anchorer, Clock: clock})), s.trail),
		Anchoring:  s.anchorer,
		Identities: auditedIDs,
		Importer:   audit.NewImporter(s.importer, s.trail),
		SignIn: built[*accounts.SignIn](t)(accounts.NewSignIn(accounts.SignInConfig{Residents: s.residents, Admins: s.admins,
			Sessions: s.sessions, Documents: s.mapping, Passkeys: s.passkeys})),
		Residents:      s.residents,
		Admins:         audit.NewAdmins(s.admins, s.trail),
		APIKeys:        audit.NewAPIKeys(s.apiKeys, s.trail),
		Sessions:       s.sessions,
		Policies:       audit.NewPolicies(s.policy, s.trail),
		Audit:          s.trail,
		AuditAnchoring: s.auditAnc,
		Tickets:        introspector,
		Passkeys:       s.passkeys,
		Approvals: built[*approval.Service](t)(approval.New(approval.Config{Signer: s.passkeys, Consents: consents,
			Ledger: s.ledger, Rules: rules, Clock: clock, Channel: "eidgate", Chaincode: "eidgate"})),
	}
	// Credentials over the same ledger and database; the world entrusts a
	// department's key and a provider's answers (withCredentials).
	holders := built[*credential.SealedHolders](t)(credential.NewSealedHolders(s.db, []byte("0123456789abcdef0123456789abcdef")))
	creds := built[*credential.Service](t)(credential.NewService(credential.Config{Ledger: s.ledger, Store: s.db, Access: s.access,
		Keys: credentialtest.NewKeys(), Holders: holders, Answers: noAnswers{}, Cache: cache, Clock: clock, BaseURL: gatewayIssuer}))
	s.deps.Credentials = creds
	s.deps.Questions = built[*credential.Questions](t)(credential.NewQuestions(credential.QuestionsConfig{Authorizer: s.deps.Resolver, Credentials: creds}))
	return s
}

// noAnswers is a provider that answers no yes/no question.
type noAnswers struct{}

func (noAnswers) Answer(context.Context, credential.Question) (string, error) {
	return "", routing.Errorf(routing.KindBadGateway, "provider", "no answers here").WithCode("provider_unavailable")
}

// The relying party of passkeys in these tests.
const (
	passkeyRPID   = "localhost"
	passkeyOrigin = "http://localhost:8080"
)

// gatewayIssuer is the gateway's name in its tickets.
const gatewayIssuer = "https://gateway.example.gov"

// built returns a function that returns its value and fails t on its
// error: built[*routing.X](t)(routing.NewX(cfg)).
func built[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// anchor runs one anchoring round, as the background anchorer would.
func (s *stack) anchor() {
	s.anchorer.Step(context.Background())
	s.auditAnc.Step(context.Background())
}

// activationCode is the one-time code last handed out for eid at the KYC
// counter.
func (s *stack) activationCode(eid string) string { return s.codes.last(eid) }

// activate sets a resident's first password with the code the counter
// handed out.
func (s *stack) activate(t testing.TB, eid, password string) {
	t.Helper()
	if err := s.residents.Activate(context.Background(), eid, s.activationCode(eid), password); err != nil {
		t.Fatalf("activating %s: %v", eid, err)
	}
}

// sessionOpen reports whether a session token still signs its holder in.
func (s *stack) sessionOpen(token string) bool {
	_, err := s.sessions.Lookup(context.Background(), token)
	return err == nil
}

// waitImport waits for a background import to finish and returns it.
func (s *stack) waitImport(t testing.TB, id string) *mapping.ImportJob {
	t.Helper()
	return s.waitImportUntil(t, id, "to finish", func(j *mapping.ImportJob) bool { return j.Status != mapping.ImportRunning })
}

// waitImportUntil waits until the stored import job satisfies ok.
func (s *stack) waitImportUntil(t testing.TB, id, what string, ok func(*mapping.ImportJob) bool) *mapping.ImportJob {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		job, err := s.importer.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(job) {
			return job
		}
	}
	t.Fatalf("import %s did not come %s within a minute", id, what)
	return nil
}

// codeBook is the resident account service as the mapping service's
// activation issuer, remembering the code last issued per eID the way the
// officer at the counter hands it over.
type codeBook struct {
	issuer mapping.ActivationIssuer
	mu     sync.Mutex
	codes  map[string]string
}

func (c *codeBook) CreateActivation(ctx context.Context, eid string) (string, error) {
	code, err := c.issuer.CreateActivation(ctx, eid)
	if err == nil {
		c.mu.Lock()
		c.codes[eid] = code
		c.mu.Unlock()
	}
	return code, err
}

func (c *codeBook) last(eid string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codes[eid]
}

// fakeLimiter refuses every request of the departments it names.
type fakeLimiter struct{ blocked map[string]bool }

func (l fakeLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	if l.blocked[strings.TrimPrefix(key, "dept:")] {
		return false, 1500 * time.Millisecond, nil
	}
	return true, 0, nil
}
