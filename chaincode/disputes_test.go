package chaincode_test

import (
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

const disputedAccess = "acc_0123456789abcdef0123456789abcdef"

func TestDisputes(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	e.ok(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "gw1-000001", MerkleRoot: root("d1"), Count: 1, FirstSeq: 1, LastSeq: 1})
	e.ok(e.agent, model.FnAnchorAccessBatch, model.AccessAnchor{BatchID: "au-000001", MerkleRoot: root("a1"), Count: 1, FirstSeq: 1, LastSeq: 1, Kind: model.AnchorKindAudit})
	draft := model.DisputeDraft{AccessID: disputedAccess, EID: e.a, Department: "hr", BatchID: "gw1-000001",
		LeafHash: root("leaf"), Reason: "unexpected", TextDigest: model.TextDigest("I never applied there")}

	r := e.ok(e.agent, model.FnRaiseDispute, draft)
	dp := decode[model.Dispute](t, r)
	if dp.ID != model.DeriveDisputeID(r.TxID) || dp.Status != model.DisputeOpen || dp.RaisedAt != "2026-03-01T09:00:00Z" ||
		dp.RaisedBy != platformMSP+"/agent" || dp.LeafHash != draft.LeafHash || dp.TextDigest != draft.TextDigest {
		t.Fatalf("dispute: %+v", dp)
	}
	if got := changes(t, r); len(got) != 1 || got[0] != (model.Change{Kind: model.KindDispute, Op: model.OpRaised, ID: dp.ID, EID: e.a, Department: "hr"}) {
		t.Fatalf("event: %+v", got)
	}
	// One open dispute per access.
	e.fail(e.agent, model.CodeConflict, []string{"already has dispute " + dp.ID}, model.FnRaiseDispute, draft)

	// Only the department of the access answers, once, while open.
	e.fail(e.agent, model.CodeForbidden, []string{"not about an access by department edu"}, model.FnAnswerDispute,
		model.DisputeAnswer{ID: dp.ID, Department: "edu", Official: "official-1", AnswerDigest: root("no")})
	ans := decode[model.Dispute](t, e.ok(e.agent, model.FnAnswerDispute,
		model.DisputeAnswer{ID: dp.ID, Department: "hr", Official: "official-1", AnswerDigest: root("your application 42")}))
	if ans.Status != model.DisputeAnswered || ans.AnswerOfficial != "official-1" || ans.AnsweredAt == "" {
		t.Fatalf("answered: %+v", ans)
	}
	e.fail(e.agent, model.CodeConflict, []string{"is answered, not open"}, model.FnAnswerDispute,
		model.DisputeAnswer{ID: dp.ID, Department: "hr", Official: "official-1", AnswerDigest: root("again")})

	// Closed: the outcome is final; a new dispute of the same access is allowed.
	cl := decode[model.Dispute](t, e.ok(e.agent, model.FnCloseDispute,
		model.DisputeClosing{ID: dp.ID, Outcome: model.DisputeDismissed, Official: "official-9", OutcomeDigest: root("in order")}))
	if cl.Status != model.DisputeClosed || cl.Outcome != model.DisputeDismissed || cl.ClosedBy != "official-9" {
		t.Fatalf("closed: %+v", cl)
	}
	e.fail(e.agent, model.CodeConflict, []string{"is closed"}, model.FnCloseDispute,
		model.DisputeClosing{ID: dp.ID, Outcome: model.DisputeUpheld, Official: "official-9", OutcomeDigest: root("x")})
	e.fail(e.agent, model.CodeConflict, []string{"is closed"}, model.FnAnswerDispute,
		model.DisputeAnswer{ID: dp.ID, Department: "hr", Official: "official-1", AnswerDigest: root("late")})
	second := decode[model.Dispute](t, e.ok(e.agent, model.FnRaiseDispute, draft))
	closed := decode[model.Dispute](t, e.ok(e.agent, model.FnCloseDispute,
		model.DisputeClosing{ID: second.ID, Outcome: model.DisputeUpheld, Official: "official-9", OutcomeDigest: root("unexplained")}))
	if closed.AnsweredAt != "" || closed.Outcome != model.DisputeUpheld {
		t.Fatalf("closed unanswered: %+v", closed)
	}

	for _, q := range []struct {
		fn, arg string
	}{{model.FnListDisputesByEID, e.a}, {model.FnListDisputesByDepartment, "hr"}} {
		list := decode[[]model.Dispute](t, e.ok(e.agent, q.fn, q.arg))
		if len(list) != 2 {
			t.Fatalf("%s: %+v", q.fn, list)
		}
	}
	if list := decode[[]model.Dispute](t, e.ok(e.agent, model.FnListDisputesByDepartment, "edu")); len(list) != 0 {
		t.Fatalf("edu: %+v", list)
	}
	if got := decode[model.Dispute](t, e.ok(e.admin, model.FnGetDispute, dp.ID)); got != cl {
		t.Fatalf("get: %+v", got)
	}
	// A department reads the disputes of its own accesses, not another's.
	e.ok(e.hr.User, model.FnListDisputesByDepartment, "hr")
	e.fail(e.hr.User, model.CodeForbidden, nil, model.FnListDisputesByDepartment, "edu")
	e.fail(e.hr.User, model.CodeForbidden, nil, model.FnListDisputesByEID, e.a)
	e.fail(e.hr.User, model.CodeForbidden, []string{"agent role"}, model.FnRaiseDispute, draft)
	e.fail(e.admin, model.CodeForbidden, []string{"agent role"}, model.FnCloseDispute,
		model.DisputeClosing{ID: dp.ID, Outcome: model.DisputeUpheld, Official: "o", OutcomeDigest: root("x")})
	e.fail(e.agent, model.CodeNotFound, []string{"does not exist"}, model.FnGetDispute, model.DeriveDisputeID("none"))

	with := func(f func(*model.DisputeDraft)) model.DisputeDraft {
		d := draft
		d.AccessID = "acc_" + root("other")[:32]
		f(&d)
		return d
	}
	for _, c := range []struct {
		name  string
		draft model.DisputeDraft
		code  model.Code
		want  string
	}{
		{"batch not anchored", with(func(d *model.DisputeDraft) { d.BatchID = "gw1-000002" }), model.CodeNotFound, "not anchored"},
		{"audit batch", with(func(d *model.DisputeDraft) { d.BatchID = "au-000001" }), model.CodeInvalid, "not accesses"},
		{"unknown department", with(func(d *model.DisputeDraft) { d.Department = "tax" }), model.CodeNotFound, "tax"},
		{"unknown eID", with(func(d *model.DisputeDraft) { d.EID = "did:eidgate:" + root("nobody")[:32] }), model.CodeNotFound, "does not exist"},
		{"bad access id", with(func(d *model.DisputeDraft) { d.AccessID = "acc_X" }), model.CodeInvalid, "access_id"},
		{"bad reason", with(func(d *model.DisputeDraft) { d.Reason = "angry" }), model.CodeInvalid, "reason"},
		{"bad digest", with(func(d *model.DisputeDraft) { d.TextDigest = "abc" }), model.CodeInvalid, "text_digest"},
		{"bad leaf", with(func(d *model.DisputeDraft) { d.LeafHash = "" }), model.CodeInvalid, "leaf_hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.fail(e.agent, c.code, []string{c.want}, model.FnRaiseDispute, c.draft)
		})
	}
	e.t = t
	e.fail(e.agent, model.CodeInvalid, []string{"outcome"}, model.FnCloseDispute,
		model.DisputeClosing{ID: second.ID, Outcome: "maybe", Official: "o", OutcomeDigest: root("x")})
}
