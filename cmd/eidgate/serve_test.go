package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/demo"
)

// `serve --demo` with its output going to a pipe or file (as under a
// service manager, whose output is logged) keeps the demo's secrets in
// demo.json (0600) alone: not in the output, not in the log, on the first
// start and on the next.
func TestServeDemoKeepsSecretsOutOfOutputAndLogs(t *testing.T) {
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
	for _, f := range []string{"eidgate.db", "eidgate.db-wal"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want owner-only", f, st.Mode().Perm())
		}
	}
}

// At a terminal the banner shows the credentials, so a person trying the
// demo can sign in at once.
func TestPrintDemoShowsSecretsOnlyWhenAsked(t *testing.T) {
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
