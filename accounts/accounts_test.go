package accounts_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

type env struct {
	db        *store.DB
	clock     *routingtest.Clock
	cfg       accounts.Config
	residents *accounts.Residents
	admins    *accounts.Admins
	keys      *accounts.APIKeys
	sessions  *accounts.Sessions
}

func newEnv(t *testing.T, d storetest.DB) *env {
	t.Helper()
	clock := routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	db := d.OpenWith(t, store.Config{Clock: clock})
	cfg := accounts.Config{Store: db, Clock: clock, Hasher: accounts.NewHasher(accounts.TestParams(), 4),
		Departments: registry{"edu-bureau": true}}
	e := &env{db: db, clock: clock, cfg: cfg}
	var err error
	if e.sessions, err = accounts.NewSessions(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Sessions = e.sessions
	if e.residents, err = accounts.NewResidents(cfg); err != nil {
		t.Fatal(err)
	}
	if e.admins, err = accounts.NewAdmins(cfg); err != nil {
		t.Fatal(err)
	}
	if e.keys, err = accounts.NewAPIKeys(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// registry is the departments registered on the ledger.
type registry map[string]bool

func (r registry) Department(_ context.Context, id string) (*model.Department, error) {
	if !r[id] {
		return nil, routing.Errorf(routing.KindNotFound, "ledger.GetDepartment", "department %s not found", id)
	}
	return &model.Department{ID: id, Status: model.DepartmentActive}, nil
}

// Every account service refuses to be built without a store.
func TestZeroConfigIsRefused(t *testing.T) {
	t.Parallel()
	for name, build := range map[string]func(accounts.Config) error{
		"NewResidents": func(c accounts.Config) error { _, err := accounts.NewResidents(c); return err },
		"NewAdmins":    func(c accounts.Config) error { _, err := accounts.NewAdmins(c); return err },
		"NewAPIKeys":   func(c accounts.Config) error { _, err := accounts.NewAPIKeys(c); return err },
		"NewAPIKeys without the registry": func(accounts.Config) error {
			_, err := accounts.NewAPIKeys(accounts.Config{Store: storetest.SQLite(t).Open(t)})
			return err
		},
		"NewSessions": func(c accounts.Config) error { _, err := accounts.NewSessions(c); return err },
	} {
		if err := build(accounts.Config{}); routing.CodeOf(err) != "missing_dependency" {
			t.Errorf("%s(Config{}) = %v, want missing_dependency", name, err)
		}
	}
}

// activation issues a fresh one-time code for eid, as the KYC counter
// does.
func (e *env) activation(t *testing.T, ctx context.Context) string {
	t.Helper()
	code, err := e.residents.CreateActivation(ctx, eid)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if routing.CodeOf(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

const eid = "did:eidgate:7f3a9c"

func TestActivationCodeWorksOnceAndOnlyOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		code, exp, err := e.residents.IssueActivation(ctx, eid)
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(e.clock.Now().Add(accounts.DefaultActivationTTL)) {
			t.Fatalf("expiry %v", exp)
		}
		if _, err := accounts.ParseActivationCode(code); err != nil || len(code) != 19 {
			t.Fatalf("code %q: %v", code, err)
		}
		stored, err := e.db.GetActivationCode(ctx, eid)
		if err != nil {
			t.Fatalf("err = %v, want nil; stored %+v, %v", err, stored, err)
		}
		if strings.Contains(stored.CodeHash, strings.ReplaceAll(code, "-", "")) {
			t.Fatalf("strings.Contains(stored.CodeHash, strings.ReplaceAll(code, \"-\", \"\")) is true; stored %+v, %v", stored, err)
		}
		if !strings.HasPrefix(stored.CodeHash, "$argon2id$") {
			t.Fatalf("strings.HasPrefix(stored.CodeHash, \"$argon2id$\") is false; stored %+v, %v", stored, err)
		}
		// Not signed in before activation.
		if _, err := e.residents.Login(ctx, eid, "Whatever-123"); routing.CodeOf(err) != accounts.CodeInvalidCredentials {
			t.Fatalf("login before activation: %v", err)
		}
		// Typed in lower case without hyphens, it still works; once.
		typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
		if err := e.residents.Activate(ctx, eid, typed, "correct horse 42"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.residents.Activate(ctx, eid, code, "another pass 43"), accounts.CodeActivationUsed)
		if r, err := e.residents.Login(ctx, eid, "correct horse 42"); err != nil {
			t.Fatalf("err = %v, want nil; login after activation: %+v, %v", err, r, err)
		} else if r.EID != eid {
			t.Fatalf("r.EID = %v, want eid; login after activation: %+v, %v", r.EID, r, err)
		} else if r.Lang != accounts.DefaultLang {
			t.Fatalf("r.Lang = %v, want accounts.DefaultLang; login after activation: %+v, %v", r.Lang, r, err)
		}
		if _, err := e.residents.Login(ctx, eid, "another pass 43"); routing.CodeOf(err) != accounts.CodeInvalidCredentials {
			t.Fatalf("the refused second activation changed the password: %v", err)
		}
	})
}

func TestActivationRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		code := e.activation(t, ctx)
		var ok, used atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := e.residents.Activate(ctx, eid, code, "Password-"+strings.Repeat("x", i+2))
				switch routing.CodeOf(err) {
				case "":
					ok.Add(1)
				case accounts.CodeActivationUsed:
					used.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || used.Load() != 7 {
			t.Fatalf("%d activations succeeded, %d refused as used", ok.Load(), used.Load())
		}
	})
}

