//go:build !linux

package main

import "syscall"

// childProcAttr: without Linux's parent-death signal, a service process
// outlives a `bounded up` killed with kill -9 and must be stopped by hand.
func childProcAttr() *syscall.SysProcAttr { return nil }
