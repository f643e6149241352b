package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/store/storetest"
)

// TestReplicasSeeACredentialRevocationWithinTheBound runs two gateways on
// one PostgreSQL schema and one ledger, each with its own in-process cache
// (no Redis), behind one public URL. B has the issuer's DID document and
// the status list cached from verifying the graduate's credential; the
// education bureau revokes it through A. The status list's anchoring event
// reaches B's listener, which drops exactly that list, so B reports the
// credential revoked within the bound, as it does for consents.
func TestReplicasSeeACredentialRevocationWithinTheBound(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	a := startHost(t, func(c *Config) { c.DB = pg.DSN })
	b := startReplica(t, a, hostProfile(a, devnet.AgentName), hostProfile(a, devnet.AdminName), func(c *Config) {
		c.DB, c.PublicURL = pg.DSN, a.URL()
	})
	sa := newStack(t, a, a.Demo(), nil)
	sb := newStack(t, b, a.Demo(), nil)
	id, token := graduateCredential(t, sa, sa.resident(0))

	verifyB := func() string {
		r := sb.do(caller{}, http.MethodPost, "/v1/verify/public", map[string]string{"credential": token})
		if r.status != http.StatusOK {
			t.Fatalf("verify through B: %d %v", r.status, r.body)
		}
		code, _ := r.body["code"].(string)
		return code
	}
	// B verifies twice: the second answer comes from B's cache.
	for range 2 {
		if code := verifyB(); code != "verified" {
			t.Fatalf("B before the revocation: %s", code)
		}
	}
	if r := sa.do(sa.dept("edu-bureau"), http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/revoke", map[string]string{"reason": "degree annulled"}); r.status != http.StatusOK {
		t.Fatalf("revoke through A: %d %v", r.status, r.body)
	}
	revoked := time.Now()
	var seen time.Duration
	for {
		code := verifyB()
		if code == "revoked" {
			seen = time.Since(revoked)
			break
		}
		if code != "verified" {
			t.Fatalf("B answered %s", code)
		}
		if time.Since(revoked) > 10*time.Second {
			t.Fatal("B still verifies the revoked credential after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("B saw the revocation %s after A's answer", seen)
	if seen > revocationBound {
		t.Errorf("B saw the revocation after %s, bound %s", seen, revocationBound)
	}
	// A, which made the change, answers revoked at once.
	if r := sa.do(caller{}, http.MethodPost, "/v1/verify/public", map[string]string{"credential": token}); r.body["code"] != "revoked" {
		t.Errorf("A after its own revocation: %v", r.body["code"])
	}
}
