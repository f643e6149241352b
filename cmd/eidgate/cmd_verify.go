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
errors.`,
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
	return cmd
}
