package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/store/storetest"
)

// keySettings creates the keys replicas share with `eidgate admin
// init-keys` and returns the settings it printed (NAME=path).
func keySettings(t *testing.T, dir string) map[string]string {
	t.Helper()
	code, out, errOut := runTool(t, "", "admin", "init-keys", "--dir", dir)
	if code != 0 {
		t.Fatalf("init-keys: %d %s %s", code, out, errOut)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, path, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("init-keys printed %q", sc.Text())
		}
		env[name] = path
	}
	if len(env) != len(sharedKeys) {
		t.Fatalf("init-keys printed %v, want %d settings", env, len(sharedKeys))
	}
	return env
}

// TestReplicasShareKeysThroughSettings: two replicas configured only by
// the documented key settings (the EIDGATE_*_FILE variables, applied as a
// deployment's environment is) — the files mounted as a Kubernetes secret
// volume mounts them, group-readable and owned by another user — publish
// the same JWKS; a ticket issued by one is accepted exactly once at the
// other, and an official appears to the resident under one pseudonym
// whichever replica served the resolve. Neither replica creates a key of
// its own.
func TestReplicasShareKeysThroughSettings(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	redisURL := testenv.Redis(t)
	exclusiveRedis(t)
	e2etest.FlushRedisPrefix(t, redisURL, cache.DefaultPrefix)
	env := keySettings(t, t.TempDir())
	if os.Geteuid() == 0 {
		for _, path := range env {
			if err := os.Chown(path, 65532, 65532); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o440); err != nil {
				t.Fatal(err)
			}
		}
	}
	withKeys := func(c *Config) {
		c.DB, c.Redis = pg.DSN, redisURL
		if err := c.ApplyEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }); err != nil {
			t.Fatal(err)
		}
	}
	a := startHost(t, withKeys)
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel, cfg.Replica = "127.0.0.1:0", t.TempDir(), "warn", "replica-b"
	cfg.Ledger, cfg.FabricProfile, cfg.FabricAdminProfile = "fabric", hostProfile(a, devnet.AgentName), hostProfile(a, devnet.AdminName)
	withKeys(&cfg)
	b := newTestMain(t, cfg)
	for _, m := range []*Main{a, b} {
		for _, k := range sharedKeys {
			if _, err := os.Stat(filepath.Join(m.Config.DataDir, "keys", k.file)); !os.IsNotExist(err) {
				t.Errorf("%s made its own %s (%v)", m.Config.Replica, k.what, err)
			}
		}
	}
	sa, sb := newStack(t, a, a.Demo(), nil), newStack(t, b, a.Demo(), nil)
	if ja, jb := sa.do(caller{}, http.MethodGet, "/.well-known/jwks.json", nil), sb.do(caller{}, http.MethodGet, "/.well-known/jwks.json", nil); mustJSON(ja.body) != mustJSON(jb.body) {
		t.Fatalf("JWKS differ:\nA %v\nB %v", ja.body, jb.body)
	}

	grantDegree(t, sa)
	waitStatus(t, sb, "/readyz", http.StatusOK, time.Minute)
	req := resolveBody(a.Demo().Residents[0], "edu.degree", "employment")
	ra := sa.do(sa.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	rb := sb.do(sb.dept("hrss"), http.MethodPost, "/v1/routes/resolve", req)
	if ra.status != http.StatusOK || rb.status != http.StatusOK {
		t.Fatalf("resolves: A %d %v, B %d %v", ra.status, ra.body, rb.status, rb.body)
	}
	// The provider department asks about A's ticket at B, then at A.
	edu := sa.dept("edu-bureau")
	intro := func(s *stack, token string) bool {
		r := s.do(edu, http.MethodPost, "/v1/tickets/introspect", map[string]any{"token": token})
		if r.status != http.StatusOK {
			t.Fatalf("introspect: %d %v", r.status, r.body)
		}
		active, _ := r.body["active"].(bool)
		return active
	}
	if !intro(sb, ra.str("ticket")) {
		t.Fatal("B refused a ticket A issued")
	}
	if intro(sa, ra.str("ticket")) {
		t.Fatal("A accepted its ticket a second time after B took it")
	}
	if !intro(sa, rb.str("ticket")) || intro(sb, rb.str("ticket")) {
		t.Fatal("B's ticket was not accepted exactly once at A")
	}

	// The resident's access log holds both resolves (A's and B's) with the
	// same pseudonym for the one official.
	r := sb.do(sb.resident(0), http.MethodGet, "/v1/me/access", nil)
	list, _ := r.body["access"].([]any)
	seen := map[string]bool{}
	for _, e := range list {
		rec, _ := e.(map[string]any)
		if rec["data_type"] == "edu.degree" {
			official, _ := rec["official"].(string)
			seen[official] = true
		}
	}
	if r.status != http.StatusOK || len(list) < 2 || len(seen) != 1 {
		t.Fatalf("the resident's access log: %d, officials %v in %v", r.status, seen, r.body)
	}
	if seen["clerk-hrss"] {
		t.Fatal("the resident sees the official's own name")
	}
}

// TestKeySettingsAreChecked: a key setting naming a missing file stops the
// gateway with the setting and the way to create the keys; a key file the
// gateway owns that its group may read is refused.
func TestKeySettingsAreChecked(t *testing.T) {
	t.Parallel()
	env := keySettings(t, t.TempDir())
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.TicketKeysFile = filepath.Join(t.TempDir(), "missing.json")
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--ticket-keys-file") || !strings.Contains(err.Error(), "eidgate admin init-keys") {
		t.Fatalf("missing ticket key file: %v", err)
	}

	cfg.TicketKeysFile = env["EIDGATE_TICKET_KEYS_FILE"]
	cfg.PseudonymKeyFile = env["EIDGATE_PSEUDONYM_KEY_FILE"]
	if err := os.Chmod(cfg.PseudonymKeyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg)
	err = m.Open(t.Context())
	if err == nil {
		_ = m.Close()
		t.Fatal("a group-readable pseudonym key file of the gateway's own was accepted")
	}
	if !strings.Contains(err.Error(), "pseudonym") || !strings.Contains(err.Error(), cfg.PseudonymKeyFile) {
		t.Fatalf("group-readable key file: %v", err)
	}
}
