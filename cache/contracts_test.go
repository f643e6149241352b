package cache_test

import (
	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
)

// The consumers' interfaces these types are wired into.
var (
	_ routing.Cache        = (*cache.Memory)(nil)
	_ routing.Cache        = (*cache.Redis)(nil)
	_ routing.Cache        = (*cache.Near)(nil)
	_ provider.ReplayCache = (*cache.RedisReplay)(nil)
	_ gateway.RateLimiter  = (*cache.KeyedLimiter)(nil)
	_ cache.RateLimiter    = (*cache.MemoryLimiter)(nil)
	_ cache.RateLimiter    = (*cache.RedisLimiter)(nil)
)
