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

// used reports whether Redis remembers jti as used.
func (c *RedisReplay) used(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := c.r.call(ctx, "cache.RedisReplay.used", false, func(ctx context.Context) error {
		var err error
		n, err = c.r.client.Exists(ctx, c.r.prefix+"jti:"+jti).Result()
		return err
	})
	return n > 0, err
}

// TicketUses keeps tickets' single use durably (*store.DB): the use is
// written with the ticket's access record, in one conditional update.
type TicketUses interface {
	ConsumeTicket(ctx context.Context, jti string, at time.Time) (fresh bool, err error)
}

// DurableReplay is the gateway's replay cache: the database decides, Redis
// (when there is one) only answers replays of tickets it knows were used
// without a database round trip. A use is written to Redis only after the
// database recorded it, so losing Redis loses speed, never single use, and
// Redis down leaves the database to answer alone. It implements
// provider.ReplayCache.
type DurableReplay struct {
	uses  TicketUses
	front *RedisReplay // nil: no Redis
	clock routing.Clock
}

// NewDurableReplay is a replay cache over uses with front (optional) in
// front of it.
func NewDurableReplay(uses TicketUses, front *RedisReplay, clock routing.Clock) *DurableReplay {
	if clock == nil {
		clock = routing.SystemClock{}
	}
	return &DurableReplay{uses: uses, front: front, clock: clock}
}

// Seen consumes jti and reports whether it had been used before; an error
// means the database could not say, and the ticket must be refused.
func (d *DurableReplay) Seen(ctx context.Context, jti string, until time.Time) (bool, error) {
	if d.front != nil {
		if used, err := d.front.used(ctx, jti); err == nil && used {
			return true, nil
		}
	}
	fresh, err := d.uses.ConsumeTicket(ctx, jti, d.clock.Now())
	if err != nil {
		return false, err
	}
	if d.front != nil {
		// Best effort: a failure only costs the next replay a database
		// round trip.
		_, _ = d.front.Seen(ctx, jti, until)
	}
	return !fresh, nil
}
