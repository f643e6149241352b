package gateway_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// In-memory stand-ins for the services behind the gateway, shared by the
// API contract tests and the page tests. The ledger, the access store, the
// cache and the clock come from routingtest; the services this package
// declares (mapping, accounts, policies, imports, tickets, rate limits)
// are here. They answer with the shapes and error codes the real adapters
// produce and keep their rules (document check characters, one-time
// activation codes, password strength, consent use limits, anchoring), so
// the handlers are tested against realistic behaviour.

// fakes is one consortium's services, wired with the real routing services
// (directory, consent service, resolver, access log, anchorer) into
// gateway.Deps.
type fakes struct {
	clock    *routingtest.Clock
	ledger   *routingtest.Ledger
	store    *routingtest.Store
	accounts *fakeAccounts
	idents   *fakeIdentities
	policies *fakePolicies
	importer *fakeImporter
	tickets  *fakeTickets
	anchorer *routing.Anchorer
	deps     gateway.Deps
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newFakes(t testing.TB, clock *routingtest.Clock) *fakes {
	t.Helper()
	f := &fakes{clock: clock, ledger: routingtest.NewLedger(clock), store: routingtest.NewStore(), accounts: newFakeAccounts(clock)}
	f.idents = newFakeIdentities(f.ledger, f.accounts, clock)
	f.policies = &fakePolicies{clock: clock}
	f.importer = &fakeImporter{clock: clock, ids: f.idents}
	tickets, err := newFakeTickets(clock, "https://gateway.example.gov")
	if err != nil {
		t.Fatal(err)
	}
	f.tickets = tickets

	dir := &routing.Directory{Registry: f.ledger, EIDs: f.ledger, Routes: f.ledger, Consents: f.ledger,
		Cache: routingtest.NewCache(), Clock: clock, Logger: quiet}
	accessLog := routing.NewAccessLog(f.store, clock, 0)
	t.Cleanup(accessLog.Close)
	f.anchorer = &routing.Anchorer{Store: f.store, Ledger: f.ledger, Clock: clock, Holder: "test", Logger: quiet}
	f.anchorer.Step(context.Background())
	f.deps = gateway.Deps{
		Resolver: &routing.Resolver{Dir: dir, Mapper: f.idents, Policy: f.policies, Consents: f.ledger, Log: accessLog,
			Gate: f.anchorer, Tickets: f.tickets, Clock: clock, PseudonymKey: []byte("pseudonym key for tests")},
		Consents:   &routing.ConsentService{Ledger: f.ledger, Dir: dir, Clock: clock, Logger: quiet},
		Anchorer:   f.anchorer,
		Access:     f.store,
		Dir:        dir,
		Admin:      f.ledger,
		Agent:      f.ledger,
		Identities: f.idents,
		Importer:   f.importer,
		Accounts:   f.accounts,
		Policies:   f.policies,
		Tickets:    f.tickets,
		Clock:      clock,
	}
	return f
}

// anchor runs one anchoring round, as the background anchorer would.
func (f *fakes) anchor() { f.anchorer.Step(context.Background()) }

func notFound(op, what string) error {
	return routing.Errorf(routing.KindNotFound, op, "%s not found", what)
}

func conflict(op, format string, args ...any) error {
	return routing.Errorf(routing.KindConflict, op, format, args...)
}

// --- mapping ---

// parsedDoc is a checked document: its lookup key (type, country and
// normalised number; the real service blinds it with HMAC) and its masked
// number.
type parsedDoc struct {
	typ, country, key, masked string
}

var (
	cnPassportNumber = regexp.MustCompile(`^(E[0-9A-HJ-NP-Z][0-9]{7}|G[0-9]{8})$`)
	passportNumber   = regexp.MustCompile(`^[0-9A-Z]{1,9}$`)
	permitNumber     = regexp.MustCompile(`^[0-9A-Z]{8,18}$`)
)

// parseDocument checks a document as far as the tests need, with the
// mapping service's rejection reasons and masking; field names the
// document in the request.
func parseDocument(op, field string, d gateway.Document) (parsedDoc, error) {
	num := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(d.Number)))
	country := strings.ToUpper(strings.TrimSpace(d.Country))
	reject := func(part, reason, msg string) error {
		return &routing.Error{Kind: routing.KindInvalid, Code: "invalid_document", Op: op, Field: field + "." + part,
			Message: d.Type + ": " + msg, Details: map[string]string{"reason": reason}}
	}
	switch d.Type {
	case "cn-resident", "hkmotw-residence":
		if len(num) != 18 {
			return parsedDoc{}, reject("number", "length", "the number must have 18 characters")
		}
		if !gb11643(num) {
			return parsedDoc{}, reject("number", "checksum", "the check character does not match")
		}
	case "cn-passport":
		if !cnPassportNumber.MatchString(num) {
			return parsedDoc{}, reject("number", "format", "not a passport number")
		}
	case "passport":
		if len(country) != 3 {
			return parsedDoc{}, reject("country", "country", "give the issuing state")
		}
		if !passportNumber.MatchString(num) {
			return parsedDoc{}, reject("number", "format", "not a passport number")
		}
	case "hkmo-permit", "tw-permit", "cn-hkmo-pass", "foreign-permanent":
		if !permitNumber.MatchString(num) {
			return parsedDoc{}, reject("number", "format", "not a permit number")
		}
	default:
		return parsedDoc{}, reject("type", "type", "unknown document type")
	}
	if d.Type != "passport" {
		country = ""
	}
	return parsedDoc{typ: d.Type, country: country, key: d.Type + "|" + country + "|" + num, masked: mapping.Mask(num)}, nil
}

