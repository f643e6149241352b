// Package merkle builds the Merkle trees that anchor batches of access
// records on the chain.
//
// Hashing follows RFC 6962 (Certificate Transparency) §2.1: a leaf hashes as
// SHA-256(0x00 || leaf), an interior node as SHA-256(0x01 || left || right),
// and a tree of n leaves splits at k, the largest power of two smaller than n.
// Trees of any size therefore work without duplicating leaves, and the empty
// tree's root is SHA-256 of the empty string. Audit paths are RFC 6962
// §2.1.1 PATH(m, D[n]); verification is the algorithm RFC 9162 §2.1.3.2 gives
// for those paths. The same verification runs in a resident's browser
// (testdata/verify.js), so any change here must be made there too.
package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
)

// HashSize is the size of every hash in a tree.
const HashSize = sha256.Size

// Domain-separation prefixes of RFC 6962 §2.1. They keep a leaf from ever
// being mistaken for an interior node.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// Hash is a SHA-256 leaf, node or root hash. In JSON it is 64 lowercase hex
// digits.
type Hash [HashSize]byte

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as 64 lowercase hex digits.
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(HashSize))
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText accepts exactly 64 lowercase hex digits. Upper case is
// refused so that a hash has one spelling, as in the browser verifier.
func (h *Hash) UnmarshalText(text []byte) error {
	parsed, err := ParseHash(string(text))
	if err != nil {
		return err
	}
	*h = parsed
	return nil
}

// ParseHash decodes 64 lowercase hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != hex.EncodedLen(HashSize) {
		return h, errorf(CodeMalformed, "a hash is 64 lowercase hex digits, got %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return h, errorf(CodeMalformed, "a hash is 64 lowercase hex digits, found %q at offset %d", c, i)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errorf(CodeMalformed, "a hash is 64 lowercase hex digits")
	}
	return h, nil
}

// LeafHash returns SHA-256(0x00 || data), the hash of one leaf.
func LeafHash(data []byte) Hash {
	d := sha256.New()
	d.Write([]byte{leafPrefix})
	d.Write(data)
	var h Hash
	d.Sum(h[:0])
	return h
}

// nodeHash returns SHA-256(0x01 || left || right).
func nodeHash(left, right Hash) Hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// EmptyRoot is the root of the tree with no leaves: SHA-256 of the empty
// string (RFC 6962 §2.1).
func EmptyRoot() Hash { return sha256.Sum256(nil) }

// LeafHashes hashes every leaf.
func LeafHashes(leaves [][]byte) []Hash {
	hashes := make([]Hash, len(leaves))
	for i, l := range leaves {
		hashes[i] = LeafHash(l)
	}
	return hashes
}

// Root returns the RFC 6962 Merkle tree hash of leaves.
func Root(leaves [][]byte) Hash { return RootFromHashes(LeafHashes(leaves)) }

// RootFromHashes returns the Merkle tree hash over precomputed leaf hashes.
// leafHashes is not modified.
func RootFromHashes(leafHashes []Hash) Hash {
	if len(leafHashes) == 0 {
		return EmptyRoot()
	}
	level := make([]Hash, len(leafHashes))
	copy(level, leafHashes)
	return reduce(level)
}

// reduce hashes level up to its root in place. Pairing neighbours level by
// level and carrying an odd last node up unchanged builds exactly the
// left-filled tree of RFC 6962's recursive definition (the split at the
// largest power of two), without recursion.
func reduce(level []Hash) Hash {
	for n := len(level); n > 1; n = (n + 1) / 2 {
		for i := 0; i+1 < n; i += 2 {
			level[i/2] = nodeHash(level[i], level[i+1])
		}
		if n%2 == 1 {
			level[n/2] = level[n-1]
		}
	}
	return level[0]
}

// Proof returns the audit path of leaf index in the tree over leaves.
func Proof(leaves [][]byte, index uint64) ([]Hash, error) {
	return ProofFromHashes(LeafHashes(leaves), index)
}

// ProofFromHashes returns the RFC 6962 §2.1.1 audit path of leaf index in the
// tree over leafHashes, deepest sibling first. A one-leaf tree has an empty
// (non-nil) path.
func ProofFromHashes(leafHashes []Hash, index uint64) ([]Hash, error) {
	size := uint64(len(leafHashes))
	if index >= size {
		return nil, errorf(CodeIndexOutOfRange, "leaf index %d is outside a tree of %d leaves", index, size)
	}
	path := make([]Hash, 0, bits.Len64(size))
	scratch := make([]Hash, len(leafHashes))
	// Walk down from the root: at each split the sibling subtree's hash joins
	// the path and the walk continues into the subtree holding the leaf. The
	// path is collected top first and reversed at the end.
	lo, hi, m := uint64(0), size, index
	for hi-lo > 1 {
		k := splitPoint(hi - lo)
		if m < k {
			path = append(path, subtreeRoot(leafHashes[lo+k:hi], scratch))
			hi = lo + k
		} else {
			path = append(path, subtreeRoot(leafHashes[lo:lo+k], scratch))
			lo += k
			m -= k
		}
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

// subtreeRoot hashes a non-empty run of leaf hashes using scratch.
func subtreeRoot(leafHashes []Hash, scratch []Hash) Hash {
	level := scratch[:len(leafHashes)]
	copy(level, leafHashes)
	return reduce(level)
}

// splitPoint returns the largest power of two smaller than n (n > 1).
func splitPoint(n uint64) uint64 {
	return 1 << (bits.Len64(n-1) - 1)
}

// Verify reports whether proof shows that leafHash is leaf index of the tree
// of size leaves whose root is root. It is RFC 9162 §2.1.3.2, the inclusion
// verification for RFC 6962 audit paths; testdata/verify.js implements the
// same steps for browsers.
func Verify(root, leafHash Hash, index, size uint64, proof []Hash) bool {
	if index >= size {
		return false
	}
	fn, sn := index, size-1
	r := leafHash
	for _, p := range proof {
		if sn == 0 {
			return false // the path is longer than the tree is deep
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			// A right-most node without a right sibling moves up unchanged.
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && r == root
}
