package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/eidgate/eidgate/internal/domainerr"
)

// Limits of a decoded proof. A tree of at most 2^53-1 leaves (the largest
// integer a browser's JSON parser keeps exact) has a path of at most 53
// hashes; anything bigger is refused before it is hashed.
const (
	MaxTreeSize     = 1<<53 - 1
	maxAuditPathLen = 64
	maxProofJSON    = 16 << 10
)

// InclusionProof is the portable form of an inclusion proof, the document a
// resident's browser verifies with WebCrypto (testdata/verify.js):
//
//	{"leaf_index":3,"tree_size":7,"leaf_hash":"…","audit_path":["…","…"],"root":"…"}
//
// Hashes are 64 lowercase hex digits. Root and TreeSize only mean something
// once compared with the anchor on the chain (its Merkle root and record
// count), which is why Verify takes both as arguments: an audit path alone
// does not pin the tree size (leaf 0 has the same path shape in trees of 5
// and 6 leaves), the anchored count does.
type InclusionProof struct {
	LeafIndex uint64 `json:"leaf_index"`
	TreeSize  uint64 `json:"tree_size"`
	LeafHash  Hash   `json:"leaf_hash"`
	AuditPath []Hash `json:"audit_path"`
	Root      Hash   `json:"root"`
}

// NewInclusionProof builds the proof of leaf index in the tree over
// leafHashes.
func NewInclusionProof(leafHashes []Hash, index uint64) (*InclusionProof, error) {
	path, err := ProofFromHashes(leafHashes, index)
	if err != nil {
		return nil, err
	}
	return &InclusionProof{
		LeafIndex: index,
		TreeSize:  uint64(len(leafHashes)),
		LeafHash:  leafHashes[index],
		AuditPath: path,
		Root:      RootFromHashes(leafHashes),
	}, nil
}

// Verify reports whether the proof is valid for the anchor read from the
// chain: its root and its record count. The proof's own root and size fields
// must match the anchor; they are never trusted alone.
func (p *InclusionProof) Verify(anchoredRoot Hash, anchoredSize uint64) bool {
	if p == nil || p.Root != anchoredRoot || p.TreeSize != anchoredSize || p.TreeSize > MaxTreeSize {
		return false
	}
	return Verify(anchoredRoot, p.LeafHash, p.LeafIndex, p.TreeSize, p.AuditPath)
}

// MarshalJSON writes an empty audit path as [] rather than null, so a
// browser verifier can always iterate it.
func (p InclusionProof) MarshalJSON() ([]byte, error) {
	type plain InclusionProof
	if p.AuditPath == nil {
		p.AuditPath = []Hash{}
	}
	return json.Marshal(plain(p))
}

// ParseInclusionProof decodes a proof document strictly: every field
// present, no unknown fields, hashes as lowercase hex, index below size,
// size within MaxTreeSize, at most one JSON value. It does not verify the
// proof; call Verify with the anchored root and size.
func ParseInclusionProof(data []byte) (*InclusionProof, error) {
	if len(data) > maxProofJSON {
		return nil, errorf(CodeMalformed, "proof document is larger than %d bytes", maxProofJSON)
	}
	var raw struct {
		LeafIndex *uint64          `json:"leaf_index"`
		TreeSize  *uint64          `json:"tree_size"`
		LeafHash  *Hash            `json:"leaf_hash"`
		AuditPath *json.RawMessage `json:"audit_path"`
		Root      *Hash            `json:"root"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, errorf(CodeMalformed, "proof document: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errorf(CodeMalformed, "proof document: unexpected data after the proof object")
	}
	switch {
	case raw.LeafIndex == nil:
		return nil, errorf(CodeMalformed, "proof document: leaf_index is missing")
	case raw.TreeSize == nil:
		return nil, errorf(CodeMalformed, "proof document: tree_size is missing")
	case raw.LeafHash == nil:
		return nil, errorf(CodeMalformed, "proof document: leaf_hash is missing")
	case raw.AuditPath == nil:
		return nil, errorf(CodeMalformed, "proof document: audit_path is missing")
	case raw.Root == nil:
		return nil, errorf(CodeMalformed, "proof document: root is missing")
	}
	if *raw.TreeSize > MaxTreeSize {
		return nil, errorf(CodeMalformed, "proof document: tree_size exceeds %d", uint64(MaxTreeSize))
	}
	if *raw.LeafIndex >= *raw.TreeSize {
		return nil, errorf(CodeIndexOutOfRange, "proof document: leaf_index %d is outside a tree of %d leaves", *raw.LeafIndex, *raw.TreeSize)
	}
	var path []Hash
	if err := json.Unmarshal(*raw.AuditPath, &path); err != nil {
		return nil, errorf(CodeMalformed, "proof document: audit_path: %s", describeJSONError(err))
	}
	if path == nil {
		return nil, errorf(CodeMalformed, "proof document: audit_path must be an array")
	}
	if len(path) > maxAuditPathLen {
		return nil, errorf(CodeMalformed, "proof document: audit_path has %d hashes, at most %d allowed", len(path), maxAuditPathLen)
	}
	return &InclusionProof{
		LeafIndex: *raw.LeafIndex,
		TreeSize:  *raw.TreeSize,
		LeafHash:  *raw.LeafHash,
		AuditPath: path,
		Root:      *raw.Root,
	}, nil
}

// describeJSONError keeps decoder errors short and free of Go type names.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var merkleErr *domainerr.Error
	switch {
	case errors.As(err, &merkleErr):
		return merkleErr.Message
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Sprintf("%s has the wrong type (%s)", typeErr.Field, typeErr.Value)
		}
		return fmt.Sprintf("wrong type (%s)", typeErr.Value)
	default:
		return err.Error()
	}
}
