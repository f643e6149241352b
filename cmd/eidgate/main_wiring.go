package main

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/ticket"
	"github.com/eidgate/eidgate/store"
)

// ChaincodeName is the name of the eidgate chaincode on the channel.
const ChaincodeName = "eidgate"

// Main is the whole program wired together: the ledger (embedded devnet or
// a Fabric network), the database, the cache, the policy engine, the keys,
// the routing services, the event listener, the anchorer and the HTTP
// server. Tests build the same Main on a random port and a temp dir.
type Main struct {
	Config Config
	// Logger receives the JSON logs (default: stderr at Config.LogLevel).
	Logger *slog.Logger
	// Clock is the time source of every service (default: the wall clock).
	Clock routing.Clock

	peer     *devnet.Peer
	agent    *ledger.Client
	admin    *ledger.Client
	db       *store.DB
	redis    *cache.Redis
	cache    routing.Cache
	policy   *policies.Engine
	blinding *mapping.Keyring
	sealing  *mapping.SealingKey
	mapping  *mapping.Service
	importer *mapping.Importer
	tickets  *ticket.Keyring
	replay   provider.ReplayCache

	residents *accounts.Residents
	admins    *accounts.Admins
	apiKeys   *accounts.APIKeys
	sessions  *accounts.Sessions
	passkeys  *accounts.Passkeys
	approvals *approval.Service

	dir       *routing.Directory
	registry  *routing.Registry
	routes    *routing.Routes
	access    *routing.AccessRecords
	signIn    *accounts.SignIn
	accessLog *routing.AccessLog
	anchorer  *routing.Anchorer
	resolver  *routing.Resolver
	consents  *routing.ConsentService
	rules     *routing.RuleService
	disputes  *audit.Disputes
	reps      *routing.Representations
	listener  *ledger.Listener
	provider  *demo.Provider

	// The officials' audit trail, the anchorer of its stream, and the
	// administrative services wrapped so that each act is recorded.
	trail         *audit.Trail
	auditAnchorer *routing.Anchorer
	audited       auditedServices

	credentials *credential.Service
	questions   *credential.Questions
	issuerKeys  credential.IssuerKeys
	gateway     *gateway.Server
	demo        *demo.Info

	ln     net.Listener
	server *http.Server
	url    string

	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	served   chan error
	closers  []func() error
}

// NewMain returns a Main for cfg; call Open to start it.
func NewMain(cfg Config) *Main { return &Main{Config: cfg} }

// URL is the base URL the gateway answers on.
func (m *Main) URL() string { return m.url }

// Demo is what --demo loaded (nil without --demo).
func (m *Main) Demo() *demo.Info { return m.demo }

func (m *Main) logger() *slog.Logger { return m.Logger }

func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// step is one part of opening a Main.
type step struct {
	name string
	run  func(context.Context) error
}

