package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// TestLastAdminStays: of two administrators disabling (or demoting) each
// other at once, exactly one succeeds; the last one stays.
func TestLastAdminStays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.OpenWith(t, store.Config{Clock: newFakeClock()})
		now := time.Now()
		for _, n := range []string{"ann", "bob", "cat"} {
			role := accounts.RoleAdmin
			if n == "cat" {
				role = accounts.RoleAuditor
			}
			if err := db.CreateAdmin(ctx, accounts.AdminAccount{Username: n, PasswordHash: "x", Role: role, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		for round, change := range []func(name string) error{
			func(n string) error { return db.SetAdminDisabled(ctx, n, true, now) },
			func(n string) error { return db.SetAdminRole(ctx, n, accounts.RoleAuditor, now) },
		} {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, n := range []string{"ann", "bob"} {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = change(n) }()
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				switch {
				case err == nil:
				case routing.CodeOf(err) == accounts.CodeLastAdmin && routing.KindOf(err) == routing.KindConflict:
					refused++
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if refused != 1 {
				t.Fatalf("round %d: %d refused (%v), want exactly one", round, refused, errs)
			}
			// Put both back as enabled administrators.
			for _, n := range []string{"ann", "bob"} {
				if err := db.SetAdminDisabled(ctx, n, false, now); err != nil {
					t.Fatal(err)
				}
				if err := db.SetAdminRole(ctx, n, accounts.RoleAdmin, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		// An auditor's changes never touch the guard; a missing name is not found.
		if err := db.SetAdminDisabled(ctx, "cat", true, now); err != nil {
			t.Fatal(err)
		}
		if err := db.SetAdminDisabled(ctx, "nobody", true, now); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("unknown admin: %v", err)
		}

		// A reset takes the password and stores the code; consuming it once
		// sets the new password.
		if err := db.ResetAdmin(ctx, accounts.AdminActivation{Username: "ann", CodeHash: "h1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if a, _ := db.GetAdmin(ctx, "ann"); a.PasswordHash != "" {
			t.Fatalf("password after reset = %q", a.PasswordHash)
		}
		if n, err := db.RecordAdminActivationFailure(ctx, "ann", "h1"); err != nil || n != 1 {
			t.Fatalf("failure count %d, %v", n, err)
		}
		for i, want := range []bool{true, false} {
			ok, err := db.ConsumeAdminActivation(ctx, "ann", "h1", "new-hash", now)
			if err != nil || ok != want {
				t.Fatalf("consume %d: %v, %v; want %v", i, ok, err, want)
			}
		}
		if a, _ := db.GetAdmin(ctx, "ann"); a.PasswordHash != "new-hash" {
			t.Fatalf("password after activation = %q", a.PasswordHash)
		}
		if err := db.ResetAdmin(ctx, accounts.AdminActivation{Username: "nobody", CodeHash: "h", CreatedAt: now, ExpiresAt: now}); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("reset of nobody: %v", err)
		}
	})
}
