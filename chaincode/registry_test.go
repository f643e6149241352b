package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"sort"
	"testing"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

func TestMetadataListsTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.evaluate(e.nobody, "org.hyperledger.fabric:GetMetadata")
	var md struct {
		Contracts map[string]struct {
			Default      bool `json:"default"`
			Transactions []struct {
				Name string   `json:"name"`
				Tag  []string `json:"tag"`
			} `json:"transactions"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(r.Response.GetPayload(), &md); err != nil {
		t.Fatal(err)
	}
	c, ok := md.Contracts[chaincode.ContractName]
	if !ok {
		t.Fatalf("ok is false; contract %q missing or not default: %+v", chaincode.ContractName, md.Contracts)
	}
	if !c.Default {
		t.Fatalf("c.Default is false; contract %q missing or not default: %+v", chaincode.ContractName, md.Contracts)
	}
	var got []string
	evaluate := map[string]bool{}
	for _, tx := range c.Transactions {
		got = append(got, tx.Name)
		for _, tag := range tx.Tag {
			if tag == "EVALUATE" {
				evaluate[tx.Name] = true
			}
		}
	}
	want := []string{
		model.FnRegisterDepartment, model.FnUpdateDepartment, model.FnSetDepartmentStatus, model.FnGetDepartment, model.FnListDepartments,
		model.FnRegisterDataType, model.FnUpdateDataType, model.FnGetDataType, model.FnListDataTypes,
		model.FnCreateEID, model.FnCreateEIDs, model.FnAddDocumentIndex, model.FnRemoveDocumentIndex, model.FnMergeEID,
		model.FnDeactivateEID, model.FnGetEID, model.FnResolveDID, model.FnLookupIndex,
		model.FnLinkAccount, model.FnUnlinkAccount, model.FnListLinks, model.FnLookupAccount,
		model.FnPublishRoute, model.FnPublishRoutes, model.FnRevokeRoute, model.FnGetRoutes, model.FnGetRouteHistory,
		model.FnRequestConsent, model.FnGrantConsent, model.FnDenyConsent, model.FnRevokeConsent, model.FnExpireConsents,
		model.FnGetConsent, model.FnListConsentsByEID, model.FnListConsentsByRequester,
		model.FnAnchorAccessBatch, model.FnGetAnchor,
		model.FnRevokeSigningKey, model.FnAnchorStatusList, model.FnGetStatusListAnchor,
		model.FnRegisterPasskey, model.FnRetirePasskeys, model.FnListPasskeys,
		model.FnGrantConsentSigned, model.FnRevokeConsentSigned,
		model.FnCreateStandingRule, model.FnRevokeStandingRule, model.FnListStandingRulesByEID,
		model.FnCreateStandingRuleSigned, model.FnRevokeStandingRuleSigned, model.FnGetStandingRule,
		model.FnRaiseDispute, model.FnAnswerDispute, model.FnCloseDispute,
		model.FnGetDispute, model.FnListDisputesByEID, model.FnListDisputesByDepartment,
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("transactions\n got %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("transactions\n got %v\nwant %v", got, want)
		}
		if evaluate[want[i]] == writeFns[want[i]] {
			t.Errorf("%s: evaluate tag %v, but write %v", want[i], evaluate[want[i]], writeFns[want[i]])
		}
	}
}

func TestRegisterDepartment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	got := decode[model.Department](t, e.ok(e.nobody, model.FnGetDepartment, "edu"))
	if got.Status != model.DepartmentActive {
		t.Fatalf("got.Status = %v, want model.DepartmentActive; stored department: %+v", got.Status, got)
	}
	if got.SigningKeys[0].Status != model.KeyActive {
		t.Fatalf("got.SigningKeys[0].Status = %v, want model.KeyActive; stored department: %+v", got.SigningKeys[0].Status, got)
	}
	if got.CreatedAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("got.CreatedAt = %q, want \"2026-03-01T09:00:00Z\"; stored department: %+v", got.CreatedAt, got)
	}
	if got.MSPID != edu.CA.MSPID {
		t.Fatalf("got.MSPID = %v, want edu.CA.MSPID; stored department: %+v", got.MSPID, got)
	}

	hr := e.newDept("hr")
	foreignAdmin := issue(t, hr.CA, "hr-admin", map[string]string{model.AttrRole: model.RoleAdmin})
	p384 := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	withKey := func(pemText string) model.Department {
		d := hr.record()
		d.SigningKeys[0].PublicKeyPEM = pemText
		return d
	}
	cases := []struct {
		name   string
		caller *devcrypto.Identity
		dept   model.Department
		code   model.Code
		want   []string
	}{
		{"agent", e.agent, hr.record(), model.CodeForbidden, []string{"admin role"}},
		{"department", edu.User, hr.record(), model.CodeForbidden, []string{"admin role"}},
		{"admin attribute from a department CA", foreignAdmin, hr.record(), model.CodeForbidden, []string{"only for identities of PlatformMSP"}},
		{"no role", e.nobody, hr.record(), model.CodeForbidden, []string{model.AttrRole}},
		{"duplicate", e.admin, edu.record(), model.CodeConflict, []string{"edu already exists"}},
		{"bad id", e.admin, func() model.Department { d := hr.record(); d.ID = "HR!"; return d }(), model.CodeInvalid, []string{"id must match"}},
		{"no name", e.admin, func() model.Department { d := hr.record(); d.Name = ""; return d }(), model.CodeInvalid, []string{"name is required"}},
		{"no msp", e.admin, func() model.Department { d := hr.record(); d.MSPID = ""; return d }(), model.CodeInvalid, []string{"msp_id"}},
		{"bad endpoint", e.admin, func() model.Department { d := hr.record(); d.Endpoints = []string{"ftp://x"}; return d }(), model.CodeInvalid, []string{"endpoints[0]"}},
		{"bad pem", e.admin, withKey("not a key"), model.CodeInvalid, []string{"signing_keys[0].public_key_pem"}},
		{"P-384 key", e.admin, withKey(must(model.MarshalPublicKey(&p384.PublicKey))), model.CodeInvalid, []string{"P-256"}},
		{"bad status", e.admin, func() model.Department { d := hr.record(); d.Status = "closed"; return d }(), model.CodeInvalid, []string{"status"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(c.caller, c.code, c.want, model.FnRegisterDepartment, c.dept)
		})
	}
}

func TestUpdateDepartmentKeepsKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	k2 := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	pem2 := must(model.MarshalPublicKey(&k2.PublicKey))

	rotated := edu.record()
	rotated.SigningKeys[0].Status = model.KeyRetired
	rotated.SigningKeys = append(rotated.SigningKeys, model.SigningKey{KID: "edu-k2", PublicKeyPEM: pem2})
	rotated.Name = "教育局"
	r := e.ok(e.admin, model.FnUpdateDepartment, rotated)
	got := decode[model.Department](t, r)
	if got.Name != "教育局" {
		t.Fatalf("got.Name = %q, want \"教育局\"; updated: %+v", got.Name, got)
	}
	if got.SigningKeys[1].Status != model.KeyActive {
		t.Fatalf("got.SigningKeys[1].Status = %v, want model.KeyActive; updated: %+v", got.SigningKeys[1].Status, got)
	}
	if got.CreatedAt == "" {
		t.Fatalf("got.CreatedAt == \"\", want it different; updated: %+v", got)
	}
	if !hasChange(changes(t, r), model.Change{Kind: model.KindDepartment, Op: model.OpUpdated, ID: "edu", Department: "edu"}) {
		t.Fatalf("event: %+v", changes(t, r))
	}

	removed := rotated
	removed.SigningKeys = removed.SigningKeys[1:]
	e.fail(e.admin, model.CodeConflict, []string{"edu-k1", "cannot be removed"}, model.FnUpdateDepartment, removed)

	reactivated := edu.record()
	reactivated.SigningKeys = append(reactivated.SigningKeys, model.SigningKey{KID: "edu-k2", PublicKeyPEM: pem2})
	e.fail(e.admin, model.CodeConflict, []string{"edu-k1", "cannot be reactivated"}, model.FnUpdateDepartment, reactivated)

	swapped := rotated
	swapped.SigningKeys = []model.SigningKey{{KID: "edu-k1", PublicKeyPEM: pem2, Status: model.KeyRetired}, rotated.SigningKeys[1]}
	e.fail(e.admin, model.CodeConflict, []string{"cannot change its public key"}, model.FnUpdateDepartment, swapped)

	status := rotated
	status.Status = model.DepartmentSuspended
	e.fail(e.admin, model.CodeInvalid, []string{model.FnSetDepartmentStatus}, model.FnUpdateDepartment, status)

	unknown := e.newDept("nope").record()
	e.fail(e.admin, model.CodeNotFound, []string{"nope"}, model.FnUpdateDepartment, unknown)
	e.fail(edu.User, model.CodeForbidden, []string{"admin role"}, model.FnUpdateDepartment, rotated)
}

func TestSuspendedDepartmentCannotAct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	e.fail(e.admin, model.CodeInvalid, []string{"reason is required"}, model.FnSetDepartmentStatus, "edu", model.DepartmentSuspended, "")
	e.fail(e.admin, model.CodeInvalid, []string{"status must be"}, model.FnSetDepartmentStatus, "edu", "gone", "x")
	e.fail(e.admin, model.CodeNotFound, []string{"nope"}, model.FnSetDepartmentStatus, "nope", model.DepartmentSuspended, "audit")
	e.fail(e.agent, model.CodeForbidden, []string{"admin role"}, model.FnSetDepartmentStatus, "edu", model.DepartmentSuspended, "audit")

	r := e.ok(e.admin, model.FnSetDepartmentStatus, "edu", model.DepartmentSuspended, "security audit")
	if got := changes(t, r); len(got) != 1 {
		t.Fatalf("len(got) = %v, want 1; event: %+v", len(got), got)
	} else if got[0] != (model.Change{Kind: model.KindDepartment, Op: model.OpSuspended, ID: "edu", Department: "edu"}) {
		t.Fatalf("got[0] = %v, want (model.Change{Kind: model.KindDepartment, Op: model.OpSuspended, ID: \"edu\", Department: \"edu\"}); event: %+v", got[0], got)
	}
	eid := e.newEID(1)
	e.fail(edu.User, model.CodeForbidden, []string{"edu is suspended"}, model.FnLinkAccount, eid, "edu", accountHash("a"))

	r = e.ok(e.admin, model.FnSetDepartmentStatus, "edu", model.DepartmentActive, "")
	if d := decode[model.Department](t, r); d.Status != model.DepartmentActive {
		t.Fatalf("d.Status = %v, want model.DepartmentActive; reactivated: %+v", d.Status, d)
	} else if d.StatusReason != "" {
		t.Fatalf("d.StatusReason = %q, want \"\"; reactivated: %+v", d.StatusReason, d)
	}
	e.ok(edu.User, model.FnLinkAccount, eid, "edu", accountHash("a"))
}

func TestDepartmentIdentityChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDept("edu")
	hr := e.addDept("hr")
	eid := e.newEID(1)
	// A certificate of HR's CA claiming to be edu: wrong MSP for edu.
	impostor := issue(t, hr.CA, "fake-edu", map[string]string{model.AttrRole: model.RoleDepartment, model.AttrDepartment: "edu"})
	noDept := issue(t, hr.CA, "no-dept", map[string]string{model.AttrRole: model.RoleDepartment})
	unregistered := issue(t, hr.CA, "x", map[string]string{model.AttrRole: model.RoleDepartment, model.AttrDepartment: "civil"})
	oddRole := issue(t, hr.CA, "y", map[string]string{model.AttrRole: "root"})
	cases := []struct {
		name string
		id   *devcrypto.Identity
		want string
	}{
		{"wrong MSP", impostor, "acts only through MSP eduMSP"},
		{"no department attribute", noDept, model.AttrDepartment},
		{"unregistered department", unregistered, "civil is not registered"},
		{"unknown role", oddRole, `unknown role "root"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(c.id, model.CodeForbidden, []string{c.want}, model.FnLinkAccount, eid, "edu", accountHash("a"))
		})
	}
}

func TestReadsAreOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	e.addDept("hr")
	e.addDataType("edu.degree", "edu")
	for _, id := range []*devcrypto.Identity{e.nobody, edu.User, e.agent} {
		if got := decode[[]model.Department](t, e.ok(id, model.FnListDepartments)); len(got) != 2 {
			t.Fatalf("len(got) = %v, want 2; ListDepartments: %+v", len(got), got)
		} else if got[0].ID != "edu" {
			t.Fatalf("got[0].ID = %q, want \"edu\"; ListDepartments: %+v", got[0].ID, got)
		} else if got[1].ID != "hr" {
			t.Fatalf("got[1].ID = %q, want \"hr\"; ListDepartments: %+v", got[1].ID, got)
		}
		if got := decode[[]model.DataType](t, e.ok(id, model.FnListDataTypes)); len(got) != 1 {
			t.Fatalf("len(got) = %v, want 1; ListDataTypes: %+v", len(got), got)
		} else if got[0].Code != "edu.degree" {
			t.Fatalf("got[0].Code = %q, want \"edu.degree\"; ListDataTypes: %+v", got[0].Code, got)
		}
		e.ok(id, model.FnGetDataType, "edu.degree")
	}
	if r := e.evaluate(e.nobody, model.FnGetDepartment, "civil"); r.Response.GetMessage() != "NOT_FOUND: department civil is not registered" {
		t.Fatalf("GetDepartment missing: %q", r.Response.GetMessage())
	}
	if r := e.evaluate(e.nobody, model.FnGetDataType, "edu.none"); r.Response.GetMessage() != "NOT_FOUND: data type edu.none does not exist" {
		t.Fatalf("GetDataType missing: %q", r.Response.GetMessage())
	}
}

func TestDataTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDept("edu")
	e.addDept("hr")
	r := e.ok(e.admin, model.FnRegisterDataType, model.DataType{Code: "edu.degree", Name: "学历", NameEN: "Degree",
		Schema: `{"type":"object","required":["level"]}`, Owners: []string{"hr", "edu"}})
	dt := decode[model.DataType](t, r)
	if dt.Owners[0] != "edu" {
		t.Fatalf("dt.Owners[0] = %q, want \"edu\"; stored: %+v", dt.Owners[0], dt)
	}
	if dt.Owners[1] != "hr" {
		t.Fatalf("dt.Owners[1] = %q, want \"hr\"; stored: %+v", dt.Owners[1], dt)
	}
	if dt.Status != model.DataTypeActive {
		t.Fatalf("dt.Status = %v, want model.DataTypeActive; stored: %+v", dt.Status, dt)
	}
	if got := changes(t, r); len(got) != 1 {
		t.Fatalf("len(got) = %v, want 1; event: %+v", len(got), got)
	} else if got[0] != (model.Change{Kind: model.KindDataType, Op: model.OpCreated, ID: "edu.degree", DataType: "edu.degree"}) {
		t.Fatalf("got[0] = %v, want (model.Change{Kind: model.KindDataType, Op: model.OpCreated, ID: \"edu.degree\", DataType: \"edu.degree\"}); event: %+v", got[0], got)
	}
	base := model.DataType{Code: "hr.employment", Name: "就业", Schema: `{}`, Owners: []string{"hr"}}
	with := func(f func(*model.DataType)) model.DataType { d := base; f(&d); return d }
	cases := []struct {
		name   string
		caller *devcrypto.Identity
		dt     model.DataType
		code   model.Code
		want   string
	}{
		{"agent", e.agent, base, model.CodeForbidden, "admin role"},
		{"duplicate", e.admin, with(func(d *model.DataType) { d.Code = "edu.degree" }), model.CodeConflict, "already exists"},
		{"bad code", e.admin, with(func(d *model.DataType) { d.Code = "Degree" }), model.CodeInvalid, "code must match"},
		{"schema not JSON", e.admin, with(func(d *model.DataType) { d.Schema = "{" }), model.CodeInvalid, "schema must be a JSON object"},
		{"schema an array", e.admin, with(func(d *model.DataType) { d.Schema = "[]" }), model.CodeInvalid, "schema must be a JSON object"},
		{"no owners", e.admin, with(func(d *model.DataType) { d.Owners = nil }), model.CodeInvalid, "owners"},
		{"unknown owner", e.admin, with(func(d *model.DataType) { d.Owners = []string{"civil"} }), model.CodeNotFound, "owners[0]: department civil"},
		{"bad status", e.admin, with(func(d *model.DataType) { d.Status = "gone" }), model.CodeInvalid, "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(c.caller, c.code, []string{c.want}, model.FnRegisterDataType, c.dt)
		})
	}
	e.t = t

	upd := model.DataType{Code: "edu.degree", Name: "学历学位", Schema: `{"type":"object"}`, Owners: []string{"edu"}, Status: model.DataTypeRetired}
	got := decode[model.DataType](t, e.ok(e.admin, model.FnUpdateDataType, upd))
	if got.Name != "学历学位" {
		t.Fatalf("got.Name = %q, want \"学历学位\"; updated: %+v", got.Name, got)
	}
	if got.Status != model.DataTypeRetired {
		t.Fatalf("got.Status = %v, want model.DataTypeRetired; updated: %+v", got.Status, got)
	}
	if got.CreatedAt != dt.CreatedAt {
		t.Fatalf("got.CreatedAt = %v, want dt.CreatedAt; updated: %+v", got.CreatedAt, got)
	}
	if len(got.Owners) != 1 {
		t.Fatalf("len(got.Owners) = %v, want 1; updated: %+v", len(got.Owners), got)
	}
	e.fail(e.admin, model.CodeNotFound, []string{"hr.employment"}, model.FnUpdateDataType, base)
}