// open prepares the Main and runs steps in order; on error whatever was
// started is stopped again.
func (m *Main) open(ctx context.Context, steps []step) (err error) {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if m.Clock == nil {
		m.Clock = routing.SystemClock{}
	}
	if m.Logger == nil {
		m.Logger = newLogger(os.Stderr, m.Config.LogLevel, m.Config.LogFormat)
	}
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// Open validates the configuration and starts every part. On error,
// whatever was started is stopped again.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.Config.Demo {
		if err := m.checkDemoSite(); err != nil {
			return err
		}
	}
	err = m.open(ctx, []step{
		// Listen first: the demo endpoints need the address.
		{"listen", func(context.Context) error { return m.listen() }},
		{"ledger", m.openLedger},
		{"database", m.openStore},
		{"cache", m.openCache},
		{"policy", m.openPolicy},
		{"keys", m.openKeys},
		{"services", m.openServices},
		{"credentials", m.openCredentials},
		{"http", m.openHTTP},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if m.Config.Demo {
		info, err := m.loadDemo(ctx)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		m.demo = info
	}
	m.startBackground()
	return nil
}

// loadDemo loads the demo consortium through the gateway's own services.
func (m *Main) loadDemo(ctx context.Context) (*demo.Info, error) {
	l, err := demo.NewLoader(demo.LoaderConfig{
		DataDir: m.Config.DataDir, URL: m.url, Ledger: m.agent, Registry: m.registry, Routes: m.routes,
		Policy: m.policy, Mapping: m.mapping, Residents: m.residents, Admins: m.admins, APIKeys: m.apiKeys,
		Credentials: m.credentials, Provider: m.provider,
		Database: m.databaseName(), LedgerKind: m.Config.Ledger,
	})
	if err != nil {
		return nil, err
	}
	return l.Load(ctx)
}

// databaseName describes the configured database for demo.json and
// messages: the PostgreSQL URL without its user, password and parameters,
// or the SQLite file in the data dir.
func (m *Main) databaseName() string {
	if m.Config.DB == "" {
		return "SQLite in the data dir"
	}
	u, err := url.Parse(m.Config.DB)
	if err != nil || u.Host == "" {
		return "PostgreSQL"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// checkDemoSite refuses serve --demo on a data dir whose demo was loaded
// on another database or ledger: started there, the demo's accounts and
// keys would not exist, and the credentials demo.json names would fail.
func (m *Main) checkDemoSite() error {
	info, err := demo.ReadInfo(m.Config.DataDir)
	if err != nil || info.Database == "" {
		return nil // a fresh data dir, or a demo.json from before it was recorded
	}
	db, ledgerKind := m.databaseName(), m.Config.Ledger
	if info.Database == db && (info.Ledger == "" || info.Ledger == ledgerKind) {
		return nil
	}
	hint := "pass --db with that database"
	if info.Database == "SQLite in the data dir" {
		hint = "leave out --db"
	}
	if info.Ledger != "" && info.Ledger != ledgerKind {
		hint += " and --ledger " + info.Ledger
	}
	return &exitError{code: exitUsage, err: &routing.Error{Kind: routing.KindInvalid, Code: "demo_elsewhere", Op: "eidgate.Open",
		Message: fmt.Sprintf("the demo in %s was loaded on %s (ledger %s), not on %s (ledger %s): its accounts and keys are there; %s, or give another --data-dir for a new demo",
			filepath.Join(m.Config.DataDir, demo.InfoFile), info.Database, cmp.Or(info.Ledger, "devnet"), db, ledgerKind, hint)}}
}

func (m *Main) listen() error {
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Listen, err)
	}
	m.ln = ln
	scheme := "http"
	if m.Config.TLSCert != "" {
		scheme = "https"
	}
	m.url = scheme + "://" + ln.Addr().String()
	return nil
}

// replica names this process for the listener checkpoint and the
// anchoring lease.
func (m *Main) replica() string {
	if m.Config.Replica != "" {
		return m.Config.Replica
	}
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid())
}

// --- ledger ---

func (m *Main) openLedger(ctx context.Context) error {
	if m.Config.Ledger == "fabric" {
		return m.openFabric(ctx)
	}
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		return err
	}
	orgs := make([]devnet.OrgConfig, len(demo.Departments))
	for i, d := range demo.Departments {
		orgs[i] = devnet.OrgConfig{ID: d.ID, MSPID: d.MSPID}
	}
	p, err := devnet.Open(ctx, devnet.Config{
		DataDir:    m.ledgerDir(),
		Listen:     m.Config.DevnetListen,
		Chaincodes: map[string]shim.Chaincode{ChaincodeName: cc},
		Orgs:       orgs,
		Logger:     m.logger().With("component", "devnet"),
	})
	if err != nil {
		return err
	}
	m.peer = p
	m.onClose(p.Close)
	for _, who := range []struct {
		name string
		dst  **ledger.Client
	}{{devnet.AgentName, &m.agent}, {devnet.AdminName, &m.admin}} {
		prof, err := p.Profile(devnet.PlatformOrg, who.name)
		if err != nil {
			return err
		}
		c, err := ledger.NewWithConnection(ctx, prof, p.InProcessConn())
		if err != nil {
			return err
		}
		*who.dst = c
		m.onClose(c.Close)
		// The profile on disk lets operators and tools (eidgate import,
		// verify) reach the embedded peer over TLS while the gateway runs.
		if _, err := p.WriteProfile(devnet.PlatformOrg, who.name); err != nil {
			return err
		}
	}
	return nil
}

func (m *Main) openFabric(ctx context.Context) (err error) {
	if m.agent, err = m.dialProfile(ctx, m.Config.FabricProfile, "--fabric-profile", 0); err != nil {
		return err
	}
	if m.Config.FabricAdminProfile == "" {
		// Registry changes are refused with a sentence naming the setting
		// (adminLedger), instead of the chaincode's FORBIDDEN for the agent.
		m.logger().Warn("no admin identity: registering and changing departments and data types is refused; set --fabric-admin-profile (EIDGATE_FABRIC_ADMIN_PROFILE)")
		return nil
	}
	m.admin, err = m.dialProfile(ctx, m.Config.FabricAdminProfile, "--fabric-admin-profile", 0)
	return err
}

// adminLedger makes the registry changes (departments, data types) with
// the gateway's admin identity, or refuses them, naming the setting, when
// the gateway runs on a Fabric network without one.
func (m *Main) adminLedger() routing.RegistryWriter {
	if m.admin == nil {
		return noAdminIdentity{}
	}
	return m.admin
}

// CodeAdminIdentityMissing is the error code of a registry change asked of
// a gateway started without its admin identity.
const CodeAdminIdentityMissing = "admin_identity_missing"

