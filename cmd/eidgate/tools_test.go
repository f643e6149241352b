package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/routing/ticket"
)

// gb11643 appends the check character to a 17-digit body.
func gb11643(body string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * w[i]
	}
	return body + string("10X98765432"[sum%11])
}

func runTool(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetIn(strings.NewReader(stdin))
	code := func() int {
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errb)
		return exitCode(root.ExecuteContext(context.Background()), &errb)
	}()
	return code, out.String(), errb.String()
}

// loadedDataDir is a data dir with the demo loaded and the gateway stopped.
func loadedDataDir(t *testing.T) (string, *demo.Info) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), true, "warn"
	m := NewMain(cfg)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	info := *m.Demo()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg.DataDir, &info
}

// plainRecord is a demo record the provider serves as a record (no
// credential was issued for it).
func plainRecord(t *testing.T, recs []demo.StoredRecord) demo.StoredRecord {
	t.Helper()
	for _, r := range recs {
		if r.Credential == "" {
			return r
		}
	}
	t.Fatal("every demo record has a credential")
	return demo.StoredRecord{}
}

// servedDataDir is the data dir of a gateway that ran once on the
// embedded ledger (without the demo) and stopped.
func servedDataDir(t *testing.T) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	m := NewMain(cfg)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg.DataDir
}

