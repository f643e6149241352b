package devnet

import (
	"crypto/sha256"
	"encoding/asn1"
	"math"
	"math/big"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
)

// blockHeaderBytes is the ASN.1 DER encoding Fabric hashes and signs for a
// block header (protoutil.BlockHeaderBytes): SEQUENCE{INTEGER number,
// OCTET STRING previous_hash, OCTET STRING data_hash}.
func blockHeaderBytes(h *common.BlockHeader) []byte {
	type asn1Header struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}
	raw, err := asn1.Marshal(asn1Header{
		Number:       new(big.Int).SetUint64(h.GetNumber()),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
	})
	if err != nil {
		panic(err) // three well-formed fields cannot fail to encode
	}
	return raw
}

// blockHeaderHash is the hash the next block names as its previous hash.
func blockHeaderHash(h *common.BlockHeader) []byte {
	sum := sha256.Sum256(blockHeaderBytes(h))
	return sum[:]
}

// blockDataHash is SHA-256 over the concatenated envelopes (not a Merkle
// tree; protoutil.ComputeBlockDataHash).
func blockDataHash(data *common.BlockData) []byte {
	h := sha256.New()
	for _, d := range data.GetData() {
		h.Write(d)
	}
	return h.Sum(nil)
}

// newBlock returns a block with the header numbers set and the five
// metadata slots Fabric allocates (protoutil.NewBlock).
func newBlock(number uint64, previousHash []byte, envelopes [][]byte) *common.Block {
	data := &common.BlockData{Data: envelopes}
	return &common.Block{
		Header:   &common.BlockHeader{Number: number, PreviousHash: previousHash, DataHash: blockDataHash(data)},
		Data:     data,
		Metadata: &common.BlockMetadata{Metadata: make([][]byte, len(common.BlockMetadataIndex_name))},
	}
}

// varintBytes is proto.EncodeVarint.
func varintBytes(x uint64) []byte {
	var b [10]byte
	n := 0
	for x >= 0x80 {
		b[n] = byte(x) | 0x80
		x >>= 7
		n++
	}
	b[n] = byte(x)
	return b[:n+1]
}

// orderPreservingVarUint64 is Fabric's util.EncodeOrderPreservingVarUint64:
// a varint byte count followed by the big-endian bytes without leading
// zeros (zero encodes as the single byte 0).
func orderPreservingVarUint64(n uint64) []byte {
	var be [8]byte
	for i := 0; i < 8; i++ {
		be[7-i] = byte(n >> (8 * i))
	}
	start := 8
	for i, b := range be {
		if b != 0 {
			start = i
			break
		}
	}
	out := varintBytes(uint64(8 - start))
	return append(out, be[start:]...)
}

// versionBytes is version.Height.ToBytes.
func versionBytes(block, tx uint64) []byte {
	return append(orderPreservingVarUint64(block), orderPreservingVarUint64(tx)...)
}

// maxBlockDataWidth is the BlockDataHashingStructure width Fabric requires
// (math.MaxUint32 selects the flat hash).
const maxBlockDataWidth = math.MaxUint32

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
