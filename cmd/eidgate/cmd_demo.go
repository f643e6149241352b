package main

import (
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/internal/demo"
)

func newDemoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The demo consortium that serve --demo loads",
	}
	cmd.AddCommand(newDemoInfoCmd())
	return cmd
}

// newDemoInfoCmd prints the banner of serve --demo again, from demo.json.
func newDemoInfoCmd() *cobra.Command {
	var tf toolFlags
	var showSecrets bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Print the demo's addresses and sign-in credentials again (from demo.json)",
		Long: `Print what serve --demo printed when it started: the portal, console and
API addresses, where the demo was loaded (database and ledger), and the
credentials — the console accounts, the departments' API keys and the
residents' documents and passwords. They come from demo.json in the data
dir (mode 0600). Passwords and keys are printed to a terminal, or anywhere
with --show-secrets; otherwise only the file that holds them is named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := tf.config(cmd)
			if err != nil {
				return err
			}
			info, err := demo.ReadInfo(cfg.DataDir)
			if errors.Is(err, fs.ErrNotExist) {
				return failure("no_demo", "%s holds no demo (no %s): start one with eidgate serve --demo --data-dir %s", cfg.DataDir, demo.InfoFile, cfg.DataDir)
			}
			if err != nil {
				return fileError(err)
			}
			out := cmd.OutOrStdout()
			printDemo(out, info, filepath.Join(cfg.DataDir, demo.InfoFile), demoPagesURL(cfg, info), showSecrets || isTerminal(out))
			return nil
		},
	}
	tf.bindOnly(cmd.Flags(), "data-dir", "webauthn-rp-id", "webauthn-origins")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print passwords and API keys even when the output is not a terminal")
	return cmd
}

// demoPagesURL is where the demo's portal and console work with passkeys,
// as serve printed it: the first WebAuthn origin, by default localhost at
// the port the demo gateway listened on.
func demoPagesURL(cfg Config, info *demo.Info) string {
	u, err := url.Parse(info.GatewayURL)
	if err != nil || u.Host == "" {
		return info.GatewayURL
	}
	cfg.Listen = u.Host
	pages := NewMain(cfg).pagesURL()
	if u.Scheme == "https" && cfg.WebAuthnRPID == "" {
		pages = "https://" + strings.TrimPrefix(pages, "http://")
	}
	return pages
}