func TestActivationRules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		first := e.activation(t, ctx)
		second := e.activation(t, ctx)
		// A new code replaces the old one.
		wantCode(t, e.residents.Activate(ctx, eid, first, "Good password 1"), accounts.CodeActivationInvalid)
		// Weak passwords are refused without using the code.
		for _, pw := range []string{"short1A", "alllowercaseletters", "1234567890123", strings.ReplaceAll(second, "-", "")} {
			wantCode(t, e.residents.Activate(ctx, eid, second, pw), accounts.CodeWeakPassword)
		}
		// Unknown residents and malformed codes look like wrong codes.
		wantCode(t, e.residents.Activate(ctx, "did:eidgate:nobody", second, "Good password 1"), accounts.CodeActivationInvalid)
		wantCode(t, e.residents.Activate(ctx, eid, "not-a-code", "Good password 1"), accounts.CodeActivationInvalid)
		// Expired.
		e.clock.Advance(accounts.DefaultActivationTTL + time.Second)
		wantCode(t, e.residents.Activate(ctx, eid, second, "Good password 1"), accounts.CodeActivationExpired)
		// A fresh code works again.
		third := e.activation(t, ctx)
		if err := e.residents.Activate(ctx, eid, third, "Good password 1"); err != nil {
			t.Fatal(err)
		}
		// A forgotten password: a new code from the counter sets a new one
		// and ends the sessions opened with the old.
		session, _, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid})
		if err != nil {
			t.Fatal(err)
		}
		reset := e.activation(t, ctx)
		if err := e.residents.Activate(ctx, eid, reset, "Fresh password 2"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sessions.Lookup(ctx, session); routing.CodeOf(err) != accounts.CodeSessionInvalid {
			t.Fatalf("session survived the reset: %v", err)
		}
		if _, err := e.residents.Login(ctx, eid, "Fresh password 2"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTooManyWrongCodesBurnTheCode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		code := e.activation(t, ctx)
		wrong := "0000-0000-0000-0000"
		if wrong == code {
			wrong = "1111-1111-1111-1111"
		}
		for range accounts.DefaultMaxActivationAttempts {
			wantCode(t, e.residents.Activate(ctx, eid, wrong, "Good password 1"), accounts.CodeActivationInvalid)
		}
		wantCode(t, e.residents.Activate(ctx, eid, code, "Good password 1"), accounts.CodeActivationAttempts)
		fresh := e.activation(t, ctx)
		if err := e.residents.Activate(ctx, eid, fresh, "Good password 1"); err != nil {
			t.Fatalf("a new code after burning: %v", err)
		}
	})
}

