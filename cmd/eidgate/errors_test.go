package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

// TestDescribeError: every error reaches the person as a sentence with its
// code and the exit code of the table, never with an operation name.
func TestDescribeError(t *testing.T) {
	t.Parallel()
	weak := &routing.Error{Kind: routing.KindInvalid, Code: accounts.CodeWeakPassword, Op: "accounts.CreateAdmin", Field: "password",
		Message: "the password must have at least 10 characters"}
	exists := &routing.Error{Kind: routing.KindConflict, Code: accounts.CodeAdminExists, Op: "store.CreateAdmin",
		Message: "an administrator with this user name exists"}
	down := routing.Unavailable("store.Open", "database_unavailable", "the database is not available", errors.New("dial tcp 127.0.0.1:5432: connection refused"))
	notFound := &routing.Error{Kind: routing.KindNotFound, Code: "department_not_found", Op: "ledger.GetDepartment", Message: "no such department"}
	badField := routing.Invalid("routing.Verify", "salt", "must be 16 to 64 bytes in base64url").WithCode("invalid_salt")
	internal := routing.Wrap("accounts.ListAPIKeys", routing.Wrap("store.ListAPIKeys", errors.New("disk I/O error")))
	_, statErr := os.Stat(filepath.Join(t.TempDir(), "people.csv"))
	for _, tc := range []struct {
		name string
		err  error
		want string
		code int
	}{
		{"refused", weak, "the password must have at least 10 characters (weak_password)", 1},
		{"field named", badField, "must be 16 to 64 bytes in base64url [salt] (invalid_salt)", 1},
		{"conflict", exists, "an administrator with this user name exists (admin_exists)", 1},
		{"not found", notFound, "no such department (department_not_found)", 1},
		{"unavailable, wrapped by a start-up step", fmt.Errorf("database: %w", down),
			"database: the database is not available: dial tcp 127.0.0.1:5432: connection refused (database_unavailable)", 3},
		{"internal keeps its cause", internal, "internal error: disk I/O error (internal)", 1},
		{"usage", usageError("--role %q: want admin, mapping-officer or auditor", "boss"),
			`--role "boss": want admin, mapping-officer or auditor (usage)`, 2},
		{"failure", failure("key_in_use", "blinding key v1 is still in use"), "blinding key v1 is still in use (key_in_use)", 1},
		{"missing file", fileError(statErr), "there is no file " + filepath.Join(filepath.Dir(statErr.(*fs.PathError).Path), "people.csv") + " (file_not_found)", 2},
		{"plain usage", &exitError{code: 2, err: errors.New("give the password on standard input")}, "give the password on standard input (usage)", 2},
		{"silent", &exitError{code: 1}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, code := describeError(tc.err)
			if text != tc.want || code != tc.code {
				t.Fatalf("got  %q exit %d\nwant %q exit %d", text, code, tc.want, tc.code)
			}
			for _, op := range []string{"accounts.", "store.", "ledger."} {
				if strings.Contains(text, op) {
					t.Fatalf("%q names an operation", text)
				}
			}
		})
	}
}

// TestUsageErrorsExit2: every usage mistake, in every command, exits 2
// with the code "usage" and a pointer to the help.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-command"}, `Error: eidgate has no command "no-such-command"; see eidgate --help (usage)`},
		{[]string{"verison"}, `Error: eidgate has no command "verison" (did you mean version?); see eidgate --help (usage)`},
		{[]string{"admin", "no-such"}, `Error: eidgate admin has no command "no-such"; see eidgate admin --help (usage)`},
		{[]string{"verify"}, `Error: accepts 1 arg(s), received 0; see eidgate verify --help (usage)`},
		{[]string{"import"}, `Error: accepts 1 arg(s), received 0; see eidgate import --help (usage)`},
		{[]string{"import", "x.csv", "--no-such-flag"}, `Error: unknown flag: --no-such-flag; see eidgate import --help (usage)`},
		{[]string{"admin", "create-user", "carol", "--role", "boss"}, `Error: --role "boss": want admin, mapping-officer or auditor (usage)`},
		{[]string{"admin", "keys", "list", "extra"}, `Error: unknown command "extra" for "eidgate admin keys list"; see eidgate admin keys list --help (usage)`},
		{[]string{"import", "/no/such/people.csv"}, `Error: there is no file /no/such/people.csv (file_not_found)`},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != exitUsage || stdout != "" || strings.TrimSpace(stderr) != tc.want {
			t.Errorf("%v: exit %d, stdout %q\nstderr %q\nwant   %q", tc.args, code, stdout, strings.TrimSpace(stderr), tc.want)
		}
	}
	// A command group without a subcommand shows its help.
	if code, stdout, _ := runCLI(t, "admin"); code != 0 || !strings.Contains(stdout, "keys") {
		t.Errorf("eidgate admin: exit %d\n%s", code, stdout)
	}
}

// Not parallel: it sets the package's Version.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/eidgate/eidgate", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0c88ef2aa1b2c3d4e5f60718293a4b5c6d7e8f90"},
			{Key: "vcs.time", Value: "2026-12-06T23:59:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "eidgate v1.4.0\ncommit  0c88ef2aa1b2c3d4e5f60718293a4b5c6d7e8f90 (2026-12-06T23:59:00Z, with uncommitted changes)\ngo      go1.26.8 linux/amd64\n"
	if got := versionText(bi, "linux/amd64"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	plain := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/eidgate/eidgate", Version: "(devel)"}}
	if got := versionText(plain, "linux/arm64"); !strings.HasPrefix(got, "eidgate (devel)\ncommit  unknown (") || !strings.HasSuffix(got, "go      go1.26.8 linux/arm64\n") {
		t.Fatalf("without VCS information:\n%s", got)
	}
	defer func(v string) { Version = v }(Version)
	Version = "2.0.0-rc1"
	if got := versionText(bi, "linux/amd64"); !strings.HasPrefix(got, "eidgate 2.0.0-rc1\n") {
		t.Fatalf("with -X main.Version:\n%s", got)
	}
}
