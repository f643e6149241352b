package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

// routeEnv has two providers of edu.degree (edu, civil), hr owning
// hr.employment, and two residents.
type routeEnv struct {
	*env
	edu, hr, civil *dept
	a, b           string
}

func newRouteEnv(t *testing.T) *routeEnv {
	e := newEnv(t)
	r := &routeEnv{env: e, edu: e.addDept("edu"), hr: e.addDept("hr"), civil: e.addDept("civil")}
	e.addDataType("edu.degree", "edu", "civil")
	e.addDataType("hr.employment", "hr")
	r.a, r.b = e.newEID(1), e.newEID(2)
	return r
}

func TestPublishRoute(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	s1 := e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "bachelor"))
	r := e.ok(e.edu.User, model.FnPublishRoute, s1)
	got := decode[model.RouteEntry](t, r)
	if got.Status != model.RouteValid {
		t.Fatalf("got.Status = %v, want model.RouteValid; entry: %+v", got.Status, got)
	}
	if got.Version != 1 {
		t.Fatalf("got.Version = %v, want 1; entry: %+v", got.Version, got)
	}
	if got.Digest != s1.Statement.Digest {
		t.Fatalf("got.Digest = %v, want s1.Statement.Digest; entry: %+v", got.Digest, got)
	}
	if got.Signature != s1.Signature {
		t.Fatalf("got.Signature = %v, want s1.Signature; entry: %+v", got.Signature, got)
	}
	if got.KID != "edu-k1" {
		t.Fatalf("got.KID = %q, want \"edu-k1\"; entry: %+v", got.KID, got)
	}
	if got.TxID != r.TxID {
		t.Fatalf("got.TxID = %v, want r.TxID; entry: %+v", got.TxID, got)
	}
	if got.PublishedAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("got.PublishedAt = %q, want \"2026-03-01T09:00:00Z\"; entry: %+v", got.PublishedAt, got)
	}
	if err := model.VerifyRoute(must(model.MarshalPublicKey(&e.edu.Key.PublicKey)), got.Signed()); err != nil {
		t.Fatalf("stored entry does not verify: %v", err)
	}
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != (model.Change{Kind: model.KindRoute, Op: model.OpPublished, EID: e.a, DataType: "edu.degree", Provider: "edu"}) {
		t.Fatalf("cs[0] = %v, want (model.Change{Kind: model.KindRoute, Op: model.OpPublished, EID: e.a, DataType: \"edu.degree\", Provider: \"edu\"}); event: %+v", cs[0], cs)
	}

	// The agent relays a statement signed by the provider.
	e.ok(e.agent, model.FnPublishRoute, e.sign(e.hr, stmt(e.a, "hr.employment", "hr", 1, "employed")))

	// Same version and digest: nothing changes.
	r = e.ok(e.edu.User, model.FnPublishRoute, s1)
	if writes(r) != 0 || len(changes(t, r)) != 0 || decode[model.RouteEntry](t, r).TxID != got.TxID {
		t.Fatal("republishing the same statement wrote")
	}
	r = e.ok(e.edu.User, model.FnPublishRoute, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 2, "master")))
	if decode[model.RouteEntry](t, r).Version != 2 {
		t.Fatal("version 2 not stored")
	}
}

