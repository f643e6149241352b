package devnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"
)

// convertV1Ledger converts the single-file ledger of earlier versions
// (bbolt, schema 1) in dataDir into the ledger database, key for key:
// the indexes keep their keys and values, each under its one-byte
// prefix. The database is built beside the old file and renamed into
// place only when complete; the old file is then renamed to
// ledger.db.v1 and kept for the operator to delete. A conversion
// interrupted at any point is started again, or finished, on the next
// open.
func convertV1Ledger(dataDir string, log *slog.Logger) error {
	oldPath := filepath.Join(dataDir, ledgerFileV1)
	if _, err := os.Stat(oldPath); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	newDir := filepath.Join(dataDir, ledgerDir)
	kept := oldPath + ".v1"
	if _, err := os.Stat(newDir); err == nil {
		// Converted already; only the old file was not yet set aside.
		return os.Rename(oldPath, kept)
	}
	started := time.Now()
	tmpDir := filepath.Join(dataDir, ledgerDir+".converting")
	if err := os.RemoveAll(tmpDir); err != nil {
		return err
	}
	keys, err := copyV1Ledger(oldPath, tmpDir, log)
	if err != nil {
		_ = os.RemoveAll(tmpDir)
		return fmt.Errorf("convert ledger %s: %w", oldPath, err)
	}
	if err := os.Rename(tmpDir, newDir); err != nil {
		return err
	}
	if err := syncDir(dataDir); err != nil {
		return err
	}
	if err := os.Rename(oldPath, kept); err != nil {
		return err
	}
	log.Info("converted the ledger file to the ledger database", "keys", keys,
		"took", time.Since(started).Round(time.Millisecond).String(), "kept", kept)
	return nil
}

// copyV1Ledger writes every entry of the bbolt file at oldPath into a new
// ledger database in dir and returns how many it wrote.
func copyV1Ledger(oldPath, dir string, log *slog.Logger) (int, error) {
	src, err := bolt.Open(oldPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := openKV(dir, true, log)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	keys := 0
	err = src.View(func(stx *bolt.Tx) error {
		meta := stx.Bucket([]byte(bucketMeta.name))
		if meta == nil {
			return errors.New("not a ledger file: no meta index")
		}
		if v := meta.Get(metaSchema); v == nil || binary.BigEndian.Uint64(v) != 1 {
			return errors.New("not a schema 1 ledger file")
		}
		batch := dst.db.NewBatch()
		defer func() { _ = batch.Close() }()
		for _, b := range allBuckets {
			sb := stx.Bucket([]byte(b.name))
			if sb == nil {
				return fmt.Errorf("not a ledger file: no %s index", b)
			}
			if err := sb.ForEach(func(k, v []byte) error {
				if b == bucketMeta && string(k) == string(metaSchema) {
					v = be64(schemaVersion)
				}
				key := append([]byte{b.prefix}, k...)
				if err := batch.Set(key, v, nil); err != nil {
					return err
				}
				keys++
				if batch.Len() < 8<<20 {
					return nil
				}
				if err := batch.Commit(pebble.NoSync); err != nil {
					return err
				}
				batch.Reset()
				return nil
			}); err != nil {
				return err
			}
		}
		// The last commit syncs the log, and with it every batch before.
		return batch.Commit(pebble.Sync)
	})
	return keys, err
}
