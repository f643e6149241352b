package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConfigValidate(t *testing.T) {
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
	file := writeTemp(t, "eidgate.yaml", "listen: 127.0.0.1:9000\ndata_dir: /from/file\nlog_level: debug\nanchor_lag_bound: 45s\n")
	env := map[string]string{"EIDGATE_DATA_DIR": "/from/env", "EIDGATE_LOG_LEVEL": "warn"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	flags := DefaultConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags.BindFlags(fs)
	if err := fs.Parse([]string{"--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(file, flags, fs, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.DataDir != "/from/env" || cfg.LogLevel != "error" || cfg.AnchorLagBound != 45*time.Second || cfg.Ledger != "devnet" {
		t.Fatalf("merged config %+v: want file < env < flags over defaults", cfg)
	}
}

func TestConfigFileRefusesUnknownKeys(t *testing.T) {
	file := writeTemp(t, "eidgate.yaml", "listen: 127.0.0.1:9000\nlisen: typo\n")
	c := DefaultConfig()
	if err := c.LoadConfigFile(file); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key accepted: %v", err)
	}
}

func TestConfigBadEnv(t *testing.T) {
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
