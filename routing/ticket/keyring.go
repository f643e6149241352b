package ticket

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
)

// KeyRetention is how long a retired signing key keeps verifying and stays
// in the JWK Set: the longest ticket lifetime plus the largest leeway a
// provider may allow, so every ticket the key signed has expired everywhere
// before the key disappears.
const KeyRetention = provider.MaxLifetime + provider.MaxLeeway

// KeyFileName is the conventional name of the key file in the data dir.
const KeyFileName = "ticket-keys.json"

const keyFileVersion = 1

// Keyring holds the gateway's Ed25519 ticket-signing keys: one active key
// that signs, and retired keys that still verify until KeyRetention after
// their retirement. Key ids are RFC 7638 JWK thumbprints (SHA-256,
// base64url). The keys live in a JSON key file readable by its owner only.
//
// Replicas that sign tickets must share one key file (and call Reload after
// another replica rotated), or providers would see tickets signed by keys
// missing from the JWK Set a load balancer happened to serve them.
type Keyring struct {
	path  string
	clock routing.Clock

	mu   sync.RWMutex
	keys []signingKey // the active key first, then retired keys, newest first
}

type signingKey struct {
	kid     string
	private ed25519.PrivateKey
	created time.Time
	retired time.Time // zero for the active key
}

func (k signingKey) public() ed25519.PublicKey { return k.private.Public().(ed25519.PublicKey) }

// usable reports whether the key may still verify at now.
func (k signingKey) usable(now time.Time) bool {
	return k.retired.IsZero() || now.Before(k.retired.Add(KeyRetention))
}

// keyFile is the on-disk form.
type keyFile struct {
	Version int            `json:"version"`
	Keys    []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	Kid       string     `json:"kid"`
	Seed      string     `json:"seed"` // the Ed25519 private key seed, base64url
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// OpenKeyring loads the key file at path, or creates it with a new active
// key when it does not exist. A key file that others may read is refused
// (safefile.CheckSecret has the rule). clock nil means the system clock.
func OpenKeyring(path string, clock routing.Clock) (*Keyring, error) {
	if clock == nil {
		clock = routing.SystemClock{}
	}
	k := &Keyring{path: path, clock: clock}
	err := k.Reload()
	if !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	key, err := newSigningKey(clock.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, keyFileError(CodeKeyFileIO, err, "cannot create the directory of the key file")
	}
	err = writeKeyFile(path, []signingKey{key}, true)
	if errors.Is(err, fs.ErrExist) {
		// Another replica created it first: use theirs.
		return k, k.Reload()
	}
	if err != nil {
		return nil, err
	}
	k.keys = []signingKey{key}
	return k, nil
}

// Reload reads the key file again, for instance after another replica
// rotated the key. Keys past their retention are dropped from memory (the
// file is cleaned up at the next Rotate).
func (k *Keyring) Reload() error {
	keys, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	now := k.clock.Now()
	kept := keys[:0]
	for _, key := range keys {
		if key.usable(now) {
			kept = append(kept, key)
		}
	}
	k.mu.Lock()
	k.keys = kept
	k.mu.Unlock()
	return nil
}

// Rotate makes a new active key, retires the current one, drops keys past
// their retention, and saves the file. It returns the new key id. Tickets
// signed by the retired key keep verifying until they expire.
func (k *Keyring) Rotate() (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	key, err := newSigningKey(now)
	if err != nil {
		return "", err
	}
	keys := []signingKey{key}
	for _, old := range k.keys {
		if old.retired.IsZero() {
			old.retired = now
		}
		if old.usable(now) {
			keys = append(keys, old)
		}
	}
	if err := writeKeyFile(k.path, keys, false); err != nil {
		return "", err
	}
	k.keys = keys
	return key.kid, nil
}

// ActiveKeyID returns the id of the key that signs new tickets.
func (k *Keyring) ActiveKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0].kid
}

// active returns the signing key.
func (k *Keyring) active() signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0]
}

// PublicKey implements provider.KeySource over the keys that still verify.
func (k *Keyring) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	now := k.clock.Now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.kid == kid && key.usable(now) {
			return key.public(), nil
		}
	}
	return nil, provider.ErrKeyNotFound
}

