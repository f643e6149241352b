package devnet

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// extractV1Ledger unpacks testdata/bbolt-ledger-v1.tar.gz: the data dir
// of a devnet written by the single-file (bbolt) ledger of earlier
// versions: the genesis block, the configuration update adding the edu
// organisation, the kv chaincode's definition and seven transactions on
// it (k0…k4 put, k1 put again as "v1b", k4 deleted) — ten blocks.
func extractV1Ledger(t *testing.T) string {
	t.Helper()
	f, err := os.Open("testdata/bbolt-ledger-v1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestOpenConvertsASingleFileLedger(t *testing.T) {
	dir := extractV1Ledger(t)
	if !Exists(dir) {
		t.Fatal("Exists does not see the single-file ledger")
	}
	p, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"kv": putChaincode{}}})
	if err != nil {
		t.Fatalf("Open of a single-file ledger: %v", err)
	}
	if h := p.Height(); h != 10 {
		t.Errorf("height after the conversion %d, want 10", h)
	}
	// The replay of every block must give exactly the converted state,
	// history and indexes.
	rep, err := p.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify of the converted ledger: %v", err)
	}
	if rep.Blocks != 10 || rep.Valid != 10 {
		t.Errorf("verified %d blocks, %d valid transactions, want 10 and 10", rep.Blocks, rep.Valid)
	}
	if err := p.chain.db.View(func(tx *kvTx) error {
		st := kvState{tx.Bucket(bucketState)}
		for key, want := range map[string]string{"k0": "v0", "k1": "v1b", "k3": "v3", "k4": ""} {
			vv, err := st.Get("kv", key)
			if err != nil {
				return err
			}
			if got := ""; vv != nil {
				got = string(vv.Value)
				if got != want {
					t.Errorf("%s = %q after the conversion, want %q", key, got, want)
				}
			} else if want != "" {
				t.Errorf("%s missing after the conversion", key)
			}
		}
		hist, err := kvHistory{tx.Bucket(bucketHistory)}.History("kv", "k1")
		if err != nil {
			return err
		}
		if len(hist) != 2 || string(hist[0].Value) != "v1b" || string(hist[1].Value) != "v1" {
			t.Errorf("history of k1 after the conversion: %v", hist)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ledgerFileV1)); !os.IsNotExist(err) {
		t.Errorf("the single-file ledger is still in place: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ledgerFileV1+".v1")); err != nil {
		t.Errorf("the single-file ledger was not kept aside: %v", err)
	}
	// A second open uses the converted ledger as it is.
	p, err = Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"kv": putChaincode{}}})
	if err != nil {
		t.Fatal(err)
	}
	if h := p.Height(); h != 10 {
		t.Errorf("height on the second open %d, want 10", h)
	}
	_ = p.Close()
}

func TestAnInterruptedConversionIsDoneAgain(t *testing.T) {
	dir := extractV1Ledger(t)
	// A conversion that stopped half-way leaves its scratch database.
	half, err := openKV(filepath.Join(dir, ledgerDir+".converting"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := half.Update(func(tx *kvTx) error { return tx.Bucket(bucketState).Put([]byte("partial"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	_ = half.Close()
	p, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"kv": putChaincode{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Verify(context.Background()); err != nil {
		t.Fatalf("Verify after a conversion started again: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ledgerDir+".converting")); !os.IsNotExist(err) {
		t.Errorf("the scratch database is left: %v", err)
	}
}
