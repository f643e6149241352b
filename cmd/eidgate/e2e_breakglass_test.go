package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBreakGlassEndToEnd: an operator grants a role break-glass from the
// command line (a policy version); through the running gateway a member
// department resolves stating a legal basis, without any consent; the
// resident does not see the sealed access; the anchorer puts it on the
// embedded ledger in a batch whose on-chain anchor lists it as
// break-glass; the command line lists it for review and records the
// review.
func TestBreakGlassEndToEnd(t *testing.T) {
	t.Parallel()
	data, info := loadedDataDir(t)
	code, out, errOut := runTool(t, "", "admin", "break-glass", "set", "social-security", "edu.degree", "emergency_care", "30", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "policy version") {
		t.Fatalf("break-glass set: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := runTool(t, "", "admin", "break-glass", "set", "*", "edu.degree", "emergency_care", "30", "--data-dir", data); code == 0 || !strings.Contains(errOut, "never granted to every department") {
		t.Fatalf("grant to every department: %d %q %s", code, out, errOut)
	}
	if code, out, _ := runTool(t, "", "admin", "break-glass", "list", "--data-dir", data); code != 0 || !strings.Contains(out, "social-security") {
		t.Fatalf("break-glass list: %d %q", code, out)
	}

	s := startDemo(t, func(c *Config) { c.DataDir = data })
	adm := s.admin()
	rule := map[string]string{"kind": "p", "subject": "hrss", "object": "edu.degree", "action": "emergency_care", "effect": "allow"}
	if r := s.do(adm, http.MethodPost, "/v1/admin/policies/rules", rule); r.status != http.StatusCreated {
		t.Fatalf("allow rule: %d %v", r.status, r.body)
	}
	body := resolveBody(info.Residents[0], "edu.degree", "emergency_care")
	if r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", body); r.status != http.StatusForbidden || r.str("error", "code") != "consent_required" {
		t.Fatalf("without break-glass: %d %v", r.status, r.body)
	}
	body["break_glass"] = map[string]string{"legal_basis": "Emergency Medical Services Law art. 12; unconscious patient"}
	res := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", body)
	if res.status != http.StatusOK || res.body["break_glass"] != true || res.str("ticket") == "" {
		t.Fatalf("break-glass resolve: %d %v", res.status, res.body)
	}
	id := res.str("access_id")

	mine := s.do(s.resident(0), http.MethodGet, "/v1/me/access?limit=1000", nil)
	if mine.status != http.StatusOK || strings.Contains(strings.Join(accessIDs(mine), ","), id) {
		t.Fatalf("the resident sees the sealed access: %v", mine.body)
	}

	var batch string
	deadline := time.Now().Add(30 * time.Second)
	for batch == "" {
		l := s.do(adm, http.MethodGet, "/v1/admin/break-glass?reviewed=false", nil)
		for _, a := range l.body["access"].([]any) {
			if rec := a.(map[string]any); rec["id"] == id && rec["anchor_tx_id"] != nil {
				batch = rec["batch_id"].(string)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("break-glass access not anchored within 30 s: %v", l.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	anchor, err := s.m.agent.GetAnchor(context.Background(), batch)
	if err != nil || !slices.Contains(anchor.BreakGlass, id) {
		t.Fatalf("on-chain anchor %+v (%v) does not list %s as break-glass", anchor, err, id)
	}
	s.m.Close()

	code, out, errOut = runTool(t, "", "admin", "break-glass", "accesses", "--unreviewed", "--data-dir", data)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Emergency Medical Services Law") {
		t.Fatalf("break-glass accesses: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := runTool(t, "", "admin", "break-glass", "review", id, "call log matches", "--data-dir", data); code != 0 || !strings.Contains(out, "reviewed by cli:") {
		t.Fatalf("break-glass review: %d %q %s", code, out, errOut)
	}
	if code, out, _ := runTool(t, "", "admin", "break-glass", "accesses", "--unreviewed", "--data-dir", data); code != 0 || strings.Contains(out, id) {
		t.Fatalf("reviewed access still unreviewed: %d %q", code, out)
	}
}

// accessIDs are the ids of an access list answer.
func accessIDs(r reply) []string {
	var ids []string
	list, _ := r.body["access"].([]any)
	for _, a := range list {
		if rec, ok := a.(map[string]any); ok {
			ids = append(ids, rec["id"].(string))
		}
	}
	return ids
}
