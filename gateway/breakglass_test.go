package gateway_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

const (
	bgPurpose    = "criminal_investigation"
	bgLegalBasis = "Criminal Procedure Law art. 137; case 2026-0412"
)

type accessPage struct {
	Access []struct {
		ID           string     `json:"id"`
		BreakGlass   bool       `json:"break_glass"`
		LegalBasis   string     `json:"legal_basis"`
		VisibleAfter *time.Time `json:"visible_after"`
		ReviewedBy   string     `json:"reviewed_by"`
		ReviewNote   string     `json:"review_note"`
	} `json:"access"`
}

// breakGlassFlow: an administrator grants hr-bureau break-glass for
// edu.degree and a statutory purpose (a policy version, audited); without
// a legal basis the resolve is refused on its field; with it the resolve
// succeeds without consent; the resident does not see the access, in the
// API or the portal, until the seal ends on the clock alone; auditors list
// it, filter by review and review it once (an audit record); the grant is
// removed and the next request takes the consent path.
func breakGlassFlow(t *testing.T, w *world, root, auditor, hr *caller) {
	t.Helper()
	allow := policies.Line{Kind: "p", Subject: hrBureau, Object: "edu.degree", Action: bgPurpose, Effect: "allow"}
	root.call(post, "/v1/admin/policies/rules", allow, http.StatusCreated)
	grant := map[string]any{"subject": hrBureau, "data_type": "edu.degree", "purpose": bgPurpose, "seal_days": 30}
	if e := root.call(post, "/v1/admin/policies/break-glass", map[string]any{"subject": hrBureau, "data_type": "edu.degree",
		"purpose": bgPurpose}, http.StatusBadRequest).apiError(); e.Field != "seal_days" {
		t.Errorf("grant without seal_days = %+v", e)
	}
	if e := root.call(post, "/v1/admin/policies/break-glass", map[string]any{"subject": "*", "data_type": "edu.degree",
		"purpose": bgPurpose, "seal_days": 30}, http.StatusBadRequest).apiError(); e.Field != "subject" {
		t.Errorf("grant to every department = %+v", e)
	}
	root.call(post, "/v1/admin/policies/break-glass", grant, http.StatusCreated)
	var grants struct {
		Grants []policies.Grant `json:"grants"`
	}
	auditor.call(get, "/v1/admin/policies/break-glass", nil, http.StatusOK).decode(&grants)
	if len(grants.Grants) != 1 || grants.Grants[0].SealDays != 30 || grants.Grants[0].CreatedBy != "admin:root" {
		t.Fatalf("grants = %+v", grants.Grants)
	}

	resolve := func(breakGlass map[string]any, want int) reply {
		body := map[string]any{"subject": map[string]any{"eid": w.alice}, "data_type": "edu.degree", "purpose": bgPurpose}
		if breakGlass != nil {
			body["break_glass"] = breakGlass
		}
		return hr.call(post, "/v1/routes/resolve", body, want)
	}
	for _, bad := range []map[string]any{{}, {"legal_basis": ""}, {"legal_basis": strings.Repeat("x", routing.MaxLegalBasisRunes+1)}} {
		if e := resolve(bad, http.StatusBadRequest).apiError(); e.Field != "break_glass.legal_basis" {
			t.Errorf("legal basis %v: %+v", bad, e)
		}
	}
	var res struct {
		AccessID     string    `json:"access_id"`
		ConsentID    string    `json:"consent_id"`
		BreakGlass   bool      `json:"break_glass"`
		VisibleAfter time.Time `json:"visible_after"`
		Ticket       string    `json:"ticket"`
	}
	resolve(map[string]any{"legal_basis": bgLegalBasis}, http.StatusOK).decode(&res)
	sealEnds := w.clock.Now().Add(30 * 24 * time.Hour)
	if !res.BreakGlass || res.ConsentID != routing.BreakGlassTicketConsent || res.Ticket == "" || !res.VisibleAfter.Equal(sealEnds) {
		t.Fatalf("break-glass resolve = %+v", res)
	}

	alice := w.signIn("/v1/me/login", map[string]any{"document": w.aliceDoc, "password": "a long passphrase"})
	sees := func() bool {
		var mine accessPage
		alice.call(get, "/v1/me/access?limit=1000", nil, http.StatusOK).decode(&mine)
		inAPI := false
		for _, a := range mine.Access {
			if a.ID == res.AccessID {
				inAPI = a.BreakGlass && a.LegalBasis == bgLegalBasis
			}
		}
		page := alice.call(get, "/portal/access", nil, http.StatusOK)
		if inPortal := bytes.Contains(page.body, []byte(res.AccessID)); inPortal != inAPI {
			t.Fatalf("portal shows the access: %v, API: %v", inPortal, inAPI)
		}
		if inAPI && !bytes.Contains(page.body, []byte(bgLegalBasis)) {
			t.Errorf("the portal shows the break-glass access without its legal basis")
		}
		return inAPI
	}
	if sees() {
		t.Fatal("the resident sees a sealed break-glass access")
	}
	alice.call(get, "/v1/me/access/"+res.AccessID+"/proof", nil, http.StatusNotFound)

	var list accessPage
	auditor.call(get, "/v1/admin/break-glass?reviewed=false&requester="+hrBureau, nil, http.StatusOK).decode(&list)
	if len(list.Access) != 1 || list.Access[0].ID != res.AccessID || list.Access[0].LegalBasis != bgLegalBasis ||
		list.Access[0].VisibleAfter == nil || !list.Access[0].VisibleAfter.Equal(sealEnds) {
		t.Fatalf("unreviewed break-glass accesses = %+v", list.Access)
	}
	if e := auditor.call(get, "/v1/admin/break-glass?reviewed=maybe", nil, http.StatusBadRequest).apiError(); e.Field != "reviewed" {
		t.Errorf("bad reviewed filter = %+v", e)
	}
	if e := auditor.call(post, "/v1/admin/break-glass/"+res.AccessID+"/review", map[string]string{"note": ""}, http.StatusBadRequest).apiError(); e.Field != "note" {
		t.Errorf("review without a note = %+v", e)
	}
	auditor.call(post, "/v1/admin/break-glass/"+res.AccessID+"/review", map[string]string{"note": "warrant 2026-0412 on file"}, http.StatusOK)
	if e := auditor.call(post, "/v1/admin/break-glass/"+res.AccessID+"/review", map[string]string{"note": "again"}, http.StatusConflict).apiError(); e.Code != "break_glass_reviewed" {
		t.Errorf("second review = %+v", e)
	}
	auditor.call(get, "/v1/admin/break-glass?reviewed=true", nil, http.StatusOK).decode(&list)
	if len(list.Access) != 1 || list.Access[0].ReviewedBy != "admin:auditor" || list.Access[0].ReviewNote != "warrant 2026-0412 on file" {
		t.Fatalf("reviewed = %+v", list.Access)
	}
	// The review and the grant are audit records (refused attempts are
	// recorded as failed); the review names the access, never the
	// resident, so it does not show in their portal while sealed.
	done := func(act string) []audit.Record {
		var acts struct {
			Records []audit.Record `json:"records"`
		}
		auditor.call(get, "/v1/admin/audit?act="+act, nil, http.StatusOK).decode(&acts)
		var out []audit.Record
		for _, r := range acts.Records {
			if r.Status == audit.StatusDone {
				out = append(out, r)
			}
		}
		return out
	}
	if recs := done(audit.ActBreakGlassReview); len(recs) != 1 || recs[0].Target != res.AccessID || recs[0].EID != "" ||
		recs[0].Reason != "warrant 2026-0412 on file" {
		t.Errorf("review audit records = %+v", recs)
	}
	if recs := done(audit.ActBreakGlassSet); len(recs) != 1 || recs[0].Official != "admin:root" {
		t.Errorf("grant audit records = %+v", recs)
	}

	// The seal ends on the clock alone: nobody acts.
	w.clock.Advance(30*24*time.Hour - time.Second)
	if sees() {
		t.Fatal("the resident sees the access a second before its seal ends")
	}
	w.clock.Advance(time.Second)
	if !sees() {
		t.Fatal("the access is not shown to the resident when its seal ends")
	}

	w.anchor() // anchoring is current again after the jump in time

	// With four eyes on policy changes, removing the grant is a proposal
	// another official approves; nothing changes before.
	root.call(post, "/v1/admin/users", map[string]string{"username": "second.admin", "password": "correct horse battery", "role": "admin"}, http.StatusCreated)
	w.trail.SetFourEyes(audit.FourEyes{Store: w.db, Acts: map[string]bool{audit.FourEyesPolicy: true}})
	var held struct {
		Proposal audit.Proposal `json:"proposal"`
	}
	root.call(post, "/v1/admin/policies/break-glass/delete", grant, http.StatusAccepted).decode(&held)
	if held.Proposal.Act != audit.ActBreakGlassRemove || held.Proposal.Status != audit.ProposalPending {
		t.Fatalf("proposal = %+v", held.Proposal)
	}
	auditor.call(get, "/v1/admin/policies/break-glass", nil, http.StatusOK).decode(&grants)
	if len(grants.Grants) != 1 {
		t.Fatalf("the grant changed before the approval: %+v", grants.Grants)
	}
	second := w.admin("second.admin")
	second.call(post, "/v1/admin/proposals/"+held.Proposal.ID+"/approve", map[string]string{"note": "agreed"}, http.StatusOK)
	w.trail.SetFourEyes(audit.FourEyes{})
	root.call(post, "/v1/admin/users/second.admin/disable", nil, http.StatusOK)
	var after struct {
		Grants []policies.Grant `json:"grants"`
	}
	auditor.call(get, "/v1/admin/policies/break-glass", nil, http.StatusOK).decode(&after)
	if len(after.Grants) != 0 {
		t.Fatalf("grants after the approved removal: %+v", after.Grants)
	}
	root.call(post, "/v1/admin/policies/break-glass/delete", grant, http.StatusNotFound)
	if e := resolve(map[string]any{"legal_basis": bgLegalBasis}, http.StatusForbidden).apiError(); e.Code != "consent_required" {
		t.Errorf("after the grant is removed = %+v, want consent_required", e)
	}
	root.call(post, "/v1/admin/policies/rules/delete", allow, http.StatusOK)
}
