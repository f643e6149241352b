package credential

import (
	"context"
	"crypto"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// ProofBundle is everything a verifier needs besides the presentation, so
// it can check one with no network: the issuer's DID resolution (from the
// ledger), the status lists with their ledger anchors, and the route entry
// that anchors the credential. Its parts are only evidence: every one is
// checked (signatures against the DID document's keys, digests against the
// anchors), so a forged bundle fails the checks it forges.
type ProofBundle struct {
	Issuers     []model.DIDResolution `json:"issuers"`
	StatusLists []BundledStatusList   `json:"status_lists"`
	Anchors     []AnchorProof         `json:"anchors"`
}

// BundledStatusList is a status list credential as served at URL, with the
// ledger's anchor of it.
type BundledStatusList struct {
	URL        string                 `json:"url"`
	Credential string                 `json:"credential"`
	Anchor     model.StatusListAnchor `json:"anchor"`
}

// VerificationFile is what `eidgate verify` reads for a credential or
// presentation: the token, what the key binding must answer, and the
// bundle.
type VerificationFile struct {
	Presentation string       `json:"presentation,omitempty"`
	Credential   string       `json:"credential,omitempty"`
	Audience     string       `json:"audience,omitempty"`
	Nonce        string       `json:"nonce,omitempty"`
	Bundle       *ProofBundle `json:"bundle"`
}

func notFound(what string) error {
	return routing.Errorf(routing.KindNotFound, "credential.ProofBundle", "the proof bundle holds no %s", what)
}

// ResolveIssuer implements Evidence.
func (b *ProofBundle) ResolveIssuer(_ context.Context, dept string) (*model.DIDResolution, error) {
	for i := range b.Issuers {
		if b.Issuers[i].DIDDocument.ID == model.IssuerDID(dept) {
			return &b.Issuers[i], nil
		}
	}
	return nil, notFound("DID document of " + dept)
}

// StatusList implements Evidence.
func (b *ProofBundle) StatusList(_ context.Context, url string) (string, error) {
	for _, l := range b.StatusLists {
		if l.URL == url {
			return l.Credential, nil
		}
	}
	return "", notFound("status list " + url)
}

// StatusListAnchor implements Evidence.
func (b *ProofBundle) StatusListAnchor(_ context.Context, issuer, listID string) (*model.StatusListAnchor, error) {
	for _, l := range b.StatusLists {
		if l.Anchor.Issuer == issuer && l.Anchor.ListID == listID {
			a := l.Anchor
			return &a, nil
		}
	}
	return nil, notFound("anchor of status list " + listID)
}

// RouteAnchor implements Evidence.
func (b *ProofBundle) RouteAnchor(_ context.Context, eid, dataType, provider, digest string) (*AnchorProof, error) {
	for _, a := range b.Anchors {
		r := a.Route
		if r.EID == eid && r.DataType == dataType && r.Provider == provider && r.Digest == digest {
			a := a
			return &a, nil
		}
	}
	return nil, notFound("route entry of the credential")
}

// PresentOptions say what a holder presents and to whom.
type PresentOptions struct {
	Disclose []string      // names of the subject claims to disclose
	Holder   crypto.Signer // the holder's key (its public key is the credential's cnf.jwk)
	Audience string        // the verifier (e.g. its department DID)
	Nonce    string        // the verifier's challenge
	At       time.Time
}

// CodeUnknownClaim is the code of a disclosure the credential does not hold.
const CodeUnknownClaim = "claim_unknown"

// Present builds a presentation (SD-JWT+KB) of an issued credential with
// only the subject claims the holder picks, bound to the verifier's nonce
// and audience by the holder's key.
func Present(credential string, o PresentOptions) (string, error) {
	const op = "credential.Present"
	tok, err := sdjwt.Parse(credential)
	if err != nil {
		return "", err
	}
	if tok.KB != nil {
		return "", routing.Invalid(op, "credential", "a presentation cannot be presented again").WithCode(sdjwt.CodeKBUnexpected)
	}
	if o.Holder == nil || strings.TrimSpace(o.Audience) == "" || strings.TrimSpace(o.Nonce) == "" {
		return "", routing.Invalid(op, "nonce", "a presentation needs the holder's key, the verifier's audience and nonce")
	}
	want := make(map[string]bool, len(o.Disclose))
	for _, n := range o.Disclose {
		want[n] = true
	}
	have := map[string]bool{}
	for _, d := range tok.Disclosures {
		have[d.Name] = true
	}
	for n := range want {
		if !have[n] {
			return "", routing.Invalid(op, "disclose", "the credential holds no claim %q", n).WithCode(CodeUnknownClaim)
		}
	}
	return sdjwt.Present(tok, func(d sdjwt.Disclosure) bool { return want[d.Name] }, o.Holder, o.Audience, o.Nonce, o.At)
}