// noAdminIdentity refuses every registry change.
type noAdminIdentity struct{}

func (noAdminIdentity) refuse(op string) error {
	return &routing.Error{
		Kind: routing.KindUnavailable, Code: CodeAdminIdentityMissing, Op: op,
		Message: "registering or changing departments and data types needs the gateway's admin identity on the ledger: " +
			"start the gateway with --fabric-admin-profile FILE (environment EIDGATE_FABRIC_ADMIN_PROFILE, configuration key fabric_admin_profile), " +
			"a connection profile of an identity with eidgate.role=admin (docs/operations.md, section 8)",
	}
}

func (n noAdminIdentity) RegisterDepartment(context.Context, model.Department) (*model.Department, error) {
	return nil, n.refuse("ledger.RegisterDepartment")
}

func (n noAdminIdentity) UpdateDepartment(context.Context, model.Department) (*model.Department, error) {
	return nil, n.refuse("ledger.UpdateDepartment")
}

func (n noAdminIdentity) SetDepartmentStatus(context.Context, string, string, string) (*model.Department, error) {
	return nil, n.refuse("ledger.SetDepartmentStatus")
}

func (n noAdminIdentity) RegisterDataType(context.Context, model.DataType) (*model.DataType, error) {
	return nil, n.refuse("ledger.RegisterDataType")
}

func (n noAdminIdentity) UpdateDataType(context.Context, model.DataType) (*model.DataType, error) {
	return nil, n.refuse("ledger.UpdateDataType")
}

func (n noAdminIdentity) RevokeSigningKey(context.Context, string, string, string) (*model.Department, error) {
	return nil, n.refuse("ledger.RevokeSigningKey")
}

// dialProfile connects with the connection profile at path (dialTimeout
// overrides the profile's when set); what names the source in errors.
func (m *Main) dialProfile(ctx context.Context, path, what string, dialTimeout time.Duration) (*ledger.Client, error) {
	prof, err := ledger.LoadProfile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if dialTimeout > 0 {
		prof.Timeouts.Dial = dialTimeout
	}
	c, err := ledger.Dial(ctx, prof)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	m.onClose(c.Close)
	return c, nil
}

// --- database, cache, policy, keys ---

func (m *Main) openStore(ctx context.Context) error {
	db, err := store.Open(ctx, store.Config{DSN: m.Config.dbTarget()})
	if err != nil {
		return err
	}
	m.db = db
	m.onClose(db.Close)
	return nil
}

// accessLogCommittersPostgres is how many access-log transactions are in
// flight at once on PostgreSQL.
const accessLogCommittersPostgres = 4

func (m *Main) openCache(ctx context.Context) error {
	if m.Config.Redis == "" {
		mem, err := cache.NewMemory(cache.MemoryConfig{Clock: m.Clock})
		m.cache = mem
		return err
	}
	r, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: m.Config.Redis, Clock: m.Clock})
	if err != nil {
		return err
	}
	m.redis = r
	m.onClose(r.Close)
	// Each replica keeps what it read in process, so a cache hit on the
	// resolve path costs no round trip; Redis is shared behind it and
	// carries the invalidations between replicas.
	near, err := cache.NewNear(cache.NearConfig{Shared: r, Logger: m.logger().With("component", "cache")})
	if err != nil {
		return err
	}
	m.cache = near
	m.onClose(near.Close)
	return nil
}

func (m *Main) openPolicy(ctx context.Context) error {
	e, err := policies.New(ctx, policies.Config{
		DB: m.db.Gorm(), RedisURL: m.Config.Redis, Clock: m.Clock, Logger: m.logger().With("component", "policy"),
	})
	if err != nil {
		return err
	}
	m.policy = e
	m.onClose(e.Close)
	return nil
}

// keyDir holds the gateway's secret keys (0700).
func (m *Main) keyDir() string { return filepath.Join(m.Config.DataDir, "keys") }

func (m *Main) openKeys(context.Context) error {
	if err := os.MkdirAll(m.keyDir(), 0o700); err != nil {
		return err
	}
	path, shared := m.Config.keyPath(blindingKeysFile)
	env := string(m.Config.BlindingKeys)
	kr, err := mapping.LoadKeyring(env, path)
	if errors.Is(err, os.ErrNotExist) && env == "" && !shared {
		kr, err = mapping.GenerateKeyFile(path)
	}
	if err != nil {
		return fmt.Errorf("blinding keys: %w", err)
	}
	m.blinding = kr
	sealPath, shared := m.Config.keyPath(sealingKeyFile)
	senv := string(m.Config.SealingKey)
	sk, err := mapping.LoadSealingKey(senv, sealPath)
	if errors.Is(err, os.ErrNotExist) && senv == "" && !shared {
		sk, err = mapping.GenerateSealingKeyFile(sealPath)
	}
	if err != nil {
		return fmt.Errorf("sealing key: %w", err)
	}
	m.sealing = sk
	// A configured ticket key file exists (Config.Validate); only the data
	// dir's is created here.
	ticketPath, _ := m.Config.keyPath(ticket.KeyFileName)
	tk, err := ticket.OpenKeyring(ticketPath, m.Clock)
	if err != nil {
		return fmt.Errorf("ticket keys: %w", err)
	}
	m.tickets = tk
	return nil
}

