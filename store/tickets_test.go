package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// A ticket's use is one conditional update of its access record: of many
// concurrent presentations exactly one is the use, it stays used across a
// reopen, and a ticket no record issued is never fresh.
func TestConsumeTicketOnceDurably(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		used, spare := newRecord(at, "consent-a", 0), newRecord(at, "consent-b", 0)
		used.TicketID, spare.TicketID = routing.NewTicketID(), routing.NewTicketID()
		for _, r := range []*routing.AccessRecord{used, spare} {
			r.ComputeLeafHash()
		}
		if _, err := db.AppendAccess(ctx, []*routing.AccessRecord{used, spare}); err != nil {
			t.Fatal(err)
		}
		var fresh atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ConsumeTicket(ctx, used.TicketID, at)
				if err != nil {
					t.Error(err)
				}
				if ok {
					fresh.Add(1)
				}
			}()
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("%d of 8 concurrent uses were fresh, want 1", fresh.Load())
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = d.Open(t)
		if ok, err := db.ConsumeTicket(ctx, used.TicketID, at); err != nil || ok {
			t.Errorf("used ticket after reopening: fresh=%v err=%v", ok, err)
		}
		if ok, err := db.ConsumeTicket(ctx, spare.TicketID, at); err != nil || !ok {
			t.Errorf("unused ticket: fresh=%v err=%v", ok, err)
		}
		for _, jti := range []string{routing.NewTicketID(), ""} {
			if ok, err := db.ConsumeTicket(ctx, jti, at); err != nil || ok {
				t.Errorf("ticket %q without a record: fresh=%v err=%v", jti, ok, err)
			}
		}
	})
}