// gb11643 checks the ISO 7064 MOD 11-2 check character of an 18-character
// identity number.
func gb11643(n string) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
		sum += int(n[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11] == n[17]
}

func blind(key string) model.BlindedIndex {
	sum := sha256.Sum256([]byte("v1|" + key))
	return model.BlindedIndex{KeyVersion: "v1", Value: hex.EncodeToString(sum[:])}
}

type heldDocument struct {
	key    string
	masked gateway.MaskedDocument
}

// fakeIdentities is the mapping service over the ledger's eID functions.
// It keeps only the lookup keys of documents, as the real service keeps
// only their blinded indexes.
type fakeIdentities struct {
	mu       sync.Mutex
	ledger   *routingtest.Ledger
	accounts *fakeAccounts
	clock    routing.Clock
	index    map[string]string         // document key → eID
	docs     map[string][]heldDocument // eID → documents
	locals   map[string]string         // department|local account → eID
	refs     int
}

func newFakeIdentities(l *routingtest.Ledger, a *fakeAccounts, clock routing.Clock) *fakeIdentities {
	return &fakeIdentities{ledger: l, accounts: a, clock: clock, index: map[string]string{}, docs: map[string][]heldDocument{}, locals: map[string]string{}}
}

func documentTaken(op, msg string) error {
	return (&routing.Error{Kind: routing.KindConflict, Op: op, Message: msg}).WithCode("document_taken")
}

// hold records a document of eid. Call with f.mu held.
func (f *fakeIdentities) hold(eid string, d parsedDoc) gateway.MaskedDocument {
	f.refs++
	m := gateway.MaskedDocument{Type: d.typ, Country: d.country, Masked: d.masked, KeyVersion: "v1",
		Ref: fmt.Sprintf("doc-%04d", f.refs), AddedAt: f.clock.Now().UTC()}
	f.index[d.key] = eid
	f.docs[eid] = append(f.docs[eid], heldDocument{key: d.key, masked: m})
	return m
}

