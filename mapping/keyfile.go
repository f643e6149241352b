package mapping

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/eidgate/eidgate/internal/safefile"
)

// EnvBlindingKeys names the environment variable that carries the blinding
// keys as "v2:BASE64,v1:BASE64", the first entry being current.
const EnvBlindingKeys = "EIDGATE_BLINDING_KEYS"

// keyFileFormat marks a key file so that a wrong file is refused early.
const keyFileFormat = "eidgate-blinding-keys/v1"

// maxKeyFileBytes bounds what LoadKeyFile reads.
const maxKeyFileBytes = 64 << 10

// keyFile is the on-disk form:
//
//	{"format":"eidgate-blinding-keys/v1","current":"v2",
//	 "keys":[{"version":"v2","key":"BASE64"},{"version":"v1","key":"BASE64"}]}
type keyFile struct {
	Format  string         `json:"format"`
	Current string         `json:"current"`
	Keys    []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	Version string `json:"version"`
	Key     string `json:"key"`
}

// NewKey returns a fresh random 32-byte key from crypto/rand.
func NewKey() []byte {
	key := make([]byte, KeySize)
	// crypto/rand.Read never returns an error (it aborts the program when the
	// system source fails), see its documentation.
	_, _ = rand.Read(key)
	return key
}

// GenerateKeyFile creates a key file at path holding one random key, v1, and
// returns its keyring. It refuses to replace an existing file; the file is
// created with mode 0600 and missing parent directories with 0700.
func GenerateKeyFile(path string) (*Keyring, error) {
	k, err := NewKeyring("v1", map[string][]byte{"v1": NewKey()})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("blinding key file: %w", err)
	}
	if err := safefile.CreateSecret(path, k.keyFileBytes()); err != nil {
		return nil, fmt.Errorf("blinding key file: %w", err)
	}
	return k, nil
}

// WriteKeyFile stores k at path (mode 0600), replacing the file atomically,
// for a rotation: load, AddVersion, WriteKeyFile.
func (k *Keyring) WriteKeyFile(path string) error {
	if err := safefile.WriteSecret(path, k.keyFileBytes()); err != nil {
		return fmt.Errorf("blinding key file: %w", err)
	}
	return nil
}

func (k *Keyring) keyFileBytes() []byte {
	kf := keyFile{Format: keyFileFormat, Current: k.current}
	for _, vk := range k.keys {
		kf.Keys = append(kf.Keys, keyFileEntry{Version: vk.version, Key: base64.StdEncoding.EncodeToString(vk.key)})
	}
	data, _ := json.MarshalIndent(kf, "", "  ")
	return append(data, '\n')
}

// LoadKeyFile reads a key file. It refuses a file that others may read (the
// keys turn blinded indexes back into a dictionary attack target) and
// anything that is not a regular file; safefile.CheckSecret has the rule.
func LoadKeyFile(path string) (*Keyring, error) {
	data, err := safefile.ReadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("blinding key file: %w", err)
	}
	k, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("blinding key file %s: %w", path, err)
	}
	return k, nil
}

// ParseKeyFile parses the contents of a key file. Error messages name
// versions and positions, never key material.
func ParseKeyFile(data []byte) (*Keyring, error) {
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, keyFileJSONError(err)
	}
	if dec.More() {
		return nil, errors.New("not a key file: data after the JSON object")
	}
	if kf.Format != keyFileFormat {
		return nil, fmt.Errorf("not a key file: format must be %q", keyFileFormat)
	}
	entries := make([][2]string, len(kf.Keys))
	for i, e := range kf.Keys {
		entries[i] = [2]string{e.Version, e.Key}
	}
	return keyringFromEntries(kf.Current, entries)
}

// keyFileJSONError describes a decoding failure without quoting the input
// (a syntax error names the offending character, which may be key material).
func keyFileJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not a key file: invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("not a key file: field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not a key file: empty or truncated")
	}
	return errors.New("not a key file: unknown field or wrong structure")
}

// ParseKeysEnv parses the value of EIDGATE_BLINDING_KEYS:
// "v2:BASE64,v1:BASE64", 32-byte keys in standard or URL base64 (padding
// optional), the first entry current. Error messages never quote the value.
func ParseKeysEnv(value string) (*Keyring, error) {
	if strings.TrimSpace(value) == "" {
		return nil, fmt.Errorf("%s is empty", EnvBlindingKeys)
	}
	parts := strings.Split(value, ",")
	entries := make([][2]string, len(parts))
	current := ""
	for i, p := range parts {
		version, key, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			return nil, fmt.Errorf("%s entry %d: want VERSION:BASE64KEY", EnvBlindingKeys, i+1)
		}
		entries[i] = [2]string{strings.TrimSpace(version), strings.TrimSpace(key)}
		if i == 0 {
			current = entries[i][0]
		}
	}
	k, err := keyringFromEntries(current, entries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvBlindingKeys, err)
	}
	return k, nil
}

// keyringFromEntries decodes (version, base64 key) pairs.
func keyringFromEntries(current string, entries [][2]string) (*Keyring, error) {
	vks := make([]*versionKey, 0, len(entries))
	for i, e := range entries {
		if _, ok := versionNumber(e[0]); !ok {
			// The text may be a key pasted into the wrong place: do not echo it.
			return nil, fmt.Errorf("key %d: version must look like v1, v2, …", i+1)
		}
		key, err := decodeKey(e[1])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", e[0], err)
		}
		vk, err := newVersionKey(e[0], key)
		if err != nil {
			return nil, err
		}
		vks = append(vks, vk)
	}
	if _, ok := versionNumber(current); !ok {
		return nil, errors.New("current version must look like v1, v2, …")
	}
	return buildKeyring(current, vks)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.Strict().DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("key has %d bytes, want %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// LoadKeyring loads the blinding keys from the EIDGATE_BLINDING_KEYS value
// when it is set (envValue non-empty), otherwise from the key file at path.
func LoadKeyring(envValue, path string) (*Keyring, error) {
	if strings.TrimSpace(envValue) != "" {
		return ParseKeysEnv(envValue)
	}
	if path == "" {
		return nil, fmt.Errorf("no blinding keys: set %s or give a key file", EnvBlindingKeys)
	}
	return LoadKeyFile(path)
}