// JWKS returns the public JWK Set served at /.well-known/jwks.json: every
// key that still verifies, the active one first, each with use "sig" and
// alg "EdDSA". It never contains private key material.
func (k *Keyring) JWKS() ([]byte, error) {
	now := k.clock.Now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, key := range k.keys {
		if !key.usable(now) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       key.public(),
			KeyID:     key.kid,
			Algorithm: string(jose.EdDSA),
			Use:       "sig",
		})
	}
	return json.Marshal(set)
}

func newSigningKey(now time.Time) (signingKey, error) {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return signingKey{}, keyFileError(CodeKeyFileIO, err, "cannot generate a signing key")
	}
	kid, err := thumbprint(private.Public().(ed25519.PublicKey))
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{kid: kid, private: private, created: now.UTC()}, nil
}

// thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of a
// public key.
func thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", keyFileError(CodeKeyFileInvalid, err, "cannot compute the key id")
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func readKeyFile(path string) ([]signingKey, error) {
	data, err := safefile.ReadSecret(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case errors.Is(err, safefile.ErrInsecure):
		return nil, keyFileError(CodeKeyFileInsecure, nil, "key file %v", err)
	case err != nil:
		return nil, keyFileError(CodeKeyFileIO, err, "cannot read the key file %s", path)
	}
	return decodeKeyFile(path, data)
}

func decodeKeyFile(path string, data []byte) ([]signingKey, error) {
	var doc keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s is not valid JSON of the expected shape", path)
	}
	if doc.Version != keyFileVersion {
		return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s has version %d; this gateway reads version %d", path, doc.Version, keyFileVersion)
	}
	var keys []signingKey
	active := 0
	seen := map[string]bool{}
	for i, e := range doc.Keys {
		seed, err := base64.RawURLEncoding.Strict().DecodeString(e.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s: key %d has no valid %d-byte seed", path, i, ed25519.SeedSize)
		}
		private := ed25519.NewKeyFromSeed(seed)
		kid, err := thumbprint(private.Public().(ed25519.PublicKey))
		if err != nil {
			return nil, err
		}
		if kid != e.Kid {
			return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s: key %d has kid %q but its key's thumbprint is %q", path, i, e.Kid, kid)
		}
		if seen[kid] {
			return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s lists key %q twice", path, kid)
		}
		seen[kid] = true
		key := signingKey{kid: kid, private: private, created: e.CreatedAt}
		if e.RetiredAt == nil {
			active++
			// The active key leads the ring.
			keys = append([]signingKey{key}, keys...)
			continue
		}
		key.retired = *e.RetiredAt
		keys = append(keys, key)
	}
	if active != 1 {
		return nil, keyFileError(CodeKeyFileInvalid, nil, "key file %s has %d active keys (keys without retired_at); exactly one is required", path, active)
	}
	return keys, nil
}

// encodeKeyFile is the key file holding keys.
func encodeKeyFile(keys []signingKey) ([]byte, error) {
	doc := keyFile{Version: keyFileVersion}
	for _, key := range keys {
		e := keyFileEntry{
			Kid:       key.kid,
			Seed:      base64.RawURLEncoding.EncodeToString(key.private.Seed()),
			CreatedAt: key.created.UTC(),
		}
		if !key.retired.IsZero() {
			retired := key.retired.UTC()
			e.RetiredAt = &retired
		}
		doc.Keys = append(doc.Keys, e)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, keyFileError(CodeKeyFileIO, err, "cannot encode the key file")
	}
	return append(data, '\n'), nil
}

// writeKeyFile replaces the key file atomically and durably (a rotation);
// create makes it once, refusing to replace one another replica made.
func writeKeyFile(path string, keys []signingKey, create bool) error {
	data, err := encodeKeyFile(keys)
	if err != nil {
		return err
	}
	write := safefile.WriteSecret
	if create {
		write = safefile.CreateSecret
	}
	if err := write(path, data); err != nil {
		if create && errors.Is(err, fs.ErrExist) {
			return err
		}
		return keyFileError(CodeKeyFileIO, err, "cannot write the key file %s", path)
	}
	return nil
}