func activate(t *testing.T, e *env, pw string) {
	t.Helper()
	ctx := ctxT(t)
	code := e.activation(t, ctx)
	if err := e.residents.Activate(ctx, eid, code, pw); err != nil {
		t.Fatal(err)
	}
}

// Failures in a row make the next try wait, longer each time up to a
// bound; nothing locks the account, and the wait ends by itself.
func TestLoginDelaysGrowAndNeverLock(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		activate(t, e, "Right password 1")
		free := accounts.DefaultNameDelays.Free
		for range free {
			wantCode(t, func() error { _, err := e.residents.Login(ctx, eid, "wrong password"); return err }(), accounts.CodeInvalidCredentials)
		}
		// The free failures cost no wait; the next failure does.
		_, err := e.residents.Login(ctx, eid, "wrong password")
		wantCode(t, err, accounts.CodeInvalidCredentials)
		var waits []string
		for range 8 {
			_, err = e.residents.Login(ctx, eid, "Right password 1")
			wantCode(t, err, accounts.CodeTooManyAttempts)
			var re *routing.Error
			if !asErr(err, &re) || routing.KindOf(err) != routing.KindRateLimited {
				t.Fatalf("wait: %+v", err)
			}
			waits = append(waits, re.Details["retry_after"])
			e.clock.Advance(accounts.DefaultNameDelays.Max + time.Second)
			_, _ = e.residents.Login(ctx, eid, "wrong password")
		}
		if waits[0] != "1" || waits[1] != "2" || waits[2] != "4" || waits[len(waits)-1] != "60" {
			t.Fatalf("waits %v, want 1, 2, 4 … up to 60 seconds", waits)
		}
		e.clock.Advance(accounts.DefaultNameDelays.Max)
		if _, err := e.residents.Login(ctx, eid, "Right password 1"); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
		// Success cleared the count.
		for range free {
			_, _ = e.residents.Login(ctx, eid, "wrong password")
		}
		if _, err := e.residents.Login(ctx, eid, "Right password 1"); err != nil {
			t.Fatalf("slowed too early: %v", err)
		}
	})
}

// A client failing many names waits, whatever name it tries next.
func TestLoginDelaysPerClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := accounts.WithClient(ctxT(t), "192.0.2.7")
		e := newEnv(t, d)
		activate(t, e, "Right password 1")
		for i := range accounts.DefaultClientDelays.Free + 1 {
			_, err := e.residents.Login(ctx, fmt.Sprintf("did:eidgate:%032x", i+1), "wrong password")
			wantCode(t, err, accounts.CodeInvalidCredentials)
		}
		_, err := e.residents.Login(ctx, eid, "Right password 1")
		wantCode(t, err, accounts.CodeTooManyAttempts)
		// Another client is not slowed by it.
		if _, err := e.residents.Login(accounts.WithClient(ctxT(t), "192.0.2.8"), eid, "Right password 1"); err != nil {
			t.Fatalf("another client: %v", err)
		}
	})
}

func asErr(err error, target **routing.Error) bool {
	e, ok := err.(*routing.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestUnknownNamesAnswerLikeWrongPasswords(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		activate(t, e, "Right password 1")
		_, errKnown := e.residents.Login(ctx, eid, "wrong password")
		_, errUnknown := e.residents.Login(ctx, "did:eidgate:unknown", "wrong password")
		if routing.CodeOf(errKnown) != routing.CodeOf(errUnknown) || routing.MessageOf(errKnown) != routing.MessageOf(errUnknown) {
			t.Fatalf("known: %v; unknown: %v", errKnown, errUnknown)
		}
		// Unknown names are slowed the same way, so a wait tells nothing
		// either.
		for range accounts.DefaultNameDelays.Free + 1 {
			_, _ = e.residents.Login(ctx, "did:eidgate:unknown", "wrong password")
			_, _ = e.residents.Login(ctx, eid, "wrong password")
		}
		_, errUnknown = e.residents.Login(ctx, "did:eidgate:unknown", "wrong password")
		_, errKnown = e.residents.Login(ctx, eid, "wrong password")
		wantCode(t, errUnknown, accounts.CodeTooManyAttempts)
		wantCode(t, errKnown, accounts.CodeTooManyAttempts)
	})
}

