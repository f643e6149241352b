package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/store/storetest"
)

// viaProxy returns rawURL with its host:port replaced by a proxy to it.
func viaProxy(t *testing.T, rawURL string) (string, *e2etest.Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := e2etest.StartProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// grantDegree has hrss ask resident 0 for edu.degree (employment) through
// s and the resident grant it; it returns the consent id.
func grantDegree(t *testing.T, s *stack) string {
	t.Helper()
	req := resolveBody(s.demo.Residents[0], "edu.degree", "employment")
	r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	id := r.str("error", "details", "consent_id")
	if r.status != http.StatusForbidden || id == "" {
		t.Fatalf("resolve without consent: %d %v", r.status, r.body)
	}
	if r = s.do(s.resident(0), http.MethodPost, "/v1/me/consents/"+id+"/grant", nil); r.status != http.StatusOK {
		t.Fatalf("grant: %d %v", r.status, r.body)
	}
	return id
}

// waitStatus polls path on s until it answers want.
func waitStatus(t *testing.T, s *stack, path string, want int, within time.Duration) reply {
	t.Helper()
	return waitAnswer(t, s, caller{}, http.MethodGet, path, nil, want, within)
}

// waitAnswer repeats a call until it is answered with want, and fails the
// test when that has not happened within the given time.
func waitAnswer(t *testing.T, s *stack, who caller, method, path string, body any, want int, within time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.do(who, method, path, body)
		if r.status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s still answers %d %v after %s; want %d", method, path, r.status, r.body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisDownResolvesFallBackAndRevocationHolds cuts Redis under a
// running gateway: resolves keep working from the ledger, a revocation
// made while Redis is away takes effect at once, and once Redis is back
// the stale entry it still holds is not served.
func TestRedisDownResolvesFallBackAndRevocationHolds(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	proxied, proxy := viaProxy(t, redisURL)
	s := startDemo(t, func(c *Config) { c.DB, c.Redis = pg.DSN, proxied })
	alice := s.demo.Residents[0]
	req := resolveBody(alice, "edu.degree", "employment")
	hrss := s.dept("hrss")
	consentID := grantDegree(t, s)
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(opt)
	defer direct.Close()
	consentsKey := cache.DefaultPrefix + "consents:" + alice.EID
	ctx := context.Background()
	// The grant's chaincode event invalidates the resident's consents when
	// it arrives, which may be after the first resolves cached them: resolve
	// until the entry is in Redis, so that cutting Redis proves something.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
			t.Fatalf("resolve with Redis: %d %v", r.status, r.body)
		}
		n, err := direct.Exists(ctx, consentsKey).Result()
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resident's consents are not cached in Redis (%d, %v): the test would prove nothing", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	proxy.Cut()
	if r := waitStatus(t, s, "/readyz", http.StatusServiceUnavailable, 10*time.Second); !strings.Contains(fmt.Sprint(r.body), "redis") {
		t.Errorf("readyz with Redis down names no redis check: %v", r.body)
	}
	r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusOK || r.str("ticket") == "" {
		t.Fatalf("resolve with Redis down: %d %v", r.status, r.body)
	}
	// The provider's replay cache is in Redis: a ticket is served at most
	// once, whether the provider fails closed or remembers it locally.
	served := 0
	for range 2 {
		if st, _ := fetchRecord(t, http.DefaultClient, r.str("provider", "endpoint"), alice.EID, "edu.degree", r.str("ticket")); st == http.StatusOK {
			served++
		}
	}
	if served > 1 {
		t.Errorf("with Redis down the provider served one ticket %d times", served)
	}
	if r = s.do(s.resident(0), http.MethodPost, "/v1/me/consents/"+consentID+"/revoke", nil); r.status != http.StatusOK {
		t.Fatalf("revoke with Redis down: %d %v", r.status, r.body)
	}
	if r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden || r.errCode() != "consent_revoked" {
		t.Fatalf("resolve after revoking with Redis down: %d %v", r.status, r.body)
	}
	if n, _ := direct.Exists(ctx, consentsKey).Result(); n != 1 {
		t.Fatal("the stale consents entry left Redis: the rest of the test would prove nothing")
	}

	// Redis is back with the entry that still shows the consent active;
	// past the cache's cooldown the gateway talks to Redis again and must
	// not serve it.
	proxy.Restore()
	waitStatus(t, s, "/readyz", http.StatusOK, 20*time.Second)
	for i := 0; i < 15; i++ {
		if r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden || r.errCode() != "consent_revoked" {
			t.Fatalf("resolve %d after Redis returned: %d %v (a stale cache entry served)", i, r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resolveOutcome is what one resolve under load returned.
type resolveOutcome struct {
	status   int
	code     string
	ticket   string
	ticketID string
	accessID string
	err      error
}

// loadResolves sends resolves from workers until stop closes or each
// worker sent max requests.
func loadResolves(base string, c caller, body any, workers, maxPer int, stop <-chan struct{}) func() []resolveOutcome {
	var (
		mu  sync.Mutex
		out []resolveOutcome
		wg  sync.WaitGroup
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxPer; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := postJSON(client, base+"/v1/routes/resolve", c, body)
				o := resolveOutcome{status: r.status, code: r.errCode(), ticket: r.str("ticket"), ticketID: r.str("ticket_id"), accessID: r.str("access_id"), err: err}
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
			}
		}()
	}
	return func() []resolveOutcome {
		wg.Wait()
		return out
	}
}

// TestDatabaseDownAnswers503AndWritesNothingHalf cuts PostgreSQL under
// load: resolves answer 503 with a database code and no ticket; once the
// database is back, every ticket returned has its durable record, and
// every record that used the consent has its counted use and no use is
// counted without its record.
func TestDatabaseDownAnswers503AndWritesNothingHalf(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	proxied, proxy := viaProxy(t, pg.DSN)
	s := startDemo(t, func(c *Config) { c.DB = proxied })
	consentID := grantDegree(t, s)
	req := resolveBody(s.demo.Residents[0], "edu.degree", "employment")
	hrss := s.dept("hrss")
	if r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
		t.Fatalf("resolve: %d %v", r.status, r.body)
	}

	stop := make(chan struct{})
	wait := loadResolves(s.m.URL(), hrss, req, 3, 300, stop)
	time.Sleep(400 * time.Millisecond)
	proxy.Cut()
	time.Sleep(300 * time.Millisecond)
	r := s.do(hrss, http.MethodPost, "/v1/routes/resolve", req)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.errCode(), "database") || r.str("ticket") != "" {
		t.Errorf("resolve with the database down: %d %v; want 503 with a database code and no ticket", r.status, r.body)
	}
	if r = s.do(caller{}, http.MethodGet, "/readyz", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database down: %d %v", r.status, r.body)
	}
	close(stop)
	outcomes := wait()
	proxy.Restore()

	// The gateway recovers by itself.
	r = waitAnswer(t, s, hrss, http.MethodPost, "/v1/routes/resolve", req, http.StatusOK, 30*time.Second)

	var issued, unavailable int
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("a resolve failed without an answer: %v", o.err)
		case o.status == http.StatusOK:
			issued++
			var outcome, ticketID string
			row := s.m.db.Gorm().Raw(`SELECT outcome, ticket_id FROM access_records WHERE id = ?`, o.accessID).Row()
			if err := row.Scan(&outcome, &ticketID); err != nil {
				t.Errorf("ticket %s was returned without a durable record %s: %v", o.ticketID, o.accessID, err)
			} else if outcome != "issued" || ticketID != o.ticketID {
				t.Errorf("record %s: outcome %s ticket %s; the answer had ticket %s", o.accessID, outcome, ticketID, o.ticketID)
			}
		case o.status == http.StatusServiceUnavailable:
			unavailable++
			if o.ticket != "" {
				t.Errorf("a 503 carried a ticket")
			}
		default:
			t.Errorf("resolve under load answered %d %s", o.status, o.code)
		}
	}
	if issued == 0 || unavailable == 0 {
		t.Errorf("load saw %d issued and %d unavailable answers; the cut did not land mid-load", issued, unavailable)
	}
	records := queryInt(t, s.m.db, `SELECT COUNT(*) FROM access_records WHERE used_consent AND consent_id = ?`, consentID)
	uses := queryInt(t, s.m.db, `SELECT uses FROM consent_usage WHERE consent_id = ?`, consentID)
	if records != uses {
		t.Errorf("%d records used consent %s, %d uses counted", records, consentID, uses)
	}
	if records < int64(issued)+2 {
		t.Errorf("%d records for %d tickets returned", records, issued+2)
	}
	t.Logf("under load: %d issued, %d unavailable; %d records", issued, unavailable, records)
}

