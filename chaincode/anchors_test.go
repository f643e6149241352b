package chaincode_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/eidgate/eidgate/chaincode/fabsim"
	"github.com/eidgate/eidgate/chaincode/model"
)

func root(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (e *consentEnv) granted(maxUses uint64) model.Consent {
	cs := e.request(e.hr.User, func(r *model.ConsentRequest) { r.MaxUses = maxUses })
	return decode[model.Consent](e.t, e.ok(e.agent, model.FnGrantConsent, cs.ID, "portal"))
}

// Anchoring counts uses under each consent's count key and leaves the
// consent itself as it was decided: the batch's write set is the anchor and
// one small count per consent, however large the consents are. A consent
// stored with its count inline (before counts had their own key) goes on
// from that count.
func TestAnchoringWritesOnlyTheCounts(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	cs := e.granted(5)
	other := e.granted(0)
	r := e.ok(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "gw1-000001", MerkleRoot: root("b1"), Count: 3, FirstSeq: 1, LastSeq: 3,
		ConsentUses: []model.ConsentUse{{ConsentID: cs.ID, Uses: 2}, {ConsentID: other.ID, Uses: 1}}})
	want := map[string]bool{compositeKey("anchor", "gw1-000001"): true, compositeKey("uses", cs.ID): true, compositeKey("uses", other.ID): true}
	for _, w := range r.RWSet.GetWrites() {
		if !want[w.GetKey()] {
			t.Errorf("anchoring wrote %q", w.GetKey())
		}
		if len(w.GetValue()) > 16 && w.GetKey() != compositeKey("anchor", "gw1-000001") {
			t.Errorf("count %q is %d bytes: %s", w.GetKey(), len(w.GetValue()), w.GetValue())
		}
	}
	if writes(r) != len(want) {
		t.Errorf("anchoring wrote %d keys, want %d", writes(r), len(want))
	}
	got := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, cs.ID))
	if got.Uses != 2 || got.TxID != cs.TxID || got.UpdatedAt != cs.UpdatedAt {
		t.Fatalf("after anchoring: uses %d (want 2), tx %s updated %s (want the grant's %s %s)", got.Uses, got.TxID, got.UpdatedAt, cs.TxID, cs.UpdatedAt)
	}
	listed := decode[[]model.Consent](t, e.ok(e.agent, model.FnListConsentsByEID, e.a))
	for _, c := range listed {
		if c.ID == cs.ID && c.Uses != 2 {
			t.Fatalf("listed with %d uses, want 2", c.Uses)
		}
	}
	// A revocation rewrites the consent with its count.
	revoked := decode[model.Consent](t, e.ok(e.agent, model.FnRevokeConsent, cs.ID))
	if revoked.Uses != 2 {
		t.Fatalf("revoked consent has %d uses, want 2", revoked.Uses)
	}

	// A consent of an older ledger: its count inline, no count key.
	old := e.granted(5)
	old.Uses = 3
	raw, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	e.l.Seed(func(put func(string, []byte)) { put(compositeKey("consent", old.ID), raw) })
	if c := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, old.ID)); c.Uses != 3 {
		t.Fatalf("inline count read as %d, want 3", c.Uses)
	}
	e.fail(e.agent, model.CodeConflict, []string{"would be used 6 times, more than its max_uses 5"}, model.FnAnchorAccessBatch,
		model.AccessAnchor{BatchID: "gw1-000002", MerkleRoot: root("b2"), Count: 3, FirstSeq: 4, LastSeq: 6, ConsentUses: []model.ConsentUse{{ConsentID: old.ID, Uses: 3}}})
	e.ok(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "gw1-000003", MerkleRoot: root("b3"), Count: 2, FirstSeq: 4, LastSeq: 5,
		ConsentUses: []model.ConsentUse{{ConsentID: old.ID, Uses: 2}}})
	if c := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, old.ID)); c.Uses != 5 || c.UsesLeft() {
		t.Fatalf("after two more uses: %d uses, uses left %v; want 5 and none", c.Uses, c.UsesLeft())
	}
}

