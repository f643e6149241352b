package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/eidgate/eidgate/routing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := DefaultConfig()
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"no listen", func(c *Config) { c.Listen = "" }, "--listen must not be empty"},
		{"bad listen", func(c *Config) { c.Listen = "nonsense" }, "want HOST:PORT"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "--data-dir"},
		{"mysql", func(c *Config) { c.DB = "mysql://u:secret@h/db" }, "want a postgres:// URL"},
		{"password never printed", func(c *Config) { c.DB = "mysql://u:secret@h/db" }, "u:xxxxx@h"},
		{"bad redis", func(c *Config) { c.Redis = "localhost:6379" }, "--redis"},
		{"unknown ledger", func(c *Config) { c.Ledger = "ethereum" }, "want devnet or fabric"},
		{"fabric without profile", func(c *Config) { c.Ledger = "fabric" }, "needs --fabric-profile"},
		{"fabric missing profile", func(c *Config) { c.Ledger, c.FabricProfile = "fabric", "/no/such/profile.yaml" }, "no such file"},
		{"fabric demo", func(c *Config) {
			c.Ledger, c.FabricProfile, c.Demo = "fabric", writeTemp(t, "p.yaml", "peer: {}"), true
		}, "--demo with --ledger fabric needs --fabric-admin-profile"},
		{"devnet off loopback", func(c *Config) { c.DevnetListen = "0.0.0.0:7051" }, "loopback only"},
		{"tls half", func(c *Config) { c.TLSCert = "cert.pem" }, "go together"},
		{"lag bound", func(c *Config) { c.AnchorLagBound = time.Millisecond }, "at least 1s"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{"passkeys", func(c *Config) {
			c.WebAuthnRPID, c.WebAuthnOrigins = "eid.example.gov.cn", "https://eid.example.gov.cn, https://m.eid.example.gov.cn:8443/"
		}, ""},
		{"passkeys RP ID alone", func(c *Config) { c.WebAuthnRPID = "eid.example.gov.cn" }, "--webauthn-rp-id and --webauthn-origins go together"},
		{"passkeys on an IP address", func(c *Config) { c.WebAuthnRPID, c.WebAuthnOrigins = "10.0.0.1", "https://10.0.0.1" }, "not an IP address"},
		{"passkeys origin of another site", func(c *Config) {
			c.WebAuthnRPID, c.WebAuthnOrigins = "eid.example.gov.cn", "https://example.gov.cn"
		}, `does not belong to RP ID "eid.example.gov.cn"`},
		{"passkeys over plain HTTP", func(c *Config) {
			c.WebAuthnRPID, c.WebAuthnOrigins = "eid.example.gov.cn", "http://eid.example.gov.cn"
		}, "must be https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks a password: %v", err)
			}
		})
	}
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeTemp(t, "eidgate.yaml", "listen: 127.0.0.1:9000\ndata_dir: /from/file\nlog_level: debug\nanchor_lag_bound: 45s\n")
	env := map[string]string{"EIDGATE_DATA_DIR": "/from/env", "EIDGATE_LOG_LEVEL": "warn"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	flags := DefaultConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags.BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(flags, fs, lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"Listen (file over default)", cfg.Listen, "127.0.0.1:9000"},
		{"DataDir (env over file)", cfg.DataDir, "/from/env"},
		{"LogLevel (flag over env and file)", cfg.LogLevel, "error"},
		{"AnchorLagBound (file over default)", cfg.AnchorLagBound.String(), "45s"},
		{"Ledger (default)", cfg.Ledger, "devnet"},
		{"ConfigFile", cfg.ConfigFile, file},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
}

