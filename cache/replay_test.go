package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/routing"
)

// ticketUses is the database's side of single use: a set of used ids, or
// an outage.
type ticketUses struct {
	mu    sync.Mutex
	used  map[string]bool
	calls int
	down  bool
}

func (u *ticketUses) ConsumeTicket(_ context.Context, jti string, _ time.Time) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if u.down {
		return false, routing.Unavailable("test", "database_unavailable", "the database is down", errors.New("down"))
	}
	if u.used[jti] {
		return false, nil
	}
	u.used[jti] = true
	return true, nil
}

// The database decides single use; Redis answers known replays first and
// learns a use only after the database recorded it.
func TestDurableReplayDatabaseDecidesRedisFronts(t *testing.T) {
	ctx := ctxT(t)
	r := openRedis(t, nil)
	uses := &ticketUses{used: map[string]bool{}}
	d := cache.NewDurableReplay(uses, r.ReplayCache(), nil)
	until := time.Now().Add(time.Minute)

	if seen, err := d.Seen(ctx, "t1", until); err != nil || seen {
		t.Fatalf("first use: seen=%v err=%v", seen, err)
	}
	calls := uses.calls
	if seen, err := d.Seen(ctx, "t1", until); err != nil || !seen {
		t.Fatalf("replay: seen=%v err=%v", seen, err)
	}
	if uses.calls != calls {
		t.Error("a replay Redis knew went to the database")
	}
	// Redis lost its data: the database still refuses the replay.
	if err := r.Client().Del(ctx, r.Prefix()+"jti:t1").Err(); err != nil {
		t.Fatal(err)
	}
	if seen, err := d.Seen(ctx, "t1", until); err != nil || !seen {
		t.Fatalf("replay after Redis lost the id: seen=%v err=%v", seen, err)
	}
	if uses.calls != calls+1 {
		t.Error("the replay after Redis lost the id did not reach the database: the test proves nothing")
	}
	// The database down: the check fails (the ticket is refused) and
	// Redis is not told of a use that was never recorded.
	uses.down = true
	if _, err := d.Seen(ctx, "t2", until); err == nil {
		t.Fatal("Seen with the database down did not fail")
	}
	uses.down = false
	if seen, err := d.Seen(ctx, "t2", until); err != nil || seen {
		t.Fatalf("a ticket refused while the database was down was used up: seen=%v err=%v", seen, err)
	}
	// Without Redis the database alone answers.
	alone := cache.NewDurableReplay(uses, nil, nil)
	if seen, err := alone.Seen(ctx, "t2", until); err != nil || !seen {
		t.Fatalf("replay without Redis: seen=%v err=%v", seen, err)
	}
}