func TestAnchorAccessBatch(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	limited := e.granted(3)
	unlimited := e.granted(0)
	batch := model.AccessAnchor{BatchID: "gw1-000001", MerkleRoot: root("b1"), Count: 5, FirstSeq: 101, LastSeq: 105,
		ConsentUses: []model.ConsentUse{{ConsentID: limited.ID, Uses: 2}, {ConsentID: unlimited.ID, Uses: 3}}}

	e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnAnchorAccessBatch, batch)
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnAnchorAccessBatch, batch)

	r := e.ok(e.agent, model.FnAnchorAccessBatch, batch)
	got := decode[model.AccessAnchor](t, r)
	if got.TxID != r.TxID {
		t.Fatalf("got.TxID = %v, want r.TxID; anchor: %+v", got.TxID, got)
	}
	if got.AnchoredAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("got.AnchoredAt = %q, want \"2026-03-01T09:00:00Z\"; anchor: %+v", got.AnchoredAt, got)
	}
	if got.Submitter != platformMSP+"/agent" {
		t.Fatalf("got.Submitter = %v, want platformMSP+\"/agent\"; anchor: %+v", got.Submitter, got)
	}
	if !got.SameContent(batch) {
		t.Fatalf("got.SameContent(batch) is false; anchor: %+v", got)
	}
	ch := changes(t, r)
	if len(ch) != 3 {
		t.Fatalf("len(ch) = %v, want 3; event: %+v", len(ch), ch)
	}
	if ch[0] != (model.Change{Kind: model.KindAnchor, Op: model.OpAnchored, ID: "gw1-000001"}) {
		t.Fatalf("ch[0] = %v, want (model.Change{Kind: model.KindAnchor, Op: model.OpAnchored, ID: \"gw1-000001\"}); event: %+v", ch[0], ch)
	}
	if ch[1] != (model.Change{Kind: model.KindConsent, Op: model.OpUsed, ID: limited.ID, EID: e.a, Requester: "hr", Provider: "edu", DataType: "edu.degree"}) {
		t.Fatalf("ch[1] = %v, want (model.Change{Kind: model.KindConsent, Op: model.OpUsed, ID: limited.ID, EID: e.a, Requester: \"hr\", Provider: \"edu\", DataType: \"edu.degree\"}); event: %+v", ch[1], ch)
	}
	if c := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, limited.ID)); c.Uses != 2 {
		t.Fatalf("uses: %d", c.Uses)
	}

	// The same batch again: the stored anchor, nothing written.
	r = e.ok(e.agent, model.FnAnchorAccessBatch, batch)
	if writes(r) != 0 {
		t.Fatal("writes(r) != 0: ", "replaying the batch wrote")
	}
	if len(changes(t, r)) != 0 {
		t.Fatal("len(changes(t, r)) != 0: ", "replaying the batch wrote")
	}
	if decode[model.AccessAnchor](t, r).TxID != got.TxID {
		t.Fatal("decode[model.AccessAnchor](t, r).TxID != got.TxID: ", "replaying the batch wrote")
	}
	if c := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, limited.ID)); c.Uses != 2 {
		t.Fatalf("uses after replay: %d", c.Uses)
	}
	other := batch
	other.MerkleRoot = root("forged")
	e.fail(e.agent, model.CodeConflict, []string{"gw1-000001 is already anchored with other content"}, model.FnAnchorAccessBatch, other)

	// Two more uses of a consent with one left: the whole batch is refused.
	over := model.AccessAnchor{BatchID: "gw1-000002", MerkleRoot: root("b2"), Count: 3, FirstSeq: 106, LastSeq: 108,
		ConsentUses: []model.ConsentUse{{ConsentID: unlimited.ID, Uses: 1}, {ConsentID: limited.ID, Uses: 2}}}
	e.fail(e.agent, model.CodeConflict, []string{"consent_uses[1]", "more than its max_uses 3"}, model.FnAnchorAccessBatch, over)
	over.ConsentUses[1].Uses = 1
	// The last use is announced as such (a cached copy must stop allowing
	// uses); a use that leaves some, as plain "used".
	if ops := consentOps(t, e.ok(e.agent, model.FnAnchorAccessBatch, over)); ops[unlimited.ID] != model.OpUsed || ops[limited.ID] != model.OpUsedUp {
		t.Fatalf("consent changes %v, want %s for the unlimited consent and %s for the one used up", ops, model.OpUsed, model.OpUsedUp)
	}
	c := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, limited.ID))
	if ok, why := c.Allows("hr", "edu", "edu.degree", "hiring.verify", e.l.Now()); ok || why != model.DenyUsesExhausted {
		t.Fatalf("exhausted consent: %v %s", ok, why)
	}

	requested := e.request(e.hr.User, nil)
	revoked := e.granted(0)
	e.ok(e.agent, model.FnRevokeConsent, revoked.ID)
	expiring := e.request(e.hr.User, func(r *model.ConsentRequest) { r.ValidUntil = "2026-03-01T10:00:00Z" })
	e.ok(e.agent, model.FnGrantConsent, expiring.ID, "portal")
	e.l.Advance(2 * time.Hour)
	e.ok(e.agent, model.FnExpireConsents, []string{expiring.ID})
	for _, c := range []struct {
		id   string
		code model.Code
		want string
	}{
		{requested.ID, model.CodeConflict, "is requested and was never granted"},
		{model.DeriveConsentID("none"), model.CodeNotFound, "does not exist"},
	} {
		a := model.AccessAnchor{BatchID: "gw1-x" + c.id[3:9], MerkleRoot: root(c.id), Count: 2, FirstSeq: 1, LastSeq: 2,
			ConsentUses: []model.ConsentUse{{ConsentID: unlimited.ID, Uses: 1}, {ConsentID: c.id, Uses: 1}}}
		e.fail(e.agent, c.code, []string{"consent_uses[1]", c.want}, model.FnAnchorAccessBatch, a)
	}
	// Accesses recorded while a consent was active are anchored after it
	// was revoked or expired.
	for i, id := range []string{revoked.ID, expiring.ID} {
		a := model.AccessAnchor{BatchID: fmt.Sprintf("gw1-late-%d", i), MerkleRoot: root(id), Count: 1, FirstSeq: 200, LastSeq: 200,
			ConsentUses: []model.ConsentUse{{ConsentID: id, Uses: 1}}}
		e.ok(e.agent, model.FnAnchorAccessBatch, a)
	}

	for _, bad := range []struct {
		a    model.AccessAnchor
		want string
	}{
		{model.AccessAnchor{BatchID: "x y", MerkleRoot: root("a"), Count: 1, FirstSeq: 1, LastSeq: 1}, "batch_id"},
		{model.AccessAnchor{BatchID: "b", MerkleRoot: "00", Count: 1, FirstSeq: 1, LastSeq: 1}, "merkle_root"},
		{model.AccessAnchor{BatchID: "b", MerkleRoot: root("a"), Count: 0, FirstSeq: 1, LastSeq: 1}, "count"},
		{model.AccessAnchor{BatchID: "b", MerkleRoot: root("a"), Count: 1, FirstSeq: 2, LastSeq: 1}, "last_seq"},
		{model.AccessAnchor{BatchID: "b", MerkleRoot: root("a"), Count: 5, FirstSeq: 1, LastSeq: 2}, "sequence range"},
		{model.AccessAnchor{BatchID: "b", MerkleRoot: root("a"), Count: 1, FirstSeq: 1, LastSeq: 1,
			ConsentUses: []model.ConsentUse{{ConsentID: unlimited.ID, Uses: 2}}}, "add up to more than count"},
	} {
		e.fail(e.agent, model.CodeInvalid, []string{bad.want}, model.FnAnchorAccessBatch, bad.a)
	}

	if a := decode[model.AccessAnchor](t, e.ok(e.admin, model.FnGetAnchor, "gw1-000001")); a.MerkleRoot != batch.MerkleRoot {
		t.Fatalf("GetAnchor: %+v", a)
	}
	e.fail(e.agent, model.CodeNotFound, []string{"not anchored"}, model.FnGetAnchor, "gw1-999")
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent or admin"}, model.FnGetAnchor, "gw1-000001")
}

