package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing/ticket"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer a gateway's accounts and keys from its host",
	}
	users := &cobra.Command{Use: "users", Short: "Console accounts"}
	users.AddCommand(newListUsersCmd())
	users.AddCommand(newStaffCmds()...)
	keys := &cobra.Command{Use: "keys", Short: "Departments' API keys"}
	keys.AddCommand(newListKeysCmd())
	cmd.AddCommand(newBreakGlassCmd())
	cmd.AddCommand(newCreateUserCmd(), newIssueAPIKeyCmd(), newRotateBlindingKeyCmd(), newRotateTicketKeyCmd(), newInitKeysCmd(),
		users, keys, newAuditCmd(), newRepresentationCmds())
	return cmd
}

// passwordRules says the staff password policy up front.
var passwordRules = fmt.Sprintf("at least %d characters, mixing at least two of lower case, upper case, digits and symbols, "+
	"not the user name", accounts.MinPasswordLen)

// readPassword reads the new password: from a terminal with a prompt that
// states the rules, without echo and twice; otherwise the first line of
// standard input.
func readPassword(cmd *cobra.Command, username string) (string, error) {
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		errw := cmd.ErrOrStderr()
		fmt.Fprintf(errw, "Password for %s (%s): ", username, passwordRules)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errw)
		if err != nil {
			return "", usageError("cannot read the password: %v", err)
		}
		fmt.Fprint(errw, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errw)
		if err != nil {
			return "", usageError("cannot read the password: %v", err)
		}
		if string(pw) != string(again) {
			return "", usageError("the two passwords differ")
		}
		return string(pw), nil
	}
	pw, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && pw == "" {
		return "", usageError("give the password on standard input (%s)", passwordRules)
	}
	return strings.TrimRight(pw, "\r\n"), nil
}

func newCreateUserCmd() *cobra.Command {
	var tf toolFlags
	var role string
	cmd := &cobra.Command{
		Use:   "create-user USERNAME",
		Short: "Create a console account (the password is read from standard input)",
		Long: `Create a console account. The password is asked for on a terminal, or read
as the first line of standard input; it needs ` + passwordRules + `.

Roles: admin (everything), mapping-officer (identity mapping and imports),
auditor (read-only).`,
		Example: `  eidgate admin create-user alice --role auditor
  printf '%s\n' "$ALICE_PASSWORD" | eidgate admin create-user alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !accounts.ValidRole(role) {
				return usageError("--role %q: want admin, mapping-officer or auditor", role)
			}
			pw, err := readPassword(cmd, args[0])
			if err != nil {
				return err
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			if _, err := m.audited.admins.CreateAdmin(cmd.Context(), args[0], pw, role); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s)\n", args[0], role)
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().StringVar(&role, "role", accounts.RoleAdmin, "admin, mapping-officer or auditor")
	return cmd
}

func newIssueAPIKeyCmd() *cobra.Command {
	var tf toolFlags
	var name string
	cmd := &cobra.Command{
		Use:   "issue-api-key DEPARTMENT",
		Short: "Issue an API key for a registered department (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			token, key, err := m.audited.apiKeys.IssueAPIKey(cmd.Context(), args[0], name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", token)
			fmt.Fprintf(cmd.ErrOrStderr(), "key %s for %s; it is shown only now\n", key.ID, key.Department)
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "cli", "a name for the key")
	return cmd
}

// newRotateBlindingKeyCmd adds a blinding key version and re-blinds every
// stored document under it; rerunning resumes an unfinished rotation.
func newRotateBlindingKeyCmd() *cobra.Command {
	var tf toolFlags
	var parallel int
	var retire string
	cmd := &cobra.Command{
		Use:   "rotate-blinding-key",
		Short: "Re-blind every mapped document under a new key version (resumable)",
		Long: `Rotate the blinding key of document indexes.

Without --retire: if a rotation is unfinished (documents are not yet blinded
under the newest version), it is resumed; otherwise a new key version is
generated, added to the key file as current, and every stored document is
blinded again under it and indexed on the ledger. Old and new versions resolve
throughout, so the gateway keeps serving; running gateways pick up the key
file within a minute.

--retire VERSION removes an old version from the key file once no document is
left under it. Keep a backup of the key file: old index entries on the ledger
can only be audited with the old key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := tf.config(cmd)
			if err != nil {
				return err
			}
			if cfg.BlindingKeys != "" {
				return usageError("the keys come from %s; rotate them there", mapping.EnvBlindingKeys)
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			path, _ := m.Config.keyPath(blindingKeysFile)
			kr := m.mapping.Keyring()
			out := cmd.OutOrStdout()
			if retire != "" {
				left, err := m.db.DocumentsNotAt(cmd.Context(), kr.Current(), "", 1)
				if err != nil {
					return err
				}
				if len(left) > 0 || retire == kr.Current() {
					return failure("key_in_use", "blinding key %s is still in use; finish the rotation first", retire)
				}
				next, err := kr.WithoutVersion(retire)
				if err != nil {
					return err
				}
				if err := next.WriteKeyFile(path); err != nil {
					return err
				}
				fmt.Fprintf(out, "retired blinding key %s; versions now %v\n", retire, next.Versions())
				return nil
			}
			next := kr
			left, err := m.db.DocumentsNotAt(cmd.Context(), kr.Current(), "", 1)
			if err != nil {
				return err
			}
			if len(left) == 0 {
				next, err = kr.AddVersion(kr.NextVersion(), mapping.NewKey(), true)
				if err != nil {
					return err
				}
				if err := next.WriteKeyFile(path); err != nil {
					return err
				}
				fmt.Fprintf(out, "added blinding key %s to %s\n", next.Current(), path)
			} else {
				fmt.Fprintf(out, "resuming the rotation to %s\n", kr.Current())
			}
			p, err := audit.Do(cmd.Context(), m.trail, audit.Entry{Act: audit.ActBlindingKeyRotate, Target: next.Current()},
				func(ctx context.Context) (*mapping.RotationProgress, error) {
					return m.mapping.Rotate(ctx, next, mapping.RotateOptions{Parallel: parallel,
						Progress: func(p mapping.RotationProgress) {
							fmt.Fprintf(cmd.ErrOrStderr(), "\r%d documents re-blinded, %d skipped, %d failed", p.Done, p.Skipped, p.Failed)
						}})
				}, func(p *mapping.RotationProgress) any { return p })
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "rotation to %s: %d re-blinded, %d skipped (deactivated eIDs), %d failed\n", p.Target, p.Done, p.Skipped, p.Failed)
			if p.Failed > 0 {
				return failure("rotation_incomplete", "%d documents failed; see the log and run the command again", p.Failed)
			}
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().IntVar(&parallel, "parallel", 4, "ledger transactions in flight")
	cmd.Flags().StringVar(&retire, "retire", "", "remove this old key version once nothing uses it")
	return cmd
}

func newRotateTicketKeyCmd() *cobra.Command {
	var tf toolFlags
	cmd := &cobra.Command{
		Use:   "rotate-ticket-key",
		Short: "Make a new ticket-signing key; the old one keeps verifying until its tickets expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := tf.config(cmd)
			if err != nil {
				return err
			}
			path, _ := cfg.keyPath(ticket.KeyFileName)
			kr, err := ticket.OpenKeyring(path, nil)
			if err != nil {
				return err
			}
			trail, closeDB, err := recordOnlyTrail(cmd, cfg)
			if err != nil {
				return err
			}
			defer closeDB()
			kid, err := audit.Do(withOperator(cmd.Context()), trail, audit.Entry{Act: audit.ActTicketKeyRotate, Target: path},
				func(context.Context) (string, error) { return kr.Rotate() },
				func(kid string) any { return map[string]string{"kid": kid} })
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new ticket signing key %s in %s; running gateways pick it up within a minute\n", kid, path)
			return nil
		},
	}
	tf.bindOnly(cmd.Flags(), "data-dir", "ticket-keys-file", "db", "pseudonym-key-file")
	return cmd
}

