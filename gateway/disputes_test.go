package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// disputeFlow: alice disputes an anchored access of hr's, hr answers, an
// auditor closes it and alice reads the outcome; every refusal (someone
// else's access, an access not anchored yet, a second open dispute, an
// answer by a department not party to it, answering or closing a closed
// dispute) changes nothing, on the ledger or in the database.
func disputeFlow(t *testing.T, w *world, hr, edu *caller) {
	ctx := context.Background()
	alice := w.signIn("/v1/me/login", map[string]any{"document": w.aliceDoc, "password": "a long passphrase"})
	w.anchorer.Step(ctx)
	anchored := w.lastAccess(t, w.alice, true)
	// A resolve about bob leaves an access record of his.
	hr.do(post, "/v1/routes/resolve", map[string]any{"subject": map[string]string{"eid": w.bob}, "data_type": "edu.degree", "purpose": purpose})
	w.anchorer.Step(ctx)
	bobs := w.lastAccess(t, w.bob, true)
	hr.do(post, "/v1/routes/resolve", map[string]any{"subject": map[string]string{"eid": w.alice}, "data_type": "edu.degree", "purpose": purpose})
	pending := w.lastAccess(t, w.alice, false)
	auditor := w.admin("auditor")

	unchanged := w.disputeSnapshot(t)
	refused := func(what string, r reply, status int, code string) {
		t.Helper()
		if r.status != status || r.apiError().Code != code {
			t.Errorf("%s = %d %s, want %d %s", what, r.status, r.body, status, code)
		}
		if now := w.disputeSnapshot(t); now != unchanged {
			t.Errorf("%s changed disputes: %+v → %+v", what, unchanged, now)
		}
	}
	body := func(id string) map[string]any {
		return map[string]any{"access_id": id, "reason": "unexpected", "text": "I never applied to this bureau"}
	}
	refused("disputing bob's access", alice.do(post, "/v1/me/disputes", body(bobs.ID)), http.StatusNotFound, "not_found")
	refused("disputing an unknown access", alice.do(post, "/v1/me/disputes", body("acc_00000000000000000000000000000000")), http.StatusNotFound, "not_found")
	refused("disputing an access not anchored yet", alice.do(post, "/v1/me/disputes", body(pending.ID)), http.StatusConflict, "dispute_not_anchored")
	if e := alice.call(post, "/v1/me/disputes", map[string]any{"access_id": anchored.ID, "reason": "angry"}, http.StatusBadRequest).apiError(); e.Field != "reason" {
		t.Errorf("a bad reason = %+v", e)
	}

	dp := alice.call(post, "/v1/me/disputes", body(anchored.ID), http.StatusCreated)
	id := dp.field("id")
	if dp.field("status") != model.DisputeOpen || dp.field("leaf_hash") != anchored.LeafHash || dp.field("batch_id") != anchored.BatchID ||
		dp.field("department") != hrBureau || dp.field("text_digest") != model.TextDigest("I never applied to this bureau") {
		t.Fatalf("raised dispute = %s", dp.body)
	}
	unchanged = w.disputeSnapshot(t)
	refused("a second open dispute", alice.do(post, "/v1/me/disputes", body(anchored.ID)), http.StatusConflict, "dispute_open")
	refused("edu answering hr's dispute", edu.do(post, "/v1/disputes/"+id+"/answer", map[string]string{"answer": "not us"}), http.StatusNotFound, "not_found")
	refused("edu reading hr's dispute", edu.do(get, "/v1/disputes/"+id, nil), http.StatusNotFound, "not_found")
	if e := hr.call(post, "/v1/disputes/"+id+"/answer", map[string]string{"answer": "  "}, http.StatusBadRequest).apiError(); e.Field != "answer" {
		t.Errorf("an empty answer = %+v", e)
	}

	var list struct {
		Disputes []routing.Dispute `json:"disputes"`
	}
	hr.call(get, "/v1/disputes?status=open", nil, http.StatusOK).decode(&list)
	if len(list.Disputes) != 1 || list.Disputes[0].ID != id || list.Disputes[0].Text != "I never applied to this bureau" {
		t.Errorf("hr's open disputes = %+v", list.Disputes)
	}
	hr.call(get, "/v1/disputes/"+id, nil, http.StatusOK)
	ans := hr.call(post, "/v1/disputes/"+id+"/answer", map[string]string{"answer": "You applied for job 42 on 1 March."}, http.StatusOK)
	if ans.field("status") != model.DisputeAnswered || ans.field("answer_digest") != model.TextDigest("You applied for job 42 on 1 March.") {
		t.Errorf("answered = %s", ans.body)
	}
	unchanged = w.disputeSnapshot(t)
	refused("answering twice", hr.do(post, "/v1/disputes/"+id+"/answer", map[string]string{"answer": "again"}), http.StatusConflict, "dispute_state")

	auditor.call(get, "/v1/admin/disputes?status=answered&department="+hrBureau, nil, http.StatusOK).decode(&list)
	if len(list.Disputes) != 1 || list.Disputes[0].Answer != "You applied for job 42 on 1 March." {
		t.Errorf("auditor's list = %+v", list.Disputes)
	}
	auditor.call(get, "/v1/admin/disputes/"+id, nil, http.StatusOK)
	if e := auditor.call(post, "/v1/admin/disputes/"+id+"/close", map[string]string{"outcome": "maybe", "note": "x"}, http.StatusBadRequest).apiError(); e.Field != "outcome" {
		t.Errorf("a bad outcome = %+v", e)
	}
	closed := auditor.call(post, "/v1/admin/disputes/"+id+"/close", map[string]string{"outcome": "dismissed", "note": "The access followed a job application."}, http.StatusOK)
	if closed.field("status") != model.DisputeClosed || closed.field("outcome") != model.DisputeDismissed || closed.field("closed_by") == "" {
		t.Errorf("closed = %s", closed.body)
	}
	unchanged = w.disputeSnapshot(t)
	refused("answering a closed dispute", hr.do(post, "/v1/disputes/"+id+"/answer", map[string]string{"answer": "late"}), http.StatusConflict, "dispute_state")
	refused("closing twice", auditor.do(post, "/v1/admin/disputes/"+id+"/close", map[string]string{"outcome": "upheld", "note": "x"}), http.StatusConflict, "dispute_state")

	alice.call(get, "/v1/me/disputes", nil, http.StatusOK).decode(&list)
	if len(list.Disputes) != 1 || list.Disputes[0].Outcome != model.DisputeDismissed || list.Disputes[0].Note != "The access followed a job application." {
		t.Errorf("alice's disputes = %+v", list.Disputes)
	}
	alice.call(get, "/v1/me/disputes/"+id, nil, http.StatusOK)
	// The ledger holds the same state; every step is an audit record.
	onChain, err := w.ledger.GetDispute(ctx, id)
	if err != nil || *onChain != list.Disputes[0].Dispute {
		t.Errorf("on the ledger: %+v %v, want %+v", onChain, err, list.Disputes[0].Dispute)
	}
	var acts struct {
		Records []struct {
			Act    string `json:"act"`
			Status string `json:"status"`
		} `json:"records"`
	}
	auditor.call(get, "/v1/admin/audit?act=dispute.close", nil, http.StatusOK).decode(&acts)
	done := 0
	for _, r := range acts.Records {
		if r.Status == "done" {
			done++
		}
	}
	// The refused attempts are recorded as failed ones.
	if len(acts.Records) != 3 || done != 1 {
		t.Errorf("dispute.close records = %+v", acts.Records)
	}
	// Closed, the access may be disputed again.
	alice.call(post, "/v1/me/disputes", body(anchored.ID), http.StatusCreated)
}

// lastAccess is the newest access record about eid, anchored or not.
func (w *world) lastAccess(t *testing.T, eid string, anchored bool) routing.AccessRecord {
	t.Helper()
	recs, err := w.access.ListAccess(context.Background(), routing.AccessFilter{EID: eid, Desc: true, Limit: 1})
	if err != nil || len(recs) != 1 || (recs[0].AnchorTxID != "") != anchored {
		t.Fatalf("newest access of %s: %+v %v, want anchored=%v", eid, recs, err, anchored)
	}
	return recs[0]
}

// disputeSnapshot is what a refused call must leave alone: the ledger's
// dispute transactions and the database's disputes.
type disputeSnapshot struct {
	raised, answered, closed int
	rows                     string
}

func (w *world) disputeSnapshot(t *testing.T) disputeSnapshot {
	t.Helper()
	list, err := w.db.ListDisputes(context.Background(), routing.DisputeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	rows := ""
	for _, d := range list {
		rows += d.ID + ":" + d.Status + ":" + d.TxID + ";"
	}
	return disputeSnapshot{w.ledger.Calls(model.FnRaiseDispute), w.ledger.Calls(model.FnAnswerDispute), w.ledger.Calls(model.FnCloseDispute), rows}
}
