package chaincode_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/devcrypto"
)

func TestCreateEID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	r := e.ok(e.agent, model.FnCreateEID, []model.BlindedIndex{index(1), index(2)})
	id := decode[model.Identity](t, r)
	if id.ID != model.DeriveEID(r.TxID, 0) {
		t.Fatalf("id.ID = %v, want model.DeriveEID(r.TxID, 0); identity: %+v (tx %s)", id.ID, id, r.TxID)
	}
	if !model.ValidDID(id.ID) {
		t.Fatalf("model.ValidDID(id.ID) is false; identity: %+v (tx %s)", id, r.TxID)
	}
	if id.Status != model.EIDActive {
		t.Fatalf("id.Status = %v, want model.EIDActive; identity: %+v (tx %s)", id.Status, id, r.TxID)
	}
	if len(id.Indexes) != 2 {
		t.Fatalf("len(id.Indexes) = %v, want 2; identity: %+v (tx %s)", len(id.Indexes), id, r.TxID)
	}
	if id.TxID != r.TxID {
		t.Fatalf("id.TxID = %v, want r.TxID; identity: %+v (tx %s)", id.TxID, id, r.TxID)
	}
	want := []model.Change{
		{Kind: model.KindEID, Op: model.OpCreated, ID: id.ID, EID: id.ID},
		{Kind: model.KindIndex, Op: model.OpAdded, EID: id.ID, KeyVersion: "v1", Value: index(1).Value},
		{Kind: model.KindIndex, Op: model.OpAdded, EID: id.ID, KeyVersion: "v1", Value: index(2).Value},
	}
	if got := changes(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("event\n got %+v\nwant %+v", got, want)
	}
	// Admins may create too.
	e.ok(e.admin, model.FnCreateEID, []model.BlindedIndex{index(3)})

	bad := model.BlindedIndex{KeyVersion: "v1", Value: strings.ToUpper(index(9).Value)}
	cases := []struct {
		name    string
		caller  int // 0 agent, 1 department, 2 nobody
		indexes []model.BlindedIndex
		code    model.Code
		want    string
	}{
		{"department", 1, []model.BlindedIndex{index(9)}, model.CodeForbidden, "agent or admin role"},
		{"no role", 2, []model.BlindedIndex{index(9)}, model.CodeForbidden, model.AttrRole},
		{"known index", 0, []model.BlindedIndex{index(9), index(2)}, model.CodeConflict, "indexes[1] (v1:" + index(2).Value[:8] + "…) already maps to eID " + id.ID},
		{"bad value", 0, []model.BlindedIndex{bad}, model.CodeInvalid, "indexes[0].value"},
		{"bad key version", 0, []model.BlindedIndex{{KeyVersion: "V 1", Value: index(9).Value}}, model.CodeInvalid, "indexes[0].key_version"},
		{"repeated", 0, []model.BlindedIndex{index(9), index(9)}, model.CodeInvalid, "indexes[1] is listed twice"},
		{"empty", 0, []model.BlindedIndex{}, model.CodeInvalid, "1 to 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			caller := []*devcrypto.Identity{e.agent, edu.User, e.nobody}[c.caller]
			msg := e.fail(caller, c.code, []string{c.want}, model.FnCreateEID, c.indexes)
			if strings.Contains(msg, index(2).Value) || strings.Contains(msg, bad.Value) {
				t.Fatalf("message echoes a blinded value: %s", msg)
			}
		})
	}
}

func TestCreateEIDsOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newEID(1, 2)
	e.newEID(3)
	e.newEID(5, 6)
	items := []model.EIDRequest{
		{Ref: "row-1", Indexes: []model.BlindedIndex{index(10), index(11)}}, // new
		{Ref: "row-2", Indexes: []model.BlindedIndex{index(2), index(1)}},   // all indexes of a
		{Ref: "row-3", Indexes: []model.BlindedIndex{index(5), index(3)}},   // two eIDs
		{Ref: "row-4", Indexes: []model.BlindedIndex{index(6), index(12)}},  // one eID and new
		{Ref: "row-5", Indexes: []model.BlindedIndex{index(20)}},            // repeated below
		{Ref: "row-6", Indexes: []model.BlindedIndex{index(21), index(20)}},
		{Ref: "row-7", Indexes: []model.BlindedIndex{index(30)}}, // new
	}
	r := e.ok(e.agent, model.FnCreateEIDs, items)
	got := decode[[]model.EIDOutcome](t, r)
	want := []struct{ outcome, eid string }{
		{model.OutcomeCreated, model.DeriveEID(r.TxID, 0)},
		{model.OutcomeExists, a},
		{model.OutcomeConflict, ""},
		{model.OutcomeConflict, ""},
		{model.OutcomeConflict, ""},
		{model.OutcomeConflict, ""},
		{model.OutcomeCreated, model.DeriveEID(r.TxID, 6)},
	}
	for i, w := range want {
		if got[i].Ref != items[i].Ref {
			t.Errorf("got[i].Ref = %v, want items[i].Ref; item %d: %+v, want %s %s", got[i].Ref, i, got[i], w.outcome, w.eid)
		} else if got[i].Outcome != w.outcome {
			t.Errorf("got[i].Outcome = %v, want w.outcome; item %d: %+v, want %s %s", got[i].Outcome, i, got[i], w.outcome, w.eid)
		} else if got[i].EID != w.eid {
			t.Errorf("got[i].EID = %v, want w.eid; item %d: %+v, want %s %s", got[i].EID, i, got[i], w.outcome, w.eid)
		}
		if w.outcome == model.OutcomeConflict && got[i].Reason == "" {
			t.Errorf("item %d: conflict without a reason", i)
		}
	}
	cs := changes(t, r)
	if len(cs) != 2+3 { // two eIDs created, three indexes added
		t.Fatalf("event: %+v", cs)
	}
	for _, n := range []int{10, 11, 30} {
		if got := text(e.ok(e.agent, model.FnLookupIndex, "v1", index(n).Value)); !strings.HasPrefix(got, model.DIDPrefix) {
			t.Fatalf("index %d: %s", n, got)
		}
	}
	for _, n := range []int{12, 20, 21} {
		e.fail(e.agent, model.CodeNotFound, []string{"no eID holds index"}, model.FnLookupIndex, "v1", index(n).Value)
	}

	// Rerunning the import creates nothing and reports the same eIDs.
	before := e.l.StateHash()
	r2 := e.ok(e.agent, model.FnCreateEIDs, items)
	again := decode[[]model.EIDOutcome](t, r2)
	if writes(r2) != 0 || e.l.StateHash() != before || len(changes(t, r2)) != 0 {
		t.Fatalf("rerun wrote %d keys", writes(r2))
	}
	for i := range items {
		wantOutcome := got[i].Outcome
		if wantOutcome == model.OutcomeCreated {
			wantOutcome = model.OutcomeExists
		}
		if again[i].Outcome != wantOutcome {
			t.Errorf("again[i].Outcome = %v, want wantOutcome; rerun item %d: %+v, first run %+v", again[i].Outcome, i, again[i], got[i])
		} else if again[i].EID != got[i].EID {
			t.Errorf("again[i].EID = %v, want got[i].EID; rerun item %d: %+v, first run %+v", again[i].EID, i, again[i], got[i])
		}
	}

	e.fail(e.agent, model.CodeInvalid, []string{"items[1].indexes[0].value"}, model.FnCreateEIDs,
		[]model.EIDRequest{{Ref: "ok", Indexes: []model.BlindedIndex{index(40)}}, {Ref: "bad", Indexes: []model.BlindedIndex{{KeyVersion: "v1", Value: "zz"}}}})
	e.fail(e.agent, model.CodeInvalid, []string{"items[0].ref"}, model.FnCreateEIDs,
		[]model.EIDRequest{{Ref: "", Indexes: []model.BlindedIndex{index(40)}}})
	e.fail(e.agent, model.CodeInvalid, []string{"1 to 1000"}, model.FnCreateEIDs, []model.EIDRequest{})
	e.fail(e.addDept("edu").User, model.CodeForbidden, []string{"agent or admin"}, model.FnCreateEIDs, items)
}

func TestCreateEIDsThousandInOneTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	items := make([]model.EIDRequest, model.MaxBatch)
	for i := range items {
		items[i] = model.EIDRequest{Ref: fmt.Sprint(i), Indexes: []model.BlindedIndex{index(2 * i), index(2*i + 1)}}
	}
	r := e.ok(e.agent, model.FnCreateEIDs, items)
	out := decode[[]model.EIDOutcome](t, r)
	seen := map[string]bool{}
	for i, o := range out {
		if o.Outcome != model.OutcomeCreated {
			t.Fatalf("o.Outcome = %v, want model.OutcomeCreated; item %d: %+v", o.Outcome, i, o)
		}
		if seen[o.EID] {
			t.Fatalf("seen[o.EID] is true; item %d: %+v", i, o)
		}
		seen[o.EID] = true
	}
	if n := len(changes(t, r)); n != 3*model.MaxBatch {
		t.Fatalf("%d changes", n)
	}
	tooMany := append(items, model.EIDRequest{Ref: "x", Indexes: []model.BlindedIndex{index(5000)}})
	e.fail(e.agent, model.CodeInvalid, []string{"1 to 1000"}, model.FnCreateEIDs, tooMany)
}

