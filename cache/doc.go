// Package cache holds eidgate's caches and limits, in process and over
// Redis:
//
//   - Memory and Redis implement routing.Cache (the directory's read cache,
//     invalidated by chaincode events on every replica);
//   - RedisReplay implements provider.ReplayCache, so several replicas
//     accept an access ticket once between them;
//   - MemoryLimiter and RedisLimiter limit requests per key (per
//     department) with GCRA, the token bucket as one timestamp per key.
//
// Redis calls carry short deadlines and fail fast for a moment after Redis
// stopped answering: a cache error is a miss to the caller, never a wait.
package cache
