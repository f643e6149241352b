package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/accounts"
)

// newStaffCmds are `admin users disable|enable|reset|role`: each act is
// recorded in the audit trail under the operator's name; the last
// administrator cannot be disabled or demoted.
func newStaffCmds() []*cobra.Command {
	act := func(use, short string, args int, run func(m *Main, cmd *cobra.Command, args []string) (string, error)) *cobra.Command {
		var tf toolFlags
		cmd := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(args),
			RunE: func(cmd *cobra.Command, args []string) error {
				m, err := tf.open(cmd)
				if err != nil {
					return err
				}
				defer m.Close()
				out, err := run(m, cmd, args)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), out)
				return nil
			},
		}
		tf.bind(cmd.Flags())
		return cmd
	}
	return []*cobra.Command{
		act("disable USERNAME", "Disable a console account; its sessions end at once", 1, func(m *Main, cmd *cobra.Command, a []string) (string, error) {
			return "disabled " + a[0], m.audited.admins.Disable(cmd.Context(), a[0])
		}),
		act("enable USERNAME", "Re-enable a disabled console account", 1, func(m *Main, cmd *cobra.Command, a []string) (string, error) {
			return "enabled " + a[0], m.audited.admins.Enable(cmd.Context(), a[0])
		}),
		act("role USERNAME ROLE", "Change a console account's role (admin, mapping-officer, auditor)", 2, func(m *Main, cmd *cobra.Command, a []string) (string, error) {
			if !accounts.ValidRole(a[1]) {
				return "", &exitError{code: 2, err: fmt.Errorf("role %q: want admin, mapping-officer or auditor", a[1])}
			}
			return a[0] + " is now " + a[1], m.audited.admins.SetRole(cmd.Context(), a[0], a[1])
		}),
		act("reset USERNAME", "Take a console account's password and passkeys away and print a one-time activation code", 1, func(m *Main, cmd *cobra.Command, a []string) (string, error) {
			code, exp, err := m.audited.admins.Reset(cmd.Context(), a[0])
			if err != nil {
				return "", err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s chooses a new password at /admin/activate with this code, valid until %s; it is shown only now\n",
				a[0], exp.UTC().Format(time.RFC3339))
			return code, nil
		}),
	}
}