func (f *fakeIdentities) Create(ctx context.Context, docs []gateway.Document, _ string) (*gateway.CreatedIdentity, error) {
	const op = "mapping.Create"
	f.mu.Lock()
	defer f.mu.Unlock()
	parsed := make([]parsedDoc, len(docs))
	indexes := make([]model.BlindedIndex, len(docs))
	for i, d := range docs {
		p, err := parseDocument(op, fmt.Sprintf("documents[%d]", i), d)
		if err != nil {
			return nil, err
		}
		if _, taken := f.index[p.key]; taken || slices.ContainsFunc(parsed[:i], func(q parsedDoc) bool { return q.key == p.key }) {
			return nil, documentTaken(op, fmt.Sprintf("documents[%d] already belongs to an eID", i))
		}
		parsed[i], indexes[i] = p, blind(p.key)
	}
	id, err := f.ledger.CreateEID(ctx, indexes)
	if err != nil {
		return nil, err
	}
	out := &gateway.CreatedIdentity{EID: id.ID}
	for _, p := range parsed {
		out.Documents = append(out.Documents, f.hold(id.ID, p))
	}
	out.ActivationCode = f.accounts.newCode(id.ID)
	return out, nil
}

func (f *fakeIdentities) AddDocument(ctx context.Context, eid string, d gateway.Document, _ string) (*gateway.MaskedDocument, error) {
	const op = "mapping.AddDocument"
	p, err := parseDocument(op, "document", d)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.index[p.key]; taken {
		return nil, documentTaken(op, "the document already belongs to an eID")
	}
	if _, err := f.ledger.AddDocumentIndex(ctx, eid, blind(p.key)); err != nil {
		return nil, err
	}
	m := f.hold(eid, p)
	return &m, nil
}

func (f *fakeIdentities) RemoveDocument(ctx context.Context, eid, ref, _ string) error {
	const op = "mapping.RemoveDocument"
	f.mu.Lock()
	defer f.mu.Unlock()
	docs := f.docs[eid]
	i := slices.IndexFunc(docs, func(h heldDocument) bool { return h.masked.Ref == ref })
	switch {
	case i < 0:
		return notFound(op, "document")
	case len(docs) == 1:
		return conflict(op, "an eID keeps at least one document")
	}
	if _, err := f.ledger.RemoveDocumentIndex(ctx, eid, blind(docs[i].key)); err != nil {
		return err
	}
	delete(f.index, docs[i].key)
	f.docs[eid] = slices.Delete(docs, i, i+1)
	return nil
}