func TestPublishRouteRefusals(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	e.ok(e.edu.User, model.FnPublishRoute, e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 5, "v5")))

	other := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tampered := e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x"))
	tampered.Statement.Digest = digest("y")
	wrongKey := must(model.SignRoute(other, "edu-k1", stmt(e.a, "edu.degree", "edu", 1, "x")))
	unknownKID := must(model.SignRoute(e.edu.Key, "edu-k9", stmt(e.a, "edu.degree", "edu", 1, "x")))
	badB64 := e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x"))
	badB64.Signature = "%%%"
	newline := e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x"))
	newline.Statement.Schema = "a\nb"

	merged := e.newEID(3)
	into := e.newEID(4)
	e.ok(e.agent, model.FnMergeEID, merged, into, "dup")
	gone := e.newEID(5)
	e.ok(e.agent, model.FnDeactivateEID, gone, "deceased")
	missing := model.DeriveEID("nobody", 0)
	rogue := e.newDept("rogue") // never registered
	e.addDept("susp")
	e.ok(e.admin, model.FnUpdateDataType, model.DataType{Code: "edu.degree", Name: "学历", Schema: "{}", Owners: []string{"edu", "civil", "susp"}})
	e.ok(e.admin, model.FnSetDepartmentStatus, "susp", model.DepartmentSuspended, "audit")
	e.ok(e.admin, model.FnRegisterDataType, model.DataType{Code: "edu.old", Name: "旧", Schema: "{}", Owners: []string{"edu"}, Status: model.DataTypeRetired})

	cases := []struct {
		name   string
		caller *devcrypto.Identity
		signed model.SignedRoute
		code   model.Code
		want   string
	}{
		{"admin may not publish", e.admin, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x")), model.CodeForbidden, "department edu itself or the agent role"},
		{"other department", e.hr.User, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x")), model.CodeForbidden, "department hr may not call PublishRoute for department edu"},
		{"no role", e.nobody, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x")), model.CodeForbidden, model.AttrRole},
		{"tampered digest", e.edu.User, tampered, model.CodeForbidden, "signature does not verify"},
		{"signed by another key", e.agent, wrongKey, model.CodeForbidden, "signature does not verify"},
		{"unknown kid", e.edu.User, unknownKID, model.CodeForbidden, `no active signing key "edu-k9"`},
		{"signature not base64", e.edu.User, badB64, model.CodeInvalid, "signature must be base64"},
		{"newline in schema", e.edu.User, newline, model.CodeInvalid, "statement.schema"},
		{"bad digest", e.edu.User, model.SignedRoute{Statement: model.RouteStatement{EID: e.a, DataType: "edu.degree", Provider: "edu", Version: 1, Digest: "md5:00"}, KID: "edu-k1", Signature: "AA=="}, model.CodeInvalid, "statement.digest"},
		{"version zero", e.edu.User, model.SignedRoute{Statement: model.RouteStatement{EID: e.a, DataType: "edu.degree", Provider: "edu", Digest: digest("x")}, KID: "edu-k1", Signature: "AA=="}, model.CodeInvalid, "statement.version"},
		{"suspended provider", e.agent, e.sign(e.edu, stmt(e.a, "edu.degree", "susp", 1, "x")), model.CodeForbidden, "susp is suspended"},
		{"unregistered provider", e.agent, e.sign(rogue, stmt(e.a, "edu.degree", "rogue", 1, "x")), model.CodeNotFound, "rogue is not registered"},
		{"not an owner", e.hr.User, e.sign(e.hr, stmt(e.a, "edu.degree", "hr", 1, "x")), model.CodeForbidden, "hr is not an owner of data type edu.degree"},
		{"unknown data type", e.edu.User, e.sign(e.edu, stmt(e.a, "edu.none", "edu", 1, "x")), model.CodeNotFound, "edu.none does not exist"},
		{"retired data type", e.edu.User, e.sign(e.edu, stmt(e.a, "edu.old", "edu", 1, "x")), model.CodeConflict, "edu.old is retired"},
		{"merged eID", e.edu.User, e.sign(e.edu, stmt(merged, "edu.degree", "edu", 1, "x")), model.CodeConflict, "merged into " + into},
		{"deactivated eID", e.edu.User, e.sign(e.edu, stmt(gone, "edu.degree", "edu", 1, "x")), model.CodeConflict, "is deactivated"},
		{"unknown eID", e.edu.User, e.sign(e.edu, stmt(missing, "edu.degree", "edu", 1, "x")), model.CodeNotFound, "does not exist"},
		{"older version", e.edu.User, e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 4, "v4")), model.CodeConflict, "older than the stored version 5"},
		{"same version, other digest", e.edu.User, e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 5, "other")), model.CodeConflict, "already stored with another digest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			msg := e.fail(c.caller, c.code, []string{c.want}, model.FnPublishRoute, c.signed)
			if len(c.signed.Signature) > 8 && strings.Contains(msg, c.signed.Signature) {
				t.Fatalf("message echoes the signature: %s", msg)
			}
		})
	}
	// A retired key no longer signs.
	e.t = t
	d := e.edu.record()
	d.SigningKeys[0].Status = model.KeyRetired
	e.ok(e.admin, model.FnUpdateDepartment, d)
	e.fail(e.edu.User, model.CodeForbidden, []string{`no active signing key "edu-k1"`}, model.FnPublishRoute, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "x")))
}

