package devnet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// putChaincode writes its two arguments as a key and a value.
type putChaincode struct{}

func (putChaincode) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }
func (putChaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	args := stub.GetStringArgs()
	if len(args) == 3 {
		if err := stub.PutState(args[1], []byte(args[2])); err != nil {
			return shim.Error(err.Error())
		}
	}
	return shim.Success(nil)
}

// ledgerWithData opens a devnet, commits the definition of a chaincode
// and returns the data dir after closing it.
func ledgerWithData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"put": putChaincode{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tamper(t *testing.T, dir string, edit func(tx *kvTx) error) {
	t.Helper()
	db, err := openLedger(filepath.Join(dir, ledgerDir), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesABrokenTip(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(tx *kvTx) error
		want string
	}{
		{"tip hash", func(tx *kvTx) error {
			return tx.Bucket(bucketMeta).Put(metaTip, make([]byte, 32))
		}, "ledger tip hash does not match block 1"},
		{"block beyond the height", func(tx *kvTx) error {
			return tx.Bucket(bucketBlocks).Put(be64(2), []byte{})
		}, "beyond its recorded height"},
		{"last block data", func(tx *kvTx) error {
			b, err := readBlock(tx, 1)
			if err != nil {
				return err
			}
			b.Data.Data[0] = append(b.Data.Data[0], 0)
			return tx.Bucket(bucketBlocks).Put(be64(1), mustMarshal(b))
		}, "block 1: data hash does not match its data"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := ledgerWithData(t)
			tamper(t, dir, tt.edit)
			_, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"put": putChaincode{}}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open after tampering: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(tx *kvTx) error
		want string
	}{
		{"state version", func(tx *kvTx) error {
			k := stateKey(lifecycleNamespace, sequenceKey("put"))
			vv, err := decodeStateValue(tx.Bucket(bucketState).Get(k))
			if err != nil {
				return err
			}
			vv.Version.Tx++
			return tx.Bucket(bucketState).Put(k, encodeStateValue(vv.Version, vv.Value))
		}, "state: key"},
		{"extra state key", func(tx *kvTx) error {
			return tx.Bucket(bucketState).Put(stateKey("put", "planted"), encodeStateValue(struct{ Block, Tx uint64 }{1, 0}, []byte("x")))
		}, "state: stored key"},
		{"validation code", func(tx *kvTx) error {
			b, err := readBlock(tx, 1)
			if err != nil {
				return err
			}
			b.Metadata.Metadata[2] = []byte{byte(peer.TxValidationCode_MVCC_READ_CONFLICT)}
			return tx.Bucket(bucketBlocks).Put(be64(1), mustMarshal(b))
		}, "block 1: stored validation codes"},
		{"transaction index", func(tx *kvTx) error {
			return tx.Bucket(bucketTxIDs).Put([]byte("forged"), encodeTxStatus(txStatus{block: 1}))
		}, "txids: stored key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := ledgerWithData(t)
			tamper(t, dir, tt.edit)
			p, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"put": putChaincode{}}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			_, err = p.Verify(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify after tampering: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckRefusesBadCreatorSignature(t *testing.T) {
	dir := ledgerWithData(t)
	p, err := Open(context.Background(), Config{DataDir: dir, Chaincodes: map[string]shim.Chaincode{"put": putChaincode{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	raw, err := p.definitionTx("other", nil) // a well-formed transaction signed by the admin
	if err != nil {
		t.Fatal(err)
	}
	vc := p.chain.validationCtx(time.Now(), nil)
	if c := vc.check(raw, false); c.preCode != peer.TxValidationCode_VALID || c.postCode != peer.TxValidationCode_VALID {
		t.Fatalf("the untouched transaction is %s/%s", c.preCode, c.postCode)
	}
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-5] ^= 0xff // inside the envelope signature
	if c := vc.check(tampered, false); c.preCode != peer.TxValidationCode_BAD_CREATOR_SIGNATURE {
		t.Fatalf("tampered signature gives %s, want BAD_CREATOR_SIGNATURE", c.preCode)
	}
}