func TestDocumentIndexes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newEID(1)
	b := e.newEID(2)

	r := e.ok(e.agent, model.FnAddDocumentIndex, a, index(3))
	if id := decode[model.Identity](t, r); len(id.Indexes) != 2 {
		t.Fatalf("len(id.Indexes) = %v, want 2; after add: %+v", len(id.Indexes), id)
	} else if id.TxID != r.TxID {
		t.Fatalf("id.TxID = %v, want r.TxID; after add: %+v", id.TxID, id)
	}
	if !hasChange(changes(t, r), model.Change{Kind: model.KindIndex, Op: model.OpAdded, EID: a, KeyVersion: "v1", Value: index(3).Value}) {
		t.Fatalf("event: %+v", changes(t, r))
	}
	if got := text(e.ok(e.admin, model.FnLookupIndex, "v1", index(3).Value)); got != a {
		t.Fatalf("lookup: %s", got)
	}
	// Adding it again changes nothing.
	if r := e.ok(e.agent, model.FnAddDocumentIndex, a, index(3)); writes(r) != 0 || len(changes(t, r)) != 0 {
		t.Fatalf("repeat add wrote %d keys", writes(r))
	}
	e.fail(e.agent, model.CodeConflict, []string{"already maps to eID " + b}, model.FnAddDocumentIndex, a, index(2))
	e.fail(e.agent, model.CodeNotFound, []string{"does not exist"}, model.FnAddDocumentIndex, model.DeriveEID("none", 0), index(4))
	e.fail(e.agent, model.CodeInvalid, []string{"eid must be a did:eidgate:"}, model.FnAddDocumentIndex, "did:example:1", index(4))

	r = e.ok(e.agent, model.FnRemoveDocumentIndex, a, index(1))
	if id := decode[model.Identity](t, r); len(id.Indexes) != 1 {
		t.Fatalf("len(id.Indexes) = %v, want 1; after remove: %+v", len(id.Indexes), id)
	} else if id.Indexes[0] != index(3) {
		t.Fatalf("id.Indexes[0] = %v, want index(3); after remove: %+v", id.Indexes[0], id)
	}
	if !hasChange(changes(t, r), model.Change{Kind: model.KindIndex, Op: model.OpRemoved, EID: a, KeyVersion: "v1", Value: index(1).Value}) {
		t.Fatalf("event: %+v", changes(t, r))
	}
	e.fail(e.agent, model.CodeNotFound, []string{"no eID holds index"}, model.FnLookupIndex, "v1", index(1).Value)
	e.fail(e.agent, model.CodeConflict, []string{"last index"}, model.FnRemoveDocumentIndex, a, index(3))
	e.fail(e.agent, model.CodeNotFound, []string{"does not hold index"}, model.FnRemoveDocumentIndex, a, index(2))
	e.fail(e.addDept("edu").User, model.CodeForbidden, []string{"agent or admin"}, model.FnLookupIndex, "v1", index(3).Value)

	e.ok(e.agent, model.FnDeactivateEID, b, "resident deceased")
	e.fail(e.agent, model.CodeConflict, []string{"is deactivated"}, model.FnAddDocumentIndex, b, index(5))
}

