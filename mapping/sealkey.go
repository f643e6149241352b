package mapping

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/eidgate/eidgate/internal/safefile"
)

// EnvSealingKey names the environment variable that carries the sealing key
// as base64 (standard or URL alphabet, padding optional).
const EnvSealingKey = "EIDGATE_SEALING_KEY"

// sealKeyFileFormat marks a sealing key file so that a blinding key file
// given in its place is refused.
const sealKeyFileFormat = "eidgate-sealing-key/v1"

// sealedFormat is the first byte of every sealed value, so that a later
// format can be told apart.
const sealedFormat byte = 1

// sealLabel binds every sealed value to its purpose (AES-GCM additional data).
const sealLabel = "eidgate/seal/v1"

// SealingKey encrypts the normalised document numbers the gateway keeps so
// that a key rotation can blind them again under a new key. It is a 32-byte
// AES-256-GCM key, held apart from the blinding keys: the database alone
// reveals no number, and the blinding keys alone cannot decrypt it.
//
// Key material never leaves a SealingKey: String, every fmt verb, slog and
// encoding/json show only a fingerprint.
type SealingKey struct {
	aead        cipher.AEAD
	key         []byte
	fingerprint string
}

// sealKeyFile is the on-disk form: {"format":"eidgate-sealing-key/v1","key":"BASE64"}.
type sealKeyFile struct {
	Format string `json:"format"`
	Key    string `json:"key"`
}

// NewSealingKey builds a sealing key from 32 random bytes.
func NewSealingKey(key []byte) (*SealingKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealing key has %d bytes, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		return nil, errors.New("sealing key is all zero bytes; generate one with crypto/rand")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("eidgate/seal-key-id\x00"), key...))
	return &SealingKey{aead: aead, key: append([]byte(nil), key...), fingerprint: hex.EncodeToString(sum[:4])}, nil
}

// GenerateSealingKeyFile creates a sealing key file at path holding a random
// key and returns it. It refuses to replace an existing file; the file is
// created with mode 0600 and missing parent directories with 0700.
func GenerateSealingKeyFile(path string) (*SealingKey, error) {
	sk, err := NewSealingKey(NewKey())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sealing key file: %w", err)
	}
	data, _ := json.MarshalIndent(sealKeyFile{Format: sealKeyFileFormat, Key: base64.StdEncoding.EncodeToString(sk.key)}, "", "  ")
	if err := safefile.CreateSecret(path, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("sealing key file: %w", err)
	}
	return sk, nil
}

// LoadSealingKeyFile reads a sealing key file, refusing one that others
// may read and anything that is not a regular file (safefile.CheckSecret).
func LoadSealingKeyFile(path string) (*SealingKey, error) {
	data, err := safefile.ReadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("sealing key file: %w", err)
	}
	sk, err := ParseSealingKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("sealing key file %s: %w", path, err)
	}
	return sk, nil
}

// ParseSealingKeyFile parses the contents of a sealing key file. Error
// messages never quote the input.
func ParseSealingKeyFile(data []byte) (*SealingKey, error) {
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf sealKeyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, keyFileJSONError(err)
	}
	if dec.More() {
		return nil, errors.New("not a sealing key file: data after the JSON object")
	}
	if kf.Format != sealKeyFileFormat {
		return nil, fmt.Errorf("not a sealing key file: format must be %q", sealKeyFileFormat)
	}
	key, err := decodeKey(kf.Key)
	if err != nil {
		return nil, fmt.Errorf("sealing %w", err)
	}
	return NewSealingKey(key)
}

// ParseSealingKeyEnv parses the value of EIDGATE_SEALING_KEY.
func ParseSealingKeyEnv(value string) (*SealingKey, error) {
	key, err := decodeKey(strings.TrimSpace(value))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvSealingKey, err)
	}
	sk, err := NewSealingKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvSealingKey, err)
	}
	return sk, nil
}

// LoadSealingKey loads the sealing key from the EIDGATE_SEALING_KEY value
// when it is set (envValue non-empty), otherwise from the key file at path.
func LoadSealingKey(envValue, path string) (*SealingKey, error) {
	if strings.TrimSpace(envValue) != "" {
		return ParseSealingKeyEnv(envValue)
	}
	if path == "" {
		return nil, fmt.Errorf("no sealing key: set %s or give a key file", EnvSealingKey)
	}
	return LoadSealingKeyFile(path)
}

// sealDocument encrypts doc's normalised number for the stored document
// ref. The additional data binds the ciphertext to ref, type and issuing
// state, so a sealed number moved to another row does not open.
func (sk *SealingKey) sealDocument(doc Document, ref string) []byte {
	nonce := make([]byte, sk.aead.NonceSize(), 1+sk.aead.NonceSize()+len(doc.d.number)+sk.aead.Overhead())
	// crypto/rand.Read never fails (see its documentation).
	_, _ = rand.Read(nonce)
	out := append([]byte{sealedFormat}, nonce...)
	return sk.aead.Seal(out, nonce, []byte(doc.d.number), sealAAD(ref, string(doc.d.typ), doc.d.country))
}

// openDocument decrypts the number sealed for the stored document sd and
// rebuilds its Document.
func (sk *SealingKey) openDocument(sd *StoredDocument) (Document, error) {
	ns := sk.aead.NonceSize()
	if len(sd.Sealed) < 1+ns+sk.aead.Overhead() || sd.Sealed[0] != sealedFormat {
		return Document{}, fmt.Errorf("stored document %s: sealed number is malformed", sd.Ref)
	}
	nonce := sd.Sealed[1 : 1+ns]
	plain, err := sk.aead.Open(nil, nonce, sd.Sealed[1+ns:], sealAAD(sd.Ref, sd.Type, sd.Country))
	if err != nil {
		return Document{}, fmt.Errorf("stored document %s: sealed number does not open under sealing key %s (wrong key or altered row)", sd.Ref, sk.fingerprint)
	}
	if !DocType(sd.Type).Known() {
		return Document{}, fmt.Errorf("stored document %s: unknown type", sd.Ref)
	}
	return newDocument(DocType(sd.Type), string(plain), sd.Country), nil
}

func sealAAD(ref, typ, country string) []byte {
	aad := make([]byte, 0, len(sealLabel)+len(ref)+len(typ)+len(country)+3)
	aad = append(aad, sealLabel...)
	for _, f := range []string{ref, typ, country} {
		aad = append(aad, 0)
		aad = append(aad, f...)
	}
	return aad
}

// Fingerprint identifies the key (4 bytes of a hash of it) without
// revealing it, for operators comparing replicas.
func (sk *SealingKey) Fingerprint() string { return sk.fingerprint }

// String shows the fingerprint only.
func (sk *SealingKey) String() string {
	if sk == nil {
		return "sealing-key(nil)"
	}
	return "sealing-key(" + sk.fingerprint + ")"
}

// Format prints String for every verb.
func (sk *SealingKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(sk.String())) }

// GoString is String, for %#v.
func (sk *SealingKey) GoString() string { return sk.String() }

// LogValue records the fingerprint only.
func (sk *SealingKey) LogValue() slog.Value { return slog.StringValue(sk.String()) }

// MarshalJSON encodes the fingerprint only.
func (sk *SealingKey) MarshalJSON() ([]byte, error) { return json.Marshal(sk.String()) }
