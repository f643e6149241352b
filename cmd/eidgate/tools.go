package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/routing"
)

// OpenTools opens what the command-line tools (import, verify, admin) need
// of a gateway's data: the ledger clients, the database, the keys and the
// services over them, without serving HTTP or running the background
// tasks.
//
// With the embedded ledger, a gateway may already run on the data dir and
// hold its ledger file; the tool then reaches that gateway's peer over TLS
// through the connection profiles it wrote, exactly as a Fabric client
// would. Otherwise the peer is opened in process.
func (m *Main) OpenTools(ctx context.Context) error {
	ledgerStep := m.openLedger
	if m.Config.Ledger == "devnet" {
		// A gateway running on this data dir answers on its agent profile;
		// the connection made to find out is kept.
		if agent, err := m.dialProfile(ctx, m.profilePath(devnet.AgentName), "running peer", time.Second); err == nil {
			m.agent = agent
			ledgerStep = func(ctx context.Context) (err error) {
				m.admin, err = m.dialProfile(ctx, m.profilePath(devnet.AdminName), "running peer", 0)
				return err
			}
		} else if !devnet.Exists(m.ledgerDir()) {
			// Tools work on a gateway's ledger; they never start a new one.
			return &exitError{code: 2, err: fmt.Errorf("%s holds no ledger (no embedded ledger in %s, and no --ledger fabric): "+
				"pass --ledger fabric --fabric-profile FILE (and --fabric-admin-profile FILE for admin changes) to work on a Fabric network, "+
				"or --data-dir of a gateway that runs or ran on the embedded ledger", m.Config.DataDir, m.ledgerDir())}
		}
	}
	return m.open(ctx, []step{
		{"ledger", ledgerStep},
		{"database", m.openStore},
		{"cache", m.openCache},
		{"policy", m.openPolicy},
		{"keys", m.openKeys},
		{"services", m.openServices},
		{"credentials", m.openCredentials},
	})
}

func (m *Main) profilePath(name string) string {
	return filepath.Join(m.ledgerDir(), "profiles", devnet.PlatformOrg+"-"+name+".yaml")
}

// ledgerDir is where the embedded ledger of the data dir lives.
func (m *Main) ledgerDir() string { return filepath.Join(m.Config.DataDir, "ledger") }

// toolFlags are the flags every tool shares with serve: where the data is.
type toolFlags struct {
	flags Config
}

func (tf *toolFlags) bind(fs *pflag.FlagSet, extra ...string) {
	tf.bindOnly(fs, append([]string{"data-dir", "db", "redis", "ledger", "fabric-profile", "fabric-admin-profile", "log-level", "log-format",
		"ticket-keys-file", "blinding-key-file", "sealing-key-file", "pseudonym-key-file", "page-key-file", "holder-key-file"}, extra...)...)
}

// bindOnly binds --config and the named flags of Config.
func (tf *toolFlags) bindOnly(fs *pflag.FlagSet, names ...string) {
	tf.flags = DefaultConfig()
	all := pflag.NewFlagSet("", pflag.ContinueOnError)
	tf.flags.BindFlags(all)
	for _, name := range append([]string{"config"}, names...) {
		fs.AddFlag(all.Lookup(name))
	}
}

// config resolves the tool's configuration.
func (tf *toolFlags) config(cmd *cobra.Command) (Config, error) {
	cfg, err := loadConfig(tf.flags, cmd.Flags(), os.LookupEnv)
	if err != nil {
		return cfg, &exitError{code: 2, err: fmt.Errorf("configuration:\n%w", err)}
	}
	return cfg, nil
}

// open builds and opens the tools' Main; adjust may fill in settings the
// command knows better defaults for.
func (tf *toolFlags) open(cmd *cobra.Command, adjust ...func(*Config)) (*Main, error) {
	cfg, err := tf.config(cmd)
	if err != nil {
		return nil, err
	}
	for _, f := range adjust {
		f(&cfg)
	}
	// Tools never listen and never load the demo.
	cfg.Demo = false
	// Quiet unless a level was asked for on the command line or in the
	// environment.
	if explicit, err := explicitConfig(tf.flags, cmd.Flags(), os.LookupEnv); err == nil && explicit.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	m := NewMain(cfg)
	m.Logger = newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
	if err := m.OpenTools(cmd.Context()); err != nil {
		return nil, err
	}
	cmd.SetContext(withOperator(cmd.Context()))
	return m, nil
}

// withOperator names the operator of a command (the operating-system user
// running it) as the actor of its administrative acts, for the audit
// trail: "cli:<user>".
func withOperator(ctx context.Context) context.Context {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return routing.WithActor(ctx, routing.Actor{Official: "cli:" + name})
}
