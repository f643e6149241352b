package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/mapping"
)

// newRepresentationCmds are `admin representations register|list|end`:
// an officer at the host records, reads and ends the relations under
// which a guardian acts for a ward; register and end are audit records
// under the operator's name.
func newRepresentationCmds() *cobra.Command {
	root := &cobra.Command{Use: "representations", Short: "Guardians' relations to the residents they act for"}

	var in mapping.RelationInput
	wardDoc := mapping.Input{Type: mapping.CNResident}
	register := jsonToolCmd("register", "Register that a guardian may act for a ward (parent of a minor, guardian, legal representative)", cobra.NoArgs,
		func(m *Main, cmd *cobra.Command, _ []string) (any, error) {
			if wardDoc.Number != "" {
				in.WardDocument = &wardDoc
			}
			return m.audited.relations.Register(cmd.Context(), in, operatorName(cmd))
		})
	f := register.Flags()
	f.StringVar(&in.Ward, "ward", "", "the ward's eID")
	f.StringVar(&in.Guardian, "guardian", "", "the guardian's eID")
	f.StringVar(&in.Kind, "kind", "parent", "parent, guardian or legal_representative")
	f.StringVar(&in.EvidenceKind, "evidence-kind", "birth_certificate", "birth_certificate, household_register, court_order, guardianship_certificate or notarised_authorisation")
	f.StringVar(&in.EvidenceReference, "evidence-reference", "", "the evidence document's number (hashed and masked, never stored)")
	f.StringVar(&wardDoc.Number, "ward-id-number", "", "the ward's PRC resident ID number, for the date of birth (parent)")
	f.StringVar(&in.WardBirthDate, "ward-birth-date", "", "the ward's date of birth YYYY-MM-DD (parent, without --ward-id-number)")
	f.StringVar(&in.ValidUntil, "valid-until", "", "RFC 3339 end (required unless parent)")

	var ward, guardian string
	list := jsonToolCmd("list", "List the relations of a ward (--ward) or of a guardian (--guardian)", cobra.NoArgs,
		func(m *Main, cmd *cobra.Command, _ []string) (any, error) {
			switch {
			case (ward == "") == (guardian == ""):
				return nil, usageError("name either --ward or --guardian")
			case ward != "":
				return m.reps.Guardians(cmd.Context(), ward)
			}
			return m.reps.Wards(cmd.Context(), guardian)
		})
	list.Flags().StringVar(&ward, "ward", "", "the ward's eID")
	list.Flags().StringVar(&guardian, "guardian", "", "the guardian's eID")

	var reason string
	end := jsonToolCmd("end ID", "End a relation: the guardian can no longer act for the ward", cobra.ExactArgs(1),
		func(m *Main, cmd *cobra.Command, args []string) (any, error) {
			return m.audited.relations.End(cmd.Context(), args[0], reason, operatorName(cmd))
		})
	end.Flags().StringVar(&reason, "reason", "", "why the relation ends (required)")
	root.AddCommand(register, list, end)
	return root
}

// jsonToolCmd is a command that opens the gateway's services on this
// host, runs and prints its result as JSON.
func jsonToolCmd(use, short string, args cobra.PositionalArgs, run func(m *Main, cmd *cobra.Command, args []string) (any, error)) *cobra.Command {
	var tf toolFlags
	cmd := &cobra.Command{
		Use: use, Short: short, Args: args,
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
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	tf.bind(cmd.Flags())
	return cmd
}
