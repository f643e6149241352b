package gateway_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/mapping"
)

// auditTrailFlow checks, over the acts the contract flow performed, that
// each administrative act left an audit record naming its official, that
// the records are filtered, exported, anchored and proved, and that a
// resident sees the acts on their own eID by pseudonym only.
func auditTrailFlow(t *testing.T, w *world, auditor, root, officer *caller, eid string) {
	t.Helper()
	const get = http.MethodGet
	w.anchor()
	var page struct {
		Records    []audit.Record `json:"records"`
		NextBefore uint64         `json:"next_before"`
	}
	auditor.call(get, "/v1/admin/audit?limit=1000", nil, http.StatusOK).decode(&page)
	acts := map[string]int{}
	for _, r := range page.Records {
		acts[r.Act]++
		if r.Status != audit.StatusDone || r.LeafHash == "" || r.AnchorTxID == "" {
			t.Errorf("record %s %s: status %s, leaf %q, anchored in %q; want done and anchored", r.ID, r.Act, r.Status, r.LeafHash, r.AnchorTxID)
		}
		if bytes.Contains(r.After, []byte("E12345678")) || bytes.Contains(r.Before, []byte("E12345678")) {
			t.Errorf("record %s holds a document number: %s %s", r.ID, r.Before, r.After)
		}
	}
	for _, act := range []string{audit.ActDepartmentCreate, audit.ActDepartmentUpdate, audit.ActDepartmentStatus,
		audit.ActAPIKeyIssue, audit.ActAPIKeyRevoke, audit.ActDataTypeCreate, audit.ActDataTypeUpdate, audit.ActEIDCreate,
		audit.ActDocumentAdd, audit.ActDocumentRemove, audit.ActActivationCode, audit.ActEIDMerge, audit.ActEIDDeactivate,
		audit.ActImport, audit.ActPolicyAdd, audit.ActPolicyRemove, audit.ActStaffCreate} {
		if acts[act] == 0 {
			t.Errorf("no audit record of %s; acts recorded: %v", act, acts)
		}
	}

	var merges struct {
		Records []audit.Record `json:"records"`
	}
	auditor.call(get, "/v1/admin/audit?act=eid.merge&official=admin:officer", nil, http.StatusOK).decode(&merges)
	if len(merges.Records) != 1 || merges.Records[0].Target != eid || merges.Records[0].Reason != "same person, duplicate KYC" ||
		!strings.Contains(string(merges.Records[0].After), eid) {
		t.Errorf("merge records = %+v, want the one merge into %s with its reason and after state", merges.Records, eid)
	}
	auditor.call(get, "/v1/admin/audit?act=eid.merge&official=admin:root", nil, http.StatusOK).decode(&merges)
	if len(merges.Records) != 0 {
		t.Errorf("root's merges = %+v, want none", merges.Records)
	}
	if e := auditor.call(get, "/v1/admin/audit?act=no.such.act", nil, http.StatusBadRequest).apiError(); e.Code != "invalid_filter" || e.Field != "act" {
		t.Errorf("bad act filter = %+v", e)
	}
	auditor.call(get, "/v1/admin/audit?limit=2", nil, http.StatusOK).decode(&page)
	if len(page.Records) != 2 {
		t.Fatalf("len(page.Records) != 2: first page = %d records, next_before %d", len(page.Records), page.NextBefore)
	}
	if page.NextBefore != page.Records[1].Seq {
		t.Fatalf("page.NextBefore != page.Records[1].Seq: first page = %d records, next_before %d", len(page.Records), page.NextBefore)
	}
	first := slices.Clone(page.Records)
	auditor.call(get, "/v1/admin/audit?limit=2&before="+strconv.FormatUint(page.NextBefore, 10), nil, http.StatusOK).decode(&page)
	if len(page.Records) == 0 || page.Records[0].Seq >= first[1].Seq {
		t.Errorf("second page = %+v, want records below %d", page.Records, first[1].Seq)
	}

	one := first[0]
	var got audit.Record
	auditor.call(get, "/v1/admin/audit/"+one.ID, nil, http.StatusOK).decode(&got)
	if got.ID != one.ID || got.Act != one.Act {
		t.Errorf("record = %+v, want %+v", got, one)
	}
	var proof audit.Proof
	auditor.call(get, "/v1/admin/audit/"+one.ID+"/proof", nil, http.StatusOK).decode(&proof)
	if !proof.Verified || proof.Anchor == nil || proof.Anchor.Kind != "audit" || proof.LeafFields[0] != "eidgate-audit-v1" {
		t.Errorf("audit proof = %+v", proof)
	}

	csvOut := auditor.call(get, "/v1/admin/audit/export?format=csv&act=eid.create", nil, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(csvOut.body)).ReadAll()
	if err != nil || len(rows) != 1+acts[audit.ActEIDCreate] || rows[0][0] != "seq" || rows[1][6] != audit.ActEIDCreate {
		t.Errorf("CSV export = %v (%v)", rows, err)
	}
	jsonl := auditor.call(get, "/v1/admin/audit/export?format=jsonl", nil, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(jsonl.body)), "\n")
	var last audit.Record
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) < len(first) || last.Seq != 1 {
		t.Errorf("JSON lines export: %d lines, last %+v (%v)", len(lines), last, err)
	}
	root.call(get, "/v1/admin/audit", nil, http.StatusOK)
	officer.call(get, "/v1/admin/audit", nil, http.StatusForbidden)

	// The resident of the surviving eID sees the acts on it, the officials
	// by pseudonym, and proves one.
	resident := w.residentSession(eid, mapping.Input{Type: "passport", Number: "E12345678", Country: "CHN"})
	var mine struct {
		Acts []audit.ResidentView `json:"acts"`
	}
	resident.call(get, "/v1/me/audit", nil, http.StatusOK).decode(&mine)
	seen := map[string]bool{}
	for _, a := range mine.Acts {
		seen[a.Act] = true
		if !strings.HasPrefix(a.OfficialRef, "official-") {
			t.Errorf("resident sees official %q, want a pseudonym", a.OfficialRef)
		}
	}
	for _, act := range []string{audit.ActEIDCreate, audit.ActDocumentAdd, audit.ActEIDMerge, audit.ActActivationCode} {
		if !seen[act] {
			t.Errorf("resident's acts %+v lack %s", mine.Acts, act)
		}
	}
	if bytes.Contains(resident.call(get, "/v1/me/audit", nil, http.StatusOK).body, []byte("officer")) {
		t.Error("the resident's view names the official")
	}
	resident.call(get, "/v1/me/audit/"+mine.Acts[0].ID+"/proof", nil, http.StatusOK).decode(&proof)
	if !proof.Verified {
		t.Errorf("resident's audit proof = %+v", proof)
	}
	var other audit.Record
	for _, r := range first {
		if r.EID != eid && r.Target != eid {
			other = r
		}
	}
	if other.ID != "" {
		if e := resident.call(get, "/v1/me/audit/"+other.ID+"/proof", nil, http.StatusNotFound).apiError(); e.Code != "audit_record_not_found" {
			t.Errorf("another's record = %+v", e)
		}
	}
}

