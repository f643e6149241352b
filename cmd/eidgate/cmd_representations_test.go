package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// TestRepresentationsFromTheCommandLine: an officer at the host registers a
// parent's relation (the date of birth read from the ward's resident ID),
// lists it by ward and by guardian, and ends it; a relation to oneself
// exits non-zero and changes nothing; both acts are audit records.
func TestRepresentationsFromTheCommandLine(t *testing.T) {
	t.Parallel()
	data, info := loadedDataDir(t)
	ward, guardian := info.Residents[0], info.Residents[1]
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runTool(t, "", append(append([]string{"admin", "representations"}, args...), "--data-dir", data)...)
	}
	// Every demo resident is an adult: a parent's relation is refused by
	// the birth date read from the ID number, and so is one to oneself.
	if code, _, errOut := run("register", "--ward", ward.EID, "--guardian", guardian.EID, "--evidence-reference", "N123456789",
		"--ward-id-number", ward.DocNumber); code == 0 || !strings.Contains(errOut, "18") {
		t.Fatalf("parent of an adult: %d %s", code, errOut)
	}
	if code, _, errOut := run("register", "--ward", ward.EID, "--guardian", ward.EID, "--kind", "guardian", "--evidence-kind", "court_order",
		"--evidence-reference", "C2026-77", "--valid-until", "2030-01-01T00:00:00Z"); code == 0 || !strings.Contains(errOut, "own guardian") {
		t.Fatalf("oneself: %d %s", code, errOut)
	}
	code, out, errOut := run("register", "--ward", ward.EID, "--guardian", guardian.EID, "--kind", "guardian", "--evidence-kind", "court_order",
		"--evidence-reference", "C2026-77", "--valid-until", "2030-01-01T00:00:00Z")
	var rep model.Representation
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Guardian != guardian.EID || strings.Contains(out, "C2026-77") ||
		!strings.HasPrefix(rep.RegisteredBy, "cli:") {
		t.Fatalf("register: %d %s %s", code, out, errOut)
	}
	for _, by := range [][]string{{"--ward", ward.EID}, {"--guardian", guardian.EID}} {
		code, out, errOut := run(append([]string{"list"}, by...)...)
		var list []routing.RelationView
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != rep.ID || list[0].State != routing.RelationValid {
			t.Fatalf("list %v: %d %s %s", by, code, out, errOut)
		}
	}
	code, out, errOut = run("end", rep.ID, "--reason", "court order revoked")
	if code != 0 || !strings.Contains(out, `"status": "ended"`) {
		t.Fatalf("end: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runTool(t, "", "admin", "audit", "export", "--format", "jsonl", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "representation.register") || !strings.Contains(out, "representation.end") || strings.Contains(out, "C2026-77") {
		t.Fatalf("audit export: %d %s %s", code, out, errOut)
	}
}
