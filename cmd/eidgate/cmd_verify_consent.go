package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/approval"
)

// proofFormat is the format member of a proof file ("" for anything
// else), so `eidgate verify` checks a consent or rule proof as one.
func proofFormat(raw []byte) string {
	var head struct {
		Format string `json:"format"`
	}
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&head) != nil {
		return ""
	}
	return head.Format
}

// verifyConsentProof checks a consent proof: from the file alone with
// --offline (anyone can, without eidgate), otherwise also against the
// ledger the tool flags name. Exit 0: the resident's signature over the
// terms verifies (and the ledger agrees); 1: a signature does not verify or
// the ledger disagrees, or the consent is valid but password-only (nothing
// the resident signed, code password_only); 2: usage; 3: the ledger is
// unavailable.
func verifyConsentProof(cmd *cobra.Command, tf *toolFlags, name string, raw []byte, offline bool) error {
	p, err := approval.ParseProof(raw)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", name, err)}
	}
	r := approval.Verify(p)
	if !offline {
		m, err := tf.open(cmd)
		if err != nil {
			return err
		}
		defer m.Close()
		if r.Ledger, err = approval.CompareWithLedger(cmd.Context(), m.agent, p); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	switch {
	case !r.Valid || (r.Ledger != nil && !r.Ledger.Matches):
		return &exitError{code: exitFailed}
	case !r.SignedByResident:
		return failure("password_only", "the consent is valid but password-only: the resident signed nothing with a passkey")
	}
	return nil
}

// verifyRuleProof checks a standing rule proof as verifyConsentProof
// checks a consent proof, with the same exit codes.
func verifyRuleProof(cmd *cobra.Command, tf *toolFlags, name string, raw []byte, offline bool) error {
	p, err := approval.ParseRuleProof(raw)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", name, err)}
	}
	r := approval.VerifyRule(p)
	if !offline {
		m, err := tf.open(cmd)
		if err != nil {
			return err
		}
		defer m.Close()
		if r.Ledger, err = approval.CompareRuleWithLedger(cmd.Context(), m.agent, p); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	switch {
	case !r.Valid || (r.Ledger != nil && !r.Ledger.Matches):
		return &exitError{code: exitFailed}
	case !r.SignedByResident:
		return failure("password_only", "the standing rule is valid but password-only: the resident signed nothing with a passkey")
	}
	return nil
}
