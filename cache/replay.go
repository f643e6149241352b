package cache

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// minReplayHold keeps a ticket id even when its expiry is already (nearly)
// past, so clock skew between replicas cannot reopen it.
const minReplayHold = time.Second

// RedisReplay remembers used access-ticket ids (jti) in Redis, so a ticket
// is accepted once across every replica that shares the Redis. It
// implements provider.ReplayCache.
type RedisReplay struct {
	r *Redis
}

// ReplayCache is a replay cache over r's connection and prefix (keys
// "<prefix>jti:<id>").
func (r *Redis) ReplayCache() *RedisReplay { return &RedisReplay{r: r} }

// Seen records jti until the ticket's expiry and reports whether it was
// recorded before. It is one atomic SET NX PX: of two replicas presenting
// the same ticket at once, exactly one sees alreadySeen=false. When Redis
// cannot answer it returns an error, and the caller must refuse the ticket.
func (c *RedisReplay) Seen(ctx context.Context, jti string, until time.Time) (bool, error) {
	const op = "cache.RedisReplay.Seen"
	if jti == "" {
		return false, routing.Invalid(op, "jti", "a ticket without an id cannot be checked for replay")
	}
	hold := max(until.Sub(c.r.clock.Now()), minReplayHold)
	var fresh bool
	err := c.r.call(ctx, op, false, func(ctx context.Context) error {
		var err error
		fresh, err = c.r.client.SetNX(ctx, c.r.prefix+"jti:"+jti, 1, hold).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	return !fresh, nil
}