func (f *fakeIdentities) Merge(ctx context.Context, from, into, reason, _ string) error {
	const op = "mapping.Merge"
	if reason == "" {
		return routing.Invalid(op, "reason", "give a reason for the merge")
	}
	if from == into {
		return routing.Invalid(op, "into", "an eID cannot be merged into itself")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.ledger.MergeEID(ctx, from, into, reason); err != nil {
		return err
	}
	for _, h := range f.docs[from] {
		f.index[h.key] = into
	}
	f.docs[into] = append(f.docs[into], f.docs[from]...)
	delete(f.docs, from)
	return nil
}

func (f *fakeIdentities) Deactivate(ctx context.Context, eid, reason, _ string) error {
	if reason == "" {
		return routing.Invalid("mapping.Deactivate", "reason", "give a reason for the deactivation")
	}
	_, err := f.ledger.DeactivateEID(ctx, eid, reason)
	return err
}

func (f *fakeIdentities) Find(_ context.Context, d gateway.Document) (string, error) {
	const op = "mapping.Find"
	p, err := parseDocument(op, "document", d)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	eid, ok := f.index[p.key]
	if !ok {
		return "", (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no eID holds this document"}).WithCode("subject_not_found")
	}
	return eid, nil
}

// LookupDocument makes the fake the resolver's routing.SubjectMapper.
func (f *fakeIdentities) LookupDocument(ctx context.Context, docType, number, country string) (string, error) {
	return f.Find(ctx, gateway.Document{Type: docType, Number: number, Country: country})
}

func (f *fakeIdentities) Documents(_ context.Context, eid string) ([]gateway.MaskedDocument, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []gateway.MaskedDocument{}
	for _, h := range f.docs[eid] {
		out = append(out, h.masked)
	}
	return out, nil
}

func (f *fakeIdentities) NewActivationCode(ctx context.Context, eid, _ string) (string, error) {
	id, err := f.ledger.GetEID(ctx, eid)
	if err != nil {
		return "", err
	}
	if id.Status != model.EIDActive {
		return "", conflict("mapping.NewActivationCode", "the eID is %s", id.Status)
	}
	return f.accounts.newCode(eid), nil
}

func accountHash(dept, local string) string {
	sum := sha256.Sum256([]byte("link|" + dept + "|" + local))
	return hex.EncodeToString(sum[:])
}

func (f *fakeIdentities) LinkAccount(ctx context.Context, dept, local string, d gateway.Document) (*model.AccountLink, error) {
	const op = "mapping.LinkAccount"
	if local == "" {
		return nil, routing.Invalid(op, "local_account", "local_account is required")
	}
	eid, err := f.Find(ctx, d)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.locals[dept+"|"+local]; ok && prev != eid {
		return nil, conflict(op, "the local account is linked to another eID")
	}
	a, err := f.ledger.LinkAccount(ctx, eid, dept, accountHash(dept, local))
	if err != nil {
		return nil, err
	}
	f.locals[dept+"|"+local] = eid
	return a, nil
}

func (f *fakeIdentities) LookupAccount(_ context.Context, dept, local string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	eid, ok := f.locals[dept+"|"+local]
	if !ok {
		return "", notFound("mapping.LookupAccount", "account link")
	}
	return eid, nil
}

func (f *fakeIdentities) UnlinkAccount(ctx context.Context, dept, eid string) error {
	if err := f.ledger.UnlinkAccount(ctx, eid, dept); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.locals {
		if v == eid && strings.HasPrefix(k, dept+"|") {
			delete(f.locals, k)
		}
	}
	return nil
}

// --- accounts ---

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomB32(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b32.EncodeToString(b)[:n]
}

// minPassword is the accounts service's shortest password.
const minPassword = 12

func accountsError(kind routing.Kind, code, msg string) *routing.Error {
	return &routing.Error{Kind: kind, Code: code, Op: "accounts", Message: msg}
}

func weakPassword() error {
	e := accountsError(routing.KindInvalid, "weak_password", fmt.Sprintf("a password has at least %d characters", minPassword))
	e.Field = "password"
	return e
}

type residentAccount struct {
	password, code, lang string
	codeUsed             bool
}

type adminAccount struct {
	password, role string
	disabled       bool
}

type issuedKey struct {
	token string
	key   gateway.APIKey
}

// fakeAccounts holds residents, administrators, API keys and sessions.
// Sessions expire on the wall clock, as the browser's cookie does.
type fakeAccounts struct {
	mu        sync.Mutex
	clock     routing.Clock
	residents map[string]*residentAccount // by eID
	admins    map[string]adminAccount
	keys      []*issuedKey
	sessions  map[string]gateway.Session
}

func newFakeAccounts(clock routing.Clock) *fakeAccounts {
	return &fakeAccounts{clock: clock, residents: map[string]*residentAccount{}, admins: map[string]adminAccount{},
		sessions: map[string]gateway.Session{}}
}

// newCode issues a fresh one-time activation code for eid.
func (a *fakeAccounts) newCode(eid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil {
		r = &residentAccount{}
		a.residents[eid] = r
	}
	r.code, r.codeUsed = strings.ToUpper(randomB32(4)+"-"+randomB32(4)), false
	return r.code
}

// activationCode is the code last issued for eid, as the KYC counter
// handed it over.
func (a *fakeAccounts) activationCode(eid string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.residents[eid]; r != nil {
		return r.code
	}
	return ""
}

// setPassword activates the account of eid with password.
func (a *fakeAccounts) setPassword(eid, password string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.residents[eid].password, a.residents[eid].codeUsed = password, true
}

func (a *fakeAccounts) Activate(_ context.Context, eid, code, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	switch {
	case r == nil || r.code == "" || !strings.EqualFold(strings.ReplaceAll(code, " ", ""), r.code):
		return accountsError(routing.KindUnauthenticated, "activation_code_invalid", "the activation code is not right")
	case r.codeUsed:
		return accountsError(routing.KindConflict, "activation_used", "this activation code was already used; sign in with your password")
	case len(password) < minPassword:
		return weakPassword()
	}
	r.codeUsed, r.password = true, password
	return nil
}

func (a *fakeAccounts) ResidentLogin(_ context.Context, eid, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.residents[eid]; r == nil || r.password == "" || r.password != password {
		return accountsError(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	return nil
}

func (a *fakeAccounts) SetResidentLang(_ context.Context, eid, lang string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.residents[eid]
	if r == nil {
		return notFound("accounts.SetResidentLang", "resident")
	}
	r.lang = lang
	return nil
}

// ResidentLang is the resident's stored choice, "" when there is none.
func (a *fakeAccounts) ResidentLang(_ context.Context, eid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.residents[eid]; r != nil {
		return r.lang, nil
	}
	return "", nil
}

func (a *fakeAccounts) AdminLogin(_ context.Context, username, password string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.admins[username]
	if !ok || acc.password != password {
		return "", accountsError(routing.KindUnauthenticated, "invalid_credentials", "the name or password is not right")
	}
	if acc.disabled {
		return "", accountsError(routing.KindForbidden, "account_disabled", "this administrator account is disabled")
	}
	return acc.role, nil
}

func (a *fakeAccounts) CreateAdmin(_ context.Context, username, password, role string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if username == "" {
		e := accountsError(routing.KindInvalid, "invalid_username", "a user name is required")
		e.Field = "username"
		return e
	}
	if _, ok := a.admins[username]; ok {
		e := accountsError(routing.KindConflict, "admin_exists", "an administrator with this name exists")
		e.Field = "username"
		return e
	}
	if len(password) < minPassword {
		return weakPassword()
	}
	a.admins[username] = adminAccount{password: password, role: role}
	return nil
}

func (a *fakeAccounts) Admins(context.Context) ([]gateway.AdminUser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []gateway.AdminUser{}
	for name, acc := range a.admins {
		out = append(out, gateway.AdminUser{Username: name, Role: acc.role, Disabled: acc.disabled})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// IssueAPIKey issues a token in the accounts service's format: "egk_",
// an 8-character key id, "_" and a 40-character secret.
func (a *fakeAccounts) IssueAPIKey(_ context.Context, dept, name string) (string, *gateway.APIKey, error) {
	if name == "" || len(name) > 100 {
		e := accountsError(routing.KindInvalid, "invalid_name", "a key name has 1 to 100 printable characters")
		e.Field = "name"
		return "", nil, e
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id := randomB32(8)
	k := &issuedKey{token: "egk_" + id + "_" + randomB32(40),
		key: gateway.APIKey{ID: id, Department: dept, Name: name, CreatedAt: a.clock.Now().UTC()}}
	a.keys = append(a.keys, k)
	key := k.key
	return k.token, &key, nil
}

func (a *fakeAccounts) AuthenticateAPIKey(_ context.Context, token string) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys {
		if k.token == token {
			if !k.key.RevokedAt.IsZero() {
				return "", "", accountsError(routing.KindUnauthenticated, "api_key_revoked", "this API key was revoked")
			}
			k.key.LastUsedAt = a.clock.Now().UTC()
			return k.key.Department, k.key.ID, nil
		}
	}
	return "", "", accountsError(routing.KindUnauthenticated, "invalid_credentials", "not a valid API key")
}

func (a *fakeAccounts) RevokeAPIKey(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys {
		if k.key.ID == id {
			if k.key.RevokedAt.IsZero() {
				k.key.RevokedAt = a.clock.Now().UTC()
			}
			return nil
		}
	}
	return accountsError(routing.KindNotFound, "api_key_not_found", "no such API key")
}

func (a *fakeAccounts) APIKeys(_ context.Context, dept string) ([]gateway.APIKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []gateway.APIKey{}
	for _, k := range a.keys {
		if k.key.Department == dept {
			out = append(out, k.key)
		}
	}
	return out, nil
}

func (a *fakeAccounts) NewSession(_ context.Context, s gateway.Session) (string, *gateway.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	token := randomB32(32)
	sum := sha256.Sum256([]byte("csrf|" + token))
	s.CSRFToken = base64.RawURLEncoding.EncodeToString(sum[:])
	s.ExpiresAt = time.Now().Add(8 * time.Hour)
	a.sessions[token] = s
	return token, &s, nil
}

func (a *fakeAccounts) LookupSession(_ context.Context, token string) (*gateway.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok || time.Now().After(s.ExpiresAt) {
		return nil, accountsError(routing.KindUnauthenticated, "session_invalid", "not signed in")
	}
	return &s, nil
}

func (a *fakeAccounts) RevokeSession(_ context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, token)
	return nil
}

// sessionCount is how many sessions of a kind are open.
func (a *fakeAccounts) sessionCount(kind string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.sessions {
		if s.Kind == kind {
			n++
		}
	}
	return n
}

// --- policies ---

// fakePolicies is a small Casbin stand-in: p rules (subject, object with
// an optional trailing *, action = purpose or *, effect) and g
// memberships (department, role); a deny wins. It serves both
// routing.Policy and gateway.Policies.
type fakePolicies struct {
	mu      sync.Mutex
	clock   routing.Clock
	rules   []gateway.PolicyRule
	history []gateway.PolicyVersion
}

func (p *fakePolicies) version() int64 { return int64(len(p.history)) }

func ruleText(r gateway.PolicyRule) string {
	if r.Kind == "g" {
		return "g, " + r.Subject + ", " + r.Role
	}
	return "p, " + r.Subject + ", " + r.Object + ", " + r.Action + ", " + r.Effect
}

func (p *fakePolicies) explain(dept, dataType, purpose string) *gateway.Explanation {
	p.mu.Lock()
	defer p.mu.Unlock()
	subjects := []string{dept}
	for _, r := range p.rules {
		if r.Kind == "g" && r.Subject == dept {
			subjects = append(subjects, r.Role)
		}
	}
	ex := &gateway.Explanation{Version: p.version(), Reason: "no rule allows it", Matched: []gateway.PolicyRule{}}
	var allow, deny *gateway.PolicyRule
	for _, r := range p.rules {
		if r.Kind != "p" || !slices.Contains(subjects, r.Subject) || (r.Action != purpose && r.Action != "*") {
			continue
		}
		if obj, ok := strings.CutSuffix(r.Object, "*"); (!ok || !strings.HasPrefix(dataType, obj)) && r.Object != dataType {
			continue
		}
		ex.Matched = append(ex.Matched, r)
		if r.Effect == "deny" && deny == nil {
			deny = &r
		} else if r.Effect == "allow" && allow == nil {
			allow = &r
		}
	}
	switch {
	case deny != nil:
		ex.Rule, ex.Reason = ruleText(*deny), "a rule denies it"
	case allow != nil:
		ex.Allowed, ex.Rule, ex.Reason = true, ruleText(*allow), "allowed by rule"
	}
	return ex
}

func (p *fakePolicies) Decide(_ context.Context, dept, dataType, purpose string) (routing.Decision, error) {
	ex := p.explain(dept, dataType, purpose)
	return routing.Decision{Allowed: ex.Allowed, Rule: ex.Rule, Version: ex.Version, Reason: ex.Reason}, nil
}

func (p *fakePolicies) Explain(_ context.Context, dept, dataType, purpose string) (*gateway.Explanation, error) {
	return p.explain(dept, dataType, purpose), nil
}

func (p *fakePolicies) Rules(context.Context) ([]gateway.PolicyRule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rules), nil
}

func (p *fakePolicies) change(by, summary string) int64 {
	p.history = append(p.history, gateway.PolicyVersion{Version: int64(len(p.history) + 1), ChangedBy: by, Summary: summary, CreatedAt: p.clock.Now().UTC()})
	return p.version()
}

func (p *fakePolicies) AddRule(_ context.Context, r gateway.PolicyRule, by string) (int64, error) {
	const op = "policies.AddRule"
	switch {
	case r.Kind != "p" && r.Kind != "g":
		return 0, routing.Invalid(op, "kind", `kind must be "p" or "g"`)
	case r.Subject == "":
		return 0, routing.Invalid(op, "subject", "subject is required")
	case r.Kind == "p" && (r.Object == "" || r.Action == "" || (r.Effect != "allow" && r.Effect != "deny")):
		return 0, routing.Invalid(op, "effect", "a rule needs object, action and effect allow or deny")
	case r.Kind == "g" && r.Role == "":
		return 0, routing.Invalid(op, "role", "a membership needs a role")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.rules, r) {
		return 0, conflict(op, "the rule exists")
	}
	p.rules = append(p.rules, r)
	return p.change(by, "add "+ruleText(r)), nil
}

func (p *fakePolicies) RemoveRule(_ context.Context, r gateway.PolicyRule, by string) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.rules, r)
	if i < 0 {
		return 0, notFound("policies.RemoveRule", "rule")
	}
	p.rules = slices.Delete(p.rules, i, i+1)
	return p.change(by, "remove "+ruleText(r)), nil
}

func (p *fakePolicies) History(_ context.Context, limit int) ([]gateway.PolicyVersion, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []gateway.PolicyVersion{}
	for i := len(p.history) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, p.history[i])
	}
	return out, nil
}

