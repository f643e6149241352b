package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
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
	if m.Config.Ledger == "devnet" && m.runningPeer(ctx) {
		ledgerStep = m.openRunningPeer
	}
	return m.open(ctx, []step{
		{"ledger", ledgerStep},
		{"database", m.openStore},
		{"cache", m.openCache},
		{"policy", m.openPolicy},
		{"keys", m.openKeys},
		{"services", m.openServices},
	})
}

func (m *Main) profilePath(name string) string {
	return filepath.Join(m.Config.DataDir, "ledger", "profiles", devnet.PlatformOrg+"-"+name+".yaml")
}

// runningPeer reports whether a gateway's embedded peer answers on the
// profile it wrote into the data dir.
func (m *Main) runningPeer(ctx context.Context) bool {
	prof, err := ledger.LoadProfile(m.profilePath(devnet.AgentName))
	if err != nil {
		return false
	}
	prof.Timeouts.Dial = time.Second
	c, err := ledger.Dial(ctx, prof)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func (m *Main) openRunningPeer(ctx context.Context) error {
	for _, who := range []struct {
		name string
		dst  **ledger.Client
	}{{devnet.AgentName, &m.agent}, {devnet.AdminName, &m.admin}} {
		prof, err := ledger.LoadProfile(m.profilePath(who.name))
		if err != nil {
			return err
		}
		c, err := ledger.Dial(ctx, prof)
		if err != nil {
			return err
		}
		*who.dst = c
		m.onClose(c.Close)
	}
	return nil
}

// toolFlags are the flags every tool shares with serve: where the data is.
type toolFlags struct {
	flags      Config
	configFile string
}

func (tf *toolFlags) bind(fs *pflag.FlagSet) {
	tf.flags = DefaultConfig()
	fs.StringVar(&tf.configFile, "config", os.Getenv("EIDGATE_CONFIG"), "YAML configuration file (env EIDGATE_CONFIG)")
	for _, name := range []string{"data-dir", "db", "redis", "ledger", "fabric-profile", "fabric-admin-profile", "log-level"} {
		tmp := pflag.NewFlagSet("", pflag.ContinueOnError)
		tf.flags.BindFlags(tmp)
		fs.AddFlag(tmp.Lookup(name))
	}
}

// open builds and opens the tools' Main.
func (tf *toolFlags) open(cmd *cobra.Command) (*Main, error) {
	cfg, err := loadConfig(tf.configFile, tf.flags, cmd.Flags(), os.LookupEnv)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("configuration:\n%w", err)}
	}
	// Tools never listen and never load the demo.
	cfg.Demo = false
	if !cmd.Flags().Changed("log-level") && os.Getenv("EIDGATE_LOG_LEVEL") == "" {
		cfg.LogLevel = "warn"
	}
	m := NewMain(cfg)
	m.Logger = newLogger(cmd.ErrOrStderr(), cfg.LogLevel)
	if err := m.OpenTools(cmd.Context()); err != nil {
		return nil, err
	}
	return m, nil
}