// issuer names the gateway in tickets; providers check it.
func (m *Main) issuer() string { return "eidgate" }

// --- services ---

func (m *Main) openServices(ctx context.Context) (err error) {
	// A ticket's single use is written with its access record; Redis, when
	// configured, only answers replays faster.
	var front *cache.RedisReplay
	if m.redis != nil {
		front = m.redis.ReplayCache()
	}
	m.replay = cache.NewDurableReplay(m.db, front, m.Clock)
	pseudonymKey, err := m.secretKey(pseudonymKeyFile)
	if err != nil {
		return fmt.Errorf("pseudonym key: %w", err)
	}
	// The listener keeps every replica's cache in step with the ledger; while
	// it is disconnected the directory reads through to the ledger.
	m.listener = ledger.NewListener(m.agent, "cache/"+m.replica(), m.db.Checkpoints(), m.applyEvent)
	if m.redis == nil {
		// The in-process cache is empty and nothing has filled it yet: the
		// chain's past events concern nothing in it. Without this, a replica
		// under a new name (the default names one per process) would replay
		// the whole chain before it is ready.
		height, err := m.agent.BlockHeight(ctx)
		if err != nil {
			return fmt.Errorf("ledger height: %w", err)
		}
		m.listener.SkipHistoryBefore(height)
	}
	if m.dir, err = routing.NewDirectory(routing.DirectoryConfig{
		Registry: m.agent, EIDs: m.agent, Routes: m.agent, Consents: m.agent, Passkeys: m.agent, Cache: m.cache, Clock: m.Clock,
		Logger: m.logger().With("component", "directory"), Trust: func() bool { return m.listener.Status().Connected },
	}); err != nil {
		return err
	}
	if m.registry, err = routing.NewRegistry(routing.RegistryConfig{
		Ledger: m.adminLedger(), Dir: m.dir, Logger: m.logger().With("component", "registry"),
	}); err != nil {
		return err
	}
	if m.routes, err = routing.NewRoutes(routing.RoutesConfig{
		Ledger: m.agent, Dir: m.dir, Logger: m.logger().With("component", "routes"),
	}); err != nil {
		return err
	}
	if err := m.openAccounts(); err != nil {
		return err
	}
	logCfg := routing.AccessLogConfig{Store: m.db, Clock: m.Clock}
	if m.db.Dialect() == store.DialectPostgres {
		// PostgreSQL commits side by side and flushes concurrent commits
		// together; SQLite takes one writer at a time anyway.
		logCfg.Committers = accessLogCommittersPostgres
	}
	if m.accessLog, err = routing.NewAccessLog(logCfg); err != nil {
		return err
	}
	m.onClose(func() error { m.accessLog.Close(); return nil })
	if m.anchorer, err = routing.NewAnchorer(routing.AnchorerConfig{
		Store: m.db, Ledger: m.agent, Clock: m.Clock, Holder: m.replica(),
		LagBound: m.Config.AnchorLagBound, Logger: m.logger().With("component", "anchorer"),
	}); err != nil {
		return err
	}
	if m.access, err = routing.NewAccessRecords(routing.AccessRecordsConfig{Store: m.db, Anchorer: m.anchorer, Clock: m.Clock}); err != nil {
		return err
	}
	issuer, err := ticket.NewIssuer(ticket.IssuerConfig{Keys: m.tickets, Issuer: m.issuer(), Clock: m.Clock})
	if err != nil {
		return err
	}
	if m.mapping, err = mapping.NewService(mapping.Config{
		Ledger: m.agent, Documents: m.db, Activations: m.residents, Cache: m.cache,
		Keys: m.blinding, Sealing: m.sealing, Clock: m.Clock, Logger: m.logger().With("component", "mapping"),
	}); err != nil {
		return err
	}
	// Replicas count failed sign-ins per document together: the key of
	// those counts comes from the page key, which they share.
	pageKey, err := m.secretKey(pageKeyFile)
	if err != nil {
		return fmt.Errorf("page key: %w", err)
	}
	nameKey := hmac.New(sha256.New, pageKey)
	nameKey.Write([]byte("eidgate sign-in names"))
	if m.signIn, err = accounts.NewSignIn(accounts.SignInConfig{
		Residents: m.residents, Admins: m.admins, Sessions: m.sessions, Documents: m.mapping, Passkeys: m.passkeys,
		NameKey: nameKey.Sum(nil),
	}); err != nil {
		return err
	}
	if m.importer, err = mapping.NewImporter(mapping.ImporterConfig{
		Service: m.mapping, Jobs: m.db, SpoolDir: filepath.Join(m.Config.DataDir, "imports"),
	}); err != nil {
		return err
	}
	m.onClose(m.importer.Close)
	if m.consents, err = routing.NewConsentService(routing.ConsentConfig{
		Ledger: m.agent, Dir: m.dir, Policy: m.policy, Clock: m.Clock, Logger: m.logger().With("component", "consent"),
		CoolOff: m.coolOff(),
	}); err != nil {
		return err
	}
	if m.rules, err = routing.NewRuleService(routing.RuleConfig{
		Ledger: m.agent, Dir: m.dir, Policy: m.policy, Clock: m.Clock, Logger: m.logger().With("component", "rules"),
	}); err != nil {
		return err
	}
	if m.reps, err = routing.NewRepresentations(m.agent, m.consents, m.Clock); err != nil {
		return err
	}
	if m.approvals, err = approval.New(approval.Config{
		Signer: m.passkeys, Consents: m.consents, Ledger: m.agent, Rules: m.rules, Representations: m.reps, Clock: m.Clock,
		Channel: m.agent.Network().Name(), Chaincode: m.agent.ChaincodeName(),
	}); err != nil {
		return err
	}
	m.resolver, err = routing.NewResolver(routing.ResolverConfig{
		Dir: m.dir, Mapper: m.mapping, Policy: m.policy, Consents: m.agent, Rules: m.agent, AccessLog: m.accessLog,
		Gate: m.anchorer, Tickets: issuer.ForResolver(), Clock: m.Clock, PseudonymKey: pseudonymKey,
		Logger: m.logger().With("component", "resolver"), ConsentCoolOff: m.coolOff(),
	})
	if err != nil {
		return err
	}
	return m.openAudit(pseudonymKey)
}

