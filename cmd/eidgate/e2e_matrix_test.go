package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/store/storetest"
)

// callerKind is one kind of caller of the API.
type callerKind string

const (
	kDept          callerKind = "own department (API key)"
	kDeptCert      callerKind = "own department (client certificate)"
	kOtherDept     callerKind = "other department"
	kResident      callerKind = "resident"
	kOtherResident callerKind = "other resident"
	kAdmin         callerKind = "admin"
	kOfficer       callerKind = "mapping officer"
	kAuditor       callerKind = "auditor"
	kAnonymous     callerKind = "anonymous"
)

// everyCaller is every kind, in the order the allowed callers of a row
// run (refused callers always run first, so they meet the resource as it
// was).
var everyCaller = []callerKind{kAnonymous, kOtherResident, kResident, kOtherDept, kDept, kDeptCert, kAuditor, kOfficer, kAdmin}

// want is what a caller of a row must get.
type want int

const (
	// refused: no success; 401, 403 or 404. Every caller a row does not
	// name is refused.
	refused want = iota
	// ok: a 2xx answer.
	ok
	// authed: let through authentication and authorisation (no 401 or
	// 403); the body is chosen to be invalid or to conflict, so nothing of
	// consequence changes.
	authed
)

// allow lists the callers a row lets through.
type allow map[callerKind]want

func callersOf(kinds []callerKind, w want) allow {
	out := allow{}
	for _, k := range kinds {
		out[k] = w
	}
	return out
}

func (a allow) with(k callerKind, w want) allow {
	out := allow{}
	for kk, ww := range a {
		out[kk] = ww
	}
	if w == refused {
		delete(out, k)
	} else {
		out[k] = w
	}
	return out
}

// The callers each part of the API serves.
var (
	anyone      = callersOf(everyCaller, ok)
	departments = callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, ok)
	residents   = callersOf([]callerKind{kResident, kOtherResident}, ok)
	ownerOnly   = callersOf([]callerKind{kResident}, ok)
	allStaff    = callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, ok)
	adminOnly   = callersOf([]callerKind{kAdmin}, ok)
	mappers     = callersOf([]callerKind{kAdmin, kOfficer}, ok)
	auditors    = callersOf([]callerKind{kAdmin, kAuditor}, ok)
	nobody      = allow{}
)

// matrixRow is one route of the API with the request each caller sends.
type matrixRow struct {
	method string
	route  string // the route pattern as registered
	allow  allow
	// req gives the path (with real ids) and body for a caller.
	req func(k callerKind) (string, any)
	// check looks at the answer of an allowed caller (ownership).
	check func(t *testing.T, k callerKind, r reply)
	// unchanged runs after the refused callers and before the allowed
	// ones: what they tried must have changed nothing.
	unchanged func(t *testing.T)
	// before runs first (signing callers in again after a page logout).
	before func()
}

func fixed(path string, body any) func(callerKind) (string, any) {
	return func(callerKind) (string, any) { return path, body }
}

