package merkle

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/proofs.json")

func TestInclusionProofJSON(t *testing.T) {
	hashes := LeafHashes(testLeaves(7))
	p, err := NewInclusionProof(hashes, 3)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"leaf_index":3`, `"tree_size":7`, `"leaf_hash":"` + hashes[3].String() + `"`, `"audit_path":["`, `"root":"` + RootFromHashes(hashes).String() + `"`} {
		if !bytes.Contains(data, []byte(field)) {
			t.Errorf("JSON %s lacks %s", data, field)
		}
	}
	back, err := ParseInclusionProof(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Verify(RootFromHashes(hashes), 7) {
		t.Error("decoded proof does not verify")
	}
	if back.Verify(RootFromHashes(hashes[:6]), 7) {
		t.Error("proof verified against another anchored root")
	}

	one, err := NewInclusionProof(hashes[:1], 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err = json.Marshal(one)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"audit_path":[]`)) {
		t.Errorf("one-leaf proof %s must carry an empty array, not null", data)
	}
}

func TestParseInclusionProofRejects(t *testing.T) {
	h := LeafHash([]byte("x")).String()
	valid := fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"audit_path":[],"root":%q}`, h, h)
	if _, err := ParseInclusionProof([]byte(valid)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	tests := []struct {
		name string
		doc  string
		code string
	}{
		{"not JSON", `proof`, CodeMalformed},
		{"array", `[]`, CodeMalformed},
		{"missing leaf_hash", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"audit_path":[],"root":%q}`, h), CodeMalformed},
		{"missing audit_path", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"root":%q}`, h, h), CodeMalformed},
		{"null audit_path", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"audit_path":null,"root":%q}`, h, h), CodeMalformed},
		{"missing root", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"audit_path":[]}`, h), CodeMalformed},
		{"unknown field", strings.Replace(valid, `{`, `{"extra":1,`, 1), CodeMalformed},
		{"upper-case hex", strings.Replace(valid, h, strings.ToUpper(h), 1), CodeMalformed},
		{"short hash", strings.Replace(valid, h, h[:62], 1), CodeMalformed},
		{"negative index", strings.Replace(valid, `"leaf_index":0`, `"leaf_index":-1`, 1), CodeMalformed},
		{"fractional size", strings.Replace(valid, `"tree_size":1`, `"tree_size":1.5`, 1), CodeMalformed},
		{"size beyond 2^53-1", strings.Replace(valid, `"tree_size":1`, `"tree_size":9007199254740992`, 1), CodeMalformed},
		{"index at size", strings.Replace(valid, `"leaf_index":0`, `"leaf_index":1`, 1), CodeIndexOutOfRange},
		{"trailing data", valid + `{}`, CodeMalformed},
		{"path too long", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"audit_path":[%s],"root":%q}`, h, strings.TrimSuffix(strings.Repeat(`"`+h+`",`, 65), ","), h), CodeMalformed},
		{"path entry not a string", fmt.Sprintf(`{"leaf_index":0,"tree_size":1,"leaf_hash":%q,"audit_path":[1],"root":%q}`, h, h), CodeMalformed},
		{"oversized document", `{"leaf_index":0` + strings.Repeat(" ", maxProofJSON) + `}`, CodeMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInclusionProof([]byte(tc.doc))
			if got := codeOf(err); got != tc.code {
				t.Errorf("code %q (err %v), want %q", got, err, tc.code)
			}
		})
	}
}

// browserCase is one entry of testdata/proofs.json, the shared vectors that
// the Go verifier and testdata/verify.js must judge alike.
type browserCase struct {
	Name         string          `json:"name"`
	Proof        json.RawMessage `json:"proof"`
	AnchoredRoot string          `json:"anchored_root"`
	AnchoredSize uint64          `json:"anchored_size"`
	Valid        bool            `json:"valid"`
}

func browserCases(t *testing.T) []browserCase {
	t.Helper()
	var cases []browserCase
	add := func(name string, p InclusionProof, root Hash, size uint64) {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, browserCase{name, raw, root.String(), size, p.Verify(root, size)})
	}
	for _, n := range []int{1, 2, 3, 5, 7, 8, 13, 100} {
		hashes := LeafHashes(testLeaves(n))
		root := RootFromHashes(hashes)
		for _, i := range []int{0, n / 2, n - 1} {
			p, err := NewInclusionProof(hashes, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			add(fmt.Sprintf("size %d leaf %d", n, i), *p, root, uint64(n))

			wrongLeaf := *p
			wrongLeaf.LeafHash[0] ^= 1
			add(fmt.Sprintf("size %d leaf %d, other leaf", n, i), wrongLeaf, root, uint64(n))
			if len(p.AuditPath) > 0 {
				tampered := *p
				tampered.AuditPath = clonePath(p.AuditPath)
				tampered.AuditPath[len(tampered.AuditPath)-1][5] ^= 0x10
				add(fmt.Sprintf("size %d leaf %d, tampered path", n, i), tampered, root, uint64(n))
				short := *p
				short.AuditPath = p.AuditPath[1:]
				add(fmt.Sprintf("size %d leaf %d, shortened path", n, i), short, root, uint64(n))
			}
			if i+1 < n {
				moved := *p
				moved.LeafIndex++
				add(fmt.Sprintf("size %d leaf %d, claimed index %d", n, i, i+1), moved, root, uint64(n))
			}
			add(fmt.Sprintf("size %d leaf %d, other anchored size", n, i), *p, root, uint64(n+1))
		}
	}
	// Indices beyond 2^32 exercise the browser's index arithmetic, which
	// must not use 32-bit bit operators. No test can hold such a tree, so the
	// root is computed from a made-up path.
	for _, at := range []struct{ index, size uint64 }{{1<<40 + 3, 1<<40 + 4}, {1<<33 + 1, 3 << 33}, {MaxTreeSize - 1, MaxTreeSize}} {
		big := InclusionProof{LeafIndex: at.index, TreeSize: at.size, LeafHash: LeafHash([]byte("x"))}
		for i := 0; i < 60; i++ {
			big.AuditPath = append(big.AuditPath, LeafHash([]byte{byte(i)}))
		}
		var ok bool
		big.Root, big.AuditPath, ok = rootFromPath(big.LeafHash, at.index, at.size, big.AuditPath)
		if !ok {
			t.Fatalf("cannot build a path for index %d of %d", at.index, at.size)
		}
		add(fmt.Sprintf("index %d of %d", at.index, at.size), big, big.Root, big.TreeSize)
		moved := big
		moved.LeafIndex ^= 1 << 32
		add(fmt.Sprintf("index %d of %d, bit 32 flipped", at.index, at.size), moved, big.Root, big.TreeSize)
	}
	return cases
}

// rootFromPath runs the verification walk over as many of path's hashes as a
// tree of size needs and returns the root it reaches with the path it used.
func rootFromPath(leaf Hash, index, size uint64, path []Hash) (Hash, []Hash, bool) {
	fn, sn := index, size-1
	r := leaf
	used := 0
	for ; sn > 0; used++ {
		if used == len(path) {
			return r, nil, false
		}
		p := path[used]
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
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
	return r, path[:used], true
}

// TestBrowserVectors keeps testdata/proofs.json (read by
// testdata/run_vectors.mjs) in step with the Go verifier. Regenerate with
// go test ./routing/merkle -run TestBrowserVectors -update.
func TestBrowserVectors(t *testing.T) {
	cases := browserCases(t)
	valid := 0
	for _, c := range cases {
		if c.Valid {
			valid++
		}
	}
	if valid == 0 || valid == len(cases) {
		t.Fatalf("vectors must mix valid (%d) and invalid cases (%d total)", valid, len(cases))
	}
	want, err := json.MarshalIndent(cases, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	const path = "testdata/proofs.json"
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; regenerate with -update", path)
	}
}

// TestBrowserVerifierAgrees runs testdata/verify.js over testdata/proofs.json
// with Node.js when it is installed. The browser algorithm lives in a file of
// its own, so this is the check that it still matches Verify.
func TestBrowserVerifierAgrees(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipping: node is not installed; testdata/verify.js is not exercised")
	}
	out, err := exec.Command(node, "testdata/run_vectors.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("verify.js disagrees with the Go verifier: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("agree")) {
		t.Fatalf("unexpected runner output:\n%s", out)
	}
}

func FuzzParseInclusionProof(f *testing.F) {
	hashes := LeafHashes(testLeaves(5))
	for _, i := range []uint64{0, 2, 4} {
		p, err := NewInclusionProof(hashes, i)
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"leaf_index":0,"tree_size":0,"leaf_hash":"","audit_path":[],"root":""}`))
	f.Add([]byte(`{"leaf_index":1e3}`))
	f.Add([]byte(`null`))
	root := RootFromHashes(hashes)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseInclusionProof(data)
		if err != nil {
			if codeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if p.LeafIndex >= p.TreeSize {
			t.Fatalf("p.LeafIndex = %v, want < p.TreeSize; decoder let through %+v", p.LeafIndex, p)
		}
		if p.TreeSize > MaxTreeSize {
			t.Fatalf("p.TreeSize = %v, want <= MaxTreeSize; decoder let through %+v", p.TreeSize, p)
		}
		if len(p.AuditPath) > maxAuditPathLen {
			t.Fatalf("len(p.AuditPath) = %v, want <= maxAuditPathLen; decoder let through %+v", len(p.AuditPath), p)
		}
		// A decoded proof re-encodes to a document that decodes the same.
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseInclusionProof(again)
		if err != nil {
			t.Fatalf("re-encoded proof refused: %v", err)
		}
		if q.LeafIndex != p.LeafIndex || q.TreeSize != p.TreeSize || q.LeafHash != p.LeafHash || q.Root != p.Root || !equalPaths(q.AuditPath, p.AuditPath) {
			t.Fatal("round trip changed the proof")
		}
		// Only the genuine proofs of the seed tree verify against its root.
		if p.Verify(root, 5) {
			want, err := ProofFromHashes(hashes, p.LeafIndex)
			if err != nil || p.LeafHash != hashes[p.LeafIndex] || !equalPaths(p.AuditPath, want) {
				t.Fatalf("forged proof accepted: %s", data)
			}
		}
	})
}