// auditedServices are the administrative services as the gateway and the
// commands use them: each act recorded in the audit trail.
type auditedServices struct {
	identities *audit.Identities
	registry   *audit.Registry
	apiKeys    *audit.APIKeys
	admins     *audit.Admins
	policies   *audit.Policies
	importer   *audit.Importer
	relations  *audit.Relations
}

// openAudit builds the audit trail, the anchorer of its stream and the
// audited services.
func (m *Main) openAudit(pseudonymKey []byte) (err error) {
	if m.auditAnchorer, err = routing.NewAnchorer(routing.AnchorerConfig{
		Store: m.db.AuditAnchors(), Ledger: m.agent, Clock: m.Clock, Holder: m.replica(), Stream: routing.StreamAudit,
		LagBound: m.Config.AnchorLagBound, Logger: m.logger().With("component", "anchorer", "stream", routing.StreamAudit),
	}); err != nil {
		return err
	}
	if m.trail, err = audit.New(audit.Config{
		Store: m.db, Prover: m.auditAnchorer, PseudonymKey: pseudonymKey, Clock: m.Clock,
		Logger: m.logger().With("component", "audit"),
	}); err != nil {
		return err
	}
	m.audited = auditedServices{
		identities: audit.NewIdentities(m.mapping, m.trail), registry: audit.NewRegistry(m.registry, m.trail),
		apiKeys: audit.NewAPIKeys(m.apiKeys, m.trail), admins: audit.NewAdmins(m.admins, m.trail),
		policies: audit.NewPolicies(m.policy, m.trail), importer: audit.NewImporter(m.importer, m.trail),
	}
	relations, err := mapping.NewRepresentations(m.mapping, m.agent)
	if err != nil {
		return err
	}
	m.audited.relations = audit.NewRelations(relations, m.trail)
	audit.RegisterCheckers(m.trail, m.audited.identities, m.audited.registry, m.audited.apiKeys, m.audited.policies)
	fourEyes, err := audit.ParseFourEyes(m.Config.FourEyes)
	if err != nil {
		return err
	}
	m.trail.SetFourEyes(audit.FourEyes{Store: m.db, Acts: fourEyes})
	disputes, err := routing.NewDisputeService(routing.DisputeConfig{Ledger: m.agent, Store: m.db, Access: m.db, PseudonymKey: pseudonymKey, Clock: m.Clock})
	if err != nil {
		return err
	}
	m.disputes = audit.NewDisputes(disputes, m.trail)
	return nil
}

