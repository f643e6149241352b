package bench

import "syscall"

// childAttr kills the child when the bench dies, so no gateway is left
// running after an interrupted run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
