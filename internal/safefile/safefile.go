// Package safefile writes files so that a crash never leaves half of one,
// and reads secret files only when nobody else may read them.
//
// Every key, connection profile, chaincode package and demo file eidgate
// writes goes through it:
//
//   - [Write] replaces a file atomically and durably: the data goes to a
//     temporary file in the same directory, which is synced, given its
//     mode, renamed over the target, and then the directory is synced so
//     the rename itself survives a power loss. A reader (or a restart after
//     a crash at any point) sees the old file or the new one, never a mix.
//   - [CreateSecret] creates a 0600 file once: the data is written and
//     synced under a temporary name and then hard-linked to the target,
//     which fails when the target exists. A crash leaves no file or the
//     whole file, so a half-written key never has to be repaired by hand.
//   - [ReadSecret] refuses a secret that is not a regular file or that
//     others may read (see [CheckSecret] for the exact rule, which admits
//     a Kubernetes secret volume).
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// SecretMode is the mode of every secret file eidgate writes.
const SecretMode fs.FileMode = 0o600

// Write replaces path with data, with mode perm, atomically and durably.
// The directory must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm, 0)
}

// replace is Write, writing the data in pieces of chunk bytes when chunk
// is positive (the crash tests use it to stretch the write).
func replace(path string, data []byte, perm fs.FileMode, chunk int) error {
	tmp, err := writeTemp(path, data, perm, chunk)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// WriteSecret replaces path with data, readable and writable by its owner
// only (0600), atomically and durably: a key rotation.
func WriteSecret(path string, data []byte) error { return Write(path, data, SecretMode) }

// CreateSecret creates path holding data with mode 0600, atomically and
// durably, and fails with an error matching fs.ErrExist when path exists
// (the existing file is left alone).
func CreateSecret(path string, data []byte) error {
	return create(path, data, 0)
}

// create is CreateSecret, writing in pieces of chunk bytes when chunk is
// positive.
func create(path string, data []byte, chunk int) error {
	tmp, err := writeTemp(path, data, SecretMode, chunk)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ReadSecret reads a secret file after checking it with CheckSecret.
func ReadSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := CheckSecret(path, st); err != nil {
		return nil, err
	}
	return readAll(f, st.Size())
}

// InsecureError is a secret file that others may read, or that is not a
// regular file.
type InsecureError struct {
	Path   string
	Mode   fs.FileMode
	Reason string
}

func (e *InsecureError) Error() string {
	return fmt.Sprintf("%s (mode %04o) %s", e.Path, e.Mode.Perm(), e.Reason)
}

// ErrInsecure matches every *InsecureError with errors.Is.
var ErrInsecure = errors.New("secret file is readable by others")

// Is makes errors.Is(err, ErrInsecure) true for an *InsecureError.
func (e *InsecureError) Is(target error) bool { return target == ErrInsecure }

// CheckSecret applies the rule for secret files to path, whose (followed)
// file info is st:
//
//   - it is a regular file (a symbolic link to one is followed, as in a
//     Kubernetes secret volume);
//   - nobody but its owner and group has any permission on it;
//   - its group may not write or execute it;
//   - its group may read it only when the file belongs to another user
//     than the one eidgate runs as: that is a secret the platform mounted
//     for eidgate's group (a Kubernetes secret volume with fsGroup is
//     root-owned and 0440), never a file eidgate wrote, which is 0600.
//
// Windows has no such modes; the check passes there.
func CheckSecret(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return &InsecureError{Path: path, Mode: st.Mode(), Reason: "is not a regular file"}
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := st.Mode().Perm()
	switch {
	case perm&0o007 != 0:
		return &InsecureError{Path: path, Mode: perm, Reason: "is accessible to other users; it holds a secret (chmod 600 it)"}
	case perm&0o030 != 0:
		return &InsecureError{Path: path, Mode: perm, Reason: "is writable or executable by its group; it holds a secret (chmod 600 it)"}
	case perm&0o040 != 0 && ownedBySelf(st):
		return &InsecureError{Path: path, Mode: perm, Reason: "is readable by its group; it holds a secret (chmod 600 it)"}
	}
	return nil
}

// writeTemp writes data to a new temporary file beside path, with mode
// perm, synced and closed, and returns its name.
func writeTemp(path string, data []byte, perm fs.FileMode, chunk int) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	// Chmod, not the umask, decides the mode.
	err = f.Chmod(perm)
	for rest := data; err == nil && len(rest) > 0; {
		n := len(rest)
		if chunk > 0 {
			n = min(n, chunk)
		}
		_, err = f.Write(rest[:n])
		rest = rest[n:]
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link in dir durable. Platforms that cannot
// sync a directory (Windows) make it durable with the rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// maxSecretSize bounds what ReadSecret reads: key files are a few KiB.
const maxSecretSize = 1 << 20

func readAll(f *os.File, size int64) ([]byte, error) {
	if size > maxSecretSize {
		return nil, fmt.Errorf("%s is %d bytes; a secret file is at most %d", f.Name(), size, maxSecretSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err == nil && len(b) > maxSecretSize {
		err = fmt.Errorf("%s is larger than %d bytes", f.Name(), maxSecretSize)
	}
	return b, err
}