// TestMatrixEveryRouteEveryCaller sends every route the gateway registers
// as every kind of caller, on PostgreSQL and Redis behind HTTPS. No caller
// a route does not serve gets a 2xx; callers it serves are not refused;
// departments and residents see and change only what is theirs.
func TestMatrixEveryRouteEveryCaller(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	certs := e2etest.NewServerTLS(t)
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), true, "warn"
	cfg.DB, cfg.Redis = pg.DSN, redisURL
	cfg.TLSCert, cfg.TLSKey = certs.CertFile, certs.KeyFile
	m := newTestMain(t, cfg)
	s := newStack(t, m, m.Demo(), &http.Client{Transport: &http.Transport{TLSClientConfig: certs.ClientConfig(nil)}})
	ctx := context.Background()

	// Callers.
	id, err := m.peer.Identity("hrss", devnet.DepartmentSystemName)
	if err != nil {
		t.Fatal(err)
	}
	cert := e2etest.MSPCertificate(t, id.MSPDir, id.MSPID)
	hrssCert := caller{headers: map[string]string{"X-Eidgate-Official": "clerk-hrss"},
		client: s.spec.Client(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.ClientConfig(&cert)},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})}
	callers := map[callerKind]caller{
		kDept: s.dept("hrss"), kDeptCert: hrssCert, kOtherDept: s.dept("civil-affairs"),
		kResident: s.resident(0), kOtherResident: s.resident(1),
		kAdmin: s.admin(), kOfficer: s.staff(accounts.RoleMappingOfficer), kAuditor: s.staff(accounts.RoleAuditor),
		kAnonymous: {},
	}
	deptOf := map[callerKind]string{kDept: "hrss", kDeptCert: "hrss", kOtherDept: "civil-affairs"}
	eidOf := map[callerKind]string{kResident: s.demo.Residents[0].EID, kOtherResident: s.demo.Residents[1].EID}
	r0 := s.demo.Residents[0]
	r0doc := map[string]any{"type": r0.DocType, "number": r0.DocNumber, "country": r0.Country}
	hrss := callers[kDept]
	// Wrong secrets are sent for a resident and an account nobody signs in
	// as here: failures count towards a lockout.
	r3 := s.demo.Residents[3]
	r3doc := map[string]any{"type": r3.DocType, "number": r3.DocNumber, "country": r3.Country}

	// Fixtures: consent C1 (hrss asks resident 0 for edu.degree, opened by
	// a resolve without consent), C2 (a request the resident will deny),
	// throw-away eIDs for the officers' destructive calls.
	degree := resolveBody(r0, "edu.degree", "employment")
	r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", degree)
	c1 := r.str("error", "details", "consent_id")
	if r.status != http.StatusForbidden || c1 == "" {
		t.Fatalf("resolve without consent: %d %v", r.status, r.body)
	}
	r = s.do(hrss, http.MethodPost, "/v1/consents", map[string]any{
		"eid": r0.EID, "data_types": []string{"civil.marriage"}, "purpose_code": "social_assistance",
		"purpose_text": "matrix", "valid_until": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	c2 := r.str("id")
	if r.status != http.StatusCreated || c2 == "" {
		t.Fatalf("consent request: %d %v", r.status, r.body)
	}
	adm := callers[kAdmin]
	passport := func(n int) map[string]any {
		return map[string]any{"type": "passport", "number": fmt.Sprintf("MX%06d", n), "country": "FRA"}
	}
	throwaway := make([]string, 8)
	for i := range throwaway {
		r := s.do(adm, http.MethodPost, "/v1/admin/eids", map[string]any{"documents": []any{passport(100 + i)}})
		if throwaway[i] = r.str("eid"); r.status != http.StatusCreated || throwaway[i] == "" {
			t.Fatalf("throw-away eID: %d %v", r.status, r.body)
		}
	}
	// Each mapping caller works on its own throw-away eIDs.
	mine := func(k callerKind, forAdmin, forOfficer int) string {
		if k == kOfficer {
			return throwaway[forOfficer]
		}
		return throwaway[forAdmin]
	}
	consentStatus := func(t *testing.T, id string) string {
		c, err := m.agent.GetConsent(ctx, id)
		if err != nil {
			t.Fatalf("consent %s on the ledger: %v", id, err)
		}
		return c.Status
	}
	mustStatus := func(id, status string) func(t *testing.T) {
		return func(t *testing.T) {
			if got := consentStatus(t, id); got != status {
				t.Errorf("consent %s is %s on the ledger after refused callers, want %s", id, got, status)
			}
		}
	}
	listOf := func(r reply, key string) []map[string]any {
		var out []map[string]any
		items, _ := r.body[key].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	ids := func(items []map[string]any) []string {
		var out []string
		for _, it := range items {
			s, _ := it["id"].(string)
			out = append(out, s)
		}
		return out
	}

	// page is a form post of a signed-in caller: its CSRF token and fields.
	// Ids of the right form that name nothing.
	const (
		noAccess = "acc_00000000000000000000000000000000"
		noRule   = "sr-000000000000000000000000"
		noRep    = "rp-000000000000000000000000"
	)
	noWard := url.PathEscape("did:eidgate:00000000000000000000000000000000")
	page := func(path string, fields ...string) func(callerKind) (string, any) {
		return func(k callerKind) (string, any) {
			return path, formBody(append([]string{"csrf", callers[k].csrf}, fields...)...)
		}
	}

	// A sign-in with a well-formed passkey answer to a real challenge, of a
	// passkey nobody registered: refused for everyone.
	unknownPasskey := func(base string) func(callerKind) (string, any) {
		return func(callerKind) (string, any) {
			o := s.do(caller{}, http.MethodPost, base+"/login/passkey/options", nil)
			challenge, err := base64.RawURLEncoding.DecodeString(o.str("publicKey", "challenge"))
			if err != nil || o.status != http.StatusOK {
				t.Fatalf("passkey sign-in options: %d %v", o.status, o.body)
			}
			cred := passkeytest.New(passkeytest.ES256, []byte("nobody"))
			a := cred.Assert("localhost", strings.Replace(m.URL(), "127.0.0.1", "localhost", 1), challenge, passkeytest.Options{})
			return base + "/login/passkey", map[string]any{"credential": json.RawMessage(a.JSON())}
		}
	}
	notACredential := map[string]any{"credential": map[string]any{"id": "x", "rawId": "x", "type": "public-key", "response": map[string]any{}}}
	proofOf := func(id string) func(t *testing.T, k callerKind, r reply) {
		return func(t *testing.T, k callerKind, r reply) {
			if r.str("format") != "eidgate-consent-proof/v1" || r.str("consent", "id") != id {
				t.Errorf("%s got the proof %v", k, r.body)
			}
		}
	}

	// Values later rows use, captured from earlier ones.
	// Resident 0's demo degree credential.
	var r0Cred string
	for _, c := range s.demo.Credentials {
		if c.EID == r0.EID {
			b, err := os.ReadFile(filepath.Join(m.Config.DataDir, c.Path))
			if err != nil {
				t.Fatal(err)
			}
			r0Cred = string(b)
		}
	}
	r0CredID := payloadID(t, r0Cred)
	credentialUnchanged := func(t *testing.T) {
		r := s.do(caller{}, http.MethodPost, "/v1/verify/public", map[string]any{"credential": r0Cred})
		if r.body["valid"] != true {
			t.Errorf("resident 0's credential after refused status changes: %v", r.body["code"])
		}
	}

	var accessID, ticket, keyID, keyToken, importID string
	addedRef := map[callerKind]string{}

	rows := []matrixRow{
		// Public.
		{method: "GET", route: "/healthz", allow: anyone, req: fixed("/healthz", nil)},
		{method: "GET", route: "/readyz", allow: anyone, req: fixed("/readyz", nil)},
		{method: "GET", route: "/metrics", allow: anyone, req: fixed("/metrics", nil)},
		{method: "GET", route: "/openapi.yaml", allow: anyone, req: fixed("/openapi.yaml", nil)},
		{method: "GET", route: "/.well-known/jwks.json", allow: anyone, req: fixed("/.well-known/jwks.json", nil)},
		{method: "GET", route: "/1.0/identifiers/:did", allow: anyone, req: fixed("/1.0/identifiers/"+r0.EID, nil)},
		// Sign-in with wrong secrets works for nobody.
		{method: "POST", route: "/v1/me/activate", allow: nobody,
			req: fixed("/v1/me/activate", map[string]any{"document": r3doc, "code": "WRONG-CODE-1234", "password": "a-New-passw0rd"})},
		{method: "POST", route: "/v1/me/login", allow: nobody,
			req: fixed("/v1/me/login", map[string]any{"document": r3doc, "password": "not-the-Passw0rd"})},
		{method: "POST", route: "/v1/admin/login", allow: nobody,
			req: fixed("/v1/admin/login", map[string]any{"username": "no-such-user", "password": "not-the-Passw0rd"})},
		{method: "POST", route: "/v1/me/login/passkey/options", allow: anyone, req: fixed("/v1/me/login/passkey/options", nil)},
		{method: "POST", route: "/v1/admin/login/passkey/options", allow: anyone, req: fixed("/v1/admin/login/passkey/options", nil)},
		{method: "POST", route: "/v1/me/login/passkey", allow: nobody, req: unknownPasskey("/v1/me")},
		{method: "POST", route: "/v1/admin/login/passkey", allow: nobody, req: unknownPasskey("/v1/admin")},
		{method: "POST", route: "/v1/consent-proofs/verify", allow: callersOf(everyCaller, authed),
			req: fixed("/v1/consent-proofs/verify", map[string]any{"format": "not-a-proof"})},

		// Department API.
		{method: "POST", route: "/v1/consents", allow: departments,
			// Each department asks for what its policy allows (a request
			// the policy refuses is policy_denied for everyone).
			req: func(k callerKind) (string, any) {
				dt := "civil.household"
				if k == kOtherDept {
					dt = "hrss.employment"
				}
				return "/v1/consents", map[string]any{
					"eid": r0.EID, "data_types": []string{dt}, "purpose_code": "social_assistance",
					"purpose_text": "matrix", "valid_until": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
				}
			},
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("requester") != deptOf[k] {
					t.Errorf("%s opened a consent request as %q", k, r.str("requester"))
				}
			}},
		{method: "GET", route: "/v1/consents", allow: departments, req: fixed("/v1/consents", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				list := listOf(r, "consents")
				for _, c := range list {
					if c["requester"] != deptOf[k] {
						t.Errorf("%s lists a consent requested by %v", k, c["requester"])
					}
				}
				if has := slices.Contains(ids(list), c1); has != (deptOf[k] == "hrss") {
					t.Errorf("%s lists hrss's consent: %v", k, has)
				}
			}},
		{method: "GET", route: "/v1/consents/:id", allow: departments.with(kOtherDept, refused), req: fixed("/v1/consents/"+c1, nil),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("id") != c1 || r.str("requester") != "hrss" {
					t.Errorf("%s read %v", k, r.body)
				}
			}},
		{method: "GET", route: "/v1/consents/:id/proof", allow: departments.with(kOtherDept, refused), req: fixed("/v1/consents/"+c1+"/proof", nil),
			check: proofOf(c1)},
		{method: "POST", route: "/v1/accounts/link", allow: departments,
			req: fixed("/v1/accounts/link", map[string]any{"local_account": "matrix-account", "document": r0doc}),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("department") != deptOf[k] {
					t.Errorf("%s linked an account of %q", k, r.str("department"))
				}
			}},
		{method: "POST", route: "/v1/accounts/lookup", allow: departments,
			req: func(k callerKind) (string, any) {
				return "/v1/accounts/lookup", map[string]any{"local_account": "matrix-account"}
			},
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("eid") != r0.EID {
					t.Errorf("%s looked up %v", k, r.body)
				}
			}},
		{method: "POST", route: "/v1/accounts/unlink", allow: departments.with(kDeptCert, authed),
			req: fixed("/v1/accounts/unlink", map[string]any{"eid": r0.EID})},
		{method: "POST", route: "/v1/verify", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/verify", map[string]any{"eid": r0.EID})},
		{method: "GET", route: "/v1/access", allow: departments, req: fixed("/v1/access", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				for _, a := range listOf(r, "access") {
					if a["requester"] != deptOf[k] {
						t.Errorf("%s reads an access record of %v", k, a["requester"])
					}
				}
			}},
		{method: "POST", route: "/v1/policy/explain", allow: departments,
			req: fixed("/v1/policy/explain", map[string]any{"data_type": "edu.degree", "purpose": "employment"})},
		{method: "POST", route: "/v1/routes", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/routes", map[string]any{"routes": []any{}})},
		// Nobody here holds resident 0's degree: revoking edu-bureau's
		// route fails for every department but edu-bureau.
		{method: "POST", route: "/v1/routes/revoke", allow: nobody,
			req: fixed("/v1/routes/revoke", map[string]any{"eid": r0.EID, "data_type": "edu.degree", "reason": "matrix"}),
			unchanged: func(t *testing.T) {
				routes, err := m.agent.GetRoutes(ctx, r0.EID, "edu.degree")
				if err != nil {
					t.Errorf("err = %v, want nil; edu-bureau's route after refused revocations: %+v, %v", err, routes, err)
				} else if len(routes) != 1 {
					t.Errorf("len(routes) = %v, want 1; edu-bureau's route after refused revocations: %+v, %v", len(routes), routes, err)
				} else if routes[0].Status != model.RouteValid {
					t.Errorf("routes[0].Status = %v, want model.RouteValid; edu-bureau's route after refused revocations: %+v, %v", routes[0].Status, routes, err)
				} else if routes[0].Provider != "edu-bureau" {
					t.Errorf("routes[0].Provider = %q, want \"edu-bureau\"; edu-bureau's route after refused revocations: %+v, %v", routes[0].Provider, routes, err)
				}
			}},

		// Credentials. Nobody here owns edu.degree, so issuing and status
		// changes answer 404 past authentication.
		{method: "GET", route: "/v1/credentials/status/:issuer/:list", allow: callersOf(everyCaller, authed),
			req: fixed("/v1/credentials/status/edu-bureau/r000000000000", nil)},
		{method: "GET", route: "/v1/datatypes/:code/schema", allow: anyone, req: fixed("/v1/datatypes/edu.degree/schema", nil)},
		{method: "POST", route: "/v1/verify/public", allow: anyone, req: fixed("/v1/verify/public", map[string]any{"credential": r0Cred}),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.body["valid"] != true {
					t.Errorf("%s: public verification of the demo credential: %v", k, r.body["code"])
				}
			}},
		{method: "POST", route: "/v1/credentials", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/credentials", map[string]any{"subject": map[string]any{"eid": r0.EID}, "data_type": "no.such", "claims": map[string]any{}})},
		{method: "POST", route: "/v1/credentials/:id/revoke", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/credentials/"+url.PathEscape(r0CredID)+"/revoke", map[string]any{"reason": "matrix"}), unchanged: credentialUnchanged},
		{method: "POST", route: "/v1/credentials/:id/suspend", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/credentials/"+url.PathEscape(r0CredID)+"/suspend", map[string]any{"reason": "matrix"}), unchanged: credentialUnchanged},
		{method: "POST", route: "/v1/credentials/:id/reinstate", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/credentials/"+url.PathEscape(r0CredID)+"/reinstate", map[string]any{"reason": "matrix"}), unchanged: credentialUnchanged},
		{method: "POST", route: "/v1/credentials/challenges", allow: departments, req: fixed("/v1/credentials/challenges", map[string]any{"purpose": "employment"}),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("audience") != "did:eidgate:dept:"+deptOf[k] {
					t.Errorf("%s got a challenge for %q", k, r.str("audience"))
				}
			}},
		{method: "POST", route: "/v1/credentials/verify", allow: departments, req: fixed("/v1/credentials/verify", map[string]any{"credential": r0Cred})},
		{method: "POST", route: "/v1/credentials/ask", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/credentials/ask", map[string]any{"subject": map[string]any{"eid": r0.EID}, "data_type": "edu.degree", "predicate": "no_such_question", "purpose": "employment"})},
		{method: "GET", route: "/v1/me/credentials", allow: residents, req: fixed("/v1/me/credentials", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				for _, c := range listOf(r, "credentials") {
					if (c["id"] == r0CredID) != (k == kResident) {
						t.Errorf("%s lists resident 0's credential: %v", k, c["id"] == r0CredID)
					}
				}
			}},
		{method: "GET", route: "/v1/me/credentials/:id", allow: ownerOnly, req: fixed("/v1/me/credentials/"+url.PathEscape(r0CredID), nil)},
		{method: "POST", route: "/v1/me/credentials/:id/present", allow: ownerOnly,
			req: fixed("/v1/me/credentials/"+url.PathEscape(r0CredID)+"/present", map[string]any{"disclose": []string{"degree"}, "nonce": "n-matrix", "audience": "did:eidgate:dept:hrss"})},

		// Resident API.
		{method: "GET", route: "/v1/me", allow: residents, req: fixed("/v1/me", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("eid") != eidOf[k] {
					t.Errorf("%s sees the profile of %s", k, r.str("eid"))
				}
			}},
		{method: "PUT", route: "/v1/me/lang", allow: residents, req: fixed("/v1/me/lang", map[string]any{"lang": "en"})},
		{method: "GET", route: "/v1/me/routes", allow: residents, req: fixed("/v1/me/routes", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				list := listOf(r, "routes")
				if len(list) == 0 {
					t.Errorf("%s sees no routes", k)
				}
				for _, e := range list {
					if e["eid"] != eidOf[k] {
						t.Errorf("%s sees a route of %v", k, e["eid"])
					}
				}
			}},
		{method: "GET", route: "/v1/me/consents", allow: residents, req: fixed("/v1/me/consents", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				list := listOf(r, "consents")
				for _, c := range list {
					if c["eid"] != eidOf[k] {
						t.Errorf("%s sees a consent of %v", k, c["eid"])
					}
				}
				if has := slices.Contains(ids(list), c1); has != (k == kResident) {
					t.Errorf("%s sees resident 0's consent: %v", k, has)
				}
			}},
		// Resident 0 has no passkey: asking to sign is let through and
		// answered passkey_none.
		{method: "POST", route: "/v1/me/consents/:id/grant/options", allow: callersOf([]callerKind{kResident}, authed),
			req: fixed("/v1/me/consents/"+c1+"/grant/options", nil)},
		{method: "POST", route: "/v1/me/consents/:id/revoke/options", allow: callersOf([]callerKind{kResident}, authed),
			req: fixed("/v1/me/consents/"+c1+"/revoke/options", nil)},
		{method: "GET", route: "/v1/me/consents/:id/proof", allow: ownerOnly, req: fixed("/v1/me/consents/"+c1+"/proof", nil), check: proofOf(c1)},
		{method: "GET", route: "/v1/me/rules", allow: residents, req: fixed("/v1/me/rules", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				for _, rule := range listOf(r, "rules") {
					if rule["eid"] != eidOf[k] {
						t.Errorf("%s sees standing rule of %v", k, rule["eid"])
					}
				}
			}},
		{method: "POST", route: "/v1/me/rules", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules", map[string]any{"departments": []string{}, "data_types": []string{"edu.degree"},
				"purpose_code": "employment", "valid_until": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})},
		{method: "POST", route: "/v1/me/rules/:id/revoke", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules/sr-000000000000000000000000/revoke", nil)},
		{method: "GET", route: "/v1/me/passkeys", allow: residents, req: fixed("/v1/me/passkeys", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				if list := listOf(r, "passkeys"); len(list) != 0 {
					t.Errorf("%s has passkeys %v", k, list)
				}
			}},
		{method: "POST", route: "/v1/me/passkeys/options", allow: residents, req: fixed("/v1/me/passkeys/options", nil)},
		{method: "POST", route: "/v1/me/passkeys", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/passkeys", notACredential)},
		{method: "DELETE", route: "/v1/me/passkeys/:id", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/passkeys/AAAA", nil)},
		{method: "POST", route: "/v1/me/consents/:id/grant", allow: ownerOnly, req: fixed("/v1/me/consents/"+c1+"/grant", nil),
			unchanged: mustStatus(c1, model.ConsentRequested)},
		{method: "POST", route: "/v1/me/consents/:id/deny", allow: ownerOnly, req: fixed("/v1/me/consents/"+c2+"/deny", nil),
			unchanged: mustStatus(c2, model.ConsentRequested)},

		// Resolve and introspection, with the consent granted.
		{method: "POST", route: "/v1/routes/resolve", allow: departments.with(kOtherDept, refused), req: fixed("/v1/routes/resolve", degree),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("ticket") == "" || r.str("consent_id") != c1 {
					t.Errorf("%s resolved %v", k, r.body)
				}
				accessID, ticket = r.str("access_id"), r.str("ticket")
			}},
		{method: "POST", route: "/v1/tickets/introspect", allow: departments,
			req: func(callerKind) (string, any) { return "/v1/tickets/introspect", map[string]any{"token": ticket} },
			check: func(t *testing.T, k callerKind, r reply) {
				// The ticket is addressed to edu-bureau, none of these.
				if r.body["active"] != false {
					t.Errorf("%s introspected edu-bureau's ticket: %v", k, r.body)
				}
			}},

		{method: "POST", route: "/v1/me/consents/:id/revoke", allow: ownerOnly, req: fixed("/v1/me/consents/"+c1+"/revoke", nil),
			unchanged: mustStatus(c1, model.ConsentActive),
			check: func(t *testing.T, _ callerKind, r reply) {
				if got := consentStatus(t, c1); got != model.ConsentRevoked {
					t.Errorf("consent %s is %s after the owner revoked it", c1, got)
				}
			}},
		{method: "GET", route: "/v1/me/access", allow: residents, req: fixed("/v1/me/access", nil),
			check: func(t *testing.T, k callerKind, r reply) {
				list := listOf(r, "access")
				for _, a := range list {
					if a["eid"] != eidOf[k] {
						t.Errorf("%s sees an access to %v", k, a["eid"])
					}
				}
				if has := slices.Contains(ids(list), accessID); has != (k == kResident) {
					t.Errorf("%s sees the access to resident 0: %v", k, has)
				}
			}},
		{method: "GET", route: "/v1/me/access/:id/proof", allow: ownerOnly,
			req: func(callerKind) (string, any) { return "/v1/me/access/" + accessID + "/proof", nil },
			check: func(t *testing.T, k callerKind, r reply) {
				if r.body["verified"] != true {
					t.Errorf("proof: %v", r.body)
				}
			}},

		// Disputes: the targets do not exist or the body is invalid, so an
		// allowed caller is let through and nothing is disputed.
		{method: "GET", route: "/v1/me/disputes", allow: residents, req: fixed("/v1/me/disputes", nil)},
		{method: "POST", route: "/v1/me/disputes", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: func(callerKind) (string, any) {
				return "/v1/me/disputes", map[string]any{"access_id": accessID, "reason": "matrix"}
			}},
		{method: "GET", route: "/v1/me/disputes/:id", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/disputes/dp-000000000000000000000000", nil)},
		{method: "GET", route: "/v1/disputes", allow: departments, req: fixed("/v1/disputes", nil)},
		{method: "GET", route: "/v1/disputes/:id", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/disputes/dp-000000000000000000000000", nil)},
		{method: "POST", route: "/v1/disputes/:id/answer", allow: callersOf([]callerKind{kDept, kDeptCert, kOtherDept}, authed),
			req: fixed("/v1/disputes/dp-000000000000000000000000/answer", map[string]any{"answer": "matrix"})},
		{method: "GET", route: "/v1/admin/disputes", allow: auditors, req: fixed("/v1/admin/disputes", nil)},
		{method: "GET", route: "/v1/admin/disputes/:id", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: fixed("/v1/admin/disputes/dp-000000000000000000000000", nil)},
		{method: "POST", route: "/v1/admin/disputes/:id/close", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: fixed("/v1/admin/disputes/dp-000000000000000000000000/close", map[string]any{"outcome": "dismissed", "note": "matrix"})},
		{method: "GET", route: "/portal/access/:id/dispute", allow: ownerOnly.with(kOtherResident, authed),
			req: func(callerKind) (string, any) { return "/portal/access/" + accessID + "/dispute", nil }},
		{method: "POST", route: "/portal/access/:id/dispute", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: func(k callerKind) (string, any) {
				return page("/portal/access/"+accessID+"/dispute", "reason", "matrix")(k)
			}},
		{method: "GET", route: "/admin/disputes", allow: auditors, req: fixed("/admin/disputes", nil)},
		{method: "GET", route: "/admin/disputes/:id", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: fixed("/admin/disputes/dp-000000000000000000000000", nil)},
		{method: "POST", route: "/admin/disputes/:id/close", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: page("/admin/disputes/dp-000000000000000000000000/close", "outcome", "dismissed", "note", "matrix")},

		// Break-glass: grants are policy (read by auditors, written by
		// administrators); accesses are reviewed by auditors. Ids name
		// nothing and bodies are invalid, so nothing changes.
		{method: "GET", route: "/v1/admin/break-glass", allow: auditors, req: fixed("/v1/admin/break-glass", nil)},
		{method: "POST", route: "/v1/admin/break-glass/:id/review", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: fixed("/v1/admin/break-glass/"+noAccess+"/review", map[string]any{"note": "matrix"})},
		{method: "GET", route: "/v1/admin/policies/break-glass", allow: auditors, req: fixed("/v1/admin/policies/break-glass", nil)},
		{method: "POST", route: "/v1/admin/policies/break-glass", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/policies/break-glass", map[string]any{"subject": "*", "data_type": "*", "purpose": "matrix"})},
		{method: "POST", route: "/v1/admin/policies/break-glass/delete", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/policies/break-glass/delete", map[string]any{"subject": "*", "data_type": "*", "purpose": "matrix"})},
		{method: "GET", route: "/admin/break-glass", allow: auditors, req: fixed("/admin/break-glass", nil)},
		{method: "POST", route: "/admin/break-glass/:id/review", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: page("/admin/break-glass/"+noAccess+"/review", "note", "matrix")},
		{method: "POST", route: "/admin/policies/break-glass", allow: adminOnly.with(kAdmin, authed),
			req: page("/admin/policies/break-glass", "subject", "*", "data_type", "*", "purpose", "matrix")},
		{method: "POST", route: "/admin/policies/break-glass/delete", allow: adminOnly.with(kAdmin, authed),
			req: page("/admin/policies/break-glass/delete", "subject", "*", "data_type", "*", "purpose", "matrix")},

		// Standing rules: a resident's own; proofs of rules that do not
		// exist; the public rule-proof check refuses a malformed proof.
		{method: "POST", route: "/v1/rule-proofs/verify", allow: callersOf(everyCaller, authed),
			req: fixed("/v1/rule-proofs/verify", map[string]any{"format": "not-a-proof"})},
		{method: "POST", route: "/v1/me/rules/options", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules/options", map[string]any{"data_types": []string{}})},
		{method: "POST", route: "/v1/me/rules/signed", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules/signed", map[string]any{"ceremony": "none"})},
		{method: "POST", route: "/v1/me/rules/:id/revoke/options", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules/"+noRule+"/revoke/options", nil)},
		{method: "GET", route: "/v1/me/rules/:id/proof", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/rules/"+noRule+"/proof", nil)},
		{method: "GET", route: "/v1/admin/rules/:id/proof", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed),
			req: fixed("/v1/admin/rules/"+noRule+"/proof", nil)},
		{method: "GET", route: "/portal/rules", allow: residents, req: fixed("/portal/rules", nil)},
		{method: "POST", route: "/portal/rules", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: page("/portal/rules", "data_type", "no.such")},
		{method: "POST", route: "/portal/rules/:id/revoke", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: page("/portal/rules/" + noRule + "/revoke")},
		{method: "PUT", route: "/v1/me/time-zone", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/time-zone", map[string]any{"time_zone": "Not/AZone"})},
		{method: "POST", route: "/portal/time-zone", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: page("/portal/time-zone", "time_zone", "Not/AZone")},

		// Representation: officers register and end relations; a resident
		// sees their guardians and wards, and acts only for a ward of theirs
		// (nobody here is anyone's ward: not found).
		{method: "GET", route: "/v1/admin/representations", allow: mappers, req: fixed("/v1/admin/representations?ward="+url.QueryEscape(r0.EID), nil)},
		{method: "GET", route: "/v1/admin/representations/:id", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed),
			req: fixed("/v1/admin/representations/"+noRep, nil)},
		{method: "POST", route: "/v1/admin/representations", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed),
			req: fixed("/v1/admin/representations", map[string]any{"kind": "matrix"})},
		{method: "POST", route: "/v1/admin/representations/:id/end", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed),
			req: fixed("/v1/admin/representations/"+noRep+"/end", map[string]any{"reason": "matrix"})},
		{method: "POST", route: "/admin/residents/:eid/guardians", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed),
			req: page("/admin/residents/"+throwaway[6]+"/guardians", "kind", "matrix")},
		{method: "POST", route: "/admin/residents/:eid/guardians/end", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed),
			req: page("/admin/residents/"+throwaway[6]+"/guardians/end", "id", noRep, "reason", "matrix")},
		{method: "GET", route: "/v1/me/guardians", allow: residents, req: fixed("/v1/me/guardians", nil)},
		{method: "GET", route: "/v1/me/wards", allow: residents, req: fixed("/v1/me/wards", nil)},
		{method: "GET", route: "/v1/me/wards/:ward/consents", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents", nil)},
		{method: "GET", route: "/v1/me/wards/:ward/access", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/access", nil)},
		{method: "POST", route: "/v1/me/wards/:ward/consents/:id/grant/options", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents/"+c1+"/grant/options", nil)},
		{method: "POST", route: "/v1/me/wards/:ward/consents/:id/grant", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents/"+c1+"/grant", nil)},
		{method: "POST", route: "/v1/me/wards/:ward/consents/:id/deny", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents/"+c1+"/deny", nil)},
		{method: "POST", route: "/v1/me/wards/:ward/consents/:id/revoke/options", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents/"+c1+"/revoke/options", nil)},
		{method: "POST", route: "/v1/me/wards/:ward/consents/:id/revoke", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/v1/me/wards/"+noWard+"/consents/"+c1+"/revoke", nil)},
		{method: "GET", route: "/portal/wards", allow: residents, req: fixed("/portal/wards", nil)},
		{method: "GET", route: "/portal/wards/:ward", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: fixed("/portal/wards/"+noWard, nil)},
		{method: "POST", route: "/portal/wards/:ward/consents/:id/deny", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: page("/portal/wards/" + noWard + "/consents/" + c1 + "/deny")},

		// Admin API.
		{method: "GET", route: "/v1/admin/me", allow: allStaff, req: fixed("/v1/admin/me", nil)},
		{method: "GET", route: "/v1/admin/departments", allow: allStaff, req: fixed("/v1/admin/departments", nil)},
		{method: "GET", route: "/v1/admin/passkeys", allow: allStaff, req: fixed("/v1/admin/passkeys", nil)},
		{method: "POST", route: "/v1/admin/passkeys/options", allow: allStaff, req: fixed("/v1/admin/passkeys/options", nil)},
		{method: "POST", route: "/v1/admin/passkeys", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed),
			req: fixed("/v1/admin/passkeys", notACredential)},
		{method: "DELETE", route: "/v1/admin/passkeys/:id", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed),
			req: fixed("/v1/admin/passkeys/AAAA", nil)},
		{method: "GET", route: "/v1/admin/consents/:id/proof", allow: auditors, req: fixed("/v1/admin/consents/"+c1+"/proof", nil), check: proofOf(c1)},
		{method: "POST", route: "/v1/admin/departments", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/departments", map[string]any{"id": "Not A Valid Id"})},
		{method: "PUT", route: "/v1/admin/departments/:id", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/departments/hrss", map[string]any{"id": "civil-affairs"})},
		{method: "POST", route: "/v1/admin/departments/:id/status", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/departments/hrss/status", map[string]any{"status": "no-such-status", "reason": "matrix"}),
			check: func(t *testing.T, _ callerKind, _ reply) {
				d, err := m.agent.GetDepartment(ctx, "hrss")
				if err != nil {
					t.Errorf("err = %v, want nil; hrss after a status change with a bad status: %+v, %v", err, d, err)
				} else if d.Status != model.DepartmentActive {
					t.Errorf("d.Status = %v, want model.DepartmentActive; hrss after a status change with a bad status: %+v, %v", d.Status, d, err)
				}
			}},
		{method: "GET", route: "/v1/admin/departments/:id/apikeys", allow: adminOnly, req: fixed("/v1/admin/departments/hrss/apikeys", nil)},
		{method: "POST", route: "/v1/admin/departments/:id/apikeys", allow: adminOnly,
			req: fixed("/v1/admin/departments/hrss/apikeys", map[string]any{"name": "matrix"}),
			check: func(t *testing.T, _ callerKind, r reply) {
				keyToken = r.str("token")
				key, _ := r.body["api_key"].(map[string]any)
				keyID, _ = key["id"].(string)
			}},
		{method: "POST", route: "/v1/admin/apikeys/:id/revoke", allow: adminOnly,
			req: func(callerKind) (string, any) { return "/v1/admin/apikeys/" + keyID + "/revoke", nil },
			unchanged: func(t *testing.T) {
				if r := s.do(caller{apiKey: keyToken, headers: hrss.headers}, http.MethodGet, "/v1/consents", nil); r.status != http.StatusOK {
					t.Errorf("the API key stopped working after refused revocations: %d", r.status)
				}
			},
			check: func(t *testing.T, _ callerKind, _ reply) {
				if r := s.do(caller{apiKey: keyToken, headers: hrss.headers}, http.MethodGet, "/v1/consents", nil); r.status != http.StatusUnauthorized {
					t.Errorf("a revoked API key: %d", r.status)
				}
			}},
		{method: "GET", route: "/v1/admin/datatypes", allow: allStaff, req: fixed("/v1/admin/datatypes", nil)},
		{method: "POST", route: "/v1/admin/datatypes", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/datatypes", map[string]any{"code": "Not A Code"})},
		{method: "PUT", route: "/v1/admin/datatypes/:code", allow: adminOnly.with(kAdmin, authed),
			req: fixed("/v1/admin/datatypes/edu.degree", map[string]any{"code": "edu.transcript"})},

		{method: "POST", route: "/v1/admin/eids", allow: mappers,
			req: func(k callerKind) (string, any) {
				n := 200
				if k == kOfficer {
					n = 201
				}
				return "/v1/admin/eids", map[string]any{"documents": []any{passport(n)}}
			}},
		{method: "POST", route: "/v1/admin/eids/search", allow: mappers, req: fixed("/v1/admin/eids/search", map[string]any{"document": r0doc}),
			check: func(t *testing.T, k callerKind, r reply) {
				if r.str("eid") != r0.EID {
					t.Errorf("%s searched: %v", k, r.body)
				}
			}},
		{method: "GET", route: "/v1/admin/eids/:eid", allow: mappers, req: fixed("/v1/admin/eids/"+r0.EID, nil)},
		{method: "POST", route: "/v1/admin/eids/:eid/documents", allow: mappers,
			req: func(k callerKind) (string, any) {
				n := 300
				if k == kOfficer {
					n = 301
				}
				return "/v1/admin/eids/" + mine(k, 0, 1) + "/documents", map[string]any{"document": passport(n)}
			},
			check: func(t *testing.T, k callerKind, r reply) { addedRef[k] = r.str("ref") }},
		{method: "DELETE", route: "/v1/admin/eids/:eid/documents/:ref", allow: mappers,
			req: func(k callerKind) (string, any) {
				if k != kOfficer {
					k = kAdmin
				}
				return "/v1/admin/eids/" + mine(k, 0, 1) + "/documents/" + addedRef[k], nil
			},
			unchanged: func(t *testing.T) {
				docs, err := m.mapping.Documents(ctx, throwaway[0])
				if err != nil || len(docs) != 2 {
					t.Errorf("documents of %s after refused removals: %d, %v", throwaway[0], len(docs), err)
				}
			}},
		{method: "POST", route: "/v1/admin/eids/:eid/merge", allow: mappers,
			req: func(k callerKind) (string, any) {
				return "/v1/admin/eids/" + mine(k, 2, 3) + "/merge", map[string]any{"into": mine(k, 0, 1), "reason": "matrix"}
			},
			unchanged: func(t *testing.T) {
				if e, err := m.agent.GetEID(ctx, throwaway[2]); err != nil {
					t.Errorf("err = %v, want nil; %s after refused merges: %+v, %v", err, throwaway[2], e, err)
				} else if e.Status != model.EIDActive {
					t.Errorf("e.Status = %v, want model.EIDActive; %s after refused merges: %+v, %v", e.Status, throwaway[2], e, err)
				}
			}},
		{method: "POST", route: "/v1/admin/eids/:eid/deactivate", allow: mappers,
			req: func(k callerKind) (string, any) {
				return "/v1/admin/eids/" + mine(k, 4, 5) + "/deactivate", map[string]any{"reason": "matrix"}
			},
			unchanged: func(t *testing.T) {
				if e, err := m.agent.GetEID(ctx, throwaway[4]); err != nil {
					t.Errorf("err = %v, want nil; %s after refused deactivations: %+v, %v", err, throwaway[4], e, err)
				} else if e.Status != model.EIDActive {
					t.Errorf("e.Status = %v, want model.EIDActive; %s after refused deactivations: %+v, %v", e.Status, throwaway[4], e, err)
				}
			}},
		{method: "POST", route: "/v1/admin/eids/:eid/activation-code", allow: mappers,
			req: func(k callerKind) (string, any) { return "/v1/admin/eids/" + mine(k, 6, 7) + "/activation-code", nil }},
		{method: "POST", route: "/v1/admin/imports", allow: mappers,
			req: func(k callerKind) (string, any) {
				n := 400
				if k == kOfficer {
					n = 401
				}
				return "/v1/admin/imports?name=matrix.csv", rawBody{"text/csv", fmt.Appendf(nil, "passport,MX%06d,,FRA\n", n)}
			},
			check: func(t *testing.T, k callerKind, r reply) {
				if k == kAdmin {
					importID = r.str("id")
				}
			}},
		{method: "GET", route: "/v1/admin/imports", allow: mappers, req: fixed("/v1/admin/imports", nil)},
		{method: "GET", route: "/v1/admin/imports/:id", allow: mappers, req: func(callerKind) (string, any) { return "/v1/admin/imports/" + importID, nil }},
		{method: "GET", route: "/v1/admin/imports/:id/rejects", allow: mappers,
			req: func(callerKind) (string, any) { return "/v1/admin/imports/" + importID + "/rejects", nil }},

		{method: "GET", route: "/v1/admin/policies", allow: auditors, req: fixed("/v1/admin/policies", nil)},
		{method: "POST", route: "/v1/admin/policies/rules", allow: adminOnly,
			req: fixed("/v1/admin/policies/rules", map[string]any{"kind": "p", "subject": "matrix-role", "object": "edu.degree", "action": "admission", "effect": "deny"})},
		{method: "POST", route: "/v1/admin/policies/rules/delete", allow: adminOnly,
			req: fixed("/v1/admin/policies/rules/delete", map[string]any{"kind": "p", "subject": "matrix-role", "object": "edu.degree", "action": "admission", "effect": "deny"})},
		{method: "GET", route: "/v1/admin/policies/history", allow: auditors, req: fixed("/v1/admin/policies/history", nil)},
		{method: "POST", route: "/v1/admin/policies/explain", allow: auditors,
			req: fixed("/v1/admin/policies/explain", map[string]any{"department": "hrss", "data_type": "edu.degree", "purpose": "employment"})},
		{method: "GET", route: "/v1/admin/access", allow: auditors, req: fixed("/v1/admin/access", nil)},
		{method: "GET", route: "/v1/admin/anchoring", allow: auditors, req: fixed("/v1/admin/anchoring", nil)},
		{method: "GET", route: "/v1/admin/users", allow: adminOnly, req: fixed("/v1/admin/users", nil)},
		// Staff management and the officials' audit trail: the targets do not
		// exist, so an allowed caller is let through and changes nothing.
		{method: "POST", route: "/v1/admin/users/:name/disable", allow: callersOf([]callerKind{kAdmin}, authed), req: fixed("/v1/admin/users/no-such-user/disable", map[string]any{"reason": "matrix"})},
		{method: "POST", route: "/v1/admin/users/:name/enable", allow: callersOf([]callerKind{kAdmin}, authed), req: fixed("/v1/admin/users/no-such-user/enable", map[string]any{"reason": "matrix"})},
		{method: "POST", route: "/v1/admin/users/:name/reset", allow: callersOf([]callerKind{kAdmin}, authed), req: fixed("/v1/admin/users/no-such-user/reset", map[string]any{"reason": "matrix"})},
		{method: "POST", route: "/v1/admin/users/:name/role", allow: callersOf([]callerKind{kAdmin}, authed), req: fixed("/v1/admin/users/no-such-user/role", map[string]any{"role": accounts.RoleAuditor, "reason": "matrix"})},
		{method: "POST", route: "/v1/admin/activate", allow: nobody,
			req: fixed("/v1/admin/activate", map[string]any{"username": "no-such-user", "code": "WRONG-CODE-1234", "password": "a-New-passw0rd-1"})},
		{method: "GET", route: "/v1/admin/audit", allow: auditors, req: fixed("/v1/admin/audit", nil)},
		{method: "GET", route: "/v1/admin/audit/export", allow: auditors, req: fixed("/v1/admin/audit/export", nil)},
		{method: "GET", route: "/v1/admin/audit/:id", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed), req: fixed("/v1/admin/audit/no-such-record", nil)},
		{method: "GET", route: "/v1/admin/audit/:id/proof", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed), req: fixed("/v1/admin/audit/no-such-record/proof", nil)},
		{method: "GET", route: "/v1/admin/proposals", allow: allStaff, req: fixed("/v1/admin/proposals", nil)},
		{method: "POST", route: "/v1/admin/proposals/:id/approve", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed), req: fixed("/v1/admin/proposals/no-such-proposal/approve", map[string]any{})},
		{method: "POST", route: "/v1/admin/proposals/:id/reject", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed), req: fixed("/v1/admin/proposals/no-such-proposal/reject", map[string]any{})},
		{method: "GET", route: "/v1/me/audit", allow: residents, req: fixed("/v1/me/audit", nil)},
		{method: "GET", route: "/v1/me/audit/:id/proof", allow: callersOf([]callerKind{kResident, kOtherResident}, authed), req: fixed("/v1/me/audit/no-such-record/proof", nil)},
		{method: "POST", route: "/v1/admin/users", allow: adminOnly,
			req: fixed("/v1/admin/users", map[string]any{"username": "matrix-auditor", "password": "Matrix-passw0rd-1", "role": accounts.RoleAuditor})},

		// Portal and console pages: the same sessions, CSRF in the form.
		{method: "GET", route: "/", allow: callersOf(everyCaller, authed), req: fixed("/", nil)},
		{method: "GET", route: "/static/*file", allow: callersOf(everyCaller, authed), req: fixed("/static/site.css", nil)},
		{method: "HEAD", route: "/static/*file", allow: callersOf(everyCaller, authed), req: fixed("/static/site.css", nil)},
		{method: "GET", route: "/portal/login", allow: callersOf(everyCaller, authed), req: fixed("/portal/login", nil)},
		{method: "GET", route: "/portal/activate", allow: callersOf(everyCaller, authed), req: fixed("/portal/activate", nil)},
		{method: "GET", route: "/admin/login", allow: callersOf(everyCaller, authed), req: fixed("/admin/login", nil)},
		// (Signed-in callers are sent on from the sign-in pages.) Forms shown
		// before sign-in need their signed form token.
		{method: "POST", route: "/portal/lang", allow: nobody, req: fixed("/portal/lang", formBody("lang", "en"))},
		{method: "POST", route: "/admin/lang", allow: nobody, req: fixed("/admin/lang", formBody("lang", "en"))},
		{method: "POST", route: "/portal/login", allow: nobody, req: fixed("/portal/login", formBody("type", r3.DocType, "number", r3.DocNumber, "country", r3.Country, "password", "not-the-Passw0rd"))},
		{method: "POST", route: "/portal/activate", allow: nobody, req: fixed("/portal/activate", formBody("type", r3.DocType, "number", r3.DocNumber, "country", r3.Country, "code", "WRONG", "password", "a-New-passw0rd"))},
		{method: "POST", route: "/admin/login", allow: nobody, req: fixed("/admin/login", formBody("username", "no-such-user", "password", "not-the-Passw0rd"))},

		{method: "GET", route: "/portal", allow: residents, req: fixed("/portal", nil)},
		{method: "GET", route: "/portal/data", allow: residents, req: fixed("/portal/data", nil)},
		{method: "GET", route: "/portal/inbox", allow: residents, req: fixed("/portal/inbox", nil)},
		{method: "GET", route: "/portal/consents", allow: residents, req: fixed("/portal/consents", nil)},
		{method: "GET", route: "/portal/access", allow: residents, req: fixed("/portal/access", nil)},
		{method: "GET", route: "/portal/credentials", allow: residents, req: fixed("/portal/credentials", nil)},
		{method: "GET", route: "/portal/credentials/:id/download", allow: ownerOnly, req: fixed("/portal/credentials/"+url.PathEscape(r0CredID)+"/download", nil)},
		{method: "GET", route: "/portal/present", allow: residents, req: fixed("/portal/present?nonce=n-matrix&aud=did%3Aeidgate%3Adept%3Ahrss&purpose=employment", nil)},
		{method: "POST", route: "/portal/present", allow: ownerOnly,
			req: page("/portal/present", "credential", r0CredID, "disclose", "degree", "nonce", "n-matrix", "aud", "did:eidgate:dept:hrss", "purpose", "employment")},
		{method: "GET", route: "/portal/verify", allow: anyone, req: fixed("/portal/verify", nil)},
		// Posted with a session's token (residents); anyone else's form
		// carries the signed form token of the page it came from.
		{method: "POST", route: "/portal/verify", allow: residents, req: page("/portal/verify", "token", r0Cred)},
		{method: "GET", route: "/portal/security", allow: residents, req: fixed("/portal/security", nil)},
		{method: "POST", route: "/portal/passkeys/remove", allow: callersOf([]callerKind{kResident, kOtherResident}, authed),
			req: page("/portal/passkeys/remove", "id", "AAAA")},
		// C2 was denied above: nobody can change it any more, and callers
		// other than its resident cannot even try.
		{method: "POST", route: "/portal/consents/:id/grant", allow: ownerOnly.with(kResident, authed), req: page("/portal/consents/" + c2 + "/grant"),
			unchanged: mustStatus(c2, model.ConsentDenied)},
		{method: "POST", route: "/portal/consents/:id/deny", allow: ownerOnly.with(kResident, authed), req: page("/portal/consents/" + c2 + "/deny"),
			unchanged: mustStatus(c2, model.ConsentDenied)},
		{method: "POST", route: "/portal/consents/:id/revoke", allow: ownerOnly.with(kResident, authed), req: page("/portal/consents/" + c2 + "/revoke"),
			unchanged: mustStatus(c2, model.ConsentDenied)},

		{method: "GET", route: "/admin", allow: allStaff, req: fixed("/admin", nil)},
		{method: "GET", route: "/admin/departments", allow: allStaff, req: fixed("/admin/departments", nil)},
		{method: "GET", route: "/admin/departments/:id", allow: allStaff, req: fixed("/admin/departments/hrss", nil)},
		{method: "GET", route: "/admin/datatypes", allow: allStaff, req: fixed("/admin/datatypes", nil)},
		{method: "GET", route: "/admin/datatypes/:code", allow: allStaff, req: fixed("/admin/datatypes/edu.degree", nil)},
		// Registry forms name nothing that exists, or carry bad values.
		{method: "POST", route: "/admin/departments", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments", "id", "Not A Valid Id")},
		{method: "POST", route: "/admin/departments/:id", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept", "name", "x")},
		{method: "POST", route: "/admin/departments/:id/keys", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept/keys", "kid", "x")},
		{method: "POST", route: "/admin/departments/:id/keys/retire", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept/keys/retire", "kid", "x")},
		{method: "POST", route: "/admin/departments/:id/keys/revoke", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept/keys/revoke", "kid", "x", "revoke_reason", "matrix")},
		{method: "POST", route: "/admin/departments/:id/status", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept/status", "status", "suspended", "reason", "matrix")},
		{method: "POST", route: "/admin/departments/:id/apikeys", allow: adminOnly.with(kAdmin, authed), req: page("/admin/departments/no-such-dept/apikeys", "name", "matrix")},
		{method: "POST", route: "/admin/apikeys/:id/revoke", allow: adminOnly.with(kAdmin, authed), req: page("/admin/apikeys/no-such-key/revoke")},
		{method: "POST", route: "/admin/datatypes", allow: adminOnly.with(kAdmin, authed), req: page("/admin/datatypes", "code", "Not A Code")},
		{method: "POST", route: "/admin/datatypes/:code", allow: adminOnly.with(kAdmin, authed), req: page("/admin/datatypes/no.such", "name", "x")},
		{method: "GET", route: "/admin/residents", allow: mappers, req: fixed("/admin/residents", nil)},
		{method: "POST", route: "/admin/residents", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents")},
		{method: "POST", route: "/admin/residents/search", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/search", "type", r0.DocType, "number", r0.DocNumber)},
		{method: "GET", route: "/admin/residents/:eid", allow: mappers, req: fixed("/admin/residents/"+r0.EID, nil)},
		{method: "POST", route: "/admin/residents/:eid/documents", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/" + throwaway[6] + "/documents")},
		{method: "POST", route: "/admin/residents/:eid/documents/remove", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/"+throwaway[6]+"/documents/remove", "ref", "no-such-ref")},
		{method: "POST", route: "/admin/residents/:eid/merge", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/"+throwaway[6]+"/merge", "into", "not-an-eid")},
		{method: "POST", route: "/admin/residents/:eid/deactivate", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/"+throwaway[7]+"/deactivate", "reason", "matrix"),
			unchanged: func(t *testing.T) {
				if e, err := m.agent.GetEID(ctx, throwaway[7]); err != nil {
					t.Errorf("err = %v, want nil; %s after refused deactivations: %+v, %v", err, throwaway[7], e, err)
				} else if e.Status != model.EIDActive {
					t.Errorf("e.Status = %v, want model.EIDActive; %s after refused deactivations: %+v, %v", e.Status, throwaway[7], e, err)
				}
			}},
		{method: "POST", route: "/admin/residents/:eid/activation-code", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/residents/" + throwaway[6] + "/activation-code")},
		{method: "GET", route: "/admin/imports", allow: mappers, req: fixed("/admin/imports", nil)},
		{method: "POST", route: "/admin/imports", allow: callersOf([]callerKind{kAdmin, kOfficer}, authed), req: page("/admin/imports")},
		{method: "GET", route: "/admin/imports/:id", allow: mappers, req: func(callerKind) (string, any) { return "/admin/imports/" + importID, nil }},
		{method: "GET", route: "/admin/policies", allow: auditors, req: fixed("/admin/policies", nil)},
		{method: "POST", route: "/admin/policies/explain", allow: callersOf([]callerKind{kAdmin, kAuditor}, authed), req: page("/admin/policies/explain", "department", "hrss", "data_type", "edu.degree", "purpose", "employment")},
		{method: "POST", route: "/admin/policies/rules", allow: adminOnly.with(kAdmin, authed), req: page("/admin/policies/rules", "kind", "p")},
		{method: "POST", route: "/admin/policies/rules/delete", allow: adminOnly.with(kAdmin, authed), req: page("/admin/policies/rules/delete", "kind", "p")},
		{method: "GET", route: "/admin/audit", allow: auditors, req: fixed("/admin/audit", nil)},
		{method: "GET", route: "/admin/consents/:id", allow: auditors, req: fixed("/admin/consents/"+c1, nil)},
		{method: "GET", route: "/admin/security", allow: allStaff, req: fixed("/admin/security", nil)},
		{method: "POST", route: "/admin/passkeys/remove", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed),
			req: page("/admin/passkeys/remove", "id", "AAAA")},
		{method: "GET", route: "/admin/users", allow: adminOnly, req: fixed("/admin/users", nil)},
		{method: "POST", route: "/admin/users", allow: adminOnly.with(kAdmin, authed), req: page("/admin/users", "username", "x")},
		{method: "POST", route: "/admin/users/:name/status", allow: callersOf([]callerKind{kAdmin}, authed), req: page("/admin/users/no-such-user/status", "status", "disabled")},
		{method: "POST", route: "/admin/users/:name/role", allow: callersOf([]callerKind{kAdmin}, authed), req: page("/admin/users/no-such-user/role", "role", accounts.RoleAuditor)},
		{method: "POST", route: "/admin/users/:name/reset", allow: callersOf([]callerKind{kAdmin}, authed), req: page("/admin/users/no-such-user/reset")},
		{method: "GET", route: "/admin/acts", allow: auditors, req: fixed("/admin/acts", nil)},
		{method: "GET", route: "/admin/proposals", allow: allStaff, req: fixed("/admin/proposals", nil)},
		{method: "POST", route: "/admin/proposals/:id", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed), req: page("/admin/proposals/no-such-proposal", "decision", "reject")},
		{method: "GET", route: "/admin/activate", allow: callersOf(everyCaller, authed), req: fixed("/admin/activate", nil)},
		{method: "POST", route: "/admin/activate", allow: nobody, req: fixed("/admin/activate", formBody("username", "no-such-user", "code", "WRONG", "password", "a-New-passw0rd-1"))},
		{method: "POST", route: "/portal/logout", allow: callersOf([]callerKind{kResident, kOtherResident}, authed), req: page("/portal/logout"),
			check: func(t *testing.T, k callerKind, _ reply) {
				if r := s.do(callers[k], http.MethodGet, "/v1/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("%s's session after the portal's logout: %d", k, r.status)
				}
			}},
		{method: "POST", route: "/admin/logout", allow: callersOf([]callerKind{kAdmin, kOfficer, kAuditor}, authed), req: page("/admin/logout"),
			check: func(t *testing.T, k callerKind, _ reply) {
				if r := s.do(callers[k], http.MethodGet, "/v1/admin/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("%s's session after the console's logout: %d", k, r.status)
				}
			}},

		// Last: signing out ends the sessions used above.
		{method: "POST", route: "/v1/me/logout", allow: residents, req: fixed("/v1/me/logout", nil),
			before: func() {
				callers[kResident], callers[kOtherResident] = s.resident(0), s.resident(1)
				callers[kAdmin], callers[kOfficer], callers[kAuditor] = s.admin(), s.staff(accounts.RoleMappingOfficer), s.staff(accounts.RoleAuditor)
			},
			check: func(t *testing.T, k callerKind, _ reply) {
				if r := s.do(callers[k], http.MethodGet, "/v1/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("%s's session after logout: %d", k, r.status)
				}
			}},
		{method: "POST", route: "/v1/admin/logout", allow: allStaff, req: fixed("/v1/admin/logout", nil),
			check: func(t *testing.T, k callerKind, _ reply) {
				if r := s.do(callers[k], http.MethodGet, "/v1/admin/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("%s's session after logout: %d", k, r.status)
				}
			}},
	}

	// Every registered route has a row, and every row a registered route.
	registered := map[string]bool{}
	for _, rt := range m.gateway.Handler().(*gin.Engine).Routes() {
		registered[rt.Method+" "+rt.Path] = true
	}
	covered := map[string]bool{}
	for _, row := range rows {
		key := row.method + " " + row.route
		if covered[key] {
			t.Errorf("route %s has two rows", key)
		}
		covered[key] = true
		if !registered[key] {
			t.Errorf("row %s names a route the gateway does not register", key)
		}
	}
	var missing []string
	for key := range registered {
		if !covered[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("route %s is not classified in the matrix: add a row", key)
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, row := range rows {
		name := row.method + " " + row.route
		if row.before != nil {
			row.before()
		}
		var allowed []callerKind
		for _, k := range everyCaller {
			if _, ok := row.allow[k]; !ok {
				path, body := row.req(k)
				r := s.do(callers[k], row.method, path, body)
				if !refusal(r) {
					t.Errorf("%s as %s: %d %v (Location %q); want 401, 403, 404, 429 too_many_attempts or a redirect to a sign-in page", name, k, r.status, r.body, r.header.Get("Location"))
				}
			} else {
				allowed = append(allowed, k)
			}
		}
		if row.unchanged != nil {
			row.unchanged(t)
		}
		if name == "GET /v1/me/access/:id/proof" {
			waitAnchored(t, s, callers[kResident], accessID)
		}
		for _, k := range allowed {
			path, body := row.req(k)
			r := s.do(callers[k], row.method, path, body)
			switch w := row.allow[k]; {
			case w == ok && (r.status < 200 || r.status > 299):
				t.Errorf("%s as %s: %d %v; want success", name, k, r.status, r.body)
				continue
			case w == authed && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status >= 500):
				t.Errorf("%s as %s: %d %v; want it let through (an answer other than 401/403)", name, k, r.status, r.body)
				continue
			}
			if row.check != nil {
				row.check(t, k, r)
			}
		}
	}
	if !strings.HasPrefix(m.URL(), "https://") {
		t.Fatalf("the gateway under test serves %s, not HTTPS", m.URL())
	}
}

// refusal reports whether an answer refused the caller: 401, 403, 404, or
// (pages) a redirect to a sign-in page.
func refusal(r reply) bool {
	switch r.status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	case http.StatusFound, http.StatusSeeOther:
		return strings.HasSuffix(r.header.Get("Location"), "/login")
	case http.StatusTooManyRequests:
		// Every caller of the matrix sends the same wrong sign-in, so the
		// name's growing delay answers some of them: refused all the same.
		return r.errCode() == "too_many_attempts"
	}
	return false
}

// formBody is an application/x-www-form-urlencoded body of name, value
// pairs.
func formBody(pairs ...string) rawBody {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	return rawBody{"application/x-www-form-urlencoded", []byte(v.Encode())}
}

// staff signs in the demo console user with a role.
func (s *stack) staff(role string) caller {
	s.t.Helper()
	for _, u := range s.demo.Staff {
		if u.Role == role {
			return s.login("/v1/admin/login", map[string]any{"username": u.Username, "password": u.Password})
		}
	}
	s.t.Fatalf("no demo console user with role %s", role)
	return caller{}
}

// waitAnchored waits until the resident's access record is anchored.
func waitAnchored(t *testing.T, s *stack, me caller, accessID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := s.do(me, http.MethodGet, "/v1/me/access", nil)
		list, _ := r.body["access"].([]any)
		for _, a := range list {
			if a, _ := a.(map[string]any); a["id"] == accessID && a["anchored"] == true {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("access %s was not anchored in time", accessID)
}

// TestClientCertificateOfAnotherOrganisationIsRefused presents department
// certificates that must not authenticate hrss: one issued by another
// department's CA that claims eidgate.dept=hrss, and one from a CA no
// department has.
func TestClientCertificateOfAnotherOrganisationIsRefused(t *testing.T) {
	t.Parallel()
	certs := e2etest.NewServerTLS(t)
	s := startDemo(t, func(c *Config) { c.TLSCert, c.TLSKey = certs.CertFile, certs.KeyFile })
	forged, err := s.m.peer.IssueIdentity("civil-affairs", "forged-hrss", map[string]string{"eidgate.role": "department", "eidgate.dept": "hrss"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := s.m.peer.Identity("hrss", devnet.DepartmentSystemName)
	if err != nil {
		t.Fatal(err)
	}
	foreign := e2etest.NewServerTLS(t) // a CA outside the consortium
	foreignCert, err := tls.LoadX509KeyPair(foreign.CertFile, foreign.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		want int
	}{
		{"hrss's own certificate", e2etest.MSPCertificate(t, own.MSPDir, own.MSPID), http.StatusOK},
		{"civil-affairs certificate claiming hrss", e2etest.MSPCertificate(t, forged.MSPDir, forged.MSPID), http.StatusUnauthorized},
		{"certificate from a foreign CA", foreignCert, http.StatusUnauthorized},
	} {
		c := caller{headers: map[string]string{"X-Eidgate-Official": "clerk-hrss"},
			client: s.spec.Client(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.ClientConfig(&tc.cert)}})}
		if r := s.do(c, http.MethodGet, "/v1/consents", nil); r.status != tc.want {
			t.Errorf("%s: %d %v; want %d", tc.name, r.status, r.body, tc.want)
		}
	}
}
