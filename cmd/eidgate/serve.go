package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/eidgate/eidgate/internal/demo"
)

func newServeCmd() *cobra.Command {
	flags := DefaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (embedded ledger and database unless configured otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(flags, cmd.Flags(), os.LookupEnv)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("configuration:\n%w", err)}
			}
			applyMemoryLimit(cfg.MemoryLimitMiB, os.LookupEnv)
			m := NewMain(cfg)
			m.Logger = newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			if err := m.Open(cmd.Context()); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "eidgate %s listening on %s (data dir %s, ledger %s)\n", currentVersion(), m.URL(), cfg.DataDir, cfg.Ledger)
			if d := m.Demo(); d != nil {
				printDemo(out, d, filepath.Join(cfg.DataDir, demo.InfoFile), m.pagesURL(), isTerminal(out))
			}
			<-cmd.Context().Done()
			fmt.Fprintln(out, "eidgate stopping")
			return m.Close()
		},
	}
	flags.BindFlags(cmd.Flags())
	return cmd
}

// isTerminal holds when w is a terminal a person reads, not a pipe or a
// file that a log collector keeps.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printDemo tells where the demo is and how to sign in; pages is where the
// portal and console work with passkeys. The credentials themselves are
// printed only to a terminal (secrets): written to a pipe or file, output
// ends up in logs, so it only names the file (0600) that holds them.
func printDemo(w io.Writer, d *demo.Info, path, pages string, secrets bool) {
	fmt.Fprintf(w, "\ndemo consortium loaded; credentials in %s\n", path)
	if d.Database != "" {
		fmt.Fprintf(w, "  loaded on:        %s, ledger %s\n", d.Database, d.Ledger)
	}
	fmt.Fprintf(w, "  resident portal:  %s/portal   (passkeys work at this address)\n", pages)
	if !secrets {
		fmt.Fprintf(w, "  admin console:    %s/admin\n", pages)
		fmt.Fprintf(w, "  API:              %s/v1      (OpenAPI at %s/openapi.yaml)\n", d.GatewayURL, d.GatewayURL)
		fmt.Fprintf(w, "  (passwords and API keys are not printed where output is not a terminal; read them in %s)\n", path)
		fmt.Fprintf(w, "  (eidgate demo info --data-dir %s prints this again)\n\n", filepath.Dir(path))
		return
	}
	fmt.Fprintf(w, "  admin console:    %s/admin   (user %s, password %s)\n", pages, d.Admin.Username, d.Admin.Password)
	fmt.Fprintf(w, "  API:              %s/v1      (OpenAPI at %s/openapi.yaml)\n", d.GatewayURL, d.GatewayURL)
	for _, dep := range d.Departments {
		fmt.Fprintf(w, "  department %-14s API key %s\n", dep.ID, dep.APIKey)
	}
	for _, r := range d.Residents {
		fmt.Fprintf(w, "  resident %s %s  password %s\n", r.DocType, r.DocNumber, r.Password)
	}
	fmt.Fprintf(w, "  (eidgate demo info --data-dir %s prints this again)\n\n", filepath.Dir(path))
}
