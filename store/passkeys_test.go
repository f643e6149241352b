package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

func TestPasskeyUsersAndKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := context.Background()
		clock := newFakeClock()
		db := d.OpenWith(t, store.Config{Clock: clock})
		u, err := db.EnsurePasskeyUser(ctx, accounts.PasskeyUser{Kind: accounts.KindResident, Subject: "did:eidgate:a", Handle: []byte("handle-1"), CreatedAt: clock.Now()})
		if err != nil {
			t.Fatalf("err = %v, want nil; first handle: %+v %v", err, u, err)
		}
		if string(u.Handle) != "handle-1" {
			t.Fatalf("string(u.Handle) != \"handle-1\"; first handle: %+v %v", u, err)
		}
		// A second request with another handle gets the first one.
		u, err = db.EnsurePasskeyUser(ctx, accounts.PasskeyUser{Kind: accounts.KindResident, Subject: "did:eidgate:a", Handle: []byte("handle-2"), CreatedAt: clock.Now()})
		if err != nil {
			t.Fatalf("err = %v, want nil; second handle: %+v %v", err, u, err)
		}
		if string(u.Handle) != "handle-1" {
			t.Fatalf("string(u.Handle) != \"handle-1\"; second handle: %+v %v", u, err)
		}
		if got, err := db.PasskeyUserByHandle(ctx, []byte("handle-1")); err != nil {
			t.Fatalf("err = %v, want nil; by handle: %+v %v", err, got, err)
		} else if got.Subject != "did:eidgate:a" {
			t.Fatalf("got.Subject = %q, want \"did:eidgate:a\"; by handle: %+v %v", got.Subject, got, err)
		}
		if _, err := db.PasskeyUserByHandle(ctx, []byte("nope")); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("unknown handle: %v", err)
		}

		k := accounts.Passkey{ID: []byte{1, 2, 3}, Kind: accounts.KindResident, Subject: "did:eidgate:a", UserHandle: u.Handle,
			PublicKey: []byte{0xa5}, Algorithm: -7, KeyID: "pk-1", Transports: []string{"internal", "hybrid"}, SignCount: 7,
			BackupEligible: true, BackupState: true, Name: "phone", CreatedAt: clock.Now()}
		if err := db.AddPasskey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPasskey(ctx, k); routing.CodeOf(err) != accounts.CodePasskeyExists {
			t.Fatalf("a credential twice: %v", err)
		}
		k2 := k
		k2.ID, k2.Name, k2.SignCount = []byte{9}, "laptop", 0
		clock.Advance(time.Second)
		k2.CreatedAt = clock.Now()
		if err := db.AddPasskey(ctx, k2); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetPasskey(ctx, k.ID)
		if err != nil {
			t.Fatalf("err = %v, want nil; stored: %+v %v", err, got, err)
		}
		if got.SignCount != 7 {
			t.Fatalf("got.SignCount = %v, want 7; stored: %+v %v", got.SignCount, got, err)
		}
		if !got.BackupEligible {
			t.Fatalf("got.BackupEligible is false; stored: %+v %v", got, err)
		}
		if len(got.Transports) != 2 {
			t.Fatalf("len(got.Transports) = %v, want 2; stored: %+v %v", len(got.Transports), got, err)
		}
		if got.KeyID != "pk-1" {
			t.Fatalf("got.KeyID = %q, want \"pk-1\"; stored: %+v %v", got.KeyID, got, err)
		}
		if !got.Active() {
			t.Fatalf("got.Active() is false; stored: %+v %v", got, err)
		}

		// A use moves the counter only from the value read.
		if ok, err := db.RecordPasskeyUse(ctx, k.ID, 7, 8, false, clock.Now()); !ok || err != nil {
			t.Fatalf("use: %v %v", ok, err)
		}
		if ok, _ := db.RecordPasskeyUse(ctx, k.ID, 7, 9, false, clock.Now()); ok {
			t.Fatal("a use from a stale counter was recorded")
		}
		if got, _ := db.GetPasskey(ctx, k.ID); got.SignCount != 8 {
			t.Fatalf("got.SignCount = %v, want 8; after use: %+v", got.SignCount, got)
		} else if got.BackupState {
			t.Fatalf("got.BackupState is true; after use: %+v", got)
		} else if got.LastUsedAt.IsZero() {
			t.Fatalf("got.LastUsedAt.IsZero() is true; after use: %+v", got)
		}

		if ok, _ := db.HasPassword(ctx, accounts.KindResident, "did:eidgate:a"); ok {
			t.Fatal("an unknown resident has a password")
		}
		revoked, err := db.RevokePasskeys(ctx, accounts.KindResident, "did:eidgate:a", [][]byte{k.ID}, "removed", clock.Now())
		if err != nil {
			t.Fatalf("err = %v, want nil; revoke one: %+v %v", err, revoked, err)
		}
		if len(revoked) != 1 {
			t.Fatalf("len(revoked) = %v, want 1; revoke one: %+v %v", len(revoked), revoked, err)
		}
		if revoked[0].RevokedReason != "removed" {
			t.Fatalf("revoked[0].RevokedReason = %q, want \"removed\"; revoke one: %+v %v", revoked[0].RevokedReason, revoked, err)
		}
		if ok, _ := db.RecordPasskeyUse(ctx, k.ID, 8, 9, false, clock.Now()); ok {
			t.Fatal("a revoked key's use was recorded")
		}
		revoked, err = db.RevokePasskeys(ctx, accounts.KindResident, "did:eidgate:a", nil, "lost", clock.Now())
		if err != nil {
			t.Fatalf("err = %v, want nil; revoke all: %+v %v", err, revoked, err)
		}
		if len(revoked) != 1 {
			t.Fatalf("len(revoked) = %v, want 1; revoke all: %+v %v", len(revoked), revoked, err)
		}
		if string(revoked[0].ID) != string(k2.ID) {
			t.Fatalf("string(revoked[0].ID) != string(k2.ID); revoke all: %+v %v", revoked, err)
		}
		all, err := db.ListPasskeys(ctx, accounts.KindResident, "did:eidgate:a")
		if err != nil {
			t.Fatalf("err = %v, want nil; list: %+v %v", err, all, err)
		}
		if len(all) != 2 {
			t.Fatalf("len(all) = %v, want 2; list: %+v %v", len(all), all, err)
		}
		if all[0].Name != "phone" {
			t.Fatalf("all[0].Name = %q, want \"phone\"; list: %+v %v", all[0].Name, all, err)
		}
		if all[0].Active() {
			t.Fatalf("all[0].Active() is true; list: %+v %v", all, err)
		}
		if all[1].Active() {
			t.Fatalf("all[1].Active() is true; list: %+v %v", all, err)
		}
		if got, _ := db.ListPasskeys(ctx, accounts.KindAdmin, "did:eidgate:a"); len(got) != 0 {
			t.Fatal("an admin of the same name holds a resident's keys")
		}
	})
}

