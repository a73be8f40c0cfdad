//go:build unix

package flock

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive flock on f without waiting; held reports that
// another file descriptor has it.
func lock(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}
