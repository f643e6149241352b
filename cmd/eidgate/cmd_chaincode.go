package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/deploy/ccpackage"
	"github.com/eidgate/eidgate/internal/safefile"
)

func newChaincodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaincode",
		Short: "Build and inspect chaincode-as-a-service packages for Fabric peers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newChaincodePackageCmd(), newChaincodeInspectCmd())
	return cmd
}

type chaincodePackageFlags struct {
	address, label, output          string
	dialTimeout                     time.Duration
	tls, clientAuth                 bool
	rootCert, clientCert, clientKey string
}

func newChaincodePackageCmd() *cobra.Command {
	var fl chaincodePackageFlags
	cmd := &cobra.Command{
		Use:   "package --address HOST:PORT --label LABEL -o FILE",
		Short: "Write a CCaaS package for `peer lifecycle chaincode install` and print its package ID",
		Long: `Writes a chaincode-as-a-service package (type "ccaas") that points the peer at a
running eidgate-chaincode server. The output is deterministic: the same flags and
files give the same bytes, so every organisation can rebuild the package and
compare package IDs before approving. The package ID (label:sha256) is printed
on standard output; use it as CHAINCODE_ID for eidgate-chaincode and as
--package-id for approveformyorg.

With --client-auth the package embeds the peer's TLS client key in plain text,
as Fabric requires; it is then written with mode 0600.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runChaincodePackage(cmd, fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.address, "address", "", "HOST:PORT the peer dials to reach the chaincode server (required); may use {{.peername}} from CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG")
	f.StringVar(&fl.label, "label", "", "package label, e.g. eidgate_1.0.0 (required)")
	f.StringVarP(&fl.output, "output", "o", "", "package file to write, e.g. eidgate.tar.gz (required)")
	f.DurationVar(&fl.dialTimeout, "dial-timeout", ccpackage.DefaultDialTimeout, "how long the peer waits to connect to the chaincode server")
	f.BoolVar(&fl.tls, "tls", false, "the chaincode server speaks TLS")
	f.StringVar(&fl.rootCert, "root-cert", "", "PEM file of the CA that issued the chaincode server's TLS certificate (with --tls)")
	f.BoolVar(&fl.clientAuth, "client-auth", false, "the chaincode server requires a client certificate from the peer (with --tls)")
	f.StringVar(&fl.clientCert, "client-cert", "", "PEM certificate the peer presents (with --client-auth)")
	f.StringVar(&fl.clientKey, "client-key", "", "PEM private key of --client-cert (with --client-auth)")
	return cmd
}

func chaincodeUsageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func runChaincodePackage(cmd *cobra.Command, fl chaincodePackageFlags) error {
	var missing []string
	for _, r := range []struct{ name, value string }{{"--address", fl.address}, {"--label", fl.label}, {"--output", fl.output}} {
		if r.value == "" {
			missing = append(missing, r.name)
		}
	}
	if len(missing) > 0 {
		return chaincodeUsageError("chaincode package: missing %v", missing)
	}
	if fl.dialTimeout <= 0 {
		return chaincodeUsageError("chaincode package: --dial-timeout must be positive")
	}
	spec := ccpackage.Spec{Label: fl.label, Address: fl.address, DialTimeout: fl.dialTimeout}
	switch {
	case fl.tls:
		if fl.rootCert == "" {
			return chaincodeUsageError("chaincode package: --tls needs --root-cert")
		}
		spec.TLS = &ccpackage.TLS{}
		var err error
		if spec.TLS.RootCert, err = readChaincodeFlagFile("--root-cert", fl.rootCert); err != nil {
			return err
		}
		if fl.clientAuth {
			if fl.clientCert == "" || fl.clientKey == "" {
				return chaincodeUsageError("chaincode package: --client-auth needs --client-cert and --client-key")
			}
			if spec.TLS.ClientCert, err = readChaincodeFlagFile("--client-cert", fl.clientCert); err != nil {
				return err
			}
			if spec.TLS.ClientKey, err = readChaincodeFlagFile("--client-key", fl.clientKey); err != nil {
				return err
			}
		} else if fl.clientCert != "" || fl.clientKey != "" {
			return chaincodeUsageError("chaincode package: --client-cert and --client-key need --client-auth")
		}
	case fl.rootCert != "" || fl.clientAuth || fl.clientCert != "" || fl.clientKey != "":
		return chaincodeUsageError("chaincode package: --root-cert, --client-auth, --client-cert and --client-key need --tls")
	}
	pkg, err := ccpackage.Build(spec)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("chaincode package: %w", err)}
	}
	mode := os.FileMode(0o644)
	if spec.TLS != nil && len(spec.TLS.ClientKey) > 0 {
		mode = 0o600
	}
	if err := safefile.Write(fl.output, pkg, mode); err != nil {
		return fmt.Errorf("chaincode package: %w", err)
	}
	id := ccpackage.PackageID(fl.label, pkg)
	fmt.Fprintln(cmd.OutOrStdout(), id)
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d bytes); chaincode address %s\n", fl.output, len(pkg), fl.address)
	return nil
}

func readChaincodeFlagFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, chaincodeUsageError("chaincode package: %s %s: file does not exist", flag, path)
		}
		return nil, fmt.Errorf("chaincode package: %s: %w", flag, err)
	}
	return b, nil
}

func newChaincodeInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Check a CCaaS package and print its package ID, metadata and connection (keys redacted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return chaincodeUsageError("chaincode inspect: %s: file does not exist", args[0])
				}
				return fmt.Errorf("chaincode inspect: %w", err)
			}
			p, err := ccpackage.Read(raw)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("chaincode inspect %s: %w", args[0], err)}
			}
			if p.Connection.ClientKey != "" {
				p.Connection.ClientKey = "(redacted)"
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				PackageID  string               `json:"package_id"`
				Metadata   ccpackage.Metadata   `json:"metadata"`
				Connection ccpackage.Connection `json:"connection"`
			}{p.ID, p.Metadata, p.Connection})
		},
	}
}