// Two transactions endorsed against the same state and ordered into one
// block: the second one's reads are stale, so it fails MVCC validation.
func TestConcurrentConsentUpdatesConflict(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	cs := e.request(e.hr.User, nil)

	grant1 := e.l.Simulate(e.cc, tx(e.agent, model.FnGrantConsent, cs.ID, "portal"))
	grant2 := e.l.Simulate(e.cc, tx(e.agent, model.FnGrantConsent, cs.ID, "counter"))
	e.l.CommitBlock(grant1, grant2)
	if grant1.Code != peer.TxValidationCode_VALID {
		t.Fatalf("grant1.Code != peer.TxValidationCode_VALID: grants: %v, %v", grant1.Code, grant2.Code)
	}
	if grant2.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
		t.Fatalf("grant2.Code != peer.TxValidationCode_MVCC_READ_CONFLICT: grants: %v, %v", grant1.Code, grant2.Code)
	}
	if got := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, cs.ID)); got.DecisionMethod != "portal" {
		t.Fatalf("stored decision: %+v", got)
	}

	limited := e.granted(1)
	anchor := func(batch string) *fabsim.Result {
		return e.l.Simulate(e.cc, tx(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: batch, MerkleRoot: root(batch),
			Count: 1, FirstSeq: 1, LastSeq: 1, ConsentUses: []model.ConsentUse{{ConsentID: limited.ID, Uses: 1}}}))
	}
	a1, a2 := anchor("b-1"), anchor("b-2")
	if a1.Response.GetStatus() != 200 {
		t.Fatalf("a1.Response.GetStatus() != 200: both anchors must endorse: %s / %s", a1.Response.GetMessage(), a2.Response.GetMessage())
	}
	if a2.Response.GetStatus() != 200 {
		t.Fatalf("a2.Response.GetStatus() != 200: both anchors must endorse: %s / %s", a1.Response.GetMessage(), a2.Response.GetMessage())
	}
	e.l.CommitBlock(a1, a2)
	if a1.Code != peer.TxValidationCode_VALID {
		t.Fatalf("a1.Code != peer.TxValidationCode_VALID: anchors: %v, %v", a1.Code, a2.Code)
	}
	if a2.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
		t.Fatalf("a2.Code != peer.TxValidationCode_MVCC_READ_CONFLICT: anchors: %v, %v", a1.Code, a2.Code)
	}
	if got := decode[model.Consent](t, e.ok(e.agent, model.FnGetConsent, limited.ID)); got.Uses != 1 {
		t.Fatalf("uses: %d (max 1)", got.Uses)
	}
	// Retried on fresh state, the second anchor is refused: no use left.
	e.fail(e.agent, model.CodeConflict, []string{"max_uses 1"}, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "b-2", MerkleRoot: root("b-2"),
		Count: 1, FirstSeq: 1, LastSeq: 1, ConsentUses: []model.ConsentUse{{ConsentID: limited.ID, Uses: 1}}})
}