// staffFlow: an administrator disables, re-enables, re-roles and resets a
// staff account; the reset member chooses a new password with the code;
// the last administrator cannot be disabled or demoted; every change is in
// the audit trail.
func staffFlow(t *testing.T, w *world, root, auditor *caller, name string) {
	t.Helper()
	const post, get = http.MethodPost, http.MethodGet
	member := w.signIn("/v1/admin/login", map[string]string{"username": name, "password": "another long one"})
	root.call(post, "/v1/admin/users/"+name+"/disable", nil, http.StatusOK)
	// The disabled member's session ended at once, and sign-in is refused.
	member.call(get, "/v1/admin/me", nil, http.StatusUnauthorized)
	if e := w.anonymous().call(post, "/v1/admin/login", map[string]string{"username": name, "password": "another long one"}, http.StatusForbidden).apiError(); e.Code != "account_disabled" {
		t.Errorf("disabled sign-in = %+v", e)
	}
	root.call(post, "/v1/admin/users/"+name+"/enable", nil, http.StatusOK)
	if got := root.call(post, "/v1/admin/users/"+name+"/role", map[string]string{"role": "mapping-officer"}, http.StatusOK).field("role"); got != "mapping-officer" {
		t.Errorf("role = %q", got)
	}
	var reset struct {
		Code    string `json:"activation_code"`
		Expires string `json:"expires_at"`
	}
	root.call(post, "/v1/admin/users/"+name+"/reset", nil, http.StatusOK).decode(&reset)
	if reset.Code == "" {
		t.Fatalf("reset.Code == \"\": reset = %+v", reset)
	}
	if reset.Expires == "" {
		t.Fatalf("reset.Expires == \"\": reset = %+v", reset)
	}
	if e := w.anonymous().call(post, "/v1/admin/login", map[string]string{"username": name, "password": "another long one"}, http.StatusUnauthorized).apiError(); e.Code != "invalid_credentials" {
		t.Errorf("old password after reset = %+v", e)
	}
	activate := map[string]string{"username": name, "code": reset.Code, "password": "a brand new passphrase"}
	renewed := w.signIn("/v1/admin/activate", activate)
	if got := renewed.call(get, "/v1/admin/me", nil, http.StatusOK).field("role"); got != "mapping-officer" {
		t.Errorf("activated member's role = %q", got)
	}
	if e := w.anonymous().call(post, "/v1/admin/activate", activate, http.StatusConflict).apiError(); e.Code != "activation_used" {
		t.Errorf("second activation = %+v", e)
	}

	// root is the only enabled administrator with the admin role.
	if e := root.call(post, "/v1/admin/users/root/disable", nil, http.StatusConflict).apiError(); e.Code != "last_admin" {
		t.Errorf("disabling the last admin = %+v", e)
	}
	if e := root.call(post, "/v1/admin/users/root/role", map[string]string{"role": "auditor"}, http.StatusConflict).apiError(); e.Code != "last_admin" {
		t.Errorf("demoting the last admin = %+v", e)
	}
	root.call(get, "/v1/admin/me", nil, http.StatusOK)

	var trail struct {
		Records []audit.Record `json:"records"`
	}
	auditor.call(get, "/v1/admin/audit?official=admin:root&limit=50", nil, http.StatusOK).decode(&trail)
	seen := map[string]string{}
	for _, r := range trail.Records {
		if strings.HasPrefix(r.Act, "staff.") {
			seen[r.Act+"/"+r.Target] = r.Status
		}
	}
	for _, want := range []string{"staff.disable/" + name, "staff.enable/" + name, "staff.role/" + name, "staff.reset/" + name} {
		if seen[want] != audit.StatusDone {
			t.Errorf("audit of %s = %q (all: %v)", want, seen[want], seen)
		}
	}
	if seen["staff.disable/root"] != audit.StatusFailed {
		t.Errorf("the refused disable of root is recorded as %q", seen["staff.disable/root"])
	}
}

