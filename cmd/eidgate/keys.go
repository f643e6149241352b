package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing/ticket"
)

// The keys every replica of a deployment must share. Without a setting a
// gateway keeps each in <data dir>/keys/<file>, created on first start;
// replicas behind one load balancer name the same files with the settings
// (docs/operations.md, section 8) and `eidgate admin init-keys` creates
// them once.
type sharedKey struct {
	what string // what the key is for, in messages
	flag string // the setting's flag
	file string // its file name in the data dir and in init-keys' dir
	// path is the configured file, "" for the data dir's.
	path func(Config) string
	// create writes a new key file at path (which does not exist).
	create func(path string) error
}

var sharedKeys = []sharedKey{
	{what: "ticket signing keys", flag: "--ticket-keys-file", file: ticket.KeyFileName,
		path:   func(c Config) string { return c.TicketKeysFile },
		create: func(path string) error { _, err := ticket.OpenKeyring(path, nil); return err }},
	{what: "blinding keys of the document index", flag: "--blinding-key-file", file: blindingKeysFile,
		path:   func(c Config) string { return c.BlindingKeyFile },
		create: func(path string) error { _, err := mapping.GenerateKeyFile(path); return err }},
	{what: "sealing key of stored document numbers", flag: "--sealing-key-file", file: sealingKeyFile,
		path:   func(c Config) string { return c.SealingKeyFile },
		create: func(path string) error { _, err := mapping.GenerateSealingKeyFile(path); return err }},
	{what: "pseudonym key of officials", flag: "--pseudonym-key-file", file: pseudonymKeyFile,
		path: func(c Config) string { return c.PseudonymKeyFile }, create: createSecretKey},
	{what: "page key of the sign-in forms", flag: "--page-key-file", file: pageKeyFile,
		path: func(c Config) string { return c.PageKeyFile }, create: createSecretKey},
}

const (
	blindingKeysFile = "blinding-keys.json"
	sealingKeyFile   = "sealing.key"
	pseudonymKeyFile = "pseudonym.key"
	pageKeyFile      = "page.key"
	// secretKeySize is the size of the pseudonym and page keys.
	secretKeySize = 32
)

// configTag returns the tag (env, yaml) of the Config field whose flag is
// flag ("--name").
func configTag(flag, tag string) string {
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if "--"+t.Field(i).Tag.Get("flag") == flag {
			return t.Field(i).Tag.Get(tag)
		}
	}
	return ""
}

// keyPath is where the key named by file lives for this configuration, and
// whether a setting named it (then it must exist; a gateway never creates
// a key its replicas are meant to share).
func (c Config) keyPath(file string) (string, bool) {
	for _, k := range sharedKeys {
		if k.file == file {
			if p := k.path(c); p != "" {
				return p, true
			}
		}
	}
	return filepath.Join(c.DataDir, "keys", file), false
}

// checkSharedKeys reports every key setting whose file is missing.
func (c Config) checkSharedKeys(add func(format string, args ...any)) {
	for _, k := range sharedKeys {
		p := k.path(c)
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			add("%s %s (the %s): %v; create the keys every replica shares once with `eidgate admin init-keys --dir DIR` and give each replica the same files",
				k.flag, p, k.what, errors.Unwrap(err))
		}
	}
}

// createSecretKey writes a new random 32-byte key file.
func createSecretKey(path string) error {
	b := make([]byte, secretKeySize)
	_, _ = rand.Read(b)
	return safefile.CreateSecret(path, b)
}

// secretKey loads a 32-byte key file (safefile.ReadSecret's permission
// rule); a data dir key is created once (a replica that loses the race to
// create it reads the winner's), a configured one must exist.
func (m *Main) secretKey(file string) ([]byte, error) {
	path, configured := m.Config.keyPath(file)
	b, err := safefile.ReadSecret(path)
	if errors.Is(err, os.ErrNotExist) && !configured {
		if err = createSecretKey(path); errors.Is(err, os.ErrExist) || err == nil {
			b, err = safefile.ReadSecret(path)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(b) != secretKeySize {
		return nil, fmt.Errorf("%s: want %d bytes, found %d", path, secretKeySize, len(b))
	}
	return b, nil
}

// initKeys creates, in dir, each shared key that is not there yet, and
// reports for each whether it was created.
func initKeys(dir string) ([]initKeyResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	out := make([]initKeyResult, 0, len(sharedKeys))
	for _, k := range sharedKeys {
		path, err := filepath.Abs(filepath.Join(dir, k.file))
		if err != nil {
			return out, err
		}
		r := initKeyResult{key: k, path: path}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := k.create(path); err != nil {
				return out, fmt.Errorf("%s: %w", k.what, err)
			}
			r.created = true
		} else if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

type initKeyResult struct {
	key     sharedKey
	path    string
	created bool
}