// TestToolsNeverCreateALedger: on a data dir that holds no ledger, and
// without --ledger fabric, the tools refuse and say what to pass; nothing
// is created.
func TestToolsNeverCreateALedger(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "data")
	csv := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(csv, []byte("type,number\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"admin", "create-user", "carol"},
		{"admin", "issue-api-key", "hrss"},
		{"admin", "rotate-blinding-key"},
		{"import", csv, "--no-progress"},
	} {
		code, out, errOut := runTool(t, "Correct-horse-9\n", append(args, "--data-dir", empty)...)
		if code != 2 || !strings.Contains(errOut, "holds no ledger") || !strings.Contains(errOut, "--ledger fabric --fabric-profile FILE") {
			t.Errorf("%v on an empty data dir: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "ledger")); !os.IsNotExist(err) {
		t.Errorf("a tool created %s/ledger: %v", empty, err)
	}
}

func TestImportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var rows []string
	for i := range 300 {
		rows = append(rows, fmt.Sprintf("cn-resident,%s,ref-%d", gb11643(fmt.Sprintf("11010519%02d%02d%02d%03d", 60+i%30, 1+i%12, 1+i%28, i)), i))
	}
	bad := "cn-resident,110105196001010010,wrong-check"
	rows = append(rows, bad, "passport,X,no-country", rows[0])
	file := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(file, []byte("type,number,ref\n"+strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := servedDataDir(t)

	code, out, errOut := runTool(t, "", "import", file, "--data-dir", data, "--dry-run", "--no-progress")
	if code != 0 || !strings.Contains(out, "rows 303") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	// A dry run writes nothing, not even the reject report: it lists the
	// rejects (masked).
	if _, err := os.Stat(file + ".rejects.csv"); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote a reject report: %v", err)
	}
	if !strings.Contains(out, "row 302: 1101**********0010 checksum:") || !strings.Contains(out, "row 304:") || strings.Contains(out, "110105196001010010") {
		t.Fatalf("dry run rejects:\n%s", out)
	}
	// A dry run lists the first rejects and counts the rest.
	many := filepath.Join(dir, "many-bad.csv")
	var bads []string
	for i := range maxListedRejects + 5 {
		bads = append(bads, fmt.Sprintf("passport,X%d,no-country", i))
	}
	if err := os.WriteFile(many, []byte(strings.Join(bads, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runTool(t, "", "import", many, "--data-dir", data, "--dry-run", "--no-progress")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("rejected %d", maxListedRejects+5)) {
		t.Fatalf("dry run of rejects only: %d %s %s", code, out, errOut)
	}
	if n := len(regexp.MustCompile(`(?m)^  row \d+: `).FindAllString(out, -1)); n != maxListedRejects {
		t.Errorf("dry run listed %d rejects, want %d:\n%s", n, maxListedRejects, out)
	}
	if !strings.Contains(out, "  … and 5 more rejected rows (--rejects FILE writes them all)\n") {
		t.Errorf("dry run does not count the unlisted rejects:\n%s", out)
	}
	code, out, errOut = runTool(t, "", "import", file, "--data-dir", data, "--no-progress")
	if code != 0 || !strings.Contains(out, "created 300, existing 0, rejected 3") || !strings.Contains(out, "rows/s") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	report, err := os.ReadFile(file + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(report), "110105196001010010") || !strings.Contains(string(report), "checksum") || !strings.Contains(string(report), "duplicate") {
		t.Fatalf("reject report:\n%s", report)
	}
	if strings.Contains(out+errOut, "110105196001010010") {
		t.Fatal("a full document number was printed")
	}
	// The same file again creates nothing, and says when it was imported,
	// with the time zone.
	code, out, _ = runTool(t, "", "import", file, "--data-dir", data, "--no-progress")
	if code != 0 || !regexp.MustCompile(`imported before \(finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+\-0-9]+\)`).MatchString(out) {
		t.Fatalf("rerun: %d %s", code, out)
	}
	// A header of other column names is skipped ("idcard" says the type);
	// the bar ends where the summary does, at the same rate.
	header := filepath.Join(dir, "staff.csv")
	var staff []string
	for i := range 5 {
		staff = append(staff, fmt.Sprintf("Person %d,%s", i, gb11643(fmt.Sprintf("3101151975%02d01%03d", 1+i, i))))
	}
	if err := os.WriteFile(header, []byte("name,idcard\n"+strings.Join(staff, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runTool(t, "", "import", header, "--data-dir", data)
	if code != 0 || !strings.Contains(out, "rows 5: created 5, existing 0, rejected 0") {
		t.Fatalf("import with a header: %d %s %s", code, out, errOut)
	}
	rate := regexp.MustCompile(`\n  (\d+ rows/s), `).FindStringSubmatch(out)
	if rate == nil || !strings.Contains(errOut, rate[1]) || !strings.Contains(errOut, "5/5") {
		t.Fatalf("bar and summary disagree:\nbar %q\nsummary %q", errOut, out)
	}
	// An empty file, or one of a header alone, warns; a missing one says so.
	empty := filepath.Join(dir, "empty.csv")
	onlyHeader := filepath.Join(dir, "header.csv")
	_ = os.WriteFile(empty, nil, 0o600)
	_ = os.WriteFile(onlyHeader, []byte("type,number\n"), 0o600)
	if code, out, errOut := runTool(t, "", "import", empty, "--data-dir", data, "--no-progress"); code != 0 || out != "" || !strings.Contains(errOut, "Warning: "+empty+" is empty; nothing to import") {
		t.Fatalf("empty file: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runTool(t, "", "import", onlyHeader, "--data-dir", data, "--no-progress"); code != 0 || !strings.Contains(errOut, "Warning: "+onlyHeader+" holds no rows") {
		t.Fatalf("header-only file: %d %q %q", code, out, errOut)
	}
	// A file with some rows already mapped: those count as existing.
	again := filepath.Join(dir, "again.jsonl")
	var lines []string
	for _, r := range rows[:5] {
		f := strings.Split(r, ",")
		lines = append(lines, fmt.Sprintf(`{"type":%q,"number":%q}`, f[0], f[1]))
	}
	lines = append(lines, fmt.Sprintf(`{"type":"cn-resident","number":%q}`, gb11643("31011519800101001")))
	if err := os.WriteFile(again, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runTool(t, "", "import", again, "--data-dir", data, "--no-progress")
	if code != 0 || !strings.Contains(out, "created 1, existing 5, rejected 0") {
		t.Fatalf("overlapping import: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runTool(t, "", "import", filepath.Join(dir, "missing.csv"), "--data-dir", data); code != 2 ||
		errOut != "Error: there is no file "+filepath.Join(dir, "missing.csv")+" (file_not_found)\n" {
		t.Fatalf("missing file: exit %d %q", code, errOut)
	}
}

func TestVerifyAndAdminCommands(t *testing.T) {
	t.Parallel()
	data, info := loadedDataDir(t)
	recs, err := demo.LoadRecords(data)
	if err != nil {
		t.Fatal(err)
	}
	rec := plainRecord(t, recs)
	env := map[string]any{"eid": rec.EID, "data_type": rec.DataType, "provider": rec.Provider,
		"version": rec.Version, "salt": rec.Salt, "record": rec.Record}
	file := filepath.Join(t.TempDir(), "record.json")
	write := func() {
		b, _ := json.Marshal(env)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if code, out, errOut := runTool(t, "", "verify", file, "--data-dir", data); code != 0 || !strings.Contains(out, `"valid": true`) {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	env["salt"] = strings.Repeat("A", 43)
	write()
	if code, out, _ := runTool(t, "", "verify", file, "--data-dir", data); code != 1 || !strings.Contains(out, `"digest_matches": false`) {
		t.Fatalf("verify of a wrong salt: %d %s", code, out)
	}
	if code, _, _ := runTool(t, "", "verify", "-", "--data-dir", data); code != 2 {
		t.Fatalf("verify of nothing: exit %d", code)
	}
	if code, _, errOut := runTool(t, "", "verify", "--data-dir", data); code != 2 || !strings.Contains(errOut, "(usage)") {
		t.Fatalf("verify without a file: exit %d %s", code, errOut)
	}
	// The demo's own list of records verifies: the records against their
	// route entries, the credentials issued for some against their issuer.
	code, out, errOut := runTool(t, "", "verify", filepath.Join(data, demo.RecordsFile), "--data-dir", data)
	var verdicts []recordVerdict
	if code != 0 || json.Unmarshal([]byte(out), &verdicts) != nil || len(verdicts) != len(recs) {
		t.Fatalf("verify %s: %d %s %s", demo.RecordsFile, code, out, errOut)
	}
	kinds := map[bool]int{}
	for _, v := range verdicts {
		if !v.Valid {
			t.Fatalf("%s: %+v not valid", demo.RecordsFile, v)
		}
		kinds[v.Credential != nil]++
	}
	if kinds[true] == 0 || kinds[false] == 0 {
		t.Fatalf("want records and credentials among the verdicts: %v", kinds)
	}

	if code, out, errOut := runTool(t, "Correct-horse-9\n", "admin", "create-user", "carol", "--role", "auditor", "--data-dir", data); code != 0 || !strings.Contains(out, "created carol") {
		t.Fatalf("create-user: %d %s %s", code, out, errOut)
	}
	// Refusals are sentences with their codes, without operation names.
	for _, tc := range []struct{ stdin, user, want string }{
		{"short-9\n", "dave", "Error: the password must have at least 10 characters (weak_password)\n"},
		{"Correct-horse-9\n", "carol", "Error: an administrator with this user name exists (admin_exists)\n"},
	} {
		if code, out, errOut := runTool(t, tc.stdin, "admin", "create-user", tc.user, "--data-dir", data); code != 1 || out != "" || errOut != tc.want {
			t.Fatalf("create-user %s: exit %d %q %q; want %q", tc.user, code, out, errOut, tc.want)
		}
	}
	if code, out, _ := runTool(t, "", "admin", "issue-api-key", "hrss", "--data-dir", data); code != 0 || !strings.HasPrefix(out, "egk_") {
		t.Fatalf("issue-api-key: %d %s", code, out)
	}
	code, out, errOut = runTool(t, "", "admin", "users", "list", "--data-dir", data)
	if code != 0 || !regexp.MustCompile(`(?m)^USER +ROLE +STATE +CREATED\n(.*\n)*carol +auditor +active +\d{4}-`).MatchString(out) {
		t.Fatalf("users list: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runTool(t, "", "admin", "keys", "list", "--data-dir", data, "--json")
	var keys []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var k map[string]any
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			t.Fatalf("keys list --json: %d %s %s", code, out, errOut)
		}
		keys = append(keys, k)
	}
	if code != 0 || !slices.ContainsFunc(keys, func(k map[string]any) bool { return k["department"] == "hrss" && k["name"] == "cli" }) || strings.Contains(out, "egk_") {
		t.Fatalf("keys list: %d %s", code, out)
	}
	if code, out, _ := runTool(t, "", "admin", "keys", "list", "--department", "hrss", "--data-dir", data); code != 0 ||
		!strings.HasPrefix(out, "ID ") || !strings.Contains(out, " hrss ") {
		t.Fatalf("keys list --department: %d %s", code, out)
	}

	// Rotate the blinding key: every demo document is re-blinded and the
	// residents still sign in by document.
	code, out, errOut = runTool(t, "", "admin", "rotate-blinding-key", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "added blinding key v2") || !strings.Contains(out, "0 failed") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	if code, out, _ = runTool(t, "", "admin", "rotate-blinding-key", "--data-dir", data, "--retire", "v1"); code != 0 || !strings.Contains(out, "retired blinding key v1") {
		t.Fatalf("retire: %d %s", code, out)
	}
	s := startDemo(t, func(c *Config) { c.DataDir = data })
	if s.demo.Residents[0].EID != info.Residents[0].EID {
		t.Fatal("demo reloaded")
	}
	s.resident(0) // sign-in looks the document up under v2 only now
}

// TestServeRefusesUnusableFabricProfile: a missing profile, a key that does
// not match its certificate and an unreachable peer each stop `serve` with
// a message an operator can act on.
func TestServeRefusesUnusableFabricProfile(t *testing.T) {
	t.Parallel()
	data, _ := loadedDataDir(t)
	good := filepath.Join(data, "ledger", "profiles", "platform-agent.yaml")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(good)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The admin's key with the agent's certificate.
	wrongKey := strings.Replace(string(raw), "users/agent/msp", "users/agent/msp-mixed", 1)
	mixed := filepath.Join(data, "ledger", "crypto", "platform", "users", "agent", "msp-mixed")
	if err := os.CopyFS(mixed, os.DirFS(filepath.Join(data, "ledger", "crypto", "platform", "users", "agent", "msp"))); err != nil {
		t.Fatal(err)
	}
	adminKey, err := os.ReadFile(filepath.Join(data, "ledger", "crypto", "platform", "users", "admin", "msp", "keystore", "priv_sk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "keystore", "priv_sk"), adminKey, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, profile, want string
	}{
		{"missing file", filepath.Join(dir, "nope.yaml"), "no such file"},
		{"key not matching certificate", write("mixed.yaml", wrongKey), "does not match"},
		{"unreachable peer", good, "unreachable"}, // the devnet is not running
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runTool(t, "", "serve", "--ledger", "fabric", "--fabric-profile", tc.profile,
				"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q: want a message mentioning %q", code, errOut, tc.want)
			}
			if testing.Verbose() {
				t.Log(errOut)
			}
		})
	}
}

// TestToolsReachARunningGateway: while a gateway serves the data dir (and
// holds its ledger file), a tool connects to that gateway's peer over TLS
// through the profiles it wrote, and sees what the gateway committed.
func TestToolsReachARunningGateway(t *testing.T) {
	t.Parallel()
	s := startDemo(t, func(c *Config) { c.DevnetListen = "127.0.0.1:0" })
	data := s.m.Config.DataDir
	recs, err := demo.LoadRecords(data)
	if err != nil {
		t.Fatal(err)
	}
	rec := plainRecord(t, recs)
	b, _ := json.Marshal(map[string]any{"eid": rec.EID, "data_type": rec.DataType, "provider": rec.Provider,
		"salt": rec.Salt, "record": rec.Record})
	file := filepath.Join(t.TempDir(), "record.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runTool(t, "", "verify", file, "--data-dir", data); code != 0 || !strings.Contains(out, `"valid": true`) {
		t.Fatalf("verify beside a running gateway: %d %s %s", code, out, errOut)
	}
}

// TestRotateTicketKey: the command adds a signing key; the old one stays
// published (tickets it signed still verify) and a restarted gateway signs
// with the new one.
func TestRotateTicketKey(t *testing.T) {
	t.Parallel()
	data, _ := loadedDataDir(t)
	keys := func() []string {
		t.Helper()
		kr, err := ticket.OpenKeyring(filepath.Join(data, "keys", ticket.KeyFileName), nil)
		if err != nil {
			t.Fatal(err)
		}
		var set struct {
			Keys []struct{ Kid string } `json:"keys"`
		}
		raw, _ := kr.JWKS()
		_ = json.Unmarshal(raw, &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		return append([]string{kr.ActiveKeyID()}, out...)
	}
	before := keys()
	code, out, errOut := runTool(t, "", "admin", "rotate-ticket-key", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "new ticket signing key") {
		t.Fatalf("rotate-ticket-key: %d %s %s", code, out, errOut)
	}
	after := keys()
	if after[0] == before[0] || !slices.Contains(after[1:], before[0]) || !slices.Contains(after[1:], after[0]) {
		t.Fatalf("active %s → %s, published %v: want a new active key and the old one still published", before[0], after[0], after[1:])
	}
}
