package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// BenchmarkResidentSignInFailure measures a failed resident sign-in with
// the production Argon2 parameters, for a registered document with a
// wrong password and for a document no eID holds: the two must cost the
// same, so that timing does not tell whether a number is registered.
// Delays are off (every failure is free) so that each iteration checks a
// password.
//
//	go test ./accounts -run '^$' -bench BenchmarkResidentSignInFailure -benchtime 20x
func BenchmarkResidentSignInFailure(b *testing.B) {
	ctx := context.Background()
	clock := routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	db := storetest.SQLite(b).OpenWith(b, store.Config{Clock: clock})
	never := accounts.Delays{Free: 1 << 30}
	cfg := accounts.Config{Store: db, Clock: clock, Hasher: accounts.NewHasher(accounts.RecommendedParams(), 0),
		NameDelays: never, ClientDelays: never}
	residents, err := accounts.NewResidents(cfg)
	if err != nil {
		b.Fatal(err)
	}
	admins, _ := accounts.NewAdmins(cfg)
	sessions, _ := accounts.NewSessions(cfg)
	pk, err := accounts.NewPasskeys(accounts.PasskeysConfig{Store: db, Ledger: routingtest.NewLedger(clock), Clock: clock,
		RPID: "localhost", Origins: []string{"http://localhost:8080"}})
	if err != nil {
		b.Fatal(err)
	}
	in, err := accounts.NewSignIn(accounts.SignInConfig{Residents: residents, Admins: admins, Sessions: sessions,
		Documents: finder{"110105199003071239": eid}, Passkeys: pk})
	if err != nil {
		b.Fatal(err)
	}
	code, err := residents.CreateActivation(ctx, eid)
	if err != nil {
		b.Fatal(err)
	}
	if err := residents.Activate(ctx, eid, code, "Right password 1"); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		doc  mapping.Input
	}{
		{"registered", mapping.Input{Type: mapping.CNResident, Number: "110105199003071239"}},
		{"unknown", mapping.Input{Type: mapping.CNResident, Number: "11010519491231002X"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := in.Resident(ctx, tc.doc, "Wrong password 1"); err == nil {
					b.Fatal("a wrong password signed in")
				}
			}
		})
	}
}
