package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// With every hashing slot taken, a password check waits a bounded time in
// a bounded queue and then answers sign_in_busy (503) instead of piling
// up; a slot freed in time serves it.
func TestHasherBusyWhenSlotsAndQueueAreFull(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(TestParams(), 1)
	h.maxWait = 20 * time.Millisecond
	enc, err := h.Hash(ctx, "secret")
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // a check in progress
	if _, _, err := h.Verify(ctx, "secret", enc); routing.CodeOf(err) != CodeSignInBusy || routing.KindOf(err) != routing.KindUnavailable {
		t.Fatalf("check with the slot taken past the wait: %v, want sign_in_busy", err)
	}
	h.waiting.Store(h.maxWaiting) // the queue is full
	h.maxWait = time.Hour
	if err := h.Burn(ctx, "secret"); routing.CodeOf(err) != CodeSignInBusy {
		t.Fatalf("check with a full queue: %v, want sign_in_busy at once", err)
	}
	h.waiting.Store(0)
	done := make(chan error, 1)
	go func() {
		ok, _, err := h.Verify(ctx, "secret", enc)
		if err == nil && !ok {
			err = context.Canceled
		}
		done <- err
	}()
	<-h.slots // the check in progress ends
	if err := <-done; err != nil {
		t.Fatalf("queued check after a slot freed: %v", err)
	}
}

// The dummy an unknown name is checked against is made under a hashing
// slot too: with every slot taken, the first unknown name is refused as
// busy and no hash runs beside the bound; once a slot is free the dummy is
// made and kept.
func TestDummyHashStaysWithinTheBound(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(TestParams(), 1)
	h.maxWait = 20 * time.Millisecond
	h.slots <- struct{}{} // a check in progress
	if err := h.Burn(ctx, "secret"); routing.CodeOf(err) != CodeSignInBusy || h.dummy != "" {
		t.Fatalf("first unknown name with the slot taken: %v, dummy %q; want sign_in_busy and no dummy", err, h.dummy)
	}
	<-h.slots
	if err := h.Burn(ctx, "secret"); err != nil || h.dummy == "" {
		t.Fatalf("with a free slot: %v, dummy %q", err, h.dummy)
	}
	first := h.dummy
	if err := h.Burn(ctx, "other"); err != nil || h.dummy != first {
		t.Fatalf("the dummy was made again: %v", err)
	}
}