// TestConfigReadsEveryVariable: the configuration file and the key
// secrets come from the environment through Config like every other
// setting; a --config flag beats EIDGATE_CONFIG; the secrets are never
// printed and never read from the file.
func TestConfigReadsEveryVariable(t *testing.T) {
	t.Parallel()
	fromEnv := writeTemp(t, "env.yaml", "listen: 127.0.0.1:9001\n")
	fromFlag := writeTemp(t, "flag.yaml", "listen: 127.0.0.1:9002\n")
	env := map[string]string{
		"EIDGATE_CONFIG":        fromEnv,
		"EIDGATE_BLINDING_KEYS": "v1:c2VjcmV0LWJsaW5kaW5nLWtleQ==",
		"EIDGATE_SEALING_KEY":   "c2VjcmV0LXNlYWxpbmcta2V5",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	load := func(args ...string) Config {
		t.Helper()
		flags := DefaultConfig()
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		flags.BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(flags, fs, lookup)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := load()
	if cfg.Listen != "127.0.0.1:9001" {
		t.Errorf("Listen = %q, want the file EIDGATE_CONFIG names (127.0.0.1:9001)", cfg.Listen)
	}
	if cfg.BlindingKeys != secret(env["EIDGATE_BLINDING_KEYS"]) {
		t.Errorf("BlindingKeys not read from EIDGATE_BLINDING_KEYS")
	}
	if cfg.SealingKey != secret(env["EIDGATE_SEALING_KEY"]) {
		t.Errorf("SealingKey not read from EIDGATE_SEALING_KEY")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, "c2VjcmV0") {
			t.Errorf("Sprintf(%q, cfg) prints a secret: %s", verb, out)
		}
	}
	if got := load("--config", fromFlag).Listen; got != "127.0.0.1:9002" {
		t.Errorf("with --config: Listen = %q, want the flag's file (127.0.0.1:9002)", got)
	}
	c := DefaultConfig()
	err := c.LoadConfigFile(writeTemp(t, "secrets.yaml", "sealing_key: c2VjcmV0\n"))
	if err == nil || !strings.Contains(err.Error(), "sealing_key") {
		t.Errorf("a secret in the YAML file: LoadConfigFile = %v, want it refused as an unknown key", err)
	}
}

// TestConfigNamesEveryVariable: every variable Config reads is EIDGATE_*
// and read by one field only.
func TestConfigNamesEveryVariable(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		env := f.Tag.Get("env")
		if env == "" {
			continue
		}
		if !strings.HasPrefix(env, "EIDGATE_") {
			t.Errorf("field %s reads %s, want an EIDGATE_* name", f.Name, env)
		}
		if other, ok := seen[env]; ok {
			t.Errorf("fields %s and %s both read %s", other, f.Name, env)
		}
		seen[env] = f.Name
	}
}

// TestNoEnvironmentReadOutsideConfig: the commands and their wiring read
// the environment only through Config (loadConfig, Config.ApplyEnv), never
// with os.Getenv or os.LookupEnv calls of their own.
func TestNoEnvironmentReadOutsideConfig(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
				t.Errorf("%s: os.%s called outside Config; add a field with an env tag", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

func TestConfigFileRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	file := writeTemp(t, "eidgate.yaml", "listen: 127.0.0.1:9000\nlisen: typo\n")
	c := DefaultConfig()
	if err := c.LoadConfigFile(file); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key accepted: %v", err)
	}
}

func TestConfigBadEnv(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	err := c.ApplyEnv(func(k string) (string, bool) {
		if k == "EIDGATE_ANCHOR_LAG_BOUND" {
			return "soon", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "EIDGATE_ANCHOR_LAG_BOUND") {
		t.Fatalf("bad env accepted: %v", err)
	}
}

// TestKeysFromTheEnvironment: blinding and sealing keys given in the
// environment reach the gateway through Config, and no key file is made
// for them.
func TestKeysFromTheEnvironment(t *testing.T) {
	t.Parallel()
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	env := map[string]string{"EIDGATE_BLINDING_KEYS": "v7:" + key(7) + ",v6:" + key(6), "EIDGATE_SEALING_KEY": key(5)}
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg)
	m.Clock = routing.SystemClock{}
	if err := m.openKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.blinding.Current(); got != "v7" {
		t.Errorf("current blinding key version = %q, want v7 from EIDGATE_BLINDING_KEYS", got)
	}
	if m.sealing == nil {
		t.Error("no sealing key after EIDGATE_SEALING_KEY")
	}
	for _, file := range []string{blindingKeysFile, sealingKeyFile} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "keys", file)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keys/%s: stat = %v, want no file when the key comes from the environment", file, err)
		}
	}
}

// The gateway's soft memory limit is the setting's, none at 0, and left to
// the runtime when GOMEMLIMIT is in the environment.
func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	noEnv := func(string) (string, bool) { return "", false }
	if got := applyMemoryLimit(100, noEnv); got != 100<<20 {
		t.Errorf("limit %d after 100 MiB, want %d", got, 100<<20)
	}
	if got := applyMemoryLimit(0, noEnv); got != 100<<20 {
		t.Errorf("0 (none) changed the limit to %d", got)
	}
	withEnv := func(k string) (string, bool) { return "1GiB", k == "GOMEMLIMIT" }
	if got := applyMemoryLimit(200, withEnv); got != 100<<20 {
		t.Errorf("GOMEMLIMIT in the environment, yet the limit became %d", got)
	}
}
