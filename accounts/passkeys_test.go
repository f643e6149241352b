package accounts_test

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store/storetest"
)

const (
	rpID   = "eid.example.gov.cn"
	origin = "https://eid.example.gov.cn"
)

var resident = model.DeriveEID("passkeys", 0)

type pkEnv struct {
	*env
	ledger   *routingtest.Ledger
	passkeys *accounts.Passkeys
}

func newPasskeyEnv(t *testing.T, d storetest.DB, edit func(*accounts.PasskeysConfig)) *pkEnv {
	t.Helper()
	e := newEnv(t, d)
	l := routingtest.NewLedger(e.clock)
	l.PutIdentity(model.Identity{ID: resident, Status: model.EIDActive})
	l.PutIdentity(model.Identity{ID: model.DeriveEID("passkeys", 1), Status: model.EIDActive})
	cfg := accounts.PasskeysConfig{Store: e.db, Ledger: l, Sessions: e.sessions, Clock: e.clock,
		RPID: rpID, Origins: []string{origin}}
	if edit != nil {
		edit(&cfg)
	}
	p, err := accounts.NewPasskeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pe := &pkEnv{env: e, ledger: l, passkeys: p}
	e.cfg.Passkeys, e.cfg.Sessions = p, e.sessions
	if e.residents, err = accounts.NewResidents(e.cfg); err != nil {
		t.Fatal(err)
	}
	return pe
}

func userHandle(t *testing.T, c *protocol.CredentialCreation) []byte {
	t.Helper()
	switch id := c.Response.User.ID.(type) {
	case protocol.URLEncodedBase64:
		return id
	case []byte:
		return id
	}
	t.Fatalf("user id of type %T", c.Response.User.ID)
	return nil
}

// register makes a credential of alg for the account and registers it.
func (e *pkEnv) register(t *testing.T, kind, subject, alg string) (*passkeytest.Credential, *accounts.PasskeyInfo) {
	t.Helper()
	ctx := ctxT(t)
	opts, err := e.passkeys.BeginRegistration(ctx, kind, subject, "")
	if err != nil {
		t.Fatal(err)
	}
	c := passkeytest.New(alg, userHandle(t, opts))
	info, err := e.passkeys.FinishRegistration(ctx, kind, subject, c.Register(rpID, origin, opts.Response.Challenge, passkeytest.Options{}), "phone")
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return c, info
}

func TestPasskeyRegistrationAndSignIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newPasskeyEnv(t, d, nil)
		ctx := ctxT(t)
		opts, err := e.passkeys.BeginRegistration(ctx, accounts.KindResident, resident, "张三")
		if err != nil {
			t.Fatal(err)
		}
		sel := opts.Response.AuthenticatorSelection
		if opts.Response.RelyingParty.ID != rpID {
			t.Fatalf("opts.Response.RelyingParty.ID = %v, want rpID; creation options: %+v", opts.Response.RelyingParty.ID, opts.Response)
		}
		if sel.ResidentKey != protocol.ResidentKeyRequirementRequired {
			t.Fatalf("sel.ResidentKey = %v, want protocol.ResidentKeyRequirementRequired; creation options: %+v", sel.ResidentKey, opts.Response)
		}
		if sel.UserVerification != protocol.VerificationRequired {
			t.Fatalf("sel.UserVerification = %v, want protocol.VerificationRequired; creation options: %+v", sel.UserVerification, opts.Response)
		}
		if len(opts.Response.Challenge) < 16 {
			t.Fatalf("len(opts.Response.Challenge) = %v, want >= 16; creation options: %+v", len(opts.Response.Challenge), opts.Response)
		}
		if len(userHandle(t, opts)) != 32 {
			t.Fatalf("len(userHandle(t, opts)) != 32; creation options: %+v", opts.Response)
		}
		for _, alg := range []string{passkeytest.ES256, passkeytest.EdDSA, passkeytest.RS256} {
			c, info := e.register(t, accounts.KindResident, resident, alg)
			if info.KeyID != c.KeyID() {
				t.Fatalf("info.KeyID = %v, want c.KeyID(); %s: %+v", info.KeyID, alg, info)
			}
			if info.MethodID != resident+"#"+c.KeyID() {
				t.Fatalf("info.MethodID = %v, want resident+\"#\"+c.KeyID(); %s: %+v", info.MethodID, alg, info)
			}
			if info.Algorithm != alg {
				t.Fatalf("info.Algorithm = %v, want alg; %s: %+v", info.Algorithm, alg, info)
			}
			// The key on the ledger is the key the authenticator holds.
			keys, _ := e.ledger.ListPasskeys(ctx, resident)
			i := slices.IndexFunc(keys, func(k model.Passkey) bool { return k.ID == info.MethodID })
			if i < 0 {
				t.Fatalf("i = %v, want >= 0; %s on the ledger: %+v", i, alg, keys)
			}
			if keys[i].PublicKeyJWK != c.JWK() {
				t.Fatalf("keys[i].PublicKeyJWK = %v, want c.JWK(); %s on the ledger: %+v", keys[i].PublicKeyJWK, alg, keys)
			}
			if keys[i].RPID != rpID {
				t.Fatalf("keys[i].RPID = %v, want rpID; %s on the ledger: %+v", keys[i].RPID, alg, keys)
			}
			if keys[i].Status != model.PasskeyActive {
				t.Fatalf("keys[i].Status = %v, want model.PasskeyActive; %s on the ledger: %+v", keys[i].Status, alg, keys)
			}
			login, err := e.passkeys.BeginLogin(ctx, accounts.KindResident)
			if err != nil {
				t.Fatalf("err = %v, want nil; login options: %+v %v", err, login, err)
			}
			if len(login.Response.AllowedCredentials) != 0 {
				t.Fatalf("len(login.Response.AllowedCredentials) = %v, want 0; login options: %+v %v", len(login.Response.AllowedCredentials), login, err)
			}
			if login.Response.UserVerification != protocol.VerificationRequired {
				t.Fatalf("login.Response.UserVerification = %v, want protocol.VerificationRequired; login options: %+v %v", login.Response.UserVerification, login, err)
			}
			subject, used, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, c.Assert(rpID, origin, login.Response.Challenge, passkeytest.Options{}).JSON())
			if err != nil {
				t.Fatalf("err = %v, want nil; %s login: %q %+v %v", err, alg, subject, used, err)
			}
			if subject != resident {
				t.Fatalf("subject = %v, want resident; %s login: %q %+v %v", subject, alg, subject, used, err)
			}
			if used.ID != c.IDString() {
				t.Fatalf("used.ID = %v, want c.IDString(); %s login: %q %+v %v", used.ID, alg, subject, used, err)
			}
			if used.LastUsedAt.IsZero() {
				t.Fatalf("used.LastUsedAt.IsZero() is true; %s login: %q %+v %v", alg, subject, used, err)
			}
		}
		if n, _ := e.passkeys.CountActive(ctx, accounts.KindResident, resident); n != 3 {
			t.Fatalf("active passkeys: %d", n)
		}
		// The same authenticator cannot register the credential twice.
		c, _ := e.register(t, accounts.KindAdmin, "alice", passkeytest.ES256)
		again, _ := e.passkeys.BeginRegistration(ctx, accounts.KindAdmin, "alice", "")
		if len(again.Response.CredentialExcludeList) != 1 {
			t.Fatalf("exclude list: %+v", again.Response.CredentialExcludeList)
		}
		_, err = e.passkeys.FinishRegistration(ctx, accounts.KindAdmin, "alice", c.Register(rpID, origin, again.Response.Challenge, passkeytest.Options{}), "")
		wantCode(t, err, accounts.CodePasskeyExists)
		// Staff keys stay off the ledger.
		if list, _ := e.passkeys.List(ctx, accounts.KindAdmin, "alice"); len(list) != 1 {
			t.Fatalf("len(list) = %v, want 1; staff keys: %+v", len(list), list)
		} else if list[0].KeyID != "" {
			t.Fatalf("list[0].KeyID = %q, want \"\"; staff keys: %+v", list[0].KeyID, list)
		}
	})
}

