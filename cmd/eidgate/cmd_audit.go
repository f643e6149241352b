package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/audit"
)

// auditFlags are the filters of the audit commands.
type auditFlags struct {
	act, official, eid, status, from, to string
	limit                                int
}

func (af *auditFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&af.act, "act", "", "only this act (eid.merge, policy.line.add, staff.disable, …)")
	fs.StringVar(&af.official, "official", "", "only acts of this official (admin:NAME, cli:USER)")
	fs.StringVar(&af.eid, "eid", "", "only acts on this eID")
	fs.StringVar(&af.status, "status", "", "only records in this status (pending, done, failed, unknown)")
	fs.StringVar(&af.from, "from", "", "only acts at or after this RFC 3339 time")
	fs.StringVar(&af.to, "to", "", "only acts before this RFC 3339 time")
}

func (af *auditFlags) filter() (audit.Filter, error) {
	f := audit.Filter{Act: af.act, Official: af.official, EID: af.eid, Status: af.status, Limit: af.limit}
	for _, tf := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--from", af.from, &f.From}, {"--to", af.to, &f.To}} {
		if tf.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, tf.v)
		if err != nil {
			return f, &exitError{code: 2, err: fmt.Errorf("%s: want an RFC 3339 time", tf.flag)}
		}
		*tf.dst = t
	}
	return f, nil
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Browse and export the officials' audit trail",
	}
	cmd.AddCommand(newAuditListCmd(), newAuditExportCmd())
	return cmd
}

func newAuditListCmd() *cobra.Command {
	var tf toolFlags
	var af auditFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit records, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := af.filter()
			if err != nil {
				return err
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			recs, err := m.trail.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SEQ\tAT\tOFFICIAL\tACT\tTARGET\tSTATUS\tANCHORED\tREASON")
			for _, r := range recs {
				anchored := "no"
				if r.AnchorTxID != "" {
					anchored = "yes"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.At.UTC().Format(time.RFC3339), r.Official, r.Act,
					r.Target, r.Status, anchored, r.Reason)
			}
			return w.Flush()
		},
	}
	tf.bind(cmd.Flags())
	af.bind(cmd)
	cmd.Flags().IntVar(&af.limit, "limit", 50, "at most this many records")
	return cmd
}

func newAuditExportCmd() *cobra.Command {
	var tf toolFlags
	var af auditFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every matching audit record as CSV or JSON lines to standard output",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "jsonl" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want csv or jsonl", format)}
			}
			f, err := af.filter()
			if err != nil {
				return err
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			f.Limit = 1000
			exp := audit.NewExporter(cmd.OutOrStdout(), format)
			for {
				recs, err := m.trail.List(cmd.Context(), f)
				if err != nil {
					return err
				}
				if err := exp.Write(recs); err != nil {
					return err
				}
				if len(recs) < f.Limit {
					return nil
				}
				f.BeforeSeq = recs[len(recs)-1].Seq
			}
		},
	}
	tf.bind(cmd.Flags())
	af.bind(cmd)
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	return cmd
}