func TestPublishRoutesBatch(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	batch := []model.SignedRoute{
		e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "a1")),
		e.sign(e.hr, stmt(e.a, "hr.employment", "hr", 1, "a-hr")),
		e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 2, "a2")), // supersedes item 0 in the same batch
		e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 2, "a2")), // repeats item 2
		e.sign(e.civil, stmt(e.b, "edu.degree", "civil", 7, "b-civil")),
	}
	r := e.ok(e.agent, model.FnPublishRoutes, batch)
	out := decode[[]model.RouteOutcome](t, r)
	wantOutcomes := []string{model.OutcomePublished, model.OutcomePublished, model.OutcomePublished, model.OutcomeUnchanged, model.OutcomePublished}
	for i, w := range wantOutcomes {
		if out[i].Outcome != w {
			t.Errorf("out[i].Outcome = %v, want w; item %d: %+v, want %s", out[i].Outcome, i, out[i], w)
		} else if out[i].Version != batch[i].Statement.Version {
			t.Errorf("out[i].Version = %v, want batch[i].Statement.Version; item %d: %+v, want %s", out[i].Version, i, out[i], w)
		}
	}
	if n := len(changes(t, r)); n != 4 {
		t.Fatalf("%d changes, want 4", n)
	}
	routes := decode[[]model.RouteEntry](t, e.ok(e.agent, model.FnGetRoutes, e.a, "edu.degree"))
	if len(routes) != 1 {
		t.Fatalf("len(routes) = %v, want 1; routes: %+v", len(routes), routes)
	}
	if routes[0].Version != 2 {
		t.Fatalf("routes[0].Version = %v, want 2; routes: %+v", routes[0].Version, routes)
	}
	if routes[0].Digest != digest("a2") {
		t.Fatalf("routes[0].Digest = %v, want digest(\"a2\"); routes: %+v", routes[0].Digest, routes)
	}

	// A department may only publish its own statements, even in a batch.
	e.fail(e.edu.User, model.CodeForbidden, []string{"batch[1]: department edu may not call PublishRoutes for department hr"}, model.FnPublishRoutes,
		[]model.SignedRoute{e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 1, "x")), e.sign(e.hr, stmt(e.b, "hr.employment", "hr", 1, "x"))})
	// One bad item refuses the whole batch and names it.
	bad := e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 1, "y"))
	bad.Statement.Version = 9
	e.fail(e.agent, model.CodeForbidden, []string{"batch[1]: signature does not verify"}, model.FnPublishRoutes,
		[]model.SignedRoute{e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 1, "x")), bad})
	e.fail(e.agent, model.CodeInvalid, []string{"1 to 1000"}, model.FnPublishRoutes, []model.SignedRoute{})
}

func TestPublishRoutesThousand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	e.addDataType("edu.degree", "edu")
	eids := bulkEIDs(e, model.MaxBatch)
	batch := make([]model.SignedRoute, len(eids))
	for i, eid := range eids {
		batch[i] = e.sign(edu, stmt(eid, "edu.degree", "edu", 1, eid))
	}
	r := e.ok(edu.User, model.FnPublishRoutes, batch)
	if n := len(changes(t, r)); n != model.MaxBatch {
		t.Fatalf("%d changes", n)
	}
	e.fail(edu.User, model.CodeInvalid, []string{"1 to 1000"}, model.FnPublishRoutes, append(batch, batch[0]))
}

// bulkEIDs creates n eIDs with CreateEIDs batches and returns them in order.
func bulkEIDs(e *env, n int) []string {
	var out []string
	for start := 0; start < n; start += model.MaxBatch {
		var items []model.EIDRequest
		for i := start; i < n && i < start+model.MaxBatch; i++ {
			items = append(items, model.EIDRequest{Ref: "r", Indexes: []model.BlindedIndex{index(1_000_000 + i)}})
		}
		for _, o := range decode[[]model.EIDOutcome](e.t, e.ok(e.agent, model.FnCreateEIDs, items)) {
			out = append(out, o.EID)
		}
	}
	return out
}

