package policies

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/testenv"
)

// On PostgreSQL a change wakes the other replicas through LISTEN/NOTIFY:
// with polling too slow to matter and no Redis, the notification alone
// carries it.
func TestReplicasFollowByPostgresNotifications(t *testing.T) {
	dsn := postgresSchema(t)
	followsNotified(t, Config{DB: openPostgresAt(t, dsn), PollInterval: time.Hour}, Config{DB: openPostgresAt(t, dsn), PollInterval: time.Hour})
}

// With Redis configured but gone, replicas on one PostgreSQL still follow
// every change, as fast as without it.
func TestReplicasFollowWithRedisDown(t *testing.T) {
	dsn := postgresSchema(t)
	u, err := url.Parse(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := e2etest.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	channel := randomName("eidgate-test/policy/")
	a := Config{DB: openPostgresAt(t, dsn), RedisURL: u.String(), RedisChannel: channel}
	b := Config{DB: openPostgresAt(t, dsn), RedisURL: u.String(), RedisChannel: channel}
	followsNotified(t, a, b, proxy.Cut)
}

// When the version cannot be checked (the database is gone), decisions
// stop after the staleness bound: 503 policy_unavailable, never a decision
// by a policy that may have changed.
func TestDecideFailsClosedWhenThePolicyCannotBeChecked(t *testing.T) {
	db := openSQLite(t)
	e := newEngine(t, Config{DB: db, PollInterval: 50 * time.Millisecond, MaxStaleness: 200 * time.Millisecond})
	ctx := context.Background()
	if _, err := e.AddRule(ctx, "alice", Rule{"hrss", "edu.*", "employment", EffectAllow}); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Decide(ctx, "hrss", "edu.degree", "employment"); err != nil || !d.Allowed {
		t.Fatalf("decide: %+v %v", d, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	_ = sqlDB.Close()
	eventually(t, 30*time.Second, "decide refusing with the database gone", func() bool {
		_, err := e.Decide(ctx, "hrss", "edu.degree", "employment")
		return isCode(err, "policy_unavailable")
	})
}

// followsNotified starts two replicas, runs then (Redis going away), and
// checks that they follow each other's changes with notifications from
// PostgreSQL reaching them.
func followsNotified(t *testing.T, ca, cb Config, then ...func()) {
	t.Helper()
	a, b := newEngine(t, ca), newEngine(t, cb)
	for _, f := range then {
		f()
	}
	before := b.Notifications()
	checkReplicasFollow(t, a, b)
	if b.Notifications() == before {
		t.Error("replica b followed without a PostgreSQL notification: the test proves nothing about them")
	}
}
