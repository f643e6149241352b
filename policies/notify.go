package policies

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// notifyChannel is the PostgreSQL channel a policy change is announced on,
// in the transaction that makes it: every replica on the database hears it
// when the change commits, Redis or not.
const notifyChannel = "eidgate_policy"

// announce queues the change's notification in tx (PostgreSQL only; it
// is delivered when tx commits).
func announce(tx *gorm.DB, version int64) error {
	if !isPostgres(tx) {
		return nil
	}
	return tx.Exec(`SELECT pg_notify(?, ?)`, notifyChannel, strconv.FormatInt(version, 10)).Error
}

// listen holds one connection of the pool listening for change
// notifications and wakes the follower on each; it reconnects after a
// failure until the engine closes.
func (e *Engine) listen() {
	defer e.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-e.done
		cancel()
	}()
	for ctx.Err() == nil {
		if err := e.listenOnce(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("policy change notifications interrupted; polling meanwhile", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (e *Engine) listenOnce(ctx context.Context) error {
	sqlDB, err := e.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()); err != nil {
			return err
		}
		// A change committed before LISTEN took effect is caught here.
		e.wake("")
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			e.notified.Add(1)
			e.wake("")
		}
	})
}

// Notifications is how many change notifications the engine has received
// from PostgreSQL.
func (e *Engine) Notifications() int64 { return e.notified.Load() }