func TestChangePasswordAndLanguage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		activate(t, e, "Right password 1")
		wantCode(t, e.residents.ChangePassword(ctx, eid, "Right password 1", "weak"), accounts.CodeWeakPassword)
		wantCode(t, e.residents.ChangePassword(ctx, eid, "wrong", "New password 22"), accounts.CodeInvalidCredentials)
		old, _, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.residents.ChangePassword(ctx, eid, "Right password 1", "New password 22"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sessions.Lookup(ctx, old); routing.CodeOf(err) != accounts.CodeSessionInvalid {
			t.Fatalf("a session from before the change survived: %v", err)
		}
		if _, err := e.residents.Login(ctx, eid, "Right password 1"); routing.CodeOf(err) != accounts.CodeInvalidCredentials {
			t.Fatalf("the old password still works: %v", err)
		}
		if _, err := e.residents.Login(ctx, eid, "New password 22"); err != nil {
			t.Fatal(err)
		}
		if l, err := e.residents.Language(ctx, eid); err != nil || l != accounts.LangZhCN {
			t.Fatalf("default language %q, %v", l, err)
		}
		if l, err := e.residents.ChosenLanguage(ctx, eid); err != nil || l != "" {
			t.Fatalf("chosen language before any choice %q, %v; want none", l, err)
		}
		if err := e.residents.SetLanguage(ctx, eid, accounts.LangEN); err != nil {
			t.Fatal(err)
		}
		if l, _ := e.residents.Language(ctx, eid); l != accounts.LangEN {
			t.Fatalf("language %q", l)
		}
		if l, _ := e.residents.ChosenLanguage(ctx, eid); l != accounts.LangEN {
			t.Fatalf("chosen language %q, want en", l)
		}
		wantCode(t, e.residents.SetLanguage(ctx, eid, "fr"), accounts.CodeInvalidLang)
		wantCode(t, e.residents.SetLanguage(ctx, "did:eidgate:none", "en"), accounts.CodeResidentNotFound)
	})
}

// A resident's time zone is stored (both databases); an unknown or
// dangerous name is refused and changes nothing; "" returns to the default.
func TestResidentTimeZone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		activate(t, e, "Right password 1")
		if z, err := e.residents.TimeZone(ctx, eid); err != nil || z != nil {
			t.Fatalf("zone before any choice %v, %v; want none", z, err)
		}
		if err := e.residents.SetTimeZone(ctx, eid, "Europe/Berlin"); err != nil {
			t.Fatal(err)
		}
		if z, err := e.residents.TimeZone(ctx, eid); err != nil || z == nil || z.String() != "Europe/Berlin" {
			t.Fatalf("zone %v, %v", z, err)
		}
		for _, bad := range []string{"Mars/Olympus", "Local", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "Asia/ Shanghai"} {
			wantCode(t, e.residents.SetTimeZone(ctx, eid, bad), accounts.CodeInvalidTimeZone)
		}
		if z, _ := e.residents.TimeZone(ctx, eid); z == nil || z.String() != "Europe/Berlin" {
			t.Fatalf("a refused zone changed the stored one: %v", z)
		}
		if err := e.residents.SetTimeZone(ctx, eid, ""); err != nil {
			t.Fatal(err)
		}
		if z, _ := e.residents.TimeZone(ctx, eid); z != nil {
			t.Fatalf("zone after reset %v", z)
		}
		wantCode(t, e.residents.SetTimeZone(ctx, "did:eidgate:none", "UTC"), accounts.CodeResidentNotFound)
	})
}

