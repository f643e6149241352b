package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// newRepresentationCmds are `admin representations register|list|end`:
// an officer at the host records, reads and ends the relations under
// which a guardian acts for a ward; register and end are audit records
// under the operator's name.
func newRepresentationCmds() *cobra.Command {
	root := &cobra.Command{Use: "representations", Short: "Guardians' relations to the residents they act for"}
	var in mapping.RelationInput
	var wardDoc mapping.Input
	var tf toolFlags
	register := &cobra.Command{
		Use:   "register",
		Short: "Register that a guardian may act for a ward (parent of a minor, guardian, legal representative)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			if wardDoc.Number != "" {
				in.WardDocument = &wardDoc
			}
			rep, err := m.audited.relations.Register(cmd.Context(), in, operatorName(cmd))
			if err != nil {
				return err
			}
			return printJSON(cmd, rep)
		},
	}
	tf.bind(register.Flags())
	f := register.Flags()
	f.StringVar(&in.Ward, "ward", "", "the ward's eID")
	f.StringVar(&in.Guardian, "guardian", "", "the guardian's eID")
	f.StringVar(&in.Kind, "kind", "parent", "parent, guardian or legal_representative")
	f.StringVar(&in.EvidenceKind, "evidence-kind", "birth_certificate", "birth_certificate, household_register, court_order, guardianship_certificate or notarised_authorisation")
	f.StringVar(&in.EvidenceReference, "evidence-reference", "", "the evidence document's number (hashed and masked, never stored)")
	f.StringVar(&wardDoc.Number, "ward-id-number", "", "the ward's PRC resident ID number, for the date of birth (parent)")
	f.StringVar(&in.WardBirthDate, "ward-birth-date", "", "the ward's date of birth YYYY-MM-DD (parent, without --ward-id-number)")
	f.StringVar(&in.ValidUntil, "valid-until", "", "RFC 3339 end (required unless parent)")
	wardDoc.Type = mapping.CNResident

	var ltf toolFlags
	var ward, guardian string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the relations of a ward (--ward) or of a guardian (--guardian)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (ward == "") == (guardian == "") {
				return usageError("name either --ward or --guardian")
			}
			m, err := ltf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			var out []routing.RelationView
			if ward != "" {
				out, err = m.reps.Guardians(cmd.Context(), ward)
			} else {
				out, err = m.reps.Wards(cmd.Context(), guardian)
			}
			if err != nil {
				return err
			}
			return printJSON(cmd, out)
		},
	}
	ltf.bind(list.Flags())
	list.Flags().StringVar(&ward, "ward", "", "the ward's eID")
	list.Flags().StringVar(&guardian, "guardian", "", "the guardian's eID")

	var etf toolFlags
	var reason string
	end := &cobra.Command{
		Use:   "end ID",
		Short: "End a relation: the guardian can no longer act for the ward",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := etf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			rep, err := m.audited.relations.End(cmd.Context(), args[0], reason, operatorName(cmd))
			if err != nil {
				return err
			}
			return printJSON(cmd, rep)
		},
	}
	etf.bind(end.Flags())
	end.Flags().StringVar(&reason, "reason", "", "why the relation ends (required)")
	root.AddCommand(register, list, end)
	return root
}

func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return nil
}

// operatorName is the command's operator as an officer's name ("cli:<user>").
func operatorName(cmd *cobra.Command) string {
	a, _ := routing.ActorFrom(cmd.Context())
	return a.Official
}
