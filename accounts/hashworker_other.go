//go:build !linux

package accounts

import "syscall"

// lowerProcessPriority is left to the operator where threads have no
// priority of their own: the worker's hashes are still outside the
// gateway's heap and processors.
func lowerProcessPriority() {}

// workerAttr: a worker ends when its input closes with the gateway.
func workerAttr() *syscall.SysProcAttr { return nil }
