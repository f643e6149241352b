package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/routing"
)

// Config is the validated configuration of a running gateway. Sources, from
// weakest to strongest: defaults, the YAML file named by --config, EIDGATE_*
// environment variables, command-line flags. Every EIDGATE_* variable the
// program reads is a field here.
type Config struct {
	// ConfigFile is the YAML file of the other settings; it names itself
	// neither in the file nor after it is read.
	ConfigFile string `yaml:"-" env:"EIDGATE_CONFIG" flag:"config" usage:"YAML configuration file"`

	Listen  string `yaml:"listen" env:"EIDGATE_LISTEN" flag:"listen" usage:"HTTP listen address"`
	DataDir string `yaml:"data_dir" env:"EIDGATE_DATA_DIR" flag:"data-dir" usage:"data directory (embedded ledger, SQLite database, keys)"`
	DB      string `yaml:"db" env:"EIDGATE_DB" flag:"db" usage:"database: postgres://… (default: SQLite file in the data dir)"`
	Redis   string `yaml:"redis" env:"EIDGATE_REDIS" flag:"redis" usage:"Redis URL for the shared cache, rate limits, ticket replay and policy updates (default: in process)"`

	Ledger             string `yaml:"ledger" env:"EIDGATE_LEDGER" flag:"ledger" usage:"ledger: devnet (embedded peer) or fabric"`
	FabricProfile      string `yaml:"fabric_profile" env:"EIDGATE_FABRIC_PROFILE" flag:"fabric-profile" usage:"connection profile of the gateway's agent identity (--ledger fabric)"`
	FabricAdminProfile string `yaml:"fabric_admin_profile" env:"EIDGATE_FABRIC_ADMIN_PROFILE" flag:"fabric-admin-profile" usage:"connection profile of the gateway's admin identity (eidgate.role=admin), which registers and changes departments and data types (--ledger fabric; without it those changes are refused)"`
	DevnetListen       string `yaml:"devnet_listen" env:"EIDGATE_DEVNET_LISTEN" flag:"devnet-listen" usage:"loopback address of the embedded peer's gRPC endpoint"`

	// The keys every replica must share (docs/operations.md, section 8).
	// Unset: <data dir>/keys/<file>, created on first start. Set: the file
	// must exist (`eidgate admin init-keys` creates them once); it may be
	// 0600/0400, or group-readable on a file another user owns (a
	// Kubernetes secret volume with fsGroup), never readable by others.
	TicketKeysFile   string `yaml:"ticket_keys_file" env:"EIDGATE_TICKET_KEYS_FILE" flag:"ticket-keys-file" usage:"file of the access ticket signing keys, the same for every replica (default: keys/ticket-keys.json in the data dir)"`
	BlindingKeyFile  string `yaml:"blinding_key_file" env:"EIDGATE_BLINDING_KEY_FILE" flag:"blinding-key-file" usage:"file of the document index blinding keys, the same for every replica (default: keys/blinding-keys.json in the data dir)"`
	SealingKeyFile   string `yaml:"sealing_key_file" env:"EIDGATE_SEALING_KEY_FILE" flag:"sealing-key-file" usage:"file of the key sealing stored document numbers, the same for every replica (default: keys/sealing.key in the data dir)"`
	PseudonymKeyFile string `yaml:"pseudonym_key_file" env:"EIDGATE_PSEUDONYM_KEY_FILE" flag:"pseudonym-key-file" usage:"file of the key of officials' pseudonyms, the same for every replica (default: keys/pseudonym.key in the data dir)"`
	PageKeyFile      string `yaml:"page_key_file" env:"EIDGATE_PAGE_KEY_FILE" flag:"page-key-file" usage:"file of the key of the sign-in forms' CSRF tokens, the same for every replica (default: keys/page.key in the data dir)"`
	HolderKeyFile    string `yaml:"holder_key_file" env:"EIDGATE_HOLDER_KEY_FILE" flag:"holder-key-file" usage:"file of the 32-byte key sealing residents' custodial holder keys of credentials, the same for every replica (default: keys/holder.key in the data dir)"`
	// BlindingKeys and SealingKey carry those keys themselves in place of
	// their files (docs/mapping.md): environment only, never in the YAML
	// file or on a command line, and never printed.
	BlindingKeys secret `yaml:"-" env:"EIDGATE_BLINDING_KEYS"`
	SealingKey   secret `yaml:"-" env:"EIDGATE_SEALING_KEY"`

	// Credentials (docs/credentials.md): the issuer key dir holds
	// <department>.pem signing keys departments entrust to the gateway for
	// issuing; the public URL is what credentials and presentation links
	// name.
	IssuerKeyDir string `yaml:"issuer_key_dir" env:"EIDGATE_ISSUER_KEY_DIR" flag:"issuer-key-dir" usage:"directory of <department>.pem signing keys the gateway issues credentials with (default: demo/keys in the data dir)"`
	PublicURL    string `yaml:"public_url" env:"EIDGATE_PUBLIC_URL" flag:"public-url" usage:"the gateway's public URL, named in credentials (status lists, schemas) and presentation links; replicas behind one address set it to that address (default: the listen address)"`

	TLSCert      string            `yaml:"tls_cert" env:"EIDGATE_TLS_CERT" flag:"tls-cert" usage:"TLS certificate of the HTTP API (PEM)"`
	TLSKey       string            `yaml:"tls_key" env:"EIDGATE_TLS_KEY" flag:"tls-key" usage:"TLS private key of the HTTP API (PEM)"`
	DepartmentCA map[string]string `yaml:"department_cas" usage:"MSP id → CA file of department organisations, for mTLS client certificates"`

	AnchorLagBound time.Duration `yaml:"anchor_lag_bound" env:"EIDGATE_ANCHOR_LAG_BOUND" flag:"anchor-lag-bound" usage:"stop issuing tickets when the oldest unanchored access record is older than this"`
	ConsentCoolOff time.Duration `yaml:"consent_cool_off" env:"EIDGATE_CONSENT_COOL_OFF" flag:"consent-cool-off" usage:"after a resident denies or revokes a consent, how long the same department may not ask again for the same data type and purpose"`
	RateLimit      float64       `yaml:"rate_limit" env:"EIDGATE_RATE_LIMIT" flag:"rate-limit" usage:"requests per second per department (0 = unlimited)"`
	RateBurst      int           `yaml:"rate_burst" env:"EIDGATE_RATE_BURST" flag:"rate-burst" usage:"burst of the per-department rate limit"`
	TimeZone       string        `yaml:"time_zone" env:"EIDGATE_TIME_ZONE" flag:"time-zone" usage:"time zone of dates on the portal and console, e.g. Asia/Shanghai (default: the host's)"`
	LogLevel       string        `yaml:"log_level" env:"EIDGATE_LOG_LEVEL" flag:"log-level" usage:"debug, info, warn or error"`
	LogFormat      string        `yaml:"log_format" env:"EIDGATE_LOG_FORMAT" flag:"log-format" usage:"auto (terse lines on a terminal, JSON otherwise), text (terse lines) or json"`
	Replica        string        `yaml:"replica" env:"EIDGATE_REPLICA" flag:"replica" usage:"this replica's name (event checkpoint and anchoring lease holder)"`
	Demo           bool          `yaml:"demo" env:"EIDGATE_DEMO" flag:"demo" usage:"load the demo consortium, residents and credentials on a fresh data dir (on the embedded ledger, or on a Fabric network with --fabric-admin-profile)"`
	// Passkeys (WebAuthn). The RP ID is the host name people open the
	// portal and console at (or a registrable domain above it); the origins
	// are the exact URLs' scheme, host and port. Unset, passkeys work for
	// a browser on this machine at http://localhost:<listen port>.
	WebAuthnRPID         string `yaml:"webauthn_rp_id" env:"EIDGATE_WEBAUTHN_RP_ID" flag:"webauthn-rp-id" usage:"passkeys' WebAuthn relying party id: the host name of the portal and console, or a registrable domain above it (default localhost)"`
	WebAuthnOrigins      string `yaml:"webauthn_origins" env:"EIDGATE_WEBAUTHN_ORIGINS" flag:"webauthn-origins" usage:"comma-separated origins the portal and console are served from, e.g. https://eid.example.gov.cn (default http://localhost:<listen port>)"`
	FourEyes             string `yaml:"four_eyes" env:"EIDGATE_FOUR_EYES" flag:"four-eyes" usage:"acts that need a second official's approval, comma-separated: eid.merge, eid.deactivate, policy, department.suspend"`
	RequireStaffPasskeys bool   `yaml:"require_staff_passkeys" env:"EIDGATE_REQUIRE_STAFF_PASSKEYS" flag:"require-staff-passkeys" usage:"administrators sign in with passkeys only (one who has none may sign in with the password only to register one)"`
	// InsecureCookies drops the Secure cookie flag; only for plain-HTTP
	// deployments behind nothing (never in production).
	InsecureCookies bool `yaml:"insecure_cookies" env:"EIDGATE_INSECURE_COOKIES" flag:"insecure-cookies" usage:"send session cookies without the Secure flag (plain-HTTP testing only)"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto the gateway believes.
	// BodyTimeout is how long a request may take to send its body (bulk
	// import uploads have five minutes); ConnsPerClient bounds one
	// address's open connections, InFlightPerClient one client's requests
	// in progress.
	BodyTimeout       time.Duration `yaml:"body_timeout" env:"EIDGATE_BODY_TIMEOUT" flag:"body-timeout" usage:"how long a request may take to send its body; bulk import uploads have five minutes"`
	ConnsPerClient    int           `yaml:"conns_per_client" env:"EIDGATE_CONNS_PER_CLIENT" flag:"conns-per-client" usage:"open connections allowed from one address (trusted proxies are not bounded)"`
	InFlightPerClient int           `yaml:"in_flight_per_client" env:"EIDGATE_IN_FLIGHT_PER_CLIENT" flag:"in-flight-per-client" usage:"requests in progress allowed from one client (429 beyond)"`
	// MemoryLimitMiB is the Go runtime's soft memory limit: near it the
	// garbage collector runs more often instead of letting the heap double.
	MemoryLimitMiB int    `yaml:"memory_limit_mib" env:"EIDGATE_MEMORY_LIMIT_MIB" flag:"memory-limit-mib" usage:"soft limit of the gateway's Go memory in MiB, near which the garbage collector works harder instead of growing the heap (0 = none; GOMEMLIMIT in the environment takes precedence)"`
	TrustedProxies string `yaml:"trusted_proxies" env:"EIDGATE_TRUSTED_PROXIES" flag:"trusted-proxies" usage:"comma-separated addresses or CIDR ranges of reverse proxies in front of the gateway, whose X-Forwarded-For (client address) and X-Forwarded-Proto are believed (default: none)"`
}

// secret is a setting that is never printed: formatted, it shows only
// whether it is set.
type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "[set]"
}

// GoString keeps %#v from printing the value.
func (s secret) GoString() string { return `"` + s.String() + `"` }

// DefaultConfig is what `eidgate serve` runs with when nothing is set.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		DataDir:           "./eidgate-data",
		Ledger:            "devnet",
		DevnetListen:      "127.0.0.1:0",
		AnchorLagBound:    30 * time.Second,
		ConsentCoolOff:    routing.DefaultConsentCoolOff,
		RateLimit:         2000,
		RateBurst:         4000,
		BodyTimeout:       gateway.DefaultBodyTimeout,
		ConnsPerClient:    gateway.DefaultConnsPerClient,
		InFlightPerClient: gateway.DefaultInFlightPerClient,
		LogLevel:          "info",
		LogFormat:         logFormatAuto,
		MemoryLimitMiB:    DefaultMemoryLimitMiB,
	}
}

// DefaultMemoryLimitMiB keeps the gateway's resident memory near 150 MB
// under load (docs/BENCHMARKS.md); raise it with larger caches or a larger
// container.
const DefaultMemoryLimitMiB = 100

// applyMemoryLimit sets the runtime's soft memory limit to limitMiB (none
// when 0) unless GOMEMLIMIT is in the environment, which the runtime has
// applied already. It returns the limit in force, in bytes.
func applyMemoryLimit(limitMiB int, lookup func(string) (string, bool)) int64 {
	if _, set := lookup("GOMEMLIMIT"); set || limitMiB <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(int64(limitMiB) << 20)
	return debug.SetMemoryLimit(-1)
}

// LoadConfigFile merges a YAML file into c; unknown keys are refused.
func (c *Config) LoadConfigFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	return nil
}

// ApplyEnv overrides c with the EIDGATE_* variables that are set.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	return c.applyEnv(lookup)
}

// applyEnv overrides the named fields of c (all of them when none is
// named) with the EIDGATE_* variables that are set.
func (c *Config) applyEnv(lookup func(string) (string, bool), fields ...string) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("env")
		if name == "" || len(fields) > 0 && !slices.Contains(fields, t.Field(i).Name) {
			continue
		}
		raw, ok := lookup(name)
		if !ok || raw == "" {
			continue
		}
		if err := setField(v.Field(i), raw); err != nil {
			return fmt.Errorf("%s=%q: %v", name, raw, err)
		}
	}
	return nil
}

func setField(f reflect.Value, raw string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("want true or false")
		}
		f.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return errors.New("want an integer")
		}
		f.SetInt(int64(n))
	case reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return errors.New("want a number")
		}
		f.SetFloat(x)
	case reflect.Int64: // time.Duration
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("want a duration such as 30s")
		}
		f.SetInt(int64(d))
	default:
		return errors.New("cannot be set from the environment")
	}
	return nil
}

// BindFlags registers a flag for every field with a flag tag; values start
// at c's current values (defaults).
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("flag")
		if name == "" {
			continue
		}
		usage := sf.Tag.Get("usage")
		if env := sf.Tag.Get("env"); env != "" {
			usage += " (env " + env + ")"
		}
		ptr := v.Field(i).Addr().Interface()
		switch p := ptr.(type) {
		case *string:
			fs.StringVar(p, name, *p, usage)
		case *bool:
			fs.BoolVar(p, name, *p, usage)
		case *int:
			fs.IntVar(p, name, *p, usage)
		case *float64:
			fs.Float64Var(p, name, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, name, *p, usage)
		}
	}
}

// Validate reports every problem with c in words an operator can act on.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Listen == "" {
		add("--listen must not be empty")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("--listen %q: want HOST:PORT", c.Listen)
	}
	if c.DataDir == "" {
		add("--data-dir must not be empty")
	}
	if c.DB != "" && !isPostgresURL(c.DB) {
		add("--db %q: want a postgres:// URL (leave it empty for the embedded SQLite database)", redactURL(c.DB))
	}
	if c.Redis != "" {
		if u, err := url.Parse(c.Redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			add("--redis %q: want redis://HOST:PORT[/DB] or rediss://…", redactURL(c.Redis))
		}
	}
	switch c.Ledger {
	case "devnet":
		if c.FabricProfile != "" {
			add("--fabric-profile is only used with --ledger fabric")
		}
		if host, _, err := net.SplitHostPort(c.DevnetListen); err != nil {
			add("--devnet-listen %q: want HOST:PORT", c.DevnetListen)
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			add("--devnet-listen %q: the embedded peer listens on loopback only", c.DevnetListen)
		}
		if c.Demo && c.DB != "" {
			// Allowed: the demo can run on PostgreSQL too.
			break
		}
	case "fabric":
		if c.FabricProfile == "" {
			add("--ledger fabric needs --fabric-profile FILE")
		} else if _, err := os.Stat(c.FabricProfile); err != nil {
			add("--fabric-profile %s: %v", c.FabricProfile, errors.Unwrap(err))
		}
		if c.FabricAdminProfile != "" {
			if _, err := os.Stat(c.FabricAdminProfile); err != nil {
				add("--fabric-admin-profile %s: %v", c.FabricAdminProfile, errors.Unwrap(err))
			}
		}
		if c.Demo && c.FabricAdminProfile == "" {
			add("--demo with --ledger fabric needs --fabric-admin-profile FILE: the demo registers its departments and data types as the eidgate administrator")
		}
	default:
		add("--ledger %q: want devnet or fabric", c.Ledger)
	}
	c.checkSharedKeys(add)
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("--tls-cert and --tls-key go together")
	}
	for msp, path := range c.DepartmentCA {
		if _, err := os.Stat(path); err != nil {
			add("department_cas %s: %s: %v", msp, path, errors.Unwrap(err))
		}
	}
	if c.IssuerKeyDir != "" {
		if st, err := os.Stat(c.IssuerKeyDir); err != nil || !st.IsDir() {
			add("--issuer-key-dir %s: not a directory", c.IssuerKeyDir)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			add("--public-url %q: want http(s)://HOST[:PORT]", c.PublicURL)
		}
	}
	for _, p := range c.trustedProxies() {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				add("--trusted-proxies %q: want an IP address or a CIDR range", p)
			}
		}
	}
	if c.BodyTimeout < 0 || (c.BodyTimeout > 0 && c.BodyTimeout < 100*time.Millisecond) {
		add("--body-timeout %s: want at least 100ms", c.BodyTimeout)
	}
	if c.MemoryLimitMiB < 0 {
		add("--memory-limit-mib %d: want 0 (none) or more", c.MemoryLimitMiB)
	}
	if c.ConnsPerClient < 0 {
		add("--conns-per-client %d: want at least 1", c.ConnsPerClient)
	}
	if c.InFlightPerClient < 0 {
		add("--in-flight-per-client %d: want at least 1", c.InFlightPerClient)
	}
	if c.AnchorLagBound < time.Second {
		add("--anchor-lag-bound %s: want at least 1s", c.AnchorLagBound)
	}
	if c.ConsentCoolOff < 0 || c.ConsentCoolOff > 366*24*time.Hour {
		add("--consent-cool-off %s: want 0 (no cool-off) to 366 days", c.ConsentCoolOff)
	}
	if _, err := audit.ParseFourEyes(c.FourEyes); err != nil {
		add("--four-eyes: %s", err)
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		add("--rate-limit and --rate-burst must not be negative")
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			add("--time-zone %q: %v", c.TimeZone, err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case logFormatAuto, logFormatText, logFormatJSON, "":
	default:
		add("--log-format %q: want auto, text or json", c.LogFormat)
	}
	switch {
	case c.WebAuthnRPID == "" && c.WebAuthnOrigins == "":
	case c.WebAuthnRPID == "" || c.WebAuthnOrigins == "":
		add("--webauthn-rp-id and --webauthn-origins go together: passkeys are bound to the relying party id, and browsers send the origin they were used at")
	default:
		if err := accounts.CheckRelyingParty(c.WebAuthnRPID, c.webAuthnOrigins()); err != nil {
			add("--webauthn-rp-id/--webauthn-origins: %s", routing.MessageOf(err))
		}
	}
	return errors.Join(errs...)
}

// trustedProxies splits --trusted-proxies.
func (c Config) trustedProxies() []string {
	var out []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// webAuthnOrigins splits --webauthn-origins.
func (c Config) webAuthnOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.WebAuthnOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, strings.TrimSuffix(o, "/"))
		}
	}
	return out
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// redactURL hides a password in a URL before it is printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return s
	}
	return u.Redacted()
}

// dbTarget is the store DSN: the PostgreSQL URL, or the SQLite file in the
// data dir.
func (c Config) dbTarget() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.DataDir, "eidgate.db")
}

// MergeFlags copies into c the fields whose flags were set on the command
// line (flags win over the file and the environment).
func (c *Config) MergeFlags(from Config, fs *pflag.FlagSet) {
	dst := reflect.ValueOf(c).Elem()
	src := reflect.ValueOf(from)
	t := dst.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("flag")
		if name != "" && fs.Changed(name) {
			dst.Field(i).Set(src.Field(i))
		}
	}
}

// explicitConfig is what the environment and the flags that were set say,
// over a zero Config: the settings an operator asked for.
func explicitConfig(flags Config, fs *pflag.FlagSet, lookup func(string) (string, bool)) (Config, error) {
	var c Config
	if err := c.ApplyEnv(lookup); err != nil {
		return c, err
	}
	c.MergeFlags(flags, fs)
	return c, nil
}

// loadConfig resolves the configuration of a command: defaults, then the
// YAML file (--config, else EIDGATE_CONFIG), then the environment, then the
// flags that were set.
func loadConfig(flags Config, fs *pflag.FlagSet, lookup func(string) (string, bool)) (Config, error) {
	explicit, err := explicitConfig(flags, fs, lookup)
	if err != nil {
		return DefaultConfig(), err
	}
	file := explicit.ConfigFile
	cfg := DefaultConfig()
	if file != "" {
		if err := cfg.LoadConfigFile(file); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(lookup); err != nil {
		return cfg, err
	}
	cfg.MergeFlags(flags, fs)
	return cfg, cfg.Validate()
}
