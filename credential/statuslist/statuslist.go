// Package statuslist implements the bitstring of W3C Bitstring Status List
// v1.0: a list of at least 131,072 one-bit entries, index 0 the left-most
// (most significant) bit of the first byte, published GZIP-compressed and
// multibase-encoded as base64url without padding ("u" prefix).
//
// Decode is a parser of outside input: the compressed and the expanded size
// are bounded before any work, so a small encodedList cannot expand into a
// large allocation.
package statuslist

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Sizes in entries (bits).
const (
	MinSize = model.MinStatusListSize // the specification's herd-privacy minimum
	MaxSize = model.MaxStatusListSize
)

// maxEncoded bounds the encodedList text accepted.
const maxEncoded = 2 << 20

// Stable error codes.
const (
	CodeMalformed = "status_list_malformed"
	CodeLength    = "status_list_too_short" // STATUS_LIST_LENGTH_ERROR
	CodeRange     = "status_index_out_of_range"
)

// List is a status bitstring.
type List struct{ bits []byte }

// New returns a list of size entries, all 0; size must be a multiple of 8
// between MinSize and MaxSize.
func New(size int) (*List, error) {
	if size < MinSize || size > MaxSize || size%8 != 0 {
		return nil, errorf(CodeLength, "a status list has a multiple of 8 entries from %d to %d", MinSize, MaxSize)
	}
	return &List{bits: make([]byte, size/8)}, nil
}

// FromBytes wraps an expanded bitstring (as stored), checking its size.
func FromBytes(b []byte) (*List, error) {
	if len(b)*8 < MinSize || len(b)*8 > MaxSize {
		return nil, errorf(CodeLength, "a status list has %d to %d entries", MinSize, MaxSize)
	}
	return &List{bits: bytes.Clone(b)}, nil
}

// Size is the number of entries.
func (l *List) Size() int { return len(l.bits) * 8 }

// Bytes returns a copy of the expanded bitstring.
func (l *List) Bytes() []byte { return bytes.Clone(l.bits) }

// Get returns the status bit at index.
func (l *List) Get(index int) (bool, error) {
	if index < 0 || index >= l.Size() {
		return false, errorf(CodeRange, "status index %d is outside the list of %d entries", index, l.Size())
	}
	return l.bits[index/8]&(0x80>>(index%8)) != 0, nil
}

// Set sets the status bit at index to v.
func (l *List) Set(index int, v bool) error {
	if index < 0 || index >= l.Size() {
		return errorf(CodeRange, "status index %d is outside the list of %d entries", index, l.Size())
	}
	mask := byte(0x80 >> (index % 8))
	if v {
		l.bits[index/8] |= mask
	} else {
		l.bits[index/8] &^= mask
	}
	return nil
}

// Encode returns the encodedList: "u" + base64url(GZIP(bitstring)).
func (l *List) Encode() string {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(l.bits) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

// Decode expands an encodedList (the Bitstring Expansion Algorithm) and
// checks the herd-privacy minimum.
func Decode(encoded string) (*List, error) {
	if len(encoded) > maxEncoded {
		return nil, errorf(CodeMalformed, "encodedList is longer than %d characters", maxEncoded)
	}
	rest, ok := bytes.CutPrefix([]byte(encoded), []byte("u"))
	if !ok {
		return nil, errorf(CodeMalformed, "encodedList must be multibase base64url (prefix u)")
	}
	gz, err := base64.RawURLEncoding.Strict().DecodeString(string(rest))
	if err != nil {
		return nil, errorf(CodeMalformed, "encodedList is not base64url without padding")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, errorf(CodeMalformed, "encodedList is not GZIP data")
	}
	bits, err := io.ReadAll(io.LimitReader(zr, MaxSize/8+1))
	if err != nil {
		return nil, errorf(CodeMalformed, "encodedList is not valid GZIP data")
	}
	if len(bits) > MaxSize/8 {
		return nil, errorf(CodeMalformed, "the status list expands beyond %d entries", MaxSize)
	}
	if len(bits)*8 < MinSize {
		return nil, errorf(CodeLength, "the status list has %d entries, fewer than the %d herd privacy asks for", len(bits)*8, MinSize)
	}
	return &List{bits: bits}, nil
}

func errorf(code, format string, args ...any) error {
	return (&routing.Error{Kind: routing.KindInvalid, Op: "statuslist", Message: fmt.Sprintf(format, args...)}).WithCode(code)
}