// recordOnlyTrail opens the database alone and an audit trail over it, for
// a command that changes nothing on the ledger but must record its act.
func recordOnlyTrail(cmd *cobra.Command, cfg Config) (*audit.Trail, func(), error) {
	m := NewMain(cfg)
	m.Logger = newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
	if err := m.openStore(cmd.Context()); err != nil {
		return nil, nil, err
	}
	closeDB := func() { _ = m.Close() }
	key, err := m.secretKey(pseudonymKeyFile)
	if err != nil {
		closeDB()
		return nil, nil, fmt.Errorf("pseudonym key: %w", err)
	}
	trail, err := audit.New(audit.Config{Store: m.db, PseudonymKey: key, Logger: m.Logger})
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	return trail, closeDB, nil
}

// newInitKeysCmd creates the keys every replica of a deployment shares.
func newInitKeysCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "init-keys --dir DIR",
		Short: "Create, once, the key files every gateway replica shares, and print the settings naming them",
		Long: `Create in DIR the keys every replica of one deployment must share — the access
ticket signing keys, the blinding keys of the document index, the sealing key of
stored document numbers, the pseudonym key of officials and the page key of the
sign-in forms — each with mode 0600, keeping any that exist. Then give every
replica the same files (a Kubernetes secret, a configuration management copy)
and the settings printed here (or the flags --ticket-keys-file,
--blinding-key-file, --sealing-key-file, --pseudonym-key-file, --page-key-file).
A replica started with one of these settings never creates that key itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError("--dir DIR: where to create the key files")
			}
			res, err := initKeys(dir)
			for _, r := range res {
				state := "kept"
				if r.created {
					state = "created"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s %s (%s)\n", state, r.path, r.key.what)
			}
			if err != nil {
				return err
			}
			for _, r := range res {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", configTag(r.key.flag, "env"), r.path)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the key files (created with mode 0700)")
	return cmd
}

func newListUsersCmd() *cobra.Command {
	var tf toolFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the console accounts: user name, role, whether disabled",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			users, err := m.admins.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONLines(cmd, users)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "USER\tROLE\tSTATE\tCREATED")
			for _, u := range users {
				state := "active"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Username, u.Role, state, cliTime(u.CreatedAt))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(users) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no console accounts; create one with eidgate admin create-user NAME")
			}
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object a line")
	return cmd
}

func newListKeysCmd() *cobra.Command {
	var tf toolFlags
	var asJSON bool
	var department string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets): id, department, name, created, last used, revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			var keys []accounts.APIKey
			if department != "" {
				keys, err = m.apiKeys.ListAPIKeys(cmd.Context(), department)
			} else {
				keys, err = m.db.ListAllAPIKeys(cmd.Context())
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONLines(cmd, keys)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tDEPARTMENT\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Department, k.Name, cliTime(k.CreatedAt), cliTime(k.LastUsedAt), cliTime(k.RevokedAt))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(keys) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no API keys; issue one with eidgate admin issue-api-key DEPARTMENT")
			}
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().StringVar(&department, "department", "", "only this department's keys")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object a line")
	return cmd
}

// cliTime is a time as the listings print it: local, with its zone; "-"
// for none.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// printJSONLines prints each item as one line of JSON.
func printJSONLines[T any](cmd *cobra.Command, items []T) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