// coolOff is the configured consent cool-off as the routing services take
// it: the flag's 0 turns it off.
func (m *Main) coolOff() time.Duration {
	if m.Config.ConsentCoolOff == 0 {
		return -1
	}
	return m.Config.ConsentCoolOff
}

// openAccounts builds the account services over the database.
func (m *Main) openAccounts() (err error) {
	acfg := accounts.Config{Store: m.db, Departments: m.registry, Clock: m.Clock, Logger: m.logger().With("component", "accounts"),
		RequireStaffPasskeys: m.Config.RequireStaffPasskeys}
	if m.sessions, err = accounts.NewSessions(acfg); err != nil {
		return err
	}
	acfg.Sessions = m.sessions
	rpID, origins := m.relyingParty()
	if host, _, _ := net.SplitHostPort(m.Config.Listen); m.Config.WebAuthnRPID == "" && m.ln != nil && host != "localhost" && !net.ParseIP(host).IsLoopback() {
		m.logger().Warn("passkeys are bound to localhost until --webauthn-rp-id and --webauthn-origins name the portal's host")
	}
	if m.passkeys, err = accounts.NewPasskeys(accounts.PasskeysConfig{
		Store: m.db, Ledger: m.agent, Sessions: m.sessions, Clock: m.Clock,
		Logger: m.logger().With("component", "passkeys"), RPID: rpID, RPName: "eidgate", Origins: origins,
	}); err != nil {
		return fmt.Errorf("passkeys: %s", routing.MessageOf(err))
	}
	acfg.Passkeys = m.passkeys
	if m.residents, err = accounts.NewResidents(acfg); err != nil {
		return err
	}
	if m.admins, err = accounts.NewAdmins(acfg); err != nil {
		return err
	}
	m.apiKeys, err = accounts.NewAPIKeys(acfg)
	return err
}

// relyingParty is the passkeys' RP ID and origins: as configured, or
// localhost at the listen port (what a browser on this machine uses).
func (m *Main) relyingParty() (string, []string) {
	if m.Config.WebAuthnRPID != "" {
		return m.Config.WebAuthnRPID, m.Config.webAuthnOrigins()
	}
	addr := m.Config.Listen // tools do not listen: the configured address
	if m.ln != nil {
		addr = m.ln.Addr().String()
	}
	_, port, _ := net.SplitHostPort(addr)
	scheme := "http"
	if m.Config.TLSCert != "" {
		scheme = "https"
	}
	return "localhost", []string{scheme + "://localhost:" + port}
}

// pagesURL is where the portal and console are opened so that passkeys
// work: the first WebAuthn origin.
func (m *Main) pagesURL() string {
	_, origins := m.relyingParty()
	return origins[0]
}

// applyEvent drops the cache entries a committed transaction changed.
func (m *Main) applyEvent(ctx context.Context, ev ledger.Event) error {
	var cs model.ChangeSet
	if err := json.Unmarshal(ev.Payload, &cs); err != nil {
		// An event this version does not understand changes nothing it caches.
		m.logger().Warn("unreadable chaincode event", "name", ev.Name, "block", ev.BlockNumber)
		return nil
	}
	if err := m.dir.Invalidate(ctx, cs); err != nil {
		m.logger().Warn("cache invalidation failed; entries expire by TTL", "block", ev.BlockNumber, "err", err)
	}
	m.invalidateCredentials(ctx, cs)
	return nil
}

// --- HTTP ---

