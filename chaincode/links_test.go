package chaincode_test

import (
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

func TestAccountLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	hr := e.addDept("hr")
	a := e.newEID(1)
	b := e.newEID(2)
	h := accountHash("zhang.san@edu")

	r := e.ok(edu.User, model.FnLinkAccount, a, "edu", h)
	if l := decode[model.AccountLink](t, r); l.EID != a {
		t.Fatalf("l.EID = %v, want a; link: %+v", l.EID, l)
	} else if l.Department != "edu" {
		t.Fatalf("l.Department = %q, want \"edu\"; link: %+v", l.Department, l)
	} else if l.AccountHash != h {
		t.Fatalf("l.AccountHash = %v, want h; link: %+v", l.AccountHash, l)
	} else if l.LinkedAt == "" {
		t.Fatalf("l.LinkedAt == \"\", want it different; link: %+v", l)
	}
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != (model.Change{Kind: model.KindLink, Op: model.OpLinked, EID: a, Department: "edu", Value: h}) {
		t.Fatalf("cs[0] = %v, want (model.Change{Kind: model.KindLink, Op: model.OpLinked, EID: a, Department: \"edu\", Value: h}); event: %+v", cs[0], cs)
	}
	if r := e.ok(edu.User, model.FnLinkAccount, a, "edu", h); writes(r) != 0 {
		t.Fatal("relinking the same account wrote")
	}
	e.ok(e.agent, model.FnLinkAccount, a, "hr", accountHash("a@hr"))

	for _, c := range []struct {
		name string
		fn   func() string
	}{
		{"other department", func() string {
			return e.fail(hr.User, model.CodeForbidden, []string{"hr may not call LinkAccount for department edu"}, model.FnLinkAccount, b, "edu", accountHash("b"))
		}},
		{"admin", func() string {
			return e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnLinkAccount, b, "edu", accountHash("b"))
		}},
		{"second account", func() string {
			return e.fail(edu.User, model.CodeConflict, []string{"already linked to another account"}, model.FnLinkAccount, a, "edu", accountHash("other"))
		}},
		{"account taken", func() string {
			return e.fail(edu.User, model.CodeConflict, []string{"account " + h[:8] + "… of department edu is already linked"}, model.FnLinkAccount, b, "edu", h)
		}},
		{"bad hash", func() string {
			return e.fail(edu.User, model.CodeInvalid, []string{"account_hash"}, model.FnLinkAccount, b, "edu", "abc")
		}},
		{"unknown eID", func() string {
			return e.fail(edu.User, model.CodeNotFound, []string{"does not exist"}, model.FnLinkAccount, model.DeriveEID("x", 0), "edu", accountHash("b"))
		}},
		{"unknown department via agent", func() string {
			return e.fail(e.agent, model.CodeNotFound, []string{"civil is not registered"}, model.FnLinkAccount, b, "civil", accountHash("b"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			c.fn()
		})
	}
	e.t = t

	if ls := decode[[]model.AccountLink](t, e.ok(e.agent, model.FnListLinks, a)); len(ls) != 2 {
		t.Fatalf("len(ls) = %v, want 2; agent sees %+v", len(ls), ls)
	} else if ls[0].Department != "edu" {
		t.Fatalf("ls[0].Department = %q, want \"edu\"; agent sees %+v", ls[0].Department, ls)
	} else if ls[1].Department != "hr" {
		t.Fatalf("ls[1].Department = %q, want \"hr\"; agent sees %+v", ls[1].Department, ls)
	}
	if ls := decode[[]model.AccountLink](t, e.ok(hr.User, model.FnListLinks, a)); len(ls) != 1 {
		t.Fatalf("len(ls) = %v, want 1; hr sees %+v", len(ls), ls)
	} else if ls[0].Department != "hr" {
		t.Fatalf("ls[0].Department = %q, want \"hr\"; hr sees %+v", ls[0].Department, ls)
	}
	if got := text(e.ok(edu.User, model.FnLookupAccount, "edu", h)); got != a {
		t.Fatalf("lookup: %s", got)
	}
	e.fail(hr.User, model.CodeForbidden, []string{"hr may not call LookupAccount"}, model.FnLookupAccount, "edu", h)
	e.fail(edu.User, model.CodeNotFound, []string{"no eID is linked to account"}, model.FnLookupAccount, "edu", accountHash("none"))

	e.fail(hr.User, model.CodeForbidden, []string{"hr may not call UnlinkAccount"}, model.FnUnlinkAccount, a, "edu")
	r = e.ok(edu.User, model.FnUnlinkAccount, a, "edu")
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != (model.Change{Kind: model.KindLink, Op: model.OpUnlinked, EID: a, Department: "edu", Value: h}) {
		t.Fatalf("cs[0] = %v, want (model.Change{Kind: model.KindLink, Op: model.OpUnlinked, EID: a, Department: \"edu\", Value: h}); event: %+v", cs[0], cs)
	}
	e.fail(edu.User, model.CodeNotFound, []string{"no account link"}, model.FnUnlinkAccount, a, "edu")
	e.fail(edu.User, model.CodeNotFound, []string{"no eID is linked"}, model.FnLookupAccount, "edu", h)
	// The account is free again.
	e.ok(edu.User, model.FnLinkAccount, b, "edu", h)

	e.ok(e.agent, model.FnDeactivateEID, a, "deceased")
	e.fail(edu.User, model.CodeConflict, []string{"is deactivated"}, model.FnLinkAccount, a, "edu", accountHash("new"))
}
