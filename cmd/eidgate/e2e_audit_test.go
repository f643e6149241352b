package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/audit"
)

// TestAuditTrailEndToEnd: acts from the command line and from the admin API
// are audit records naming their official; the gateway anchors them on the
// embedded ledger as audit batches, each proves against the anchor the
// chaincode holds, the command line lists and exports them, and a
// resident sees the acts on their own eID.
func TestAuditTrailEndToEnd(t *testing.T) {
	t.Parallel()
	data, info := loadedDataDir(t)
	if code, _, errOut := runTool(t, "Correct-horse-9\n", "admin", "create-user", "carol", "--role", "auditor", "--data-dir", data); code != 0 {
		t.Fatalf("create-user: %d %s", code, errOut)
	}
	if code, _, errOut := runTool(t, "", "admin", "rotate-ticket-key", "--data-dir", data); code != 0 {
		t.Fatalf("rotate-ticket-key: %d %s", code, errOut)
	}
	code, out, errOut := runTool(t, "", "admin", "audit", "export", "--format", "jsonl", "--data-dir", data)
	if code != 0 {
		t.Fatalf("audit export: %d %s", code, errOut)
	}
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 || recs[0].Act != audit.ActTicketKeyRotate || recs[1].Act != audit.ActStaffCreate || recs[1].Target != "carol" ||
		!strings.HasPrefix(recs[1].Official, "cli:") || recs[1].Status != audit.StatusDone {
		t.Fatalf("CLI acts = %+v", recs)
	}

	// Staff management from the host.
	for _, args := range [][]string{{"role", "carol", "mapping-officer"}, {"disable", "carol"}, {"enable", "carol"}} {
		if code, _, errOut := runTool(t, "", append(append([]string{"admin", "users"}, args...), "--data-dir", data)...); code != 0 {
			t.Fatalf("admin users %v: %d %s", args, code, errOut)
		}
	}
	code, out, errOut = runTool(t, "", "admin", "users", "reset", "carol", "--data-dir", data)
	if code != 0 {
		t.Fatalf("code != 0: admin users reset: %d %q %s", code, out, errOut)
	}
	if len(strings.TrimSpace(out)) < 16 {
		t.Fatalf("len(strings.TrimSpace(out)) < 16: admin users reset: %d %q %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "shown only now") {
		t.Fatalf("!strings.Contains(errOut, \"shown only now\"): admin users reset: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := runTool(t, "", "admin", "users", "disable", info.Admin.Username, "--data-dir", data); code == 0 || !strings.Contains(errOut, "last enabled administrator") {
		t.Fatalf("disabling the last administrator: %d %s", code, errOut)
	}

	s := startDemo(t, func(c *Config) { c.DataDir = data })
	adm := s.admin()
	eid := info.Residents[0].EID
	added := s.do(adm, http.MethodPost, "/v1/admin/eids/"+url.PathEscape(eid)+"/documents",
		map[string]any{"document": map[string]any{"type": "passport", "number": "G12345678", "country": "CHN"}})
	if added.status != http.StatusCreated {
		t.Fatalf("add document: %d %v", added.status, added.body)
	}
	dept := info.Departments[0].ID
	issued := s.do(adm, http.MethodPost, "/v1/admin/departments/"+dept+"/apikeys", map[string]string{"name": "audit e2e"})
	if issued.status != http.StatusCreated {
		t.Fatalf("issue key: %d %v", issued.status, issued.body)
	}

	// The gateway's audit anchorer puts every record on the ledger.
	var list struct {
		Records []audit.Record `json:"records"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.do(adm, http.MethodGet, "/v1/admin/audit", nil)
		raw, _ := json.Marshal(r.body)
		_ = json.Unmarshal(raw, &list)
		anchored := len(list.Records) >= 4
		for _, rec := range list.Records {
			anchored = anchored && rec.AnchorTxID != ""
		}
		if anchored {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit records not anchored within 30 s: %+v", list.Records)
		}
		time.Sleep(100 * time.Millisecond)
	}
	byAct := map[string]audit.Record{}
	for _, r := range list.Records {
		byAct[r.Act] = r
	}
	if r := byAct[audit.ActAPIKeyIssue]; r.Official != "admin:"+info.Admin.Username || r.Target != dept || strings.Contains(string(r.After), "egk_") {
		t.Errorf("API key record = %+v", r)
	}
	for _, act := range []string{audit.ActStaffCreate, audit.ActTicketKeyRotate, audit.ActDocumentAdd, audit.ActAPIKeyIssue,
		audit.ActStaffRole, audit.ActStaffDisable, audit.ActStaffEnable, audit.ActStaffReset} {
		r, ok := byAct[act]
		if !ok {
			t.Errorf("no %s record", act)
			continue
		}
		p := s.do(adm, http.MethodGet, "/v1/admin/audit/"+r.ID+"/proof", nil)
		if p.status != http.StatusOK || p.body["verified"] != true || p.str("anchor", "kind") != "audit" {
			t.Errorf("proof of %s: %d %v", act, p.status, p.body)
		}
	}

	me := s.resident(0)
	mine := s.do(me, http.MethodGet, "/v1/me/audit", nil)
	acts, _ := mine.body["acts"].([]any)
	if len(acts) != 1 || acts[0].(map[string]any)["act"] != audit.ActDocumentAdd ||
		!strings.HasPrefix(acts[0].(map[string]any)["official_ref"].(string), "official-") {
		t.Errorf("resident's acts = %v", mine.body)
	}
}