func (m *Main) openHTTP(ctx context.Context) error {
	cas, err := m.departmentCAs()
	if err != nil {
		return err
	}
	verifier, err := routing.NewVerifier(routing.VerifierConfig{Routes: m.agent, Registry: m.agent})
	if err != nil {
		return err
	}
	proxy, err := routing.NewProxy(routing.ProxyConfig{Store: m.db})
	if err != nil {
		return err
	}
	introspector, err := ticket.NewIntrospector(ticket.IntrospectorConfig{Keys: m.tickets, Issuer: m.issuer(), Replay: m.replay, Clock: m.Clock})
	if err != nil {
		return err
	}
	rl, err := m.rateLimiter()
	if err != nil {
		return err
	}
	prov, err := demo.NewProvider(demo.ProviderConfig{Keys: m.tickets, Issuer: m.issuer(), Replay: m.replay})
	if err != nil {
		return err
	}
	m.provider = prov
	// The sample provider answers yes/no questions with the departments'
	// keys the gateway holds (the demo's key directory).
	prov.SetAnswering(&demo.Answering{Ledger: m.agent, Keys: m.issuerKeys, Clock: m.Clock})
	pageKey, err := m.secretKey(pageKeyFile)
	if err != nil {
		return fmt.Errorf("page key: %w", err)
	}
	var zone *time.Location
	if m.Config.TimeZone != "" {
		if zone, err = time.LoadLocation(m.Config.TimeZone); err != nil {
			return fmt.Errorf("--time-zone: %w", err)
		}
	}
	reg := prometheus.NewRegistry()
	registerAccessLogMetrics(reg, m.accessLog)
	if m.gateway, err = gateway.New(gateway.Config{
		Deps: gateway.Deps{
			Resolver: m.resolver, Proxy: proxy, Consents: m.consents, Rules: m.rules, Disputes: m.disputes, Verifier: verifier,
			Routes: m.routes, Registry: m.audited.registry, DIDs: m.dir, Access: audit.NewAccess(m.access, m.trail), Anchoring: m.anchorer,
			Identities: m.audited.identities, Importer: m.audited.importer, SignIn: m.signIn, Residents: m.residents,
			Admins: m.audited.admins, APIKeys: m.audited.apiKeys, Sessions: m.sessions, Policies: m.audited.policies,
			Tickets: introspector, Audit: m.trail, AuditAnchoring: m.auditAnchorer,
			Passkeys: m.passkeys, Approvals: m.approvals, Limiter: rl,
			Relations: m.audited.relations, Guardianship: m.reps,
			Ready: m.ready, Credentials: m.credentials, Questions: m.questions,
		},
		Logger: m.logger().With("component", "http"), DepartmentCAs: cas,
		InsecureCookies: m.Config.InsecureCookies, TrustedProxies: m.Config.trustedProxies(), BodyTimeout: m.Config.BodyTimeout, InFlightPerClient: m.Config.InFlightPerClient, Registry: reg, OpenAPI: gateway.OpenAPISpec(),
		PageKey: pageKey, TimeZone: zone, RequireStaffPasskeys: m.Config.RequireStaffPasskeys,
	}); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(demo.ProviderPath, prov)
	mux.Handle("/", m.gateway.Handler())
	m.server = &http.Server{
		Handler: mux,
		// Every body has its own short deadline but bulk import uploads
		// (gateway.DefaultBodyTimeout, DefaultUploadTimeout); this bounds
		// the rest (the demo provider).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       gateway.DefaultUploadTimeout,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.logger().Handler(), slog.LevelWarn),
	}
	if m.Config.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(m.Config.TLSCert, m.Config.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		// Client certificates are requested, not verified here: the gateway
		// verifies each against its department organisation's CA.
		m.server.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			ClientAuth: tls.RequestClientCert,
		}
	}
	m.served = make(chan error, 1)
	perClient := m.Config.ConnsPerClient
	if perClient == 0 {
		perClient = gateway.DefaultConnsPerClient
	}
	ln := gateway.LimitListener(m.ln, perClient, m.Config.trustedProxies())
	go func() {
		var err error
		if m.server.TLSConfig != nil {
			err = m.server.ServeTLS(ln, "", "")
		} else {
			err = m.server.Serve(ln)
		}
		m.served <- err
	}()
	return nil
}

// rateLimiter limits each department's requests: across replicas through
// Redis when there is one, by this replica alone when Redis fails or is
// not configured; nil when --rate-limit is 0.
func (m *Main) rateLimiter() (gateway.RateLimiter, error) {
	if m.Config.RateLimit == 0 {
		return nil, nil
	}
	local, err := cache.NewMemoryLimiter(cache.MemoryLimiterConfig{Clock: m.Clock})
	if err != nil {
		return nil, err
	}
	cfg := cache.KeyedLimiterConfig{Local: local, Default: cache.Rate{PerSecond: m.Config.RateLimit, Burst: m.Config.RateBurst}}
	if m.redis != nil {
		cfg.Shared = m.redis.Limiter()
	}
	return cache.NewKeyedLimiter(cfg)
}

