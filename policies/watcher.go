package policies

import (
	"github.com/casbin/casbin/v2/persist"
	rediswatcher "github.com/casbin/redis-watcher/v2"
	"github.com/redis/go-redis/v9"
)

// newRedisWatcher subscribes to channel; onMessage runs for every change
// announced by another replica (its own announcements are ignored).
func newRedisWatcher(opts *redis.Options, channel string, onMessage func(string)) (persist.Watcher, error) {
	sub, pub := redis.NewClient(opts), redis.NewClient(opts)
	w, err := rediswatcher.NewWatcher(opts.Addr, rediswatcher.WatcherOptions{
		SubClient:              sub,
		PubClient:              pub,
		Channel:                channel,
		IgnoreSelf:             true,
		OptionalUpdateCallback: onMessage,
	})
	if err != nil {
		_ = sub.Close()
		_ = pub.Close()
		return nil, err
	}
	return w, nil
}
