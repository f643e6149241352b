package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/routing"
)

func newVerifyCmd() *cobra.Command {
	var tf toolFlags
	var bundleFile, audience, nonce string
	var offline bool
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a credential, a presentation or a record against the ledger",
		Long: `Verify FILE (or - for standard input). It is one of:

  * a verification file: {"presentation" | "credential", "audience", "nonce",
    "bundle": {issuers, status_lists, anchors}} — checked offline from its proof
    bundle (issuer DID document, status lists with their ledger anchors, the
    route entry), no network;
  * a compact credential (ey…~) or presentation (ey…~…~ey…): checked offline
    with --bundle FILE, or online against the gateway's ledger and status
    lists; a presentation needs --audience and --nonce;
  * a JSON array of record envelopes, such as the demo's demo-records.json
    (an element carrying a credential is checked as that credential);
  * a record envelope as providers serve it,
      {"eid":"did:eidgate:…","data_type":"edu.degree","provider":"edu-bureau",
       "version":1,"salt":"<base64url>","record":{…}}
    canonicalised (RFC 8785), hashed with its salt and compared with the route
    entry's digest; the provider's signature is checked with its registered key.

Prints one JSON object: for credentials the result with every check (issuer,
signature, issuer key, disclosures, validity, key binding, status, anchor).
Exits 0 for a valid credential, presentation or record, 1 for an invalid,
revoked or suspended one, 2 on usage errors, 3 when the ledger or database
is unavailable.

FILE may also be a consent proof (format eidgate-consent-proof/v1, as the
portal, the department API and the console export it): the resident's
WebAuthn signatures are checked against the consent's terms with the keys
in the proof and compared with the ledger; with --offline from the file
alone. Exits 0 when the resident's signature verifies, 1 when a signature
or the ledger disagrees or when the consent is password-only (valid, but
nothing the resident signed: "signed_by_resident": false). A standing rule
proof (format eidgate-rule-proof/v1) is checked the same way: the
resident's signature over the rule's terms when it was created (and
revoked), with the same exit codes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readInputFile(cmd, args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			switch proofFormat(raw) {
			case approval.ProofFormat:
				return verifyConsentProof(cmd, &tf, args[0], raw, offline)
			case approval.RuleProofFormat:
				return verifyRuleProof(cmd, &tf, args[0], raw, offline)
			}
			if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
				return verifyRecords(cmd, &tf, args[0], raw)
			}
			in, isCredential, err := credential.ParseInput(raw)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", args[0], err)}
			}
			if !isCredential {
				if bundleFile != "" || audience != "" || nonce != "" {
					return &exitError{code: 2, err: fmt.Errorf("--bundle, --audience and --nonce are for credentials and presentations; %s is not one", args[0])}
				}
				return verifyRecord(cmd, &tf, args[0], raw)
			}
			return verifyCredential(cmd, &tf, in, bundleFile, audience, nonce)
		},
	}
	cmd.Args = cobra.ExactArgs(1)
	cmd.Flags().StringVar(&bundleFile, "bundle", "", "proof bundle (JSON) to check a compact credential or presentation offline")
	cmd.Flags().StringVar(&audience, "audience", "", "the audience (verifier DID) a presentation must be bound to")
	cmd.Flags().StringVar(&nonce, "nonce", "", "the nonce a presentation must answer")
	tf.bind(cmd.Flags(), "public-url")
	cmd.Flags().BoolVar(&offline, "offline", false, "check a consent proof from the file alone, without reading the ledger")
	return cmd
}

// verifyCredential checks a credential or presentation offline from its
// bundle, or online through the gateway's data.
func verifyCredential(cmd *cobra.Command, tf *toolFlags, in credential.Input, bundleFile, audience, nonce string) error {
	if audience != "" || nonce != "" {
		if in.Audience != "" || in.Nonce != "" {
			return &exitError{code: 2, err: fmt.Errorf("the verification file names its audience and nonce; drop --audience and --nonce")}
		}
		in.Audience, in.Nonce = audience, nonce
	}
	if in.Presentation && (in.Audience == "" || in.Nonce == "") {
		return &exitError{code: 2, err: fmt.Errorf("a presentation is checked against the audience and nonce it was made for: pass --audience and --nonce")}
	}
	if bundleFile != "" {
		if in.Bundle != nil {
			return &exitError{code: 2, err: fmt.Errorf("the verification file carries its bundle; drop --bundle")}
		}
		raw, err := os.ReadFile(bundleFile)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var b credential.ProofBundle
		if err := dec.Decode(&b); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--bundle %s is not a proof bundle: %v", bundleFile, err)}
		}
		in.Bundle = &b
	}
	req := credential.Request{Token: in.Token, Presentation: in.Presentation, Audience: in.Audience, Nonce: in.Nonce}
	var res *credential.Result
	var err error
	if in.Bundle != nil {
		v := &credential.Verifier{Clock: routing.SystemClock{}}
		res, err = v.Verify(cmd.Context(), in.Bundle, req)
	} else {
		m, oerr := tf.open(cmd)
		if oerr != nil {
			return oerr
		}
		defer m.Close()
		res, err = m.credentials.Verify(cmd.Context(), in.Token, in.Presentation, in.Audience, in.Nonce)
	}
	if err != nil {
		return err
	}
	return printVerdict(cmd, res, res.Valid)
}

// verifyRecord checks a record envelope against the ledger.
func verifyRecord(cmd *cobra.Command, tf *toolFlags, name string, raw []byte) error {
	var env routing.RecordEnvelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%s is not a record envelope, credential, presentation or verification file: %v", name, err)}
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
			return &exitError{code: exitUsage, err: err}
		}
		return err
	}
	return printVerdict(cmd, res, res.Valid)
}

// storedRecord is one element of a list of records as the demo's provider
// keeps them (demo-records.json): an envelope, the digest it published
// (not trusted: the ledger's is compared) and, once a credential was
// issued for it, the credential served in its place.
type storedRecord struct {
	routing.RecordEnvelope
	Digest string `json:"digest,omitempty"`
}

// demoGatewayURL is the gateway address demo.json in dataDir records, ""
// when there is none.
func demoGatewayURL(dataDir string) string {
	info, err := demo.ReadInfo(dataDir)
	if err != nil {
		return ""
	}
	return info.GatewayURL
}

// recordVerdict is the outcome of one element of a list.
type recordVerdict struct {
	EID          string                `json:"eid"`
	DataType     string                `json:"data_type"`
	Provider     string                `json:"provider"`
	Valid        bool                  `json:"valid"`
	Verification *routing.Verification `json:"verification,omitempty"`
	Credential   *credential.Result    `json:"credential,omitempty"`
}

// verifyRecords checks a JSON array of record envelopes (the demo's
// demo-records.json among them): each record against its route entry, or
// the credential issued for it against its issuer and status. It prints
// one JSON array and exits 1 when any element is not valid.
func verifyRecords(cmd *cobra.Command, tf *toolFlags, name string, raw []byte) error {
	var recs []storedRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&recs); err != nil {
		return usageError("%s is not a list of record envelopes: %v", name, err)
	}
	if len(recs) == 0 {
		return usageError("%s is an empty list: nothing to verify", name)
	}
	// The demo's credentials name status lists under the address the demo
	// ran on; without --public-url, that is the gateway these are checked
	// as.
	m, err := tf.open(cmd, func(c *Config) {
		if c.PublicURL == "" {
			c.PublicURL = demoGatewayURL(c.DataDir)
		}
	})
	if err != nil {
		return err
	}
	defer m.Close()
	v, err := routing.NewVerifier(routing.VerifierConfig{Routes: m.agent, Registry: m.agent})
	if err != nil {
		return err
	}
	out := make([]recordVerdict, len(recs))
	all := true
	for i, r := range recs {
		out[i] = recordVerdict{EID: r.EID, DataType: r.DataType, Provider: r.Provider}
		if r.Credential != "" {
			res, err := m.credentials.Verify(cmd.Context(), r.Credential, false, "", "")
			if err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			out[i].Credential, out[i].Valid = res, res.Valid
		} else {
			res, err := v.Verify(cmd.Context(), r.RecordEnvelope)
			if err != nil {
				if routing.KindOf(err) == routing.KindInvalid {
					return &exitError{code: exitUsage, err: fmt.Errorf("element %d: %w", i, err)}
				}
				return fmt.Errorf("element %d: %w", i, err)
			}
			out[i].Verification, out[i].Valid = res, res.Valid
		}
		all = all && out[i].Valid
	}
	return printVerdict(cmd, out, all)
}

// printVerdict prints the result as indented JSON and exits 1 when it is
// not valid.
func printVerdict(cmd *cobra.Command, res any, valid bool) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	if !valid {
		return &exitError{code: 1}
	}
	return nil
}