// --- imports ---

// fakeImporter reads a CSV of documents (type,number,country per row; a
// header row is skipped) and creates eIDs row by row. Start runs the job
// to the end before it answers, unless hold is set: then the job runs in
// the background and stops after half of its rows until the test closes
// hold (held is closed when it got there), so a test can watch progress
// without timing anything.
type fakeImporter struct {
	mu      sync.Mutex
	clock   routing.Clock
	ids     *fakeIdentities
	jobs    []*gateway.ImportJob
	rejects map[string][][4]string // job id → row, masked number, reason, message
	hold    chan struct{}
	held    chan struct{}
}

func (im *fakeImporter) Start(ctx context.Context, name string, body io.Reader, _ string) (*gateway.ImportJob, error) {
	r := csv.NewReader(body)
	r.FieldsPerRecord = -1
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, routing.Invalid("import.Start", "file", "not a CSV file: %v", err)
		}
		if len(rows) == 0 && len(rec) > 0 && rec[0] == "type" {
			continue
		}
		rows = append(rows, rec)
	}
	im.mu.Lock()
	job := &gateway.ImportJob{ID: fmt.Sprintf("imp_%04d", len(im.jobs)+1), FileName: name, Status: "running",
		Total: int64(len(rows)), StartedAt: im.clock.Now().UTC()}
	im.jobs = append(im.jobs, job)
	if im.rejects == nil {
		im.rejects = map[string][][4]string{}
	}
	hold, held := im.hold, im.held
	im.mu.Unlock()
	if hold == nil {
		im.run(ctx, job, rows, nil, nil)
	} else {
		go im.run(context.WithoutCancel(ctx), job, rows, hold, held)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	out := *job
	return &out, nil
}

