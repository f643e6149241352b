package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	flags := DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (embedded ledger and database unless configured otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile, flags, cmd.Flags(), os.LookupEnv)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("configuration:\n%w", err)}
			}
			m := NewMain(cfg)
			if err := m.Open(cmd.Context()); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "eidgate %s listening on %s (data dir %s, ledger %s)\n", currentVersion(), m.URL(), cfg.DataDir, cfg.Ledger)
			if d := m.Demo(); d != nil {
				printDemo(out, d, filepath.Join(cfg.DataDir, demoFile), m.pagesURL())
			}
			<-cmd.Context().Done()
			fmt.Fprintln(out, "eidgate stopping")
			return m.Close()
		},
	}
	cmd.Flags().StringVar(&configFile, "config", os.Getenv("EIDGATE_CONFIG"), "YAML configuration file (env EIDGATE_CONFIG)")
	flags.BindFlags(cmd.Flags())
	return cmd
}

// printDemo tells where the demo is and how to sign in; pages is where the
// portal and console work with passkeys.
func printDemo(w io.Writer, d *DemoInfo, path, pages string) {
	fmt.Fprintf(w, "\ndemo consortium loaded; credentials in %s\n", path)
	fmt.Fprintf(w, "  resident portal:  %s/portal   (passkeys work at this address)\n", pages)
	fmt.Fprintf(w, "  admin console:    %s/admin   (user %s, password %s)\n", pages, d.Admin.Username, d.Admin.Password)
	fmt.Fprintf(w, "  API:              %s/v1      (OpenAPI at %s/openapi.yaml)\n", d.GatewayURL, d.GatewayURL)
	for _, dep := range d.Departments {
		fmt.Fprintf(w, "  department %-14s API key %s\n", dep.ID, dep.APIKey)
	}
	for _, r := range d.Residents {
		fmt.Fprintf(w, "  resident %s %s  password %s\n", r.DocType, r.DocNumber, r.Password)
	}
	fmt.Fprintln(w)
}
