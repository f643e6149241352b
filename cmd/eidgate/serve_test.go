package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/demo"
)

// `serve --demo` with its output going to a pipe or file (as under a
// service manager, whose output is logged) keeps the demo's secrets in
// demo.json (0600) alone: not in the output, not in the log, on the first
// start and on the next.
func TestServeDemoKeepsSecretsOutOfOutputAndLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, logs lockedBuffer
	serve := func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "debug"}, &out, &logs)
		}()
		deadline := time.Now().Add(3 * time.Minute)
		for !strings.Contains(out.String(), "demo consortium loaded") {
			select {
			case code := <-done:
				cancel()
				t.Fatalf("serve exited %d before loading the demo:\n%s\n%s", code, out.String(), logs.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("the demo did not load:\n%s", out.String())
			}
		}
		cancel()
		<-done
	}
	serve()
	serve() // the second start reads demo.json

	path := filepath.Join(dir, demo.InfoFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", demo.InfoFile, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var info demo.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	secrets := []string{info.Admin.Password}
	for _, u := range info.Staff {
		secrets = append(secrets, u.Password)
	}
	for _, d := range info.Departments {
		secrets = append(secrets, d.APIKey)
	}
	for _, r := range info.Residents {
		secrets = append(secrets, r.DocNumber, r.Password)
	}
	if len(secrets) < 5 || strings.Contains(strings.Join(secrets, "\x00"), "\x00\x00") {
		t.Fatalf("demo.json lacks the secrets the test looks for: %s", raw)
	}
	for name, text := range map[string]string{"output": out.String(), "log": logs.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds a demo secret (%.6s…)", name, s)
			}
		}
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("the output does not name %s:\n%s", path, out.String())
	}
	if info.Database != "SQLite in the data dir" || info.Ledger != "devnet" {
		t.Errorf("demo.json records the demo on %q, ledger %q", info.Database, info.Ledger)
	}

	// demo info repeats the banner: without the secrets to a pipe, with
	// them when asked.
	code, stdout, stderr := runCLI(t, "demo", "info", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, path) || !strings.Contains(stdout, "loaded on:        SQLite in the data dir, ledger devnet") ||
		!strings.Contains(stdout, "/admin") || strings.Contains(stdout, info.Admin.Password) {
		t.Errorf("demo info: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "demo", "info", "--data-dir", dir, "--show-secrets")
	if code != 0 || !strings.Contains(stdout, "password "+info.Admin.Password) || !strings.Contains(stdout, info.Departments[0].APIKey) {
		t.Errorf("demo info --show-secrets: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "demo", "info", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(stderr, "(no_demo)") {
		t.Errorf("demo info on a data dir without a demo: exit %d %s", code, stderr)
	}
	// Restarted on another database, the demo would open empty and name
	// credentials that fail: serve says where the demo is instead, and
	// opens nothing.
	code, stdout, stderr = runCLI(t, "serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dir, "--db", "postgres://demo:pw@127.0.0.1:1/elsewhere")
	if code != 2 || !strings.Contains(stderr, "was loaded on SQLite in the data dir (ledger devnet), not on postgres://127.0.0.1:1/elsewhere") ||
		!strings.Contains(stderr, "leave out --db") || !strings.Contains(stderr, "(demo_elsewhere)") || strings.Contains(stderr, "pw@") || stdout != "" {
		t.Errorf("serve --demo on another database: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"eidgate.db", "eidgate.db-wal"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want owner-only", f, st.Mode().Perm())
		}
	}
}

// At a terminal the banner shows the credentials, so a person trying the
// demo can sign in at once.
func TestPrintDemoShowsSecretsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	d := &demo.Info{GatewayURL: "http://127.0.0.1:1", Admin: demo.StaffLogin{Username: "admin", Password: "admin-secret"},
		Departments: []demo.DepartmentKey{{ID: "hrss", APIKey: "key-secret"}},
		Residents:   []demo.ResidentLogin{{DocType: "cn-resident", DocNumber: "110105194912310021", Password: "resident-secret"}}}
	for _, secrets := range []bool{true, false} {
		var b bytes.Buffer
		printDemo(&b, d, "/data/demo.json", "http://localhost:1", secrets)
		for _, s := range []string{"admin-secret", "key-secret", "110105194912310021", "resident-secret"} {
			if strings.Contains(b.String(), s) != secrets {
				t.Errorf("secrets=%v: output holds %q: %v\n%s", secrets, s, !secrets, b.String())
			}
		}
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer counts as a terminal")
	}
}

// In a terminal the log is terse: a request is one short line; elsewhere
// (or with --log-format json) it is JSON for a collector.
func TestLogFormats(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	h := &terseHandler{w: &b, level: slog.LevelInfo, mu: &sync.Mutex{}}
	at := time.Date(2026, 12, 7, 9, 30, 5, 0, time.UTC)
	req := slog.NewRecord(at, slog.LevelInfo, "http request", 0)
	req.Add("request_id", "r-1", "method", "GET", "route", "/portal/login", "status", 200, "ms", 1.234)
	warn := slog.NewRecord(at, slog.LevelWarn, "http request", 0)
	warn.Add("request_id", "r-2", "method", "POST", "route", "/v1/resolve", "status", 503, "ms", 12.0, "department", "hrss", "code", "ledger_unavailable")
	other := slog.NewRecord(at, slog.LevelInfo, "import finished", 0)
	other.Add("rows", 3, "file", "people list.csv")
	for _, r := range []slog.Record{req, warn, other} {
		if err := h.WithAttrs(nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	want := "09:30:05 GET /portal/login 200 1.2ms\n" +
		"09:30:05 WARN POST /v1/resolve 503 12.0ms department=hrss code=ledger_unavailable\n" +
		"09:30:05 import finished rows=3 file=\"people list.csv\"\n"
	if got := strings.ReplaceAll(b.String(), at.Local().Format("15:04:05"), "09:30:05"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Not a terminal: JSON, unless text is asked for.
	var j bytes.Buffer
	newLogger(&j, "info", logFormatAuto).Info("http request", "route", "/healthz")
	if !json.Valid(j.Bytes()) {
		t.Fatalf("auto to a buffer: %s", j.String())
	}
	j.Reset()
	newLogger(&j, "info", logFormatText).Info("http request", "method", "GET", "route", "/healthz", "status", 200, "ms", 0.5)
	if !strings.HasSuffix(j.String(), " GET /healthz 200 0.5ms\n") {
		t.Fatalf("text: %q", j.String())
	}
}