// Every bent answer to a sign-in gets a stable code and changes nothing:
// the key's counter and last use stay as they were.
func TestPasskeyRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newPasskeyEnv(t, d, nil)
		ctx := ctxT(t)
		c, _ := e.register(t, accounts.KindResident, resident, passkeytest.ES256)
		staff, _ := e.register(t, accounts.KindAdmin, "alice", passkeytest.ES256)
		other := passkeytest.New(passkeytest.ES256, c.UserHandle)
		five := uint32(5)
		two := uint32(2)
		// Bring the counter to 5.
		login := func() []byte {
			o, err := e.passkeys.BeginLogin(ctx, accounts.KindResident)
			if err != nil {
				t.Fatal(err)
			}
			return o.Response.Challenge
		}
		if _, _, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, c.Assert(rpID, origin, login(), passkeytest.Options{Counter: &five}).JSON()); err != nil {
			t.Fatal(err)
		}
		used := c.Assert(rpID, origin, login(), passkeytest.Options{Counter: ptr(uint32(6))}).JSON()
		if _, _, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, used); err != nil {
			t.Fatal(err)
		}
		before := state(t, e, c)
		signing, err := e.passkeys.BeginSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, randomDigest(), "ctx")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			body func() []byte
			kind string
			code string
		}{
			{"replayed assertion", func() []byte { return used }, accounts.KindResident, accounts.CodeChallengeUsed},
			{"challenge never issued", func() []byte { return c.Assert(rpID, origin, []byte("0123456789abcdef"), passkeytest.Options{}).JSON() }, accounts.KindResident, accounts.CodeChallengeUnknown},
			{"wrong origin", func() []byte {
				return c.Assert(rpID, origin, login(), passkeytest.Options{Origin: "https://evil.example.gov.cn"}).JSON()
			}, accounts.KindResident, accounts.CodeOriginMismatch},
			{"wrong RP ID", func() []byte {
				return c.Assert(rpID, origin, login(), passkeytest.Options{RPID: "example.gov.cn"}).JSON()
			}, accounts.KindResident, accounts.CodeRPIDMismatch},
			{"user not verified", func() []byte { return c.Assert(rpID, origin, login(), passkeytest.Options{NoUV: true}).JSON() }, accounts.KindResident, accounts.CodeUserNotVerified},
			{"counter went back", func() []byte { return c.Assert(rpID, origin, login(), passkeytest.Options{Counter: &two}).JSON() }, accounts.KindResident, accounts.CodeCounterRegressed},
			{"counter stood still", func() []byte {
				return c.Assert(rpID, origin, login(), passkeytest.Options{Counter: ptr(uint32(6))}).JSON()
			}, accounts.KindResident, accounts.CodeCounterRegressed},
			{"bad signature", func() []byte { return c.Assert(rpID, origin, login(), passkeytest.Options{BadSig: true}).JSON() }, accounts.KindResident, accounts.CodeAssertionInvalid},
			{"unregistered credential", func() []byte { return other.Assert(rpID, origin, login(), passkeytest.Options{}).JSON() }, accounts.KindResident, accounts.CodeUnknownCredential},
			{"staff key at the portal", func() []byte { return staff.Assert(rpID, origin, login(), passkeytest.Options{}).JSON() }, accounts.KindResident, accounts.CodeWrongUser},
			{"portal challenge at the console", func() []byte { return c.Assert(rpID, origin, login(), passkeytest.Options{}).JSON() }, accounts.KindAdmin, accounts.CodeCeremonyMismatch},
			{"signing challenge used to sign in", func() []byte { return c.Assert(rpID, origin, signing.Response.Challenge, passkeytest.Options{}).JSON() }, accounts.KindResident, accounts.CodeCeremonyMismatch},
			{"not an assertion", func() []byte { return []byte(`{"id":"x"}`) }, accounts.KindResident, accounts.CodePasskeyMalformed},
			{"empty", func() []byte { return nil }, accounts.KindResident, accounts.CodePasskeyMalformed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := e.passkeys.FinishLogin(ctx, tc.kind, tc.body())
				wantCode(t, err, tc.code)
				if after := state(t, e, c); after != before {
					t.Fatalf("the refused answer changed the key: %+v → %+v", before, after)
				}
			})
		}
		// An expired challenge.
		ch := login()
		e.clock.Advance(accounts.DefaultCeremonyTTL + time.Second)
		_, _, err = e.passkeys.FinishLogin(ctx, accounts.KindResident, c.Assert(rpID, origin, ch, passkeytest.Options{Counter: ptr(uint32(9))}).JSON())
		wantCode(t, err, accounts.CodeChallengeExpired)
		// A signing ceremony of one account answered with another's key.
		other2, _ := e.register(t, accounts.KindResident, model.DeriveEID("passkeys", 1), passkeytest.ES256)
		sig, _ := e.passkeys.BeginSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, randomDigest(), "ctx")
		_, err = e.passkeys.FinishSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, other2.Assert(rpID, origin, sig.Response.Challenge, passkeytest.Options{}).JSON(), nil)
		wantCode(t, err, accounts.CodeWrongUser)
		// ... or for another purpose.
		sig, _ = e.passkeys.BeginSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, randomDigest(), "ctx")
		_, err = e.passkeys.FinishSigning(ctx, accounts.KindResident, resident, model.StatementConsentRevoke, c.Assert(rpID, origin, sig.Response.Challenge, passkeytest.Options{Counter: ptr(uint32(10))}).JSON(), nil)
		wantCode(t, err, accounts.CodeCeremonyMismatch)
		if after := state(t, e, c); after != before {
			t.Fatalf("refused signatures changed the key: %+v → %+v", before, after)
		}
		// The honest answer still works.
		sig, _ = e.passkeys.BeginSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, []byte("digest-of-the-statement-32-bytes"), `{"consent":"x"}`)
		got, err := e.passkeys.FinishSigning(ctx, accounts.KindResident, resident, model.StatementConsentGrant, c.Assert(rpID, origin, sig.Response.Challenge, passkeytest.Options{Counter: ptr(uint32(11))}).JSON(), nil)
		if err != nil {
			t.Fatalf("err = %v, want nil; signing: %+v %v", err, got, err)
		}
		if got.Context != `{"consent":"x"}` {
			t.Fatalf("got.Context = %q, want `{\"consent\":\"x\"}`; signing: %+v %v", got.Context, got, err)
		}
		if string(got.Passkey.ID) != string(c.ID) {
			t.Fatalf("string(got.Passkey.ID) != string(c.ID); signing: %+v %v", got, err)
		}
		if len(got.Signature) == 0 {
			t.Fatalf("len(got.Signature) == 0, want it different; signing: %+v %v", got, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// randomDigest stands for a statement digest (each has its own nonce).
func randomDigest() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

type keyState struct {
	count uint32
	used  time.Time
}

func state(t *testing.T, e *pkEnv, c *passkeytest.Credential) keyState {
	t.Helper()
	k, err := e.db.GetPasskey(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return keyState{k.SignCount, k.LastUsedAt}
}

// Two replicas answering one challenge with one assertion: one signs in.
func TestPasskeyAnswerCountsOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newPasskeyEnv(t, d, nil)
		ctx := ctxT(t)
		c, _ := e.register(t, accounts.KindResident, resident, passkeytest.EdDSA)
		o, _ := e.passkeys.BeginLogin(ctx, accounts.KindResident)
		body := c.Assert(rpID, origin, o.Response.Challenge, passkeytest.Options{}).JSON()
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, body); err == nil {
					ok.Add(1)
				} else if c := routing.CodeOf(err); c != accounts.CodeChallengeUsed {
					t.Errorf("loser: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d sign-ins with one answer", ok.Load())
		}
	})
}

