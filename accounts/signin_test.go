package accounts_test

import (
	"context"
	"testing"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store/storetest"
)

// finder maps the numbers of known documents to their eIDs; a number it
// calls malformed is refused as the mapping service refuses one.
type finder map[string]string

func (f finder) Find(_ context.Context, doc mapping.Input) (string, error) {
	if doc.Number == "malformed" {
		return "", routing.Invalid("mapping.Find", "document.number", "cn-resident: the number is mistyped").WithCode("invalid_document")
	}
	if eid, ok := f[doc.Number]; ok {
		return eid, nil
	}
	return "", routing.Errorf(routing.KindNotFound, "mapping.Find", "no eID is mapped to this document").WithCode("document_not_mapped")
}

func newSignIn(t *testing.T, e *env) *accounts.SignIn {
	t.Helper()
	pk, err := accounts.NewPasskeys(accounts.PasskeysConfig{Store: e.db, Ledger: routingtest.NewLedger(e.clock), Clock: e.clock,
		RPID: "localhost", Origins: []string{"http://localhost:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := accounts.NewSignIn(accounts.SignInConfig{Residents: e.residents, Admins: e.admins, Sessions: e.sessions,
		Documents: finder{"110105199003071239": eid}, Passkeys: pk})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignInOpensSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		e := newEnv(t, d)
		in := newSignIn(t, e)
		doc := mapping.Input{Type: mapping.CNResident, Number: "110105199003071239"}

		// Every document the resident cannot sign in with gets one answer.
		for _, bad := range []mapping.Input{{Type: mapping.CNResident, Number: "11010519491231002X"}, {Type: mapping.CNResident, Number: "malformed"}} {
			_, _, err := in.Activate(ctx, bad, e.activation(t, ctx), "Right password 1")
			if routing.CodeOf(err) != accounts.CodeInvalidCredentials || routing.MessageOf(err) != "the document, code or password is not correct" {
				t.Errorf("activation with document %s: %v, want invalid_credentials naming the document, code or password", bad.Number, err)
			}
		}
		token, sess, err := in.Activate(ctx, doc, e.activation(t, ctx), "Right password 1")
		if err != nil {
			t.Fatal(err)
		}
		if sess.Kind != accounts.SessionResident {
			t.Errorf("sess.Kind = %v, want accounts.SessionResident; activation session %+v, want a resident session of %s without a language", sess.Kind, sess, eid)
		} else if sess.Subject != eid {
			t.Errorf("sess.Subject = %v, want eid; activation session %+v, want a resident session of %s without a language", sess.Subject, sess, eid)
		} else if sess.Lang != "" {
			t.Errorf("sess.Lang = %q, want \"\"; activation session %+v, want a resident session of %s without a language", sess.Lang, sess, eid)
		} else if sess.CSRFToken == "" {
			t.Errorf("sess.CSRFToken == \"\", want it different; activation session %+v, want a resident session of %s without a language", sess, eid)
		}
		if _, err := e.sessions.Lookup(ctx, token); err != nil {
			t.Errorf("the activation's session does not sign in: %v", err)
		}
		if err := e.residents.SetLanguage(ctx, eid, accounts.LangEN); err != nil {
			t.Fatal(err)
		}
		if _, sess, err = in.Resident(ctx, doc, "Right password 1"); err != nil {
			t.Errorf("err = %v, want nil; sign-in session %+v, %v; want one in the chosen language en", err, sess, err)
		} else if sess.Lang != accounts.LangEN {
			t.Errorf("sess.Lang = %v, want accounts.LangEN; sign-in session %+v, %v; want one in the chosen language en", sess.Lang, sess, err)
		}
		if _, _, err := in.Resident(ctx, doc, "Wrong password 1"); routing.CodeOf(err) != accounts.CodeInvalidCredentials {
			t.Errorf("wrong password: %v, want invalid_credentials", err)
		}

		if _, err := e.admins.CreateAdmin(ctx, "li.wei", "Admin password 1", accounts.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		if _, sess, err = in.Admin(ctx, "li.wei", "Admin password 1"); err != nil {
			t.Errorf("err = %v, want nil; administrator session %+v, %v; want an auditor's", err, sess, err)
		} else if sess.Kind != accounts.SessionAdmin {
			t.Errorf("sess.Kind = %v, want accounts.SessionAdmin; administrator session %+v, %v; want an auditor's", sess.Kind, sess, err)
		} else if sess.Role != accounts.RoleAuditor {
			t.Errorf("sess.Role = %v, want accounts.RoleAuditor; administrator session %+v, %v; want an auditor's", sess.Role, sess, err)
		}
	})
}

func TestNewSignInRefusesMissingServices(t *testing.T) {
	t.Parallel()
	if _, err := accounts.NewSignIn(accounts.SignInConfig{}); routing.CodeOf(err) != "missing_dependency" {
		t.Fatalf("NewSignIn(SignInConfig{}) = %v, want missing_dependency", err)
	}
}

// The permission table: each role has exactly the permissions the
// console and the admin API grant it.
func TestRolePermissions(t *testing.T) {
	t.Parallel()
	want := map[string][]accounts.Permission{
		accounts.RoleAdmin:          accounts.Permissions(),
		accounts.RoleMappingOfficer: {accounts.PermRegistryRead, accounts.PermResidents},
		accounts.RoleAuditor:        {accounts.PermRegistryRead, accounts.PermPoliciesRead, accounts.PermAudit},
		"resident":                  nil,
	}
	for role, perms := range want {
		for _, p := range accounts.Permissions() {
			has := false
			for _, q := range perms {
				has = has || q == p
			}
			if accounts.RoleCan(role, p) != has {
				t.Errorf("RoleCan(%s, %s) = %v, want %v", role, p, !has, has)
			}
		}
	}
}
