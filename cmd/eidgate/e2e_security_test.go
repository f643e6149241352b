package main

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/store/storetest"
)

// loseReplayData deletes the used-ticket ids Redis holds, as a Redis that
// lost its data would.
func loseReplayData(t *testing.T, redisURL string) {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, cache.DefaultPrefix+"jti:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("Redis holds no used-ticket ids: the test would prove nothing")
	}
	if err := c.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
}

// A used ticket stays used: after Redis loses its data and after the
// gateway restarts, introspection answers active:false and the provider
// refuses it, while a ticket issued but never used is still good once.
func TestUsedTicketStaysUsedAcrossRedisLossAndRestart(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), true, "warn"
	cfg.DB, cfg.Redis = pg.DSN, redisURL
	first := NewMain(cfg)
	if err := first.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = first.Close()
		}
	})
	s := newStack(t, first, first.Demo(), nil)
	grantDegree(t, s)
	resident := s.demo.Residents[0]
	req := resolveBody(resident, "edu.degree", "employment")
	hrss, edu := s.dept("hrss"), s.dept("edu-bureau")
	var introspected, fetched, spare reply
	for _, r := range []*reply{&introspected, &fetched, &spare} {
		if *r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", req); r.status != http.StatusOK || r.str("ticket") == "" {
			t.Fatalf("resolve: %d %v", r.status, r.body)
		}
	}
	active := func(s *stack, token string) bool {
		t.Helper()
		r := s.do(edu, http.MethodPost, "/v1/tickets/introspect", map[string]any{"token": token})
		if r.status != http.StatusOK {
			t.Fatalf("introspect: %d %v", r.status, r.body)
		}
		a, _ := r.body["active"].(bool)
		return a
	}
	// The demo provider is served by the gateway, at the address of the
	// gateway running now.
	fetch := func(r reply) int {
		t.Helper()
		u, err := url.Parse(r.str("provider", "endpoint"))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fetchRecord(t, http.DefaultClient, s.m.URL()+u.Path, resident.EID, "edu.degree", r.str("ticket"))
		return st
	}
	if !active(s, introspected.str("ticket")) || active(s, introspected.str("ticket")) {
		t.Fatal("the ticket was not active exactly once")
	}
	if st := fetch(fetched); st != http.StatusOK {
		t.Fatalf("the provider refused a fresh ticket: %d", st)
	}

	loseReplayData(t, redisURL)
	if active(s, introspected.str("ticket")) {
		t.Error("after Redis lost its data a used ticket is active again")
	}
	if st := fetch(fetched); st == http.StatusOK {
		t.Error("after Redis lost its data the provider served a used ticket again")
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	loseReplayData(t, redisURL)
	again := newTestMain(t, cfg)
	s = newStack(t, again, again.Demo(), nil)
	waitStatus(t, s, "/readyz", http.StatusOK, time.Minute)
	if active(s, introspected.str("ticket")) {
		t.Error("after a restart a used ticket is active again")
	}
	if st := fetch(fetched); st == http.StatusOK {
		t.Error("after a restart the provider served a used ticket again")
	}
	if !active(s, spare.str("ticket")) || active(s, spare.str("ticket")) {
		t.Error("a ticket never used before the restart was not active exactly once after it")
	}
}