// fourEyesFlow: with four eyes on merges and policy changes, an officer's
// merge and a policy change become proposals (202); the proposer cannot
// approve their own; a second official approves once (the act runs under
// them, naming the proposal) or rejects; both steps are in the trail.
func fourEyesFlow(t *testing.T, w *world, root, officer, auditor *caller) {
	t.Helper()
	const post, get = http.MethodPost, http.MethodGet
	w.trail.SetFourEyes(audit.FourEyes{Store: w.db, Acts: map[string]bool{audit.FourEyesMerge: true, audit.FourEyesPolicy: true}})
	defer w.trail.SetFourEyes(audit.FourEyes{})

	var a, b mapping.CreatedIdentity
	officer.call(post, "/v1/admin/eids", map[string]any{"documents": []mapping.Input{{Type: "passport", Number: "E23456789", Country: "CHN"}}}, http.StatusCreated).decode(&a)
	officer.call(post, "/v1/admin/eids", map[string]any{"documents": []mapping.Input{{Type: "passport", Number: "E34567890", Country: "CHN"}}}, http.StatusCreated).decode(&b)
	var held struct {
		Proposal audit.Proposal `json:"proposal"`
	}
	officer.call(post, "/v1/admin/eids/"+esc(a.EID)+"/merge", map[string]string{"into": b.EID, "reason": "duplicate"}, http.StatusAccepted).decode(&held)
	p := held.Proposal
	if p.Status != audit.ProposalPending {
		t.Fatalf("p.Status != audit.ProposalPending: proposal = %+v", p)
	}
	if p.ProposedBy != "admin:officer" {
		t.Fatalf("p.ProposedBy != \"admin:officer\": proposal = %+v", p)
	}
	if p.Act != audit.ActEIDMerge {
		t.Fatalf("p.Act != audit.ActEIDMerge: proposal = %+v", p)
	}
	var ident struct {
		Identity struct {
			Status string `json:"status"`
		} `json:"eid"`
	}
	officer.call(get, "/v1/admin/eids/"+esc(a.EID), nil, http.StatusOK).decode(&ident)
	if ident.Identity.Status != "active" {
		t.Errorf("eID %s is %s before the approval", a.EID, ident.Identity.Status)
	}
	if e := officer.call(post, "/v1/admin/proposals/"+p.ID+"/approve", map[string]string{}, http.StatusForbidden).apiError(); e.Code != "own_proposal" {
		t.Errorf("self-approval = %+v", e)
	}
	if e := auditor.call(post, "/v1/admin/proposals/"+p.ID+"/approve", map[string]string{}, http.StatusForbidden).apiError(); e.Code != "forbidden" {
		t.Errorf("approval by an auditor = %+v", e)
	}
	var done audit.Proposal
	root.call(post, "/v1/admin/proposals/"+p.ID+"/approve", map[string]string{"note": "checked the KYC files"}, http.StatusOK).decode(&done)
	if done.Status != audit.ProposalExecuted {
		t.Fatalf("done.Status != audit.ProposalExecuted: approved = %+v", done)
	}
	if done.DecidedBy != "admin:root" {
		t.Fatalf("done.DecidedBy != \"admin:root\": approved = %+v", done)
	}
	officer.call(get, "/v1/admin/eids/"+esc(a.EID), nil, http.StatusOK).decode(&ident)
	if ident.Identity.Status != "merged" && ident.Identity.Status != "deactivated" {
		t.Errorf("eID %s is %s after the approved merge", a.EID, ident.Identity.Status)
	}
	if e := root.call(post, "/v1/admin/proposals/"+p.ID+"/approve", map[string]string{}, http.StatusConflict).apiError(); e.Code != "proposal_decided" {
		t.Errorf("second approval = %+v", e)
	}
	if e := root.call(post, "/v1/admin/proposals/prop_nope/reject", map[string]string{}, http.StatusNotFound).apiError(); e.Code != "proposal_not_found" {
		t.Errorf("unknown proposal = %+v", e)
	}

	rule := map[string]string{"kind": "p", "subject": "hr-bureau", "object": "health.*", "action": "employment", "effect": "deny"}
	root.call(post, "/v1/admin/policies/rules", rule, http.StatusAccepted).decode(&held)
	root.call(get, "/v1/admin/proposals?status=pending", nil, http.StatusOK)
	var rejected audit.Proposal
	// Deciding a policy change needs the permission to change the policy.
	if e := officer.call(post, "/v1/admin/proposals/"+held.Proposal.ID+"/reject", map[string]string{"note": "no"}, http.StatusForbidden).apiError(); e.Code != "forbidden" {
		t.Errorf("rejection by a mapping officer = %+v", e)
	}
	auditor.call(get, "/v1/admin/proposals", nil, http.StatusOK)
	root.call(post, "/v1/admin/users", map[string]string{"username": "li.second", "password": "another long one", "role": "admin"}, http.StatusCreated)
	second := w.signIn("/v1/admin/login", map[string]string{"username": "li.second", "password": "another long one"})
	second.call(post, "/v1/admin/proposals/"+held.Proposal.ID+"/reject", map[string]string{"note": "not agreed"}, http.StatusOK).decode(&rejected)
	if rejected.Status != audit.ProposalRejected {
		t.Errorf("rejected = %+v", rejected)
	}

	var trail struct {
		Records []audit.Record `json:"records"`
	}
	auditor.call(get, "/v1/admin/audit?proposal="+p.ID, nil, http.StatusOK).decode(&trail)
	acts := map[string]string{}
	for _, r := range trail.Records {
		acts[r.Act] = r.Official
	}
	if acts[audit.ActProposalCreate] != "admin:officer" || acts[audit.ActProposalApprove] != "admin:root" || acts[audit.ActEIDMerge] != "admin:root" {
		t.Errorf("the proposal's trail = %v, want proposed by the officer, approved and executed by root", acts)
	}
}