func TestAdmins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		if _, err := e.admins.CreateAdmin(ctx, "li.wei", "Admin password 1", accounts.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		_, err := e.admins.CreateAdmin(ctx, "li.wei", "Admin password 1", accounts.RoleAuditor)
		wantCode(t, err, accounts.CodeAdminExists)
		_, err = e.admins.CreateAdmin(ctx, "Li Wei", "Admin password 1", accounts.RoleAdmin)
		wantCode(t, err, accounts.CodeInvalidUsername)
		_, err = e.admins.CreateAdmin(ctx, "zhang", "Admin password 1", "root")
		wantCode(t, err, accounts.CodeInvalidRole)
		_, err = e.admins.CreateAdmin(ctx, "zhang", "zhang", accounts.RoleAuditor)
		wantCode(t, err, accounts.CodeWeakPassword)
		if _, err := e.admins.CreateAdmin(ctx, "zhang", "Audit password 9", accounts.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		a, err := e.admins.Login(ctx, "li.wei", "Admin password 1")
		if err != nil {
			t.Fatalf("err = %v, want nil; login %+v, %v", err, a, err)
		}
		if a.Role != accounts.RoleAdmin {
			t.Fatalf("a.Role = %v, want accounts.RoleAdmin; login %+v, %v", a.Role, a, err)
		}
		_, err = e.admins.Login(ctx, "li.wei", "nope")
		wantCode(t, err, accounts.CodeInvalidCredentials)
		_, err = e.admins.Login(ctx, "nobody", "nope")
		wantCode(t, err, accounts.CodeInvalidCredentials)

		// The only administrator can be neither demoted nor disabled.
		wantCode(t, e.admins.SetRole(ctx, "li.wei", accounts.RoleAuditor), accounts.CodeLastAdmin)
		wantCode(t, e.admins.Disable(ctx, "li.wei"), accounts.CodeLastAdmin)
		if _, err := e.admins.CreateAdmin(ctx, "wu.admin", "Admin password 2", accounts.RoleAdmin); err != nil {
			t.Fatal(err)
		}

		// Role changes and disabling end sessions.
		token, _, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionAdmin, Subject: "li.wei", Role: accounts.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.admins.SetRole(ctx, "li.wei", accounts.RoleMappingOfficer); err != nil {
			t.Fatal(err)
		}
		_, err = e.sessions.Lookup(ctx, token)
		wantCode(t, err, accounts.CodeSessionInvalid)
		if a, _ := e.admins.Login(ctx, "li.wei", "Admin password 1"); a == nil {
			t.Fatalf("a is nil; role after change: %+v", a)
		} else if a.Role != accounts.RoleMappingOfficer {
			t.Fatalf("a.Role = %v, want accounts.RoleMappingOfficer; role after change: %+v", a.Role, a)
		}
		if err := e.admins.Disable(ctx, "li.wei"); err != nil {
			t.Fatal(err)
		}
		_, err = e.admins.Login(ctx, "li.wei", "Admin password 1")
		wantCode(t, err, accounts.CodeAccountDisabled)
		_, err = e.admins.Login(ctx, "li.wei", "wrong")
		wantCode(t, err, accounts.CodeInvalidCredentials)
		if err := e.admins.Enable(ctx, "li.wei"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.admins.Login(ctx, "li.wei", "Admin password 1"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.admins.Disable(ctx, "nobody"), accounts.CodeAdminNotFound)
		list, err := e.admins.List(ctx)
		if err != nil {
			t.Fatalf("err = %v, want nil; list %+v, %v", err, list, err)
		}
		if len(list) != 3 {
			t.Fatalf("len(list) = %v, want 3; list %+v, %v", len(list), list, err)
		}
		if list[0].Username != "li.wei" {
			t.Fatalf("list[0].Username = %q, want \"li.wei\"; list %+v, %v", list[0].Username, list, err)
		}
		if list[2].Role != accounts.RoleAuditor {
			t.Fatalf("list[2].Role = %v, want accounts.RoleAuditor; list %+v, %v", list[2].Role, list, err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		token, key, err := e.keys.IssueAPIKey(ctx, "edu-bureau", "admissions system")
		if err != nil {
			t.Fatal(err)
		}
		id, secret, err := accounts.ParseAPIKeyToken(token)
		if err != nil || id != key.ID || len(secret) < 32 || !strings.HasPrefix(token, "egk_"+key.ID+"_") {
			t.Fatalf("token %q: %v", token, err)
		}
		dept, keyID, err := e.keys.Authenticate(ctx, token)
		if err != nil || dept != "edu-bureau" || keyID != key.ID {
			t.Fatalf("authenticate: %s %s %v", dept, keyID, err)
		}
		// The secret is nowhere in what is stored or listed.
		_, digest, err := e.db.GetAPIKey(ctx, key.ID)
		if err != nil || strings.Contains(digest, secret) || len(digest) != 64 {
			t.Fatalf("stored digest %q, %v", digest, err)
		}
		list, err := e.keys.ListAPIKeys(ctx, "edu-bureau")
		if err != nil {
			t.Fatalf("err = %v, want nil; list %+v, %v", err, list, err)
		}
		if len(list) != 1 {
			t.Fatalf("len(list) = %v, want 1; list %+v, %v", len(list), list, err)
		}
		if list[0].ID != key.ID {
			t.Fatalf("list[0].ID = %v, want key.ID; list %+v, %v", list[0].ID, list, err)
		}
		if list[0].LastUsedAt.IsZero() {
			t.Fatalf("list[0].LastUsedAt.IsZero() is true; list %+v, %v", list, err)
		}
		firstUse := list[0].LastUsedAt
		// Used again within the minute: not written again, but listed as
		// it happened.
		e.clock.Advance(30 * time.Second)
		if _, _, err := e.keys.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if stored, _, _ := e.db.GetAPIKey(ctx, key.ID); !stored.LastUsedAt.Equal(firstUse) {
			t.Fatalf("last used written again after 30s: %v", stored.LastUsedAt)
		}
		if k, _ := e.keys.GetAPIKey(ctx, key.ID); !k.LastUsedAt.Equal(firstUse.Add(30 * time.Second)) {
			t.Fatalf("last used listed as %v, want the use 30s later", k.LastUsedAt)
		}
		if list, _ := e.keys.ListAPIKeys(ctx, "edu-bureau"); !list[0].LastUsedAt.Equal(firstUse.Add(30 * time.Second)) {
			t.Fatalf("last used listed as %v, want the use 30s later", list[0].LastUsedAt)
		}
		e.clock.Advance(31 * time.Second)
		if _, _, err := e.keys.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if k, _ := e.keys.GetAPIKey(ctx, key.ID); !k.LastUsedAt.After(firstUse) {
			t.Fatalf("last used not moved after 61s: %v", k.LastUsedAt)
		}

		for _, bad := range []string{"", "egk_", token[:len(token)-1], token[:len(token)-1] + "a" + "b", strings.ToUpper(token),
			"egk_aaaaaaaa_" + strings.Repeat("a", 40), token[:len(token)-2] + "22"} {
			if bad == token {
				continue
			}
			_, _, err := e.keys.Authenticate(ctx, bad)
			wantCode(t, err, accounts.CodeInvalidCredentials)
		}
		if err := e.keys.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.keys.Authenticate(ctx, token)
		wantCode(t, err, accounts.CodeAPIKeyRevoked)
		if err := e.keys.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatalf("second revocation: %v", err)
		}
		wantCode(t, e.keys.RevokeAPIKey(ctx, "zzzzzzzz"), accounts.CodeAPIKeyNotFound)
		if _, _, err := e.keys.IssueAPIKey(ctx, "tax-bureau", "x"); !routing.IsKind(err, routing.KindNotFound) {
			t.Errorf("a key for a department that is not registered: %v, want not_found", err)
		}
		_, _, err = e.keys.IssueAPIKey(ctx, "Edu Bureau", "x")
		if !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("bad department: %v", err)
		}
		if other, _ := e.keys.ListAPIKeys(ctx, "hr-bureau"); len(other) != 0 {
			t.Fatalf("another department sees %d keys", len(other))
		}
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		token, s, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if len(token) < 43 {
			t.Fatalf("len(token) = %v, want >= 43; session %+v", len(token), s)
		}
		if s.CSRFToken == "" {
			t.Fatalf("s.CSRFToken == \"\", want it different; session %+v", s)
		}
		if s.CSRFToken == token {
			t.Fatalf("s.CSRFToken == token, want it different; session %+v", s)
		}
		if !s.ExpiresAt.Equal(e.clock.Now().Add(12 * time.Hour)) {
			t.Fatalf("s.ExpiresAt.Equal(e.clock.Now().Add(12*time.Hour)) is false; session %+v", s)
		}
		// Only the hash is stored.
		if _, err := e.db.GetSession(ctx, token); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatal("the session is findable by the raw token")
		}
		got, err := e.sessions.Lookup(ctx, token)
		if err != nil {
			t.Fatalf("err = %v, want nil; lookup %+v, %v", err, got, err)
		}
		if got.Subject != eid {
			t.Fatalf("got.Subject = %v, want eid; lookup %+v, %v", got.Subject, got, err)
		}
		if got.Lang != "en" {
			t.Fatalf("got.Lang = %q, want \"en\"; lookup %+v, %v", got.Lang, got, err)
		}
		if got.CSRFToken != s.CSRFToken {
			t.Fatalf("got.CSRFToken = %v, want s.CSRFToken; lookup %+v, %v", got.CSRFToken, got, err)
		}
		if !got.CheckCSRF(s.CSRFToken) {
			t.Fatalf("got.CheckCSRF(s.CSRFToken) is false; lookup %+v, %v", got, err)
		}
		if got.CheckCSRF("x") {
			t.Fatalf("got.CheckCSRF(\"x\") is true; lookup %+v, %v", got, err)
		}
		// Use within the idle window keeps it alive for the absolute lifetime.
		for range 24 {
			e.clock.Advance(29 * time.Minute)
			if _, err := e.sessions.Lookup(ctx, token); err != nil {
				t.Fatalf("after %v: %v", e.clock.Now().Sub(s.CreatedAt), err)
			}
		}
		e.clock.Advance(29 * time.Minute) // 12h05m after creation
		_, err = e.sessions.Lookup(ctx, token)
		wantCode(t, err, accounts.CodeSessionExpired)
		_, err = e.sessions.Lookup(ctx, token)
		wantCode(t, err, accounts.CodeSessionInvalid)

		// Idle expiry.
		idle, _, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * time.Minute)
		_, err = e.sessions.Lookup(ctx, idle)
		wantCode(t, err, accounts.CodeSessionExpired)

		// Revoke and revoke all.
		t1, _, _ := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid})
		t2, _, _ := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: eid})
		t3, _, _ := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionAdmin, Subject: "li.wei", Role: accounts.RoleAuditor})
		if err := e.sessions.Revoke(ctx, t1); err != nil {
			t.Fatal(err)
		}
		_, err = e.sessions.Lookup(ctx, t1)
		wantCode(t, err, accounts.CodeSessionInvalid)
		if err := e.sessions.RevokeAllFor(ctx, eid); err != nil {
			t.Fatal(err)
		}
		_, err = e.sessions.Lookup(ctx, t2)
		wantCode(t, err, accounts.CodeSessionInvalid)
		if _, err := e.sessions.Lookup(ctx, t3); err != nil {
			t.Fatalf("another subject's session ended: %v", err)
		}
		e.clock.Advance(13 * time.Hour)
		if n, err := e.sessions.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}
		for _, bad := range []accounts.Session{
			{Kind: "robot", Subject: eid},
			{Kind: accounts.SessionAdmin, Subject: "li.wei"},
			{Kind: accounts.SessionResident, Subject: eid, Role: accounts.RoleAdmin},
			{Kind: accounts.SessionResident, Subject: ""},
			{Kind: accounts.SessionResident, Subject: eid, Lang: "fr"},
		} {
			_, _, err := e.sessions.NewSession(ctx, bad)
			wantCode(t, err, accounts.CodeInvalidSessionRequest)
		}
	})
}

func TestDatabaseDownReachesCallersAsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	ctx := ctxT(t)
	_ = e.db.Close()
	_, err := e.residents.Login(ctx, eid, "Right password 1")
	if routing.CodeOf(err) != "database_unavailable" {
		t.Fatalf("login: %v", err)
	}
	_, _, err = e.keys.Authenticate(ctx, "egk_aaaaaaaa_"+strings.Repeat("a", 40))
	if routing.CodeOf(err) != "database_unavailable" {
		t.Fatalf("authenticate: %v", err)
	}
}
