package main

import "syscall"

// childProcAttr puts a service process in a process group of its own, so
// that a Ctrl-C in the terminal reaches only `bounded up`, which stops the
// processes in order; and asks the kernel to stop it (SIGTERM) if `bounded
// up` dies without doing so (kill -9), so that no orphan keeps running.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
