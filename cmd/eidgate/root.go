package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// exitError carries a process exit code out of a subcommand (for example
// `id check` exits 1 for an invalid number and 2 for a usage error).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// newRootCmd builds the command tree. Each subcommand lives in its own
// cmd_<name>.go file and is added here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "eidgate",
		Short:         "Government data-routing gateway on a Hyperledger Fabric consortium",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newServeCmd(),
		newIDCmd(),
		newChaincodeCmd(),
		newDevnetCmd(eidgateChaincodes),
		newImportCmd(),
		newVerifyCmd(),
		newCredentialCmd(),
		newAdminCmd(),
	)
	root.AddCommand(newBenchCmd())
	return root
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// exitCode reports err on stderr and returns the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "eidgate:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "eidgate:", err)
	return 1
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the eidgate version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "eidgate %s\n", Version)
			return nil
		},
	}
}
