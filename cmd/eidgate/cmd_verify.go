package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/routing"
)

func newVerifyCmd() *cobra.Command {
	var tf toolFlags
	var offline bool
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a record against its on-chain digest and the provider's signature",
		Long: `Verify a record offline from its provider: FILE (or - for standard input) is a
record envelope as providers serve it,

  {"eid":"did:eidgate:…","data_type":"edu.degree","provider":"edu-bureau",
   "version":1,"salt":"<base64url>","record":{…}}

The record is canonicalised (RFC 8785), hashed with its salt, and compared with
the digest on the ledger's route entry; the provider's ECDSA signature over
the route statement is checked against its registered key. Prints one JSON
object and exits 0 when the record is valid, 1 when it is not, 2 on usage
errors.

FILE may also be a consent proof (format eidgate-consent-proof/v1, as the
portal, the department API and the console export it): the resident's
WebAuthn signatures are checked against the consent's terms with the keys
in the proof and compared with the ledger; with --offline from the file
alone. Exits 0 when the resident's signature verifies, 1 when a signature
or the ledger disagrees, 3 when the consent is valid but password-only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw []byte
			var err error
			if args[0] == "-" {
				raw, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			} else {
				raw, err = os.ReadFile(args[0])
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if isConsentProof(raw) {
				return verifyConsentProof(cmd, &tf, args[0], raw, offline)
			}
			var env routing.RecordEnvelope
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&env); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("%s is not a record envelope: %v", args[0], err)}
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			v, err := routing.NewVerifier(routing.VerifierConfig{Routes: m.agent, Registry: m.agent})
			if err != nil {
				return err
			}
			res, err := v.Verify(cmd.Context(), env)
			if err != nil {
				if routing.KindOf(err) == routing.KindInvalid {
					return &exitError{code: 2, err: fmt.Errorf("%s", routing.MessageOf(err))}
				}
				return fmt.Errorf("%s", routing.MessageOf(err))
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
			if !res.Valid {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	tf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&offline, "offline", false, "check a consent proof from the file alone, without reading the ledger")
	return cmd
}