func (im *fakeImporter) run(ctx context.Context, job *gateway.ImportJob, rows [][]string, hold, held chan struct{}) {
	for i, row := range rows {
		if hold != nil && i == len(rows)/2 {
			close(held)
			<-hold
		}
		for len(row) < 3 {
			row = append(row, "")
		}
		doc := gateway.Document{Type: row[0], Number: row[1], Country: row[2]}
		_, findErr := im.ids.Find(ctx, doc)
		var err error
		if findErr != nil {
			_, err = im.ids.Create(ctx, []gateway.Document{doc}, "import")
		}
		im.mu.Lock()
		job.Done++
		switch {
		case findErr == nil:
			job.Existing++
		case err == nil:
			job.Created++
		default:
			job.Rejected++
			reason := routing.CodeOf(err)
			var re *routing.Error
			if errors.As(err, &re) && re.Details["reason"] != "" {
				reason = re.Details["reason"]
			}
			im.rejects[job.ID] = append(im.rejects[job.ID], [4]string{strconv.Itoa(i + 1), mapping.Mask(row[1]), reason, routing.MessageOf(err)})
		}
		if secs := im.clock.Now().Sub(job.StartedAt).Seconds(); secs > 0 {
			job.RowsPerSec = float64(job.Done) / secs
		}
		im.mu.Unlock()
	}
	im.mu.Lock()
	job.Status, job.FinishedAt = "done", im.clock.Now().UTC()
	im.mu.Unlock()
}