func TestMergeEID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	hr := e.addDept("hr")
	a := e.newEID(1, 2)
	b := e.newEID(3)
	c := e.newEID(4)
	e.ok(edu.User, model.FnLinkAccount, a, "edu", accountHash("a@edu"))
	e.ok(hr.User, model.FnLinkAccount, b, "hr", accountHash("b@hr"))

	e.fail(e.agent, model.CodeInvalid, []string{"reason is required"}, model.FnMergeEID, a, b, "")
	e.fail(e.agent, model.CodeInvalid, []string{"different eIDs"}, model.FnMergeEID, a, a, "dup")
	e.fail(edu.User, model.CodeForbidden, []string{"agent or admin"}, model.FnMergeEID, a, b, "dup")

	r := e.ok(e.agent, model.FnMergeEID, a, b, "duplicate registration")
	surv := decode[model.Identity](t, r)
	if surv.ID != b {
		t.Fatalf("surv.ID = %v, want b; survivor: %+v", surv.ID, surv)
	}
	if len(surv.Indexes) != 3 {
		t.Fatalf("len(surv.Indexes) = %v, want 3; survivor: %+v", len(surv.Indexes), surv)
	}
	if len(surv.MergedFrom) != 1 {
		t.Fatalf("len(surv.MergedFrom) = %v, want 1; survivor: %+v", len(surv.MergedFrom), surv)
	}
	if surv.MergedFrom[0] != a {
		t.Fatalf("surv.MergedFrom[0] = %v, want a; survivor: %+v", surv.MergedFrom[0], surv)
	}
	cs := changes(t, r)
	for _, w := range []model.Change{
		{Kind: model.KindEID, Op: model.OpMerged, ID: a, EID: b},
		{Kind: model.KindEID, Op: model.OpUpdated, ID: b, EID: b},
		{Kind: model.KindIndex, Op: model.OpRemoved, EID: a, KeyVersion: "v1", Value: index(1).Value},
		{Kind: model.KindIndex, Op: model.OpAdded, EID: b, KeyVersion: "v1", Value: index(1).Value},
		{Kind: model.KindLink, Op: model.OpUnlinked, EID: a, Department: "edu", Value: accountHash("a@edu")},
		{Kind: model.KindLink, Op: model.OpLinked, EID: b, Department: "edu", Value: accountHash("a@edu")},
	} {
		if !hasChange(cs, w) {
			t.Errorf("event lacks %+v", w)
		}
	}
	merged := decode[model.Identity](t, e.ok(e.agent, model.FnGetEID, a))
	if merged.Status != model.EIDMerged {
		t.Fatalf("merged.Status = %v, want model.EIDMerged; merged: %+v", merged.Status, merged)
	}
	if merged.MergedInto != b {
		t.Fatalf("merged.MergedInto = %v, want b; merged: %+v", merged.MergedInto, merged)
	}
	if merged.MergeReason != "duplicate registration" {
		t.Fatalf("merged.MergeReason = %q, want \"duplicate registration\"; merged: %+v", merged.MergeReason, merged)
	}
	if len(merged.Indexes) != 0 {
		t.Fatalf("len(merged.Indexes) = %v, want 0; merged: %+v", len(merged.Indexes), merged)
	}
	if got := text(e.ok(e.agent, model.FnLookupIndex, "v1", index(1).Value)); got != b {
		t.Fatalf("index of a now maps to %s", got)
	}
	if got := text(e.ok(edu.User, model.FnLookupAccount, "edu", accountHash("a@edu"))); got != b {
		t.Fatalf("account now maps to %s", got)
	}
	if links := decode[[]model.AccountLink](t, e.ok(e.agent, model.FnListLinks, b)); len(links) != 2 {
		t.Fatalf("links of survivor: %+v", links)
	}
	if links := decode[[]model.AccountLink](t, e.ok(e.agent, model.FnListLinks, a)); len(links) != 0 {
		t.Fatalf("links of merged: %+v", links)
	}

	e.fail(e.agent, model.CodeConflict, []string{"from: eID " + a + " is merged into " + b}, model.FnMergeEID, a, c, "again")
	e.fail(e.agent, model.CodeConflict, []string{"into: eID " + a + " is merged into " + b}, model.FnMergeEID, c, a, "again")

	// b into c: the chain a → b → c resolves to c.
	e.ok(e.agent, model.FnMergeEID, b, c, "second duplicate")
	res := decode[model.DIDResolution](t, e.ok(e.nobody, model.FnResolveDID, a))
	if !res.DIDDocumentMetadata.Deactivated {
		t.Fatalf("res.DIDDocumentMetadata.Deactivated is false; resolution of a: %+v", res)
	}
	if res.DIDDocumentMetadata.CanonicalID != c {
		t.Fatalf("res.DIDDocumentMetadata.CanonicalID = %v, want c; resolution of a: %+v", res.DIDDocumentMetadata.CanonicalID, res)
	}
	if got := text(e.ok(e.agent, model.FnLookupIndex, "v1", index(1).Value)); got != c {
		t.Fatalf("index now maps to %s", got)
	}
}

func TestMergeRefusesLinkClash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	a := e.newEID(1)
	b := e.newEID(2)
	e.ok(edu.User, model.FnLinkAccount, a, "edu", accountHash("a"))
	e.ok(edu.User, model.FnLinkAccount, b, "edu", accountHash("b"))
	e.fail(e.agent, model.CodeConflict, []string{"linked at department edu"}, model.FnMergeEID, a, b, "dup")
	e.ok(e.admin, model.FnUnlinkAccount, a, "edu")
	e.ok(e.admin, model.FnMergeEID, a, b, "dup")
}

func TestDeactivateAndResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edu := e.addDept("edu")
	a := e.newEID(1)
	r := e.ok(edu.User, model.FnResolveDID, a)
	raw := string(r.Response.GetPayload())
	for _, w := range []string{`"@context":["https://www.w3.org/ns/did/v1"]`, `"id":"` + a + `"`, `"controller":"` + a + `"`,
		`"deactivated":false`, `"contentType":"application/did+ld+json"`} {
		if !strings.Contains(raw, w) {
			t.Fatalf("resolution %s lacks %s", raw, w)
		}
	}
	if strings.Contains(raw, index(1).Value) || strings.Contains(raw, "indexes") {
		t.Fatalf("resolution reveals an index: %s", raw)
	}
	res := decode[model.DIDResolution](t, r)
	if res.DIDDocumentMetadata.VersionID == "" {
		t.Fatalf("res.DIDDocumentMetadata.VersionID == \"\", want it different; metadata: %+v", res.DIDDocumentMetadata)
	}
	if res.DIDDocumentMetadata.Created != "2026-03-01T09:00:00Z" {
		t.Fatalf("res.DIDDocumentMetadata.Created = %q, want \"2026-03-01T09:00:00Z\"; metadata: %+v", res.DIDDocumentMetadata.Created, res.DIDDocumentMetadata)
	}

	e.fail(e.agent, model.CodeInvalid, []string{"reason is required"}, model.FnDeactivateEID, a, "")
	r = e.ok(e.agent, model.FnDeactivateEID, a, "resident deceased")
	if got := changes(t, r); len(got) != 1 {
		t.Fatalf("len(got) = %v, want 1; event: %+v", len(got), got)
	} else if got[0] != (model.Change{Kind: model.KindEID, Op: model.OpDeactivated, ID: a, EID: a}) {
		t.Fatalf("got[0] = %v, want (model.Change{Kind: model.KindEID, Op: model.OpDeactivated, ID: a, EID: a}); event: %+v", got[0], got)
	}
	res = decode[model.DIDResolution](t, e.ok(e.nobody, model.FnResolveDID, a))
	if !res.DIDDocumentMetadata.Deactivated {
		t.Fatalf("res.DIDDocumentMetadata.Deactivated is false; deactivated resolution: %+v", res)
	}
	if res.DIDDocumentMetadata.CanonicalID != "" {
		t.Fatalf("res.DIDDocumentMetadata.CanonicalID = %q, want \"\"; deactivated resolution: %+v", res.DIDDocumentMetadata.CanonicalID, res)
	}
	if res.DIDDocumentMetadata.VersionID != r.TxID {
		t.Fatalf("res.DIDDocumentMetadata.VersionID = %v, want r.TxID; deactivated resolution: %+v", res.DIDDocumentMetadata.VersionID, res)
	}
	if r := e.ok(e.agent, model.FnDeactivateEID, a, "again"); writes(r) != 0 {
		t.Fatal("second deactivation wrote")
	}
	// Its indexes stay taken, so no second eID is minted for the documents.
	e.fail(e.agent, model.CodeConflict, []string{"already maps to eID " + a}, model.FnCreateEID, []model.BlindedIndex{index(1)})
	e.fail(e.nobody, model.CodeNotFound, []string{"does not exist"}, model.FnResolveDID, model.DeriveEID("x", 1))
	e.fail(e.nobody, model.CodeInvalid, []string{"did must be"}, model.FnResolveDID, "did:eidgate:XYZ")
	e.fail(edu.User, model.CodeForbidden, []string{"agent or admin"}, model.FnGetEID, a)
}

func TestMalformedArgumentsAreInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret := index(1).Value
	cases := []struct {
		name string
		fn   string
		args []any
		want string
	}{
		{"not JSON", model.FnCreateEID, []any{`[{"key_version":"v1","value":"` + secret + `"`}, "argument param0 is not a valid []model.BlindedIndex"},
		{"null list", model.FnCreateEID, []any{"null"}, "argument param0 does not fit []model.BlindedIndex"},
		{"unknown field", model.FnAddDocumentIndex, []any{model.DeriveEID("x", 0), `{"key_version":"v1","value":"` + secret + `","doc":"x"}`}, "Additional property doc is not allowed"},
		{"missing field", model.FnAddDocumentIndex, []any{model.DeriveEID("x", 0), `{"value":"` + secret + `"}`}, "key_version is required"},
		{"wrong type", model.FnAnchorAccessBatch, []any{`{"batch_id":"b1","merkle_root":"` + secret + `","count":"1","first_seq":1,"last_seq":1}`}, "argument param0 is not a valid model.AccessAnchor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			msg := e.fail(e.agent, model.CodeInvalid, []string{c.want}, c.fn, c.args...)
			if strings.Contains(msg, secret) {
				t.Fatalf("message echoes the argument: %s", msg)
			}
		})
	}
}
