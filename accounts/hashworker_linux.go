package accounts

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerProcessPriority puts every thread of the process in the idle
// scheduling class (SCHED_IDLE: it runs only when no other task wants the
// processor, and any other task that wakes up takes the processor from it
// at once) and, where that is refused, at the lowest priority of the
// normal class (nice 19). Linux keeps both per thread, and threads started
// later take their creator's. Neither needs privileges.
func lowerProcessPriority() {
	tids := []int{0}
	if tasks, err := os.ReadDir("/proc/self/task"); err == nil {
		tids = tids[:0]
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				tids = append(tids, tid)
			}
		}
	}
	for _, tid := range tids {
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
		_ = unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
	}
}

// workerAttr ends a worker with the gateway.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