func (im *fakeImporter) Job(_ context.Context, id string) (*gateway.ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range im.jobs {
		if j.ID == id {
			out := *j
			return &out, nil
		}
	}
	return nil, notFound("import.Job", "import")
}

func (im *fakeImporter) Jobs(_ context.Context, limit int) ([]gateway.ImportJob, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	out := []gateway.ImportJob{}
	for i := len(im.jobs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, *im.jobs[i])
	}
	return out, nil
}

// WriteRejects writes the reject report as the mapping service does: row,
// masked number, reason, message.
func (im *fakeImporter) WriteRejects(_ context.Context, id string, w io.Writer) error {
	im.mu.Lock()
	rows := slices.Clone(im.rejects[id])
	im.mu.Unlock()
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"row", "masked_number", "reason", "message"})
	for _, r := range rows {
		_ = cw.Write(r[:])
	}
	cw.Flush()
	return cw.Error()
}

// --- tickets and rate limits ---

// fakeTickets signs real EdDSA tickets and introspects each once.
type fakeTickets struct {
	mu     sync.Mutex
	clock  routing.Clock
	issuer string
	key    ed25519.PrivateKey
	kid    string
	issued map[string]map[string]any // token → claims
	used   map[string]bool
}

func newFakeTickets(clock routing.Clock, issuer string) (*fakeTickets, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &fakeTickets{clock: clock, issuer: issuer, key: priv, kid: base64.RawURLEncoding.EncodeToString(thumb),
		issued: map[string]map[string]any{}, used: map[string]bool{}}, nil
}