// FuzzVerify tampers with genuine proofs: exactly the untouched proof
// verifies.
func FuzzVerify(f *testing.F) {
	f.Add(uint16(7), uint16(3), uint16(0), byte(1), uint8(0))
	f.Add(uint16(100), uint16(99), uint16(40), byte(0x80), uint8(1))
	f.Add(uint16(1), uint16(0), uint16(0), byte(0), uint8(2))
	f.Fuzz(func(t *testing.T, n, index, pos uint16, flip byte, change uint8) {
		size := uint64(n%300) + 1
		i := uint64(index) % size
		hashes := LeafHashes(testLeaves(int(size)))
		root := RootFromHashes(hashes)
		path, err := ProofFromHashes(hashes, i)
		if err != nil {
			t.Fatal(err)
		}
		leaf := hashes[i]
		tampered := true
		switch change % 4 {
		case 0: // flip bits in the path (or the leaf when there is no path)
			if len(path) == 0 || flip == 0 {
				leaf[int(pos)%HashSize] ^= flip
				tampered = flip != 0
			} else {
				path[int(pos)%len(path)][int(pos)%HashSize] ^= flip
			}
		case 1: // claim another index
			other := uint64(pos) % size
			tampered = other != i
			i = other
		case 2: // truncate the path
			if len(path) == 0 {
				tampered = false
			} else {
				path = path[:int(pos)%len(path)]
			}
		case 3: // extend the path
			path = append(path, hashes[int(pos)%len(hashes)])
		}
		if got := Verify(root, leaf, i, size, path); got == tampered {
			t.Fatalf("size %d index %d change %d: Verify = %v", size, i, change%4, got)
		}
	})
}
