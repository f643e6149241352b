package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/spf13/cobra"
)

func newIDCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Identity documents: validate and normalise numbers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newIDCheckCmd())
	return cmd
}

// idCheckResult is one line of `id check` output. normalized is the full
// normalised number when valid (the operator's own input, on their own
// terminal) and only the masked form when invalid.
type idCheckResult struct {
	Type       mapping.DocType `json:"type"`
	Valid      bool            `json:"valid"`
	Normalized string          `json:"normalized"`
	Reason     mapping.Reason  `json:"reason"`
}

func newIDCheckCmd() *cobra.Command {
	var all bool
	var country string
	types := make([]string, 0, len(mapping.Types()))
	for _, t := range mapping.Types() {
		types = append(types, string(t))
	}
	cmd := &cobra.Command{
		Use:   "check (TYPE NUMBER | --all NUMBER)",
		Short: "Check an identity document number and print one JSON object per type",
		Long: `Check an identity document number: validate, normalise and print
{"type":…,"valid":…,"normalized":…,"reason":…} on one line. A valid number is
printed in full normal form; an invalid one only masked, with its reason code
(length, characters, format, checksum, date, region, country).

Types: ` + strings.Join(types, ", ") + `.

Passports need the issuing state (ISO 3166-1 alpha-3 or ICAO code):
--country USA, or the number written USA:L898902C3. The MRZ form with check
digit (L898902C36) is verified.

--all tries every type and prints one line per type.

Exit status: 0 valid (with --all: valid for some type), 1 invalid, 2 usage error.`,
		Example: `  eidgate id check cn-resident 11010519491231002X
  eidgate id check passport --country USA L898902C3
  eidgate id check --all H1234567801`,
		Args: func(cmd *cobra.Command, args []string) error {
			want := 2
			if all {
				want = 1
			}
			if len(args) != want {
				return usageError("want %s, got %d arguments; see eidgate id check --help", cmd.Use, len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			out := json.NewEncoder(cmd.OutOrStdout())
			if all {
				anyValid, passportNeedsCountry := false, false
				for _, t := range mapping.Types() {
					res, _ := checkDocument(mapping.Input{Type: t, Number: args[0], Country: country}, now)
					anyValid = anyValid || res.Valid
					passportNeedsCountry = passportNeedsCountry || (t == mapping.Passport && res.Reason == mapping.ReasonCountry && country == "")
					if err := out.Encode(res); err != nil {
						return err
					}
				}
				hint := ""
				if passportNeedsCountry {
					hint = "; if it is a passport number, give its issuing state: --country USA, or write it as USA:NUMBER"
				}
				if !anyValid {
					return failure("no_document_type", "no document type accepts the number%s", hint)
				}
				if hint != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "Note: a passport number needs its issuing state (--country USA) to be checked as one")
				}
				return nil
			}
			t := mapping.DocType(args[0])
			if !t.Known() {
				return usageError("unknown document type (types: %s)", strings.Join(types, ", "))
			}
			if country != "" && t != mapping.Passport {
				return usageError("--country applies to passports only")
			}
			res, err := checkDocument(mapping.Input{Type: t, Number: args[1], Country: country}, now)
			if encErr := out.Encode(res); encErr != nil {
				return encErr
			}
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "try every document type, one output line each")
	cmd.Flags().StringVar(&country, "country", "", "issuing state of a passport (ISO 3166-1 alpha-3 or ICAO code, e.g. USA)")
	return cmd
}

// checkDocument parses one input into its output line; the error is the
// rejection (its text holds only the masked number).
func checkDocument(in mapping.Input, now time.Time) (idCheckResult, error) {
	doc, err := mapping.Parse(in, now)
	if err != nil {
		res := idCheckResult{Type: in.Type, Reason: mapping.ReasonOf(err), Normalized: mapping.MaskedOf(err)}
		return res, rejectionText(err)
	}
	return idCheckResult{Type: doc.Type(), Valid: true, Normalized: doc.RevealNormalized()}, nil
}

// rejectionText is a rejection as the command prints it: the type, the
// masked input, the reason and what is wrong.
func rejectionText(err error) error {
	t := string(mapping.TypeOf(err))
	if t == "" {
		t = "document"
	}
	if m := mapping.MaskedOf(err); m != "" {
		t += " " + m
	}
	return &routing.Error{Kind: routing.KindInvalid, Code: mapping.CodeInvalidDocument, Op: "eidgate",
		Message: fmt.Sprintf("%s: %s; reason: %s", t, routing.MessageOf(err), mapping.ReasonOf(err))}
}
