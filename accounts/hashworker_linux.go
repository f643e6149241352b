package accounts

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerProcessPriority gives every thread of the process the lowest
// scheduling priority (nice 19); Linux keeps a nice value per thread, and
// threads started later take their creator's.
func lowerProcessPriority() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		_ = unix.Setpriority(unix.PRIO_PROCESS, 0, 19)
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
		}
	}
}

// workerAttr ends a worker with the gateway.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
