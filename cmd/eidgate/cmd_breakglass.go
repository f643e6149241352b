package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/policies"
	"github.com/eidgate/eidgate/routing"
)

// newBreakGlassCmd is `admin break-glass list|set|remove|accesses|review`:
// the policy's break-glass grants (each change a policy version and an
// audit record under the operator's name, a proposal when four eyes hold
// policy changes) and the auditors' review of break-glass accesses.
func newBreakGlassCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "break-glass", Short: "Break-glass grants and the review of break-glass accesses"}
	act := func(use, short string, args cobra.PositionalArgs, run func(m *Main, cmd *cobra.Command, a []string) error) *cobra.Command {
		var tf toolFlags
		c := &cobra.Command{Use: use, Short: short, Args: args, RunE: func(cmd *cobra.Command, a []string) error {
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			return run(m, cmd, a)
		}}
		tf.bind(c.Flags())
		return c
	}
	changed := func(cmd *cobra.Command, what string, v int64, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s; policy version %d\n", what, v)
		return nil
	}
	grantArgs := func(a []string) policies.Grant {
		return policies.Grant{Subject: a[0], DataType: a[1], Purpose: a[2]}
	}
	list := act("list", "List the break-glass grants", cobra.NoArgs, func(m *Main, cmd *cobra.Command, _ []string) error {
		grants, err := m.audited.policies.BreakGlassGrants(cmd.Context())
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SUBJECT\tDATA TYPE\tPURPOSE\tSEALED DAYS\tSET BY\tSET AT")
		for _, g := range grants {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", g.Subject, g.DataType, g.Purpose, g.SealDays, g.CreatedBy, g.CreatedAt.Format(time.RFC3339))
		}
		return w.Flush()
	})
	set := act("set SUBJECT DATA_TYPE PURPOSE SEAL_DAYS",
		"Let SUBJECT (a department or role) resolve DATA_TYPE for the statutory PURPOSE without consent, each access sealed from the resident for SEAL_DAYS",
		cobra.ExactArgs(4), func(m *Main, cmd *cobra.Command, a []string) error {
			days, err := strconv.Atoi(a[3])
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("SEAL_DAYS %q: want a whole number of days", a[3])}
			}
			g := grantArgs(a)
			g.SealDays = days
			v, err := m.audited.policies.SetBreakGlass(cmd.Context(), operatorName(cmd), g)
			return changed(cmd, "set "+g.String(), v, err)
		})
	remove := act("remove SUBJECT DATA_TYPE PURPOSE", "Remove a break-glass grant", cobra.ExactArgs(3),
		func(m *Main, cmd *cobra.Command, a []string) error {
			v, err := m.audited.policies.RemoveBreakGlass(cmd.Context(), operatorName(cmd), grantArgs(a))
			return changed(cmd, "removed the break-glass grant for "+a[0]+", "+a[1]+", "+a[2], v, err)
		})
	var unreviewed bool
	accesses := act("accesses", "List break-glass accesses, newest first, with their legal basis and review", cobra.NoArgs,
		func(m *Main, cmd *cobra.Command, _ []string) error {
			f := routing.AccessFilter{BreakGlass: true, Desc: true, Limit: 1000}
			if unreviewed {
				f.Reviewed = new(false)
			}
			recs, err := m.access.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ACCESS\tAT\tDEPARTMENT\tOFFICIAL\tDATA TYPE\tPURPOSE\tSEALED UNTIL\tREVIEWED BY\tLEGAL BASIS")
			for _, r := range recs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Format(time.RFC3339), r.Requester, r.Official,
					r.DataType, r.Purpose, r.VisibleAfter.Format(time.RFC3339), orDash(r.ReviewedBy), r.LegalBasis)
			}
			return w.Flush()
		})
	accesses.Flags().BoolVar(&unreviewed, "unreviewed", false, "only accesses no auditor has reviewed")
	review := act("review ACCESS_ID NOTE", "Mark a break-glass access reviewed, with what the review found", cobra.ExactArgs(2),
		func(m *Main, cmd *cobra.Command, a []string) error {
			r, err := audit.NewAccess(m.access, m.trail).Review(cmd.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s reviewed by %s\n", r.ID, r.ReviewedBy)
			return nil
		})
	cmd.AddCommand(list, set, remove, accesses, review)
	return cmd
}

// operatorName is who the policy history names for a change made here.
func operatorName(cmd *cobra.Command) string {
	a, _ := routing.ActorFrom(cmd.Context())
	return a.Official
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
