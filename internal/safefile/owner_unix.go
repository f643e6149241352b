//go:build unix

package safefile

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedBySelf reports whether the file belongs to the user this process
// runs as.
func ownedBySelf(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return !ok || int(sys.Uid) == os.Geteuid()
}
