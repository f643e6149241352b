// Package sdjwt implements Selective Disclosure for JWTs (SD-JWT, RFC 9901)
// with ES256: issuing an SD-JWT with disclosures, parsing the compact form,
// processing disclosures back into the claims they hide, and key binding
// (KB-JWT) for presentations.
//
// It is a parser of outside input: every limit (size, count, nesting) is
// checked before work is done, every refusal is a *routing.Error of kind
// invalid with a stable code from the list below, and messages never quote
// claim values.
package sdjwt

import (
	"fmt"

	"github.com/eidgate/eidgate/routing"
)

// Stable error codes.
const (
	CodeTooLarge           = "too_large"               // the token passes a size or count limit
	CodeMalformed          = "malformed"               // not a well-formed SD-JWT, JWS or JSON
	CodeAlgorithm          = "alg_not_allowed"         // alg other than ES256 (none, HS256, …) or a key of another type
	CodeKey                = "key_invalid"             // a JWK that is not a usable public P-256 key
	CodeSignature          = "signature_invalid"       // the issuer's signature does not verify
	CodeDisclosure         = "disclosure_malformed"    // a disclosure that is not [salt, name, value] or [salt, value]
	CodeDisclosureUnused   = "disclosure_unreferenced" // a disclosure no digest in the payload names
	CodeDisclosureRepeated = "disclosure_repeated"     // a disclosure or digest that appears twice
	CodeClaimClash         = "claim_clash"             // a disclosed claim that already exists in its object
	CodeHashAlg            = "hash_alg_unsupported"    // _sd_alg other than sha-256
	CodeKBMissing          = "kb_missing"              // key binding required but absent
	CodeKBUnexpected       = "kb_unexpected"           // a KB-JWT where none may be
	CodeKBInvalid          = "kb_invalid"              // a KB-JWT that is malformed, or signed by another key
	CodeKBNonce            = "kb_nonce_mismatch"       // the KB-JWT answers another nonce
	CodeKBAudience         = "kb_audience_mismatch"    // the KB-JWT is addressed to another verifier
	CodeKBStale            = "kb_stale"                // the KB-JWT was made too long ago or in the future
	CodeKBHash             = "kb_sd_hash_mismatch"     // the KB-JWT does not cover this presentation
	CodeNoHolderKey        = "holder_key_missing"      // key binding asked of an SD-JWT without cnf.jwk
)

const op = "sdjwt"

func errorf(code, format string, args ...any) *routing.Error {
	return (&routing.Error{Kind: routing.KindInvalid, Op: op, Message: fmt.Sprintf(format, args...)}).WithCode(code)
}