// TestAnchorAuditBatch: a batch of officials' audit records is anchored
// with its kind, carries no consent uses, and a batch id is one kind or
// the other; break-glass accesses are listed on an access batch.
func TestAnchorAuditBatch(t *testing.T) {
	e := newConsentEnv(t)
	audit := model.AccessAnchor{BatchID: "au-1-4-abc", MerkleRoot: root("audit"), Count: 4, FirstSeq: 1, LastSeq: 4, Kind: model.AnchorKindAudit}
	got := decode[model.AccessAnchor](t, e.ok(e.agent, model.FnAnchorAccessBatch, audit))
	if got.Kind != model.AnchorKindAudit {
		t.Fatalf("got.Kind != model.AnchorKindAudit: audit anchor: %+v", got)
	}
	if !got.SameContent(audit) {
		t.Fatalf("!got.SameContent(audit): audit anchor: %+v", got)
	}
	if a := decode[model.AccessAnchor](t, e.ok(e.agent, model.FnGetAnchor, "au-1-4-abc")); a.Kind != model.AnchorKindAudit {
		t.Fatalf("read back: %+v", a)
	}
	asAccess := audit
	asAccess.Kind = ""
	e.fail(e.agent, model.CodeConflict, []string{"already anchored with other content"}, model.FnAnchorAccessBatch, asAccess)

	withUses := audit
	withUses.BatchID = "au-5-5-def"
	withUses.ConsentUses = []model.ConsentUse{{ConsentID: e.granted(0).ID, Uses: 1}}
	e.fail(e.agent, model.CodeInvalid, []string{"audit anchor carries no consent uses"}, model.FnAnchorAccessBatch, withUses)
	odd := audit
	odd.BatchID, odd.Kind = "au-6-6-000", "misc"
	e.fail(e.agent, model.CodeInvalid, []string{"kind must be empty"}, model.FnAnchorAccessBatch, odd)

	bg := model.AccessAnchor{BatchID: "ab-10-12-bg", MerkleRoot: root("bg"), Count: 3, FirstSeq: 10, LastSeq: 12,
		BreakGlass: []string{"acc_0123456789abcdef0123456789abcdef"}}
	if a := decode[model.AccessAnchor](t, e.ok(e.agent, model.FnAnchorAccessBatch, bg)); len(a.BreakGlass) != 1 || !a.SameContent(bg) {
		t.Fatalf("break-glass anchor: %+v", a)
	}
	twice := bg
	twice.BatchID = "ab-13-15-bg"
	twice.BreakGlass = []string{"acc_1", "acc_1"}
	e.fail(e.agent, model.CodeInvalid, []string{"break_glass[1]"}, model.FnAnchorAccessBatch, twice)
}

// consentOps maps each consent a transaction changed to the change's op.
func consentOps(t *testing.T, r *fabsim.Result) map[string]string {
	t.Helper()
	ops := map[string]string{}
	for _, c := range changes(t, r) {
		if c.Kind == model.KindConsent {
			ops[c.ID] = c.Op
		}
	}
	return ops
}