func TestRevokeAndReadRoutes(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	e.ok(e.agent, model.FnPublishRoutes, []model.SignedRoute{
		e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "a-edu")),
		e.sign(e.civil, stmt(e.a, "edu.degree", "civil", 1, "a-civil")),
		e.sign(e.hr, stmt(e.a, "hr.employment", "hr", 1, "a-hr")),
		e.sign(e.edu, stmt(e.b, "edu.degree", "edu", 1, "b-edu")),
	})
	count := func(id *devcrypto.Identity, eid, dt string) int {
		return len(decode[[]model.RouteEntry](t, e.ok(id, model.FnGetRoutes, eid, dt)))
	}
	for _, c := range []struct {
		who      *devcrypto.Identity
		eid, dt  string
		expected int
	}{
		{e.agent, e.a, "", 3}, {e.admin, e.a, "edu.degree", 2}, {e.agent, e.a, "hr.employment", 1},
		{e.edu.User, e.a, "", 1}, {e.hr.User, e.a, "edu.degree", 0}, {e.civil.User, e.a, "edu.degree", 1},
		{e.agent, e.b, "", 1}, {e.agent, e.newEID(9), "", 0},
	} {
		if got := count(c.who, c.eid, c.dt); got != c.expected {
			t.Errorf("GetRoutes(%s, %q) as %s: %d entries, want %d", c.eid, c.dt, c.who.Cert.Subject.CommonName, got, c.expected)
		}
	}
	e.fail(e.nobody, model.CodeForbidden, []string{model.AttrRole}, model.FnGetRoutes, e.a, "")
	e.fail(e.agent, model.CodeInvalid, []string{"data_type"}, model.FnGetRoutes, e.a, "Bad")

	e.fail(e.hr.User, model.CodeForbidden, []string{"hr may not call RevokeRoute for department edu"}, model.FnRevokeRoute, e.a, "edu.degree", "edu", "wrong")
	e.fail(e.edu.User, model.CodeInvalid, []string{"reason is required"}, model.FnRevokeRoute, e.a, "edu.degree", "edu", "")
	e.fail(e.agent, model.CodeNotFound, []string{"no route"}, model.FnRevokeRoute, e.b, "edu.degree", "civil", "x")
	r := e.ok(e.edu.User, model.FnRevokeRoute, e.a, "edu.degree", "edu", "record corrected")
	if got := decode[model.RouteEntry](t, r); got.Status != model.RouteRevoked {
		t.Fatalf("got.Status = %v, want model.RouteRevoked; revoked: %+v", got.Status, got)
	} else if got.RevokedReason != "record corrected" {
		t.Fatalf("got.RevokedReason = %q, want \"record corrected\"; revoked: %+v", got.RevokedReason, got)
	}
	if cs := changes(t, r); len(cs) != 1 {
		t.Fatalf("len(cs) = %v, want 1; event: %+v", len(cs), cs)
	} else if cs[0] != (model.Change{Kind: model.KindRoute, Op: model.OpRevoked, EID: e.a, DataType: "edu.degree", Provider: "edu"}) {
		t.Fatalf("cs[0] = %v, want (model.Change{Kind: model.KindRoute, Op: model.OpRevoked, EID: e.a, DataType: \"edu.degree\", Provider: \"edu\"}); event: %+v", cs[0], cs)
	}
	if r := e.ok(e.admin, model.FnRevokeRoute, e.a, "edu.degree", "edu", "again"); writes(r) != 0 {
		t.Fatal("second revocation wrote")
	}
	e.fail(e.edu.User, model.CodeConflict, []string{"version 1 is revoked"}, model.FnPublishRoute, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 1, "a-edu")))
	e.ok(e.edu.User, model.FnPublishRoute, e.sign(e.edu, stmt(e.a, "edu.degree", "edu", 2, "a-edu-2")))

	hist := decode[[]model.RouteHistoryEntry](t, e.ok(e.edu.User, model.FnGetRouteHistory, e.a, "edu.degree", "edu"))
	if len(hist) != 3 {
		t.Fatalf("len(hist) = %v, want 3; history: %+v", len(hist), hist)
	}
	if hist[0].Entry.Version != 2 {
		t.Fatalf("hist[0].Entry.Version = %v, want 2; history: %+v", hist[0].Entry.Version, hist)
	}
	if hist[1].Entry.Status != model.RouteRevoked {
		t.Fatalf("hist[1].Entry.Status = %v, want model.RouteRevoked; history: %+v", hist[1].Entry.Status, hist)
	}
	if hist[2].Entry.Version != 1 {
		t.Fatalf("hist[2].Entry.Version = %v, want 1; history: %+v", hist[2].Entry.Version, hist)
	}
	if hist[2].Entry.Status != model.RouteValid {
		t.Fatalf("hist[2].Entry.Status = %v, want model.RouteValid; history: %+v", hist[2].Entry.Status, hist)
	}
	if hist[0].TxID == "" {
		t.Fatalf("hist[0].TxID == \"\", want it different; history entry lacks tx or time: %+v", hist[0])
	}
	if hist[0].Timestamp == "" {
		t.Fatalf("hist[0].Timestamp == \"\", want it different; history entry lacks tx or time: %+v", hist[0])
	}
	e.fail(e.hr.User, model.CodeForbidden, []string{"hr may not call GetRouteHistory"}, model.FnGetRouteHistory, e.a, "edu.degree", "edu")
	if got := decode[[]model.RouteHistoryEntry](t, e.ok(e.agent, model.FnGetRouteHistory, e.b, "hr.employment", "hr")); len(got) != 0 {
		t.Fatalf("history of a missing route: %+v", got)
	}
}
