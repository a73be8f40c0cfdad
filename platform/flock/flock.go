// Package flock takes an exclusive advisory lock on a file, for "one
// process at a time" rules: one shop per data directory, one relay per
// SQLite outbox. The lock goes with the process, however it ends (the
// kernel releases it with the file descriptor), so a crash leaves nothing
// to clean up. The file holds the holder's pid, for the messages of those
// refused.
package flock

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// ErrHeld is returned by TryLock when another holder has the lock.
var ErrHeld = errors.New("flock: held by another")

// TryLock takes the lock on path (creating the file), without waiting. It
// returns ErrHeld, wrapped with the holder's pid when the file names one,
// when another file descriptor holds it (in this process or another).
// unlock releases it.
func TryLock(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	held, err := lock(f)
	if err != nil || held {
		holder, _ := os.ReadFile(path)
		f.Close()
		if err != nil {
			return nil, err
		}
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder))); perr == nil {
			return nil, &HeldError{PID: pid}
		}
		return nil, ErrHeld
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f.Close, nil // closing the file releases the lock
}

// HeldError is ErrHeld with the holder's pid.
type HeldError struct{ PID int }

func (e *HeldError) Error() string        { return "flock: held by pid " + strconv.Itoa(e.PID) }
func (e *HeldError) Is(target error) bool { return target == ErrHeld }
