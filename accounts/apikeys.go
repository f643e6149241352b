package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eidgate/eidgate/routing"
)

// API key token format: "egk_" + 8-character key id + "_" + 40-character
// secret, both lower-case base32 (RFC 4648 alphabet a-z2-7). The id (40
// bits) finds the key; the secret (200 bits) proves it. High-entropy
// secrets need no slow hash: only SHA-256 of the secret is stored.
const (
	apiKeyPrefix    = "egk_"
	apiKeyIDLen     = 8
	apiKeySecretLen = 40
	apiKeyTokenLen  = len(apiKeyPrefix) + apiKeyIDLen + 1 + apiKeySecretLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var errTokenSyntax = errors.New("not an eidgate API key")

// ParseAPIKeyToken splits a token into key id and secret.
func ParseAPIKeyToken(token string) (id, secret string, err error) {
	if len(token) != apiKeyTokenLen || !strings.HasPrefix(token, apiKeyPrefix) || token[len(apiKeyPrefix)+apiKeyIDLen] != '_' {
		return "", "", errTokenSyntax
	}
	id = token[len(apiKeyPrefix) : len(apiKeyPrefix)+apiKeyIDLen]
	secret = token[len(apiKeyPrefix)+apiKeyIDLen+1:]
	if !isB32(id) || !isB32(secret) {
		return "", "", errTokenSyntax
	}
	return id, secret, nil
}

func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func secretDigest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// APIKeys issues and checks department API keys.
type APIKeys struct {
	store       APIKeyStore
	departments DepartmentRegistry
	cfg         Config

	mu      sync.Mutex
	touched map[string]time.Time // key id → last-used time this process wrote
	used    map[string]time.Time // key id → last use this process saw
}

// NewAPIKeys checks cfg and builds the API key service.
func NewAPIKeys(cfg Config) (*APIKeys, error) {
	const op = "accounts.NewAPIKeys"
	cfg, err := cfg.check(op)
	if err != nil {
		return nil, err
	}
	if cfg.Departments == nil {
		return nil, routing.MissingDependency(op, "the department registry")
	}
	return &APIKeys{store: cfg.Store, departments: cfg.Departments, cfg: cfg, touched: map[string]time.Time{}, used: map[string]time.Time{}}, nil
}

// ValidDepartment reports whether s can name a department: 1 to 64
// characters from a-z, 0-9, '.', '_' and '-'.
func ValidDepartment(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// IssueAPIKey creates a key for a registered department. The token is
// returned once and never stored; the key's description is what lists
// show.
func (k *APIKeys) IssueAPIKey(ctx context.Context, department, name string) (string, APIKey, error) {
	const op = "accounts.IssueAPIKey"
	if !ValidDepartment(department) {
		return "", APIKey{}, routing.Invalid(op, "department", "not a department id")
	}
	if _, err := k.departments.Department(ctx, department); err != nil {
		return "", APIKey{}, routing.Wrap(op, err)
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		e := newErr(routing.KindInvalid, CodeInvalidName, op, "a key name has 1 to 100 printable characters")
		e.Field = "name"
		return "", APIKey{}, e
	}
	var idb [5]byte
	var sb [25]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", APIKey{}, routing.Wrap(op, err)
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return "", APIKey{}, routing.Wrap(op, err)
	}
	id, secret := b32.EncodeToString(idb[:]), b32.EncodeToString(sb[:])
	key := APIKey{ID: id, Department: department, Name: name, CreatedAt: k.cfg.Clock.Now().UTC()}
	if err := k.store.CreateAPIKey(ctx, key, secretDigest(secret)); err != nil {
		return "", APIKey{}, routing.Wrap(op, err)
	}
	return apiKeyPrefix + id + "_" + secret, key, nil
}

// Authenticate returns the department and key id of a valid token.
// Malformed tokens, unknown ids and wrong secrets all get
// invalid_credentials; a revoked key gets api_key_revoked (only once its
// secret was right). The key's last-used time is written at most once per
// TouchEvery.
func (k *APIKeys) Authenticate(ctx context.Context, token string) (department, keyID string, err error) {
	const op = "accounts.Authenticate"
	id, secret, perr := ParseAPIKeyToken(token)
	if perr != nil {
		return "", "", invalidCredentials(op)
	}
	key, digest, err := k.store.GetAPIKey(ctx, id)
	if routing.IsKind(err, routing.KindNotFound) {
		return "", "", invalidCredentials(op)
	}
	if err != nil {
		return "", "", routing.Wrap(op, err)
	}
	if subtle.ConstantTimeCompare([]byte(secretDigest(secret)), []byte(digest)) != 1 {
		return "", "", invalidCredentials(op)
	}
	if key.Revoked() {
		return "", "", newErr(routing.KindUnauthenticated, CodeAPIKeyRevoked, op, "this API key was revoked")
	}
	k.touch(ctx, key.ID)
	return key.Department, key.ID, nil
}

// touch writes the last-used time when this process has not written it
// for TouchEvery; the store's conditional update keeps replicas from
// writing it more often either. A failure only loses the timestamp. The
// use is remembered in any case, so that this replica lists the key's last
// use as it happened rather than as last written (lastUsed).
func (k *APIKeys) touch(ctx context.Context, id string) {
	now := k.cfg.Clock.Now().UTC()
	k.mu.Lock()
	k.used[id] = now
	last, ok := k.touched[id]
	due := !ok || now.Sub(last) >= k.cfg.TouchEvery
	if due {
		k.touched[id] = now
	}
	k.mu.Unlock()
	if !due {
		return
	}
	if err := k.store.TouchAPIKey(ctx, id, now, k.cfg.TouchEvery); err != nil {
		k.cfg.Logger.Debug("api key last-used update failed", "key", id, "err", err)
	}
}

// RevokeAPIKey revokes a key; revoking it again changes nothing.
func (k *APIKeys) RevokeAPIKey(ctx context.Context, id string) error {
	const op = "accounts.RevokeAPIKey"
	err := k.store.RevokeAPIKey(ctx, id, k.cfg.Clock.Now().UTC())
	if routing.IsKind(err, routing.KindNotFound) {
		return newErr(routing.KindNotFound, CodeAPIKeyNotFound, op, "no such API key")
	}
	return routing.Wrap(op, err)
}

// ListAPIKeys lists a department's keys, newest first, without secrets.
func (k *APIKeys) ListAPIKeys(ctx context.Context, department string) ([]APIKey, error) {
	keys, err := k.store.ListAPIKeys(ctx, department)
	for i := range keys {
		k.lastUsed(&keys[i])
	}
	return keys, routing.Wrap("accounts.ListAPIKeys", err)
}

// lastUsed moves key's last-used time to the last use this process saw
// when that is later than the stored one (written at most every
// TouchEvery).
func (k *APIKeys) lastUsed(key *APIKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if t, ok := k.used[key.ID]; ok && t.After(key.LastUsedAt) {
		key.LastUsedAt = t
	}
}

// GetAPIKey describes one key.
func (k *APIKeys) GetAPIKey(ctx context.Context, id string) (*APIKey, error) {
	const op = "accounts.GetAPIKey"
	key, _, err := k.store.GetAPIKey(ctx, id)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, newErr(routing.KindNotFound, CodeAPIKeyNotFound, op, "no such API key")
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	k.lastUsed(key)
	return key, nil
}
