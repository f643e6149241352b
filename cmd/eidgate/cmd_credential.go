package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
)

func newCredentialCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Issue, revoke, suspend, reinstate and present verifiable credentials",
		Long: `Credentials are W3C VC 2.0 documents secured as SD-JWT (application/vc+sd-jwt),
issued by a department with its signing key, anchored on the ledger as the
route entry's digest, with W3C Bitstring Status List revocation and
suspension (docs/credentials.md).

Exit status: 0 done, 1 refused (the error names its code), 2 usage error,
3 the ledger or database is unavailable.`,
	}
	cmd.AddCommand(newCredentialIssueCmd(), newCredentialStatusCmd(credential.ActionRevoke),
		newCredentialStatusCmd(credential.ActionSuspend), newCredentialStatusCmd(credential.ActionReinstate),
		newCredentialPresentCmd())
	return cmd
}

// credentialToolFlags are the settings credential commands take beyond
// the tools' own: the gateway's public URL credentials name, and where the
// issuing keys are.
var credentialToolFlags = []string{"public-url", "issuer-key-dir"}

// bindCredentialTools adds the tool flags the credential commands take.
func bindCredentialTools(tf *toolFlags, fs *pflag.FlagSet) { tf.bind(fs, credentialToolFlags...) }

func newCredentialIssueCmd() *cobra.Command {
	var tf toolFlags
	var dept, eid, dataType, claimsFile, holderFile, validUntil string
	cmd := &cobra.Command{
		Use:   "issue --dept D --eid E --type T --claims FILE",
		Short: "Issue a credential with a department's key and print the compact token",
		Long: `Issue a credential about resident E for data type T with department D's
signing key (<issuer key dir>/<D>.pem, an active key of D on the ledger). FILE
holds the claims as a JSON object (- for standard input), validated against
the data type's JSON Schema. --holder-jwk FILE binds it to the resident's own
P-256 key (a JWK); without it, to the key the portal keeps for them.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dept == "" || eid == "" || dataType == "" || claimsFile == "" {
				return &exitError{code: 2, err: errors.New("--dept, --eid, --type and --claims are required")}
			}
			claims, err := readInputFile(cmd, claimsFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if !json.Valid(claims) {
				return &exitError{code: 2, err: fmt.Errorf("%s is not JSON", claimsFile)}
			}
			req := credential.IssueRequest{Issuer: dept, Subject: eid, DataType: dataType, Claims: claims}
			if holderFile != "" {
				raw, err := os.ReadFile(holderFile)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				var jwk sdjwt.JWK
				if err := json.Unmarshal(raw, &jwk); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--holder-jwk %s: not a JWK: %v", holderFile, err)}
				}
				req.Holder = &jwk
			}
			if validUntil != "" {
				if req.ValidUntil, err = time.Parse(time.RFC3339, validUntil); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--valid-until %q: want an RFC 3339 time", validUntil)}
				}
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			out, err := m.credentials.Issue(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Token)
			return nil
		},
	}
	cmd.Args = cobra.NoArgs
	fs := cmd.Flags()
	fs.StringVar(&dept, "dept", "", "the issuing department")
	fs.StringVar(&eid, "eid", "", "the resident's eID")
	fs.StringVar(&dataType, "type", "", "the data type code, e.g. edu.degree")
	fs.StringVar(&claimsFile, "claims", "", "JSON file of the claims (- for standard input)")
	fs.StringVar(&holderFile, "holder-jwk", "", "JSON file of the resident's P-256 public key (JWK)")
	fs.StringVar(&validUntil, "valid-until", "", "end of validity (RFC 3339)")
	bindCredentialTools(&tf, fs)
	return cmd
}

func newCredentialStatusCmd(action string) *cobra.Command {
	var tf toolFlags
	var dept string
	cmd := &cobra.Command{
		Use: action + " --dept D ID",
		Short: map[string]string{credential.ActionRevoke: "Revoke a credential (final)", credential.ActionSuspend: "Suspend a credential",
			credential.ActionReinstate: "Lift a credential's suspension"}[action],
		RunE: func(cmd *cobra.Command, args []string) error {
			if dept == "" {
				return &exitError{code: 2, err: errors.New("--dept is required")}
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()
			c, err := m.credentials.SetStatus(cmd.Context(), dept, args[0], action)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"id": c.ID, "revoked": c.Revoked, "suspended": c.Suspended})
		},
	}
	cmd.Args = cobra.ExactArgs(1)
	cmd.Flags().StringVar(&dept, "dept", "", "the issuing department")
	bindCredentialTools(&tf, cmd.Flags())
	return cmd
}

func newCredentialPresentCmd() *cobra.Command {
	var tokenFile, disclose, nonce, audience, keyFile string
	cmd := &cobra.Command{
		Use:   "present --token FILE --disclose a,b --nonce N --audience A --holder-key FILE",
		Short: "Build a presentation (SD-JWT+KB) of a credential, offline",
		Long: `Build a presentation of the credential in --token with the claims named in
--disclose, bound to the verifier's nonce and audience (its DID) with the
holder's private key (PEM, PKCS#8 P-256), as a wallet does. Nothing is
contacted. Prints the compact presentation.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tokenFile == "" || nonce == "" || audience == "" || keyFile == "" {
				return &exitError{code: 2, err: errors.New("--token, --nonce, --audience and --holder-key are required")}
			}
			token, err := readInputFile(cmd, tokenFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			key, err := readHolderKey(keyFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var names []string
			for _, n := range strings.Split(disclose, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
			p, err := credential.Present(strings.TrimSpace(string(token)), credential.PresentOptions{Disclose: names, Holder: key,
				Audience: audience, Nonce: nonce, At: time.Now()})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Args = cobra.NoArgs
	fs := cmd.Flags()
	fs.StringVar(&tokenFile, "token", "", "file of the compact credential (- for standard input)")
	fs.StringVar(&disclose, "disclose", "", "comma-separated claim names to disclose")
	fs.StringVar(&nonce, "nonce", "", "the verifier's nonce")
	fs.StringVar(&audience, "audience", "", "the verifier's DID")
	fs.StringVar(&keyFile, "holder-key", "", "PEM file of the holder's P-256 private key")
	return cmd
}

// readHolderKey reads a PKCS#8 (or SEC 1) P-256 private key.
func readHolderKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if ek, ok := k.(*ecdsa.PrivateKey); ok {
			return ek, nil
		}
		return nil, fmt.Errorf("%s: not an ECDSA key", path)
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a P-256 private key", path)
	}
	return k, nil
}

// readAllLimited reads r up to limit bytes, refusing more.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the input is larger than %d bytes", limit)
	}
	return b, nil
}

// readInputFile reads path, or standard input for "-" (at most 4 MiB).
func readInputFile(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return readAllLimited(cmd.InOrStdin(), credential.MaxInputSize)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > credential.MaxInputSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, credential.MaxInputSize)
	}
	return os.ReadFile(path)
}
