package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/store/storetest"
)

// revocationBound is how soon a revocation must stop resolves on every
// replica (docs/architecture.md, Caches and replicas).
const revocationBound = time.Second

// TestReplicasShareLedgerDatabaseAndCache runs two gateways on one
// PostgreSQL schema, one Redis database and one ledger: A hosts the
// embedded peer and loaded the demo; B reaches the peer over TLS with the
// Fabric client and finds the demo's departments, keys and accounts on the
// shared ledger and database. A consent granted through A lets B resolve;
// a revocation through A stops B within the bound while B is under load,
// and A at once; both replicas anchor, and every record is anchored
// exactly once.
func TestReplicasShareLedgerDatabaseAndCache(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	shared := func(c *Config) { c.DB, c.Redis = pg.DSN, redisURL }
	a := startHost(t, shared)
	b := startReplica(t, a, hostProfile(a, devnet.AgentName), hostProfile(a, devnet.AdminName), shared)
	sa := newStack(t, a, a.Demo(), nil)
	sb := newStack(t, b, a.Demo(), nil)
	alice := a.Demo().Residents[0]
	req := resolveBody(alice, "edu.degree", "employment")

	// No consent: B opens the request on the shared ledger.
	r := sb.do(sb.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	consentID := r.str("error", "details", "consent_id")
	if r.status != http.StatusForbidden || r.errCode() != "consent_required" || consentID == "" {
		t.Fatalf("resolve through B without consent: %d %v", r.status, r.body)
	}
	// The resident signs in on either replica (shared sessions) and grants
	// through A.
	meA := sa.resident(0)
	if r = sa.do(meA, http.MethodPost, "/v1/me/consents/"+consentID+"/grant", nil); r.status != http.StatusOK {
		t.Fatalf("grant through A: %d %v", r.status, r.body)
	}
	if r = sb.do(sb.resident(0), http.MethodGet, "/v1/me/consents", nil); r.status != http.StatusOK || !containsJSON(r.body, consentID) {
		t.Fatalf("the resident's consents through B: %d %v", r.status, r.body)
	}

	// B resolves; the provider (served by A) takes the ticket once: the
	// replay cache is shared.
	r = sb.do(sb.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusOK || r.str("ticket") == "" {
		t.Fatalf("resolve through B with consent: %d %v", r.status, r.body)
	}
	endpoint, ticket := r.str("provider", "endpoint"), r.str("ticket")
	if status, body := fetchRecord(t, http.DefaultClient, endpoint, alice.EID, "edu.degree", ticket); status != http.StatusOK {
		t.Fatalf("provider refused B's ticket: %d %s", status, body)
	}
	if status, body := fetchRecord(t, http.DefaultClient, endpoint, alice.EID, "edu.degree", ticket); status != http.StatusUnauthorized {
		t.Fatalf("provider accepted a replayed ticket: %d %s", status, body)
	}
	if r = sa.do(sa.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
		t.Fatalf("resolve through A with consent: %d %v", r.status, r.body)
	}

	// A anchored so far. Hand the anchoring lease to B, as when A stalls
	// past the lease: B renews it from its next round and anchors the rest.
	waitAllAnchored(t, a.db, 30*time.Second)
	if a.anchorer.Status().Batches == 0 {
		t.Fatal("A holds the lease but anchored nothing")
	}
	if err := a.db.Gorm().Exec(`UPDATE leases SET holder = ?, expires_at = ? WHERE name = 'anchorer'`,
		b.anchorer.Holder(), time.Now().Add(time.Minute).UnixNano()).Error; err != nil {
		t.Fatal(err)
	}

	// Load on B while A revokes.
	type outcome struct {
		start  time.Time
		status int
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	hrssB := sb.dept("hrss")
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				st, _ := rawResolve(b.URL(), hrssB, req)
				mu.Lock()
				outcomes = append(outcomes, outcome{start, st})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the load warm B's cache
	if r = sa.do(meA, http.MethodPost, "/v1/me/consents/"+consentID+"/revoke", nil); r.status != http.StatusOK {
		t.Fatalf("revoke through A: %d %v", r.status, r.body)
	}
	revoked := time.Now()
	// A made the change: refused at once.
	if r = sa.do(sa.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden || r.errCode() != "consent_required" {
		t.Errorf("resolve through A right after A's revocation: %d %v", r.status, r.body)
	}
	// B: refused within the bound.
	var refusedAfter time.Duration = -1
	for time.Since(revoked) < 5*revocationBound {
		st, code := rawResolve(b.URL(), hrssB, req)
		if st == http.StatusForbidden && code == "consent_required" {
			refusedAfter = time.Since(revoked)
			break
		}
		if st != http.StatusOK {
			t.Fatalf("resolve through B after the revocation: %d %s", st, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if refusedAfter < 0 || refusedAfter > revocationBound {
		t.Errorf("B still resolved with the revoked consent %v after the revocation returned (bound %v)", refusedAfter, revocationBound)
	}
	for _, o := range outcomes {
		if o.status == http.StatusOK && o.start.After(revoked.Add(revocationBound)) {
			t.Errorf("B issued a ticket for a request sent %v after the revocation", o.start.Sub(revoked))
		}
		if o.status != http.StatusOK && o.status != http.StatusForbidden {
			t.Errorf("B under load answered %d", o.status)
		}
	}
	t.Logf("B refused %v after the revocation; %d resolves under load", refusedAfter, len(outcomes))

	// Both replicas run anchorers on the shared database; the lease lets
	// one at a time anchor, and every record is anchored exactly once.
	waitAllAnchored(t, a.db, 30*time.Second)
	n := checkAnchoredExactlyOnce(t, a.db, a.agent)
	if n < 4 {
		t.Errorf("only %d access records", n)
	}
	t.Logf("%d records; batches anchored by A %d, by B %d", n, a.anchorer.Status().Batches, b.anchorer.Status().Batches)
	if b.anchorer.Status().Batches == 0 {
		t.Error("B took the lease but anchored nothing")
	}
	if _, err := b.agent.GetConsent(context.Background(), consentID); err != nil {
		t.Errorf("B reads the consent on the ledger: %v", err)
	}
}

func containsJSON(v any, s string) bool { return s != "" && strings.Contains(mustJSON(v), s) }

// rawResolve resolves without failing the test (for load goroutines): it
// returns the status and the error code, 0 when the request failed.
func rawResolve(base string, c caller, body any) (int, string) {
	r, err := postJSON(http.DefaultClient, base+"/v1/routes/resolve", c, body)
	if err != nil {
		return 0, err.Error()
	}
	return r.status, r.errCode()
}

// TestAnchoringLeaseMovesOffAReplicaCutFromTheLedger hands the anchoring
// lease to replica B and then cuts B from the ledger while A, which can
// still reach it, resolves: B must give the lease up so A anchors, and A
// must go on issuing tickets past the lag bound instead of failing closed
// because of B's broken link. Every record is anchored exactly once.
func TestAnchoringLeaseMovesOffAReplicaCutFromTheLedger(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	const bound = 2 * time.Second
	shared := func(c *Config) { c.DB, c.Redis, c.AnchorLagBound = pg.DSN, redisURL, bound }
	a := startHost(t, shared)
	proxy := e2etest.StartProxy(t, a.peer.Addr())
	b := startReplica(t, a, profileVia(t, a, devnet.AgentName, proxy.Addr()), profileVia(t, a, devnet.AdminName, proxy.Addr()), shared)
	sa := newStack(t, a, a.Demo(), nil)
	grantDegree(t, sa)
	req := resolveBody(a.Demo().Residents[0], "edu.degree", "employment")
	hrss := sa.dept("hrss")
	waitAllAnchored(t, a.db, 30*time.Second)

	// B takes the lease (as when A stalled past it) and renews it.
	if err := a.db.Gorm().Exec(`UPDATE leases SET holder = ?, expires_at = ? WHERE name = 'anchorer'`,
		b.anchorer.Holder(), time.Now().Add(time.Minute).UnixNano()).Error; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !b.anchorer.Status().Leader || a.anchorer.Status().Leader {
		if time.Now().After(deadline) {
			t.Fatal("B did not take the anchoring lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := a.anchorer.Status().Batches

	proxy.Cut()
	// A resolves for well past the lag bound.
	until := time.Now().Add(3 * bound)
	for n := 0; time.Now().Before(until); n++ {
		if r := sa.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
			t.Fatalf("resolve %d through A while the lease holder B is cut from the ledger: %d %v", n, r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := a.anchorer.Status().Batches; got == before {
		t.Error("A never took over anchoring")
	}
	proxy.Restore()
	waitAllAnchored(t, a.db, 30*time.Second)
	checkAnchoredExactlyOnce(t, a.db, a.agent)
}
