package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X main.Version=…";
// without it the module version the Go toolchain recorded is shown.
var Version = ""

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
		newDemoCmd(),
	)
	root.AddCommand(newBenchCmd())
	usageExits(root)
	return root
}

// usageExits makes every usage mistake exit 2 with the code "usage": an
// unknown command or subcommand, a wrong number of arguments, an unknown
// flag or a bad flag value.
func usageExits(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v; see %s --help", err, c.CommandPath())
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			// A command group: without a subcommand it shows its help,
			// with an unknown one it is a usage error.
			c.Args = cobra.ArbitraryArgs
			c.SuggestionsMinimumDistance = 2
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return c.Help()
				}
				hint := ""
				if s := c.SuggestionsFor(args[0]); len(s) > 0 {
					hint = fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
				}
				return usageError("%s has no command %q%s; see %s --help", c.CommandPath(), args[0], hint, c.CommandPath())
			}
		case c.Args != nil:
			args := c.Args
			c.Args = func(c *cobra.Command, a []string) error {
				err := args(c, a)
				if _, ok := errors.AsType[*exitError](err); err == nil || ok {
					return err
				}
				return usageError("%v; see %s --help", err, c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// exitCode reports err on stderr, rendered by describeError, and returns
// the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	text, code := describeError(err)
	if text != "" {
		fmt.Fprintln(stderr, "Error:", text)
	}
	return code
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the eidgate version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			fmt.Fprint(cmd.OutOrStdout(), versionText(bi, runtime.GOOS+"/"+runtime.GOARCH))
			return nil
		},
	}
}

// buildVersion is Version, else the module version of the build.
func buildVersion(bi *debug.BuildInfo) string {
	switch {
	case Version != "":
		return Version
	case bi == nil || bi.Main.Version == "":
		return "(devel)"
	}
	return bi.Main.Version
}

// currentVersion is the running binary's version.
func currentVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi)
}

// versionText is what `eidgate version` prints: the version, the commit
// (with its time, and "modified" for a build from changed sources) and the
// Go version and platform.
func versionText(bi *debug.BuildInfo, platform string) string {
	var rev, at, modified string
	goVersion := runtime.Version()
	if bi != nil {
		goVersion = bi.GoVersion
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.time":
				at = kv.Value
			case "vcs.modified":
				if kv.Value == "true" {
					modified = ", with uncommitted changes"
				}
			}
		}
	}
	commit := "unknown (go build in a git clone records it; go run, go test and -buildvcs=false do not)"
	if rev != "" {
		commit = rev
		if at != "" {
			commit += " (" + at + modified + ")"
		} else if modified != "" {
			commit += " (" + strings.TrimPrefix(modified, ", ") + ")"
		}
	}
	return fmt.Sprintf("eidgate %s\ncommit  %s\ngo      %s %s\n", buildVersion(bi), commit, goVersion, platform)
}
