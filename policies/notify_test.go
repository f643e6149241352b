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
	a := newEngine(t, Config{DB: openPostgresAt(t, dsn), PollInterval: time.Hour})
	b := newEngine(t, Config{DB: openPostgresAt(t, dsn), PollInterval: time.Hour})
	before := b.Notifications()
	checkReplicasFollow(t, a, b)
	if b.Notifications() == before {
		t.Error("replica b followed without a notification: the test proves nothing about them")
	}
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
	a := newEngine(t, Config{DB: openPostgresAt(t, dsn), RedisURL: u.String(), RedisChannel: channel})
	b := newEngine(t, Config{DB: openPostgresAt(t, dsn), RedisURL: u.String(), RedisChannel: channel})
	proxy.Cut()
	before := b.Notifications()
	checkReplicasFollow(t, a, b)
	if b.Notifications() == before {
		t.Error("no PostgreSQL notification reached replica b")
	}
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