// departmentCAs are the department organisations' CAs for mTLS: from the
// configuration, and in devnet mode the devnet's own department CAs.
func (m *Main) departmentCAs() (map[string]*x509.CertPool, error) {
	out := map[string]*x509.CertPool{}
	add := func(msp, path string) error {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("department CA %s: %w", msp, err)
		}
		p, ok := out[msp]
		if !ok {
			p = x509.NewCertPool()
			out[msp] = p
		}
		if !p.AppendCertsFromPEM(raw) {
			return fmt.Errorf("department CA %s: %s holds no PEM certificate", msp, path)
		}
		return nil
	}
	for msp, path := range m.Config.DepartmentCA {
		if err := add(msp, path); err != nil {
			return nil, err
		}
	}
	if m.peer != nil {
		for _, d := range demo.Departments {
			id, err := m.peer.Identity(d.ID, devnet.DepartmentSystemName)
			if err != nil {
				return nil, err
			}
			if err := add(d.MSPID, filepath.Join(id.MSPDir, "cacerts", "ca.pem")); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ready reports the readiness checks other than anchoring.
func (m *Main) ready(ctx context.Context) []gateway.Check {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var out []gateway.Check
	db := gateway.Check{Name: "database", OK: true}
	if err := m.db.Ping(ctx); err != nil {
		db.OK, db.Detail = false, routing.MessageOf(err)
	}
	out = append(out, db)
	if m.redis != nil {
		// Configured Redis carries the shared rate limits, the replay
		// front of single use and policy updates: a replica without it
		// answers some calls 503, so it is not ready.
		rc := gateway.Check{Name: "redis", OK: true}
		if err := m.redis.Ping(ctx); err != nil {
			rc.OK, rc.Detail = false, routing.MessageOf(err)
		}
		out = append(out, rc)
	}
	lg := gateway.Check{Name: "ledger", OK: true}
	lag, err := m.listener.EventLag(ctx, m.agent)
	if err != nil {
		lg.OK, lg.Detail = false, routing.MessageOf(err)
	} else {
		lg.Detail = "height " + strconv.FormatUint(lag.Height, 10)
	}
	out = append(out, lg)
	st := m.listener.Status()
	ev := gateway.Check{Name: "events", OK: st.Connected}
	if err == nil {
		// The lag counts blocks holding eidgate events the listener has
		// not applied (ledger.EventLag); blocks of configuration, other
		// chaincodes or invalid transactions never make it grow.
		ev.Detail = "lag " + strconv.FormatUint(lag.Blocks, 10) + " blocks with events"
		if lag.Unread > 0 {
			ev.Detail += ", " + strconv.FormatUint(lag.Unread, 10) + " blocks not read yet"
		}
		// A listener far behind serves stale caches.
		if lag.Blocks > maxEventLag {
			ev.OK = false
		}
	}
	if !st.Connected {
		ev.Detail = "event stream not connected: " + st.LastError
	}
	out = append(out, ev)
	return out
}

// maxEventLag is how many blocks with events the listener may have left
// to apply while the replica counts as ready.
const maxEventLag = 100

// --- background work ---

func (m *Main) startBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	m.bgCancel = cancel
	run := func(name string, f func(context.Context) error) {
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				m.logger().Error("background task stopped", "task", name, "err", err)
			}
		}()
	}
	run("anchorer", m.anchorer.Run)
	run("audit anchorer", m.auditAnchorer.Run)
	run("audit recovery", m.trail.Run)
	run("listener", m.listener.Run)
	run("keys", m.reloadKeys)
}

// keyReloadInterval is how soon a rotated key file reaches a running
// gateway.
const keyReloadInterval = 30 * time.Second

// reloadKeys picks up rotated ticket and blinding keys from their files.
func (m *Main) reloadKeys(ctx context.Context) error {
	t := time.NewTicker(keyReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := m.tickets.Reload(); err != nil {
			m.logger().Warn("ticket key file not reloaded", "err", err)
		}
		if m.Config.BlindingKeys != "" {
			continue
		}
		path, _ := m.Config.keyPath(blindingKeysFile)
		kr, err := mapping.LoadKeyFile(path)
		if err != nil {
			m.logger().Warn("blinding key file not reloaded", "err", err)
			continue
		}
		if cur := m.mapping.Keyring(); !slices.Equal(cur.Versions(), kr.Versions()) || cur.Current() != kr.Current() {
			m.mapping.SetKeyring(kr)
			m.logger().Info("blinding keys reloaded", "current", kr.Current(), "versions", kr.Versions())
		}
	}
}

// Close stops serving and releases every resource Open took, in reverse
// order.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		m.server = nil
	} else if m.ln != nil {
		_ = m.ln.Close()
	}
	if m.bgCancel != nil {
		m.bgCancel()
		m.bg.Wait()
		m.bgCancel = nil
	}
	for i := len(m.closers) - 1; i >= 0; i-- {
		if err := m.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	m.closers = nil
	return errors.Join(errs...)
}

// registerAccessLogMetrics exposes the access log's group commits: records
// per commit is the ratio of the two counters' rates. Each commit has a
// fixed cost (its transaction, its WAL or redo-log write and flush), so few
// records per commit under load means that cost dominates a resolve's.
func registerAccessLogMetrics(reg prometheus.Registerer, l *routing.AccessLog) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "eidgate_access_log_commits_total",
			Help: "Database transactions the access log ran to record accesses (group commits), failed ones included.",
		}, func() float64 { return float64(l.Stats().Transactions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "eidgate_access_log_failed_commits_total",
			Help: "Access log transactions that failed; their callers got 503 and no ticket.",
		}, func() float64 { return float64(l.Stats().Failures) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "eidgate_access_log_records_total",
			Help: "Access records carried by the access log's successful transactions.",
		}, func() float64 { return float64(l.Stats().Records) }),
	)
}
