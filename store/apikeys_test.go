package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// A revoked API key is refused at once by the replica that revoked it, and
// within a second by a replica that read the key just before.
func TestAPIKeyRevocationReachesReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := context.Background()
		clock := newFakeClock()
		a := d.OpenWith(t, store.Config{Clock: clock})
		b := d.OpenWith(t, store.Config{Clock: clock})
		key := accounts.APIKey{ID: "k1", Department: "hrss", Name: "bench", CreatedAt: clock.Now()}
		if err := a.CreateAPIKey(ctx, key, "digest-1"); err != nil {
			t.Fatal(err)
		}
		for _, db := range []*store.DB{a, b} {
			k, digest, err := db.GetAPIKey(ctx, "k1")
			if err != nil {
				t.Fatalf("err = %v, want nil; fresh key: %+v %q %v", err, k, digest, err)
			}
			if k.Revoked() {
				t.Fatalf("k.Revoked() is true; fresh key: %+v %q %v", k, digest, err)
			}
			if digest != "digest-1" {
				t.Fatalf("digest = %q, want \"digest-1\"; fresh key: %+v %q %v", digest, k, digest, err)
			}
			if k.Department != "hrss" {
				t.Fatalf("k.Department = %q, want \"hrss\"; fresh key: %+v %q %v", k.Department, k, digest, err)
			}
		}
		if err := a.RevokeAPIKey(ctx, "k1", clock.Now()); err != nil {
			t.Fatal(err)
		}
		if k, _, err := a.GetAPIKey(ctx, "k1"); err != nil {
			t.Fatalf("err = %v, want nil; the revoking replica still sees the key valid: %+v %v", err, k, err)
		} else if !k.Revoked() {
			t.Fatalf("k.Revoked() is false; the revoking replica still sees the key valid: %+v %v", k, err)
		}
		clock.Advance(time.Second)
		if k, _, err := b.GetAPIKey(ctx, "k1"); err != nil {
			t.Fatalf("err = %v, want nil; another replica sees the key valid a second after its revocation: %+v %v", err, k, err)
		} else if !k.Revoked() {
			t.Fatalf("k.Revoked() is false; another replica sees the key valid a second after its revocation: %+v %v", k, err)
		}
	})
}