// A resident who lost their passkeys gets a new activation code at the
// counter: the old keys stop working here and are retired on the ledger,
// and their sessions end.
func TestNewActivationCodeRevokesPasskeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newPasskeyEnv(t, d, nil)
		ctx := ctxT(t)
		c1, _ := e.register(t, accounts.KindResident, resident, passkeytest.ES256)
		c2, _ := e.register(t, accounts.KindResident, resident, passkeytest.EdDSA)
		tok, _, err := e.sessions.NewSession(ctx, accounts.Session{Kind: accounts.SessionResident, Subject: resident, AuthMethod: accounts.AuthPasskey})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		if _, err := e.residents.CreateActivation(ctx, resident); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*passkeytest.Credential{c1, c2} {
			o, _ := e.passkeys.BeginLogin(ctx, accounts.KindResident)
			_, _, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, c.Assert(rpID, origin, o.Response.Challenge, passkeytest.Options{}).JSON())
			wantCode(t, err, accounts.CodeUnknownCredential)
		}
		keys, _ := e.ledger.ListPasskeys(ctx, resident)
		for _, k := range keys {
			if k.Status != model.PasskeyRetired {
				t.Fatalf("k.Status = %v, want model.PasskeyRetired; on the ledger: %+v", k.Status, k)
			}
			if k.RetiredReason != "lost" {
				t.Fatalf("k.RetiredReason = %q, want \"lost\"; on the ledger: %+v", k.RetiredReason, k)
			}
		}
		if _, err := e.sessions.Lookup(ctx, tok); routing.CodeOf(err) != accounts.CodeSessionInvalid {
			t.Fatalf("the session outlived the recovery: %v", err)
		}
		// Activating without a password: the resident then registers a
		// new passkey, which works.
		code, _ := e.residents.CreateActivation(ctx, resident)
		if err := e.residents.Activate(ctx, resident, code, ""); err != nil {
			t.Fatalf("activation without a password: %v", err)
		}
		if has, _ := e.db.HasPassword(ctx, accounts.KindResident, resident); has {
			t.Fatal("a password appeared")
		}
		fresh, _ := e.register(t, accounts.KindResident, resident, passkeytest.ES256)
		o, _ := e.passkeys.BeginLogin(ctx, accounts.KindResident)
		if s, _, err := e.passkeys.FinishLogin(ctx, accounts.KindResident, fresh.Assert(rpID, origin, o.Response.Challenge, passkeytest.Options{}).JSON()); err != nil || s != resident {
			t.Fatalf("the new passkey: %q %v", s, err)
		}
		// Its only passkey and no password: it cannot be removed.
		list, _ := e.passkeys.List(ctx, accounts.KindResident, resident)
		wantCode(t, e.passkeys.Remove(ctx, accounts.KindResident, resident, list[len(list)-1].ID), accounts.CodeLastSignInMethod)
		wantCode(t, e.passkeys.Remove(ctx, accounts.KindResident, resident, list[0].ID), accounts.CodePasskeyNotFound)
	})
}

func TestStaffMustUsePasskeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newPasskeyEnv(t, d, nil)
		ctx := ctxT(t)
		e.cfg.RequireStaffPasskeys = true
		admins, err := accounts.NewAdmins(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admins.CreateAdmin(ctx, "alice", "Correct-Horse-9", accounts.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		a, err := admins.Login(ctx, "alice", "Correct-Horse-9")
		if err != nil {
			t.Fatalf("err = %v, want nil; first password sign-in: %+v %v", err, a, err)
		}
		if a == nil {
			t.Fatalf("a is nil; first password sign-in: %+v %v", a, err)
		}
		if !a.MustRegisterPasskey {
			t.Fatalf("a.MustRegisterPasskey is false; first password sign-in: %+v %v", a, err)
		}
		c, _ := e.register(t, accounts.KindAdmin, "alice", passkeytest.ES256)
		_, err = admins.Login(ctx, "alice", "Correct-Horse-9")
		wantCode(t, err, accounts.CodePasskeyRequired)
		o, _ := e.passkeys.BeginLogin(ctx, accounts.KindAdmin)
		name, _, err := e.passkeys.FinishLogin(ctx, accounts.KindAdmin, c.Assert(rpID, origin, o.Response.Challenge, passkeytest.Options{}).JSON())
		if err != nil || name != "alice" {
			t.Fatalf("passkey sign-in: %q %v", name, err)
		}
		if a, err := admins.PasskeySignIn(ctx, name); err != nil {
			t.Fatalf("err = %v, want nil; admitted: %+v %v", err, a, err)
		} else if a.Role != accounts.RoleAuditor {
			t.Fatalf("a.Role = %v, want accounts.RoleAuditor; admitted: %+v %v", a.Role, a, err)
		}
		// A password still works to remove a passkey, so it is not the
		// last way in; without the rule, password sign-in is unchanged.
		list, _ := e.passkeys.List(ctx, accounts.KindAdmin, "alice")
		if err := e.passkeys.Remove(ctx, accounts.KindAdmin, "alice", list[0].ID); err != nil {
			t.Fatal(err)
		}
		e.cfg.RequireStaffPasskeys = false
		relaxed, _ := accounts.NewAdmins(e.cfg)
		if a, err := relaxed.Login(ctx, "alice", "Correct-Horse-9"); err != nil {
			t.Fatalf("err = %v, want nil; without the rule: %+v %v", err, a, err)
		} else if a.MustRegisterPasskey {
			t.Fatalf("a.MustRegisterPasskey is true; without the rule: %+v %v", a, err)
		}
		if err := admins.Disable(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = admins.PasskeySignIn(ctx, "alice")
		wantCode(t, err, accounts.CodeAccountDisabled)
	})
}

func TestRelyingPartyIsCheckedAtStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rpID    string
		origins []string
		ok      bool
	}{
		{"eid.example.gov.cn", []string{"https://eid.example.gov.cn", "https://m.eid.example.gov.cn:8443"}, true},
		{"localhost", []string{"http://localhost:8080"}, true},
		{"127.0.0.1", []string{"http://127.0.0.1:8080"}, false},
		{"eid.example.gov.cn", nil, false},
		{"eid.example.gov.cn", []string{"http://eid.example.gov.cn"}, false},
		{"eid.example.gov.cn", []string{"https://example.gov.cn"}, false},
		{"eid.example.gov.cn", []string{"https://eid.example.gov.cn/portal"}, false},
		{"EID.example.gov.cn", []string{"https://eid.example.gov.cn"}, false},
	} {
		err := accounts.CheckRelyingParty(tc.rpID, tc.origins)
		if (err == nil) != tc.ok {
			t.Errorf("%s %v: %v", tc.rpID, tc.origins, err)
		}
	}
	if _, err := accounts.NewPasskeys(accounts.PasskeysConfig{RPID: "localhost", Origins: []string{"http://localhost"}}); routing.CodeOf(err) != "missing_dependency" {
		t.Errorf("no store: %v", err)
	}
}
