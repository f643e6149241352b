package e2etest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FlushRedisPrefix deletes every key under prefix in the Redis at rawURL,
// now and again when the test ends, so gateways started by one test never
// read what another left behind (the gateway's cache keys, such as a
// department's endpoint, would otherwise outlive its ledger).
func FlushRedisPrefix(tb testing.TB, rawURL, prefix string) {
	tb.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		tb.Fatalf("redis URL: %v", err)
	}
	flush := func() error {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				return err
			}
			keys = keys[n:]
		}
		return nil
	}
	if err := flush(); err != nil {
		tb.Fatalf("flush redis keys %s*: %v", prefix, err)
	}
	tb.Cleanup(func() {
		if err := flush(); err != nil {
			tb.Errorf("flush redis keys %s*: %v", prefix, err)
		}
	})
}