// TestLedgerDownReplicaAnswers503AndIsNotReady runs replica B on the
// host's ledger through a proxy and cuts it: B is not ready, a resolve it
// cannot answer from the ledger is a 503 without a ticket, and a
// revocation made through A meanwhile still stops B. After the ledger
// returns B recovers by itself.
func TestLedgerDownReplicaAnswers503AndIsNotReady(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	shared := func(c *Config) { c.DB, c.Redis = pg.DSN, redisURL }
	a := startHost(t, shared)
	proxy := e2etest.StartProxy(t, a.peer.Addr())
	b := startReplica(t, a, profileVia(t, a, devnet.AgentName, proxy.Addr()), profileVia(t, a, devnet.AdminName, proxy.Addr()), shared)
	sa, sb := newStack(t, a, a.Demo(), nil), newStack(t, b, a.Demo(), nil)
	consentID := grantDegree(t, sa)
	req := resolveBody(a.Demo().Residents[0], "edu.degree", "employment")
	hrss := sb.dept("hrss")
	if r := sb.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
		t.Fatalf("resolve through B: %d %v", r.status, r.body)
	}
	waitStatus(t, sb, "/readyz", http.StatusOK, 20*time.Second)

	proxy.Cut()
	waitStatus(t, sb, "/readyz", http.StatusServiceUnavailable, 20*time.Second)
	// A resident B never looked up: only the ledger knows.
	other := map[string]any{"subject": map[string]any{"eid": a.Demo().Residents[2].EID}, "data_type": "civil.household", "purpose": "social_assistance"}
	r := sb.do(hrss, http.MethodPost, "/v1/routes/resolve", other)
	if r.status != http.StatusServiceUnavailable || r.str("ticket") != "" {
		t.Errorf("resolve through B with the ledger down: %d %v; want 503 and no ticket", r.status, r.body)
	}
	// A revokes; B cannot hear the event but must not use the consent.
	if r = sa.do(sa.resident(0), http.MethodPost, "/v1/me/consents/"+consentID+"/revoke", nil); r.status != http.StatusOK {
		t.Fatalf("revoke through A: %d %v", r.status, r.body)
	}
	revoked := time.Now()
	for {
		r = sb.do(hrss, http.MethodPost, "/v1/routes/resolve", req)
		if r.status != http.StatusOK {
			break
		}
		if time.Since(revoked) > revocationBound {
			t.Fatalf("B, cut from the ledger, still resolves with a consent revoked %v ago", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.str("ticket") != "" {
		t.Errorf("B answered %d with a ticket", r.status)
	}

	proxy.Restore()
	waitStatus(t, sb, "/readyz", http.StatusOK, 60*time.Second)
	if r = sb.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusForbidden || r.errCode() != "consent_revoked" {
		t.Errorf("resolve through B after the ledger returned: %d %v", r.status, r.body)
	}
}

// TestAnchoringLagStopsTicketsUntilLedgerReturns runs replica B with its
// own database, so B alone anchors its access records, and a short lag
// bound. With the ledger cut, B goes on answering from its cache (and
// recording) until its oldest unanchored record is older than the bound;
// then it refuses with 503 anchoring_lag and is not ready. When the ledger returns, anchoring
// catches up and resolves work again; every record is anchored once.
func TestAnchoringLagStopsTicketsUntilLedgerReturns(t *testing.T) {
	t.Parallel()
	a := startHost(t, nil)
	proxy := e2etest.StartProxy(t, a.peer.Addr())
	b := startReplica(t, a, profileVia(t, a, devnet.AgentName, proxy.Addr()), profileVia(t, a, devnet.AdminName, proxy.Addr()),
		func(c *Config) { c.AnchorLagBound = 2 * time.Second })
	ctx := context.Background()
	// B's own database: the operator issues hrss a key and loads the policy.
	token, _, err := b.apiKeys.IssueAPIKey(ctx, "hrss", "lag test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.policy.LoadDefaults(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	sa, sb := newStack(t, a, a.Demo(), nil), newStack(t, b, a.Demo(), nil)
	grantDegree(t, sa)
	hrss := caller{apiKey: token, headers: map[string]string{"X-Eidgate-Official": "clerk-hrss"}}
	req := resolveBody(a.Demo().Residents[0], "edu.degree", "employment")
	if r := sb.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK {
		t.Fatalf("resolve through B: %d %v", r.status, r.body)
	}
	waitAllAnchored(t, b.db, 20*time.Second)

	proxy.Cut()
	cut := time.Now()
	// B still answers what it can without the ledger: a request the policy
	// refuses needs only the cached mapping and the policy, and leaves an
	// access record that cannot be anchored now. Once the oldest of them
	// is older than the bound, B refuses everything before doing any work.
	denied := resolveBody(a.Demo().Residents[0], "edu.transcript", "employment")
	var r reply
	refusedByPolicy := 0
	for {
		r = sb.do(hrss, http.MethodPost, "/v1/routes/resolve", denied)
		if r.status != http.StatusForbidden || r.errCode() != "policy_denied" {
			break
		}
		refusedByPolicy++
		if time.Since(cut) > 30*time.Second {
			t.Fatal("B kept answering for 30 s with nothing anchored")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if refusedByPolicy == 0 {
		t.Errorf("B answered nothing from its cache with the ledger cut: first answer %d %v", r.status, r.body)
	}
	for _, body := range []any{denied, req} {
		if r = sb.do(hrss, http.MethodPost, "/v1/routes/resolve", body); r.status != http.StatusServiceUnavailable || r.errCode() != "anchoring_lag" || r.str("ticket") != "" {
			t.Fatalf("resolve with anchoring stalled: %d %v; want 503 anchoring_lag", r.status, r.body)
		}
	}
	if ready := sb.do(caller{}, http.MethodGet, "/readyz", nil); ready.status != http.StatusServiceUnavailable || !strings.Contains(mustJSON(ready.body), "anchoring") {
		t.Errorf("readyz with anchoring stalled: %d %v", ready.status, ready.body)
	}

	proxy.Restore()
	r = waitAnswer(t, sb, hrss, http.MethodPost, "/v1/routes/resolve", req, http.StatusOK, 60*time.Second)
	waitStatus(t, sb, "/readyz", http.StatusOK, 30*time.Second)
	waitAllAnchored(t, b.db, 30*time.Second)
	n := checkAnchoredExactlyOnce(t, b.db, a.agent)
	t.Logf("B anchored %d records after the ledger returned", n)
}
