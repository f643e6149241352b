package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// walBackstopPages is the size (in pages of 4 KiB) past which a commit
// checkpoints the WAL itself, as SQLite does after every 1,000 pages by
// default: only when the checkpointer has fallen that far behind.
const walBackstopPages = 16_384

// checkpointEvery spaces the checkpoints: under a load of small commits
// (access records in group commits) one checkpoint takes in many of them,
// instead of one checkpoint, with its fsyncs, per commit.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies a SQLite database's committed WAL pages into the
// database file on its own connection, beside the writer.
//
// SQLite's default, a checkpoint by the committing connection once the WAL
// holds 1,000 pages, runs inside that writer's transaction slot: with a
// batch of a thousand documents (two thousand index pages changed at
// random) every commit paid for a checkpoint, a fifth of the import's
// database time, and held the next writer back for it. A PASSIVE
// checkpoint waits for no one: it copies the frames no reader still needs
// while the next transaction writes, and the WAL starts over from its
// beginning once everything is copied. Durability does not move: a
// commit is durable when its WAL frames are synced, as before.
type checkpointer struct {
	db      *sql.DB
	wake    chan struct{}
	done    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once
}

func startCheckpoints(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.stopped.Add(1)
	go c.run()
	return c
}

// kick asks for a checkpoint after a commit; it never waits.
func (c *checkpointer) kick() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.stopped.Done()
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		// A failed checkpoint loses nothing (the pages stay in the WAL)
		// and the next kick, or the backstop, tries again.
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-c.done:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// stop ends the checkpointer; the last connection to close checkpoints
// the rest.
func (c *checkpointer) stop() {
	if c == nil {
		return
	}
	c.once.Do(func() { close(c.done) })
	c.stopped.Wait()
}
