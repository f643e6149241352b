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
	if r.Ledger, err = ledgerCheck(cmd, tf, offline, func(m *Main) (*approval.LedgerCheck, error) {
		return approval.CompareWithLedger(cmd.Context(), m.agent, p)
	}); err != nil {
		return err
	}
	return proofVerdict(cmd, r, r.Valid, r.SignedByResident, r.Ledger, "consent")
}

// verifyRuleProof checks a standing rule proof as verifyConsentProof
// checks a consent proof, with the same exit codes.
func verifyRuleProof(cmd *cobra.Command, tf *toolFlags, name string, raw []byte, offline bool) error {
	p, err := approval.ParseRuleProof(raw)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", name, err)}
	}
	r := approval.VerifyRule(p)
	if r.Ledger, err = ledgerCheck(cmd, tf, offline, func(m *Main) (*approval.LedgerCheck, error) {
		return approval.CompareRuleWithLedger(cmd.Context(), m.agent, p)
	}); err != nil {
		return err
	}
	return proofVerdict(cmd, r, r.Valid, r.SignedByResident, r.Ledger, "standing rule")
}

// ledgerCheck compares a proof with the ledger the tool flags name, unless
// offline.
func ledgerCheck(cmd *cobra.Command, tf *toolFlags, offline bool, compare func(*Main) (*approval.LedgerCheck, error)) (*approval.LedgerCheck, error) {
	if offline {
		return nil, nil
	}
	m, err := tf.open(cmd)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return compare(m)
}

// proofVerdict prints report and sets the exit code.
func proofVerdict(cmd *cobra.Command, report any, valid, signed bool, lc *approval.LedgerCheck, what string) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		return err
	}
	switch {
	case !valid || (lc != nil && !lc.Matches):
		return &exitError{code: exitFailed}
	case !signed:
		return failure("password_only", "the %s is valid but password-only: the resident signed nothing with a passkey", what)
	}
	return nil
}