func (t *fakeTickets) Issue(_ context.Context, req routing.TicketRequest) (routing.Ticket, error) {
	now := t.clock.Now().UTC()
	exp := now.Add(2 * time.Minute)
	claims := map[string]any{
		"iss": t.issuer, "aud": req.Provider, "sub": req.EID, "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"jti": req.ID, "req": req.Requester, "dt": req.DataType, "cid": req.ConsentID, "aid": req.AccessID,
		"pur": req.Purpose, "dig": req.Digest,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return routing.Ticket{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: t.key},
		(&jose.SignerOptions{}).WithType("eidgate-ticket+jwt").WithHeader("kid", t.kid))
	if err != nil {
		return routing.Ticket{}, err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return routing.Ticket{}, err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return routing.Ticket{}, err
	}
	t.mu.Lock()
	t.issued[token] = claims
	t.mu.Unlock()
	return routing.Ticket{Token: token, ID: req.ID, ExpiresAt: exp}, nil
}

func (t *fakeTickets) Introspect(_ context.Context, provider, token string) (map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	claims, ok := t.issued[token]
	if !ok || t.used[token] || claims["aud"] != provider {
		return map[string]any{"active": false}, nil
	}
	t.used[token] = true
	out := map[string]any{"active": true, "token_type": "eidgate-ticket+jwt"}
	for k, v := range claims {
		out[k] = v
	}
	return out, nil
}

func (t *fakeTickets) JWKS() ([]byte, error) {
	return json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: t.key.Public(), KeyID: t.kid, Algorithm: string(jose.EdDSA), Use: "sig"}}})
}

// fakeLimiter refuses every request of the departments it names.
type fakeLimiter struct{ blocked map[string]bool }

func (l fakeLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	if l.blocked[strings.TrimPrefix(key, "dept:")] {
		return false, 1500 * time.Millisecond, nil
	}
	return true, 0, nil
}
