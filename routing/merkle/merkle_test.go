package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/eidgate/eidgate/internal/domainerr"
)

// referenceRoot is RFC 6962 §2.1 MTH written as the RFC states it,
// recursively, as an oracle for the iterative Root.
func referenceRoot(leaves [][]byte) Hash {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		l, r := referenceRoot(leaves[:k]), referenceRoot(leaves[k:])
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
}

// referencePath is RFC 6962 §2.1.1 PATH(m, D[n]) as the RFC states it.
func referencePath(m int, leaves [][]byte) []Hash {
	n := len(leaves)
	if n <= 1 {
		return nil
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	if m < k {
		return append(referencePath(m, leaves[:k]), referenceRoot(leaves[k:]))
	}
	return append(referencePath(m-k, leaves[k:]), referenceRoot(leaves[:k]))
}

func testLeaves(n int) [][]byte {
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = []byte(fmt.Sprintf("access-record-%d", i))
	}
	return leaves
}

func mustHash(t testing.TB, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type ctVectors struct {
	EmptyRoot string   `json:"empty_root"`
	Leaves    []string `json:"leaves"`
	Roots     []string `json:"roots"`
	Inclusion []struct {
		LeafIndex uint64   `json:"leaf_index"`
		TreeSize  uint64   `json:"tree_size"`
		AuditPath []string `json:"audit_path"`
	} `json:"inclusion"`
}

func loadCTVectors(t *testing.T) ([][]byte, ctVectors) {
	t.Helper()
	raw, err := os.ReadFile("testdata/rfc6962_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v ctVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	leaves := make([][]byte, len(v.Leaves))
	for i, s := range v.Leaves {
		if leaves[i], err = hex.DecodeString(s); err != nil {
			t.Fatal(err)
		}
	}
	return leaves, v
}

func TestCertificateTransparencyVectors(t *testing.T) {
	leaves, v := loadCTVectors(t)

	if got := Root(nil); got != mustHash(t, v.EmptyRoot) {
		t.Errorf("empty root = %s, want %s", got, v.EmptyRoot)
	}
	for i, want := range v.Roots {
		if got := Root(leaves[:i+1]); got.String() != want {
			t.Errorf("root of %d leaves = %s, want %s", i+1, got, want)
		}
	}
	for _, tc := range v.Inclusion {
		t.Run(fmt.Sprintf("leaf %d of %d", tc.LeafIndex, tc.TreeSize), func(t *testing.T) {
			tree := leaves[:tc.TreeSize]
			got, err := Proof(tree, tc.LeafIndex)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.AuditPath) {
				t.Fatalf("path has %d hashes, want %d", len(got), len(tc.AuditPath))
			}
			want := make([]Hash, len(tc.AuditPath))
			for i, s := range tc.AuditPath {
				want[i] = mustHash(t, s)
				if got[i] != want[i] {
					t.Errorf("path[%d] = %s, want %s", i, got[i], s)
				}
			}
			root := mustHash(t, v.Roots[tc.TreeSize-1])
			if !Verify(root, LeafHash(tree[tc.LeafIndex]), tc.LeafIndex, tc.TreeSize, want) {
				t.Error("published proof does not verify")
			}
		})
	}
}

// TestEveryProofUpTo100 checks every leaf of every tree of 1..100 leaves
// against the RFC's recursive definitions and rejects tampered variants.
func TestEveryProofUpTo100(t *testing.T) {
	all := testLeaves(100)
	var some Hash
	some[0] = 0xab
	for n := 1; n <= len(all); n++ {
		leaves := all[:n]
		hashes := LeafHashes(leaves)
		root := Root(leaves)
		if want := referenceRoot(leaves); root != want {
			t.Fatalf("size %d: root %s, reference %s", n, root, want)
		}
		size := uint64(n)
		for i := 0; i < n; i++ {
			index := uint64(i)
			path, err := ProofFromHashes(hashes, index)
			if err != nil {
				t.Fatalf("size %d index %d: %v", n, i, err)
			}
			if want := referencePath(i, leaves); !equalPaths(path, want) {
				t.Fatalf("size %d index %d: path differs from RFC 6962 PATH", n, i)
			}
			leaf := hashes[i]
			if !Verify(root, leaf, index, size, path) {
				t.Fatalf("size %d index %d: valid proof rejected", n, i)
			}

			reject := func(what string, root, leaf Hash, index, size uint64, path []Hash) {
				t.Helper()
				if Verify(root, leaf, index, size, path) {
					t.Errorf("size %d index %d: %s accepted", n, i, what)
				}
			}
			for j := range path {
				for _, bit := range []byte{0x01, 0x80} {
					bad := clonePath(path)
					bad[j][j%HashSize] ^= bit
					reject(fmt.Sprintf("path[%d] with a flipped bit", j), root, leaf, index, size, bad)
				}
			}
			flipped := leaf
			flipped[31] ^= 1
			reject("other leaf", root, flipped, index, size, path)
			reject("other root", some, leaf, index, size, path)
			reject("empty-tree root", EmptyRoot(), leaf, index, size, path)
			reject("appended hash", root, leaf, index, size, append(clonePath(path), some))
			reject("appended root", root, leaf, index, size, append(clonePath(path), root))
			reject("prepended hash", root, leaf, index, size, append([]Hash{some}, path...))
			if len(path) > 0 {
				reject("dropped last hash", root, leaf, index, size, path[:len(path)-1])
				reject("dropped first hash", root, leaf, index, size, path[1:])
			}
			for _, other := range []uint64{index + 1, index - 1, index ^ 2, index ^ 1} {
				if other < size && other != index && hashes[other] != leaf {
					reject(fmt.Sprintf("index %d", other), root, leaf, other, size, path)
				}
			}
			reject("index == size", root, leaf, size, size, path)
			reject("size*2", root, leaf, index, size*2, path)
			reject("size/2", root, leaf, index, size/2, path)
		}
		if _, err := ProofFromHashes(hashes, size); codeOf(err) != CodeIndexOutOfRange {
			t.Errorf("size %d: proof for index %d gave %v, want %s", n, n, err, CodeIndexOutOfRange)
		}
	}
}

func TestVerifyEdgeCases(t *testing.T) {
	leaf := LeafHash([]byte("only"))
	tests := []struct {
		name        string
		root, leaf  Hash
		index, size uint64
		path        []Hash
		want        bool
	}{
		{"one-leaf tree: root is the leaf hash", leaf, leaf, 0, 1, nil, true},
		{"one-leaf tree with a path", leaf, leaf, 0, 1, []Hash{leaf}, false},
		{"empty tree", EmptyRoot(), leaf, 0, 0, nil, false},
		{"index beyond size", leaf, leaf, 1, 1, nil, false},
		{"largest index", leaf, leaf, ^uint64(0), ^uint64(0), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verify(tc.root, tc.leaf, tc.index, tc.size, tc.path); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPathDoesNotPinTreeSize documents why InclusionProof.Verify demands the
// anchored record count: the same path verifies leaf 0 against the root of 5
// leaves whether the claimed size is 5 or 6.
func TestPathDoesNotPinTreeSize(t *testing.T) {
	leaves := testLeaves(5)
	hashes := LeafHashes(leaves)
	root := Root(leaves)
	path, err := Proof(leaves, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(root, hashes[0], 0, 6, path) {
		t.Fatal("expected the bare algorithm to accept size 6; if this changed, revisit the comment on InclusionProof")
	}
	p, err := NewInclusionProof(hashes, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.TreeSize = 6
	if p.Verify(root, 5) {
		t.Error("proof claiming 6 leaves accepted for an anchor of 5")
	}
	p.TreeSize = 5
	if !p.Verify(root, 5) {
		t.Error("genuine proof rejected")
	}
}

func TestRootDoesNotModifyInput(t *testing.T) {
	hashes := LeafHashes(testLeaves(7))
	before := clonePath(hashes)
	RootFromHashes(hashes)
	if _, err := ProofFromHashes(hashes, 3); err != nil {
		t.Fatal(err)
	}
	if !equalPaths(before, hashes) {
		t.Error("leaf hashes changed")
	}
}

func clonePath(p []Hash) []Hash { return append([]Hash(nil), p...) }

func equalPaths(a, b []Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkRoot10k(b *testing.B) {
	hashes := LeafHashes(testLeaves(10_000))
	b.ReportAllocs()
	for b.Loop() {
		RootFromHashes(hashes)
	}
}

func BenchmarkRootFromLeaves10k(b *testing.B) {
	leaves := testLeaves(10_000)
	b.ReportAllocs()
	for b.Loop() {
		Root(leaves)
	}
}

func BenchmarkProof10k(b *testing.B) {
	hashes := LeafHashes(testLeaves(10_000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProofFromHashes(hashes, 6_789); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify10k(b *testing.B) {
	hashes := LeafHashes(testLeaves(10_000))
	root := RootFromHashes(hashes)
	path, err := ProofFromHashes(hashes, 6_789)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(root, hashes[6_789], 6_789, 10_000, path) {
			b.Fatal("rejected")
		}
	}
}

// codeOf is the code of a merkle error (routing.CodeOf, which this package's
// own tests cannot import).
func codeOf(err error) string {
	var e *domainerr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