// A ceremony is answered once, by one of any number of replicas racing,
// and not after it expired; what it was is still known afterwards.
func TestCeremonyIsSingleUseAcrossReplicas(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := context.Background()
		clock := newFakeClock()
		a := d.OpenWith(t, store.Config{Clock: clock})
		b := d.OpenWith(t, store.Config{Clock: clock})
		now := clock.Now()
		c := accounts.Ceremony{Challenge: "ch-1", Purpose: "consent.grant", Kind: accounts.KindResident, Subject: "did:eidgate:a",
			Session: []byte(`{"challenge":"ch-1"}`), Context: `{"consent":"cs-1"}`, CreatedAt: now, ExpiresAt: now.Add(2 * time.Minute)}
		if err := a.PutCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := a
				if i%2 == 1 {
					db = b
				}
				got, fresh, err := db.ConsumeCeremony(ctx, "ch-1", now.Add(time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				if fresh {
					wins.Add(1)
					if got.Context != c.Context {
						t.Errorf("got.Context = %v, want c.Context; consumed: %+v", got.Context, got)
					} else if string(got.Session) != string(c.Session) {
						t.Errorf("string(got.Session) != string(c.Session); consumed: %+v", got)
					} else if !got.UsedAt.IsZero() {
						t.Errorf("got.UsedAt.IsZero() is false; consumed: %+v", got)
					}
				} else if got == nil || got.UsedAt.IsZero() {
					t.Errorf("loser sees %+v", got)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d replicas consumed the ceremony", wins.Load())
		}
		if got, fresh, err := a.ConsumeCeremony(ctx, "ch-none", now); got != nil {
			t.Fatalf("got = %v, want nil; unknown challenge: %+v %v %v", got, got, fresh, err)
		} else if fresh {
			t.Fatalf("fresh is true; unknown challenge: %+v %v %v", got, fresh, err)
		} else if err != nil {
			t.Fatalf("err = %v, want nil; unknown challenge: %+v %v %v", err, got, fresh, err)
		}
		c.Challenge, c.ExpiresAt = "ch-2", now.Add(time.Minute)
		if err := a.PutCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, fresh, _ := b.ConsumeCeremony(ctx, "ch-2", now.Add(time.Minute)); fresh {
			t.Fatalf("fresh is true; an expired ceremony: %+v %v", got, fresh)
		} else if got == nil {
			t.Fatalf("got is nil; an expired ceremony: %+v %v", got, fresh)
		} else if !got.UsedAt.IsZero() {
			t.Fatalf("got.UsedAt.IsZero() is false; an expired ceremony: %+v %v", got, fresh)
		}
		// Storing a ceremony long after forgets the expired ones.
		c.Challenge, c.CreatedAt, c.ExpiresAt = "ch-3", now.Add(3*time.Hour), now.Add(3*time.Hour+time.Minute)
		if err := a.PutCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := a.ConsumeCeremony(ctx, "ch-1", now); got != nil {
			t.Fatal("a long-expired ceremony is still kept")
		}
	})
}

func TestSessionRemembersSignInMethod(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := context.Background()
		db := d.Open(t)
		now := time.Now().UTC()
		for h, m := range map[string]string{"h1": accounts.AuthPasskey, "h2": "", "h3": accounts.AuthPassword} {
			if err := db.CreateSession(ctx, accounts.SessionRecord{TokenHash: h, Kind: accounts.SessionResident, Subject: "s",
				AuthMethod: m, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			got, err := db.GetSession(ctx, h)
			want := m
			if want == "" {
				want = accounts.AuthPassword
			}
			if err != nil {
				t.Fatalf("err = %v, want nil; %s: %+v %v", err, h, got, err)
			}
			if got.AuthMethod != want {
				t.Fatalf("got.AuthMethod = %v, want want; %s: %+v %v", got.AuthMethod, h, got, err)
			}
		}
	})
}
